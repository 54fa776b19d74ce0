// `dbmedic wal stream`: a WAL receiver over the physical replication protocol. It holds a physical
// replication slot (so the server keeps WAL we have not received), writes the segment in progress
// to <repository>/stream/<segment>.partial (POSIX repositories), fsyncs it and reports that as
// its flush position in standby status updates: named in synchronous_standby_names, it makes a
// COMMIT wait until the WAL is durable in the repository (RPO = 0). Each completed segment is
// pushed into the archive (idempotent with archive_command) and its partial file removed.
// `wal get` serves a stream partial when the archive has no full segment of that name.
//
// Survives dropped connections and server restarts: it reconnects and resumes at the end of its
// partial file. When the slot no longer reaches back to that position (slot dropped, WAL
// removed), the gap is reported loudly and streaming restarts at the slot's position; the
// missing segments then show in `dbmedic check` (the archive has nothing between the stale
// partial and the segments streamed after it).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pg/lsn.hpp"
#include "wal/archive.hpp"

struct pg_conn;

namespace dbmedic::wal {

struct StreamOptions {
  std::string conninfo;  // a normal libpq conninfo; replication=true is added
  std::string slot = "dbmedic";
  std::filesystem::path partial_dir;  // <repository.path>/stream
  std::chrono::milliseconds status_interval{1000};
  std::chrono::milliseconds reconnect_delay{1000};
  // Called after every flush with the flushed LSN (tests, progress output).
  std::function<void(pg::Lsn)> on_flush;
  // Called when WAL from `from` to `to` can no longer be streamed (after the error is logged).
  std::function<void(pg::Lsn from, pg::Lsn to)> on_gap;
};

class StreamReceiver {
 public:
  StreamReceiver(WalArchive& archive, StreamOptions options);

  // Streams until `stop` becomes true (checked at least every status_interval). Connection
  // failures are retried; Error(kRepository) when the server belongs to another cluster.
  void Run(const std::atomic<bool>& stop);

  pg::Lsn flushed() const { return flushed_; }

 private:
  struct Session;
  void StreamOnce(const std::atomic<bool>& stop);
  pg::Lsn ResumePoint(Session& session);
  void WriteData(pg::Lsn start, const char* data, std::size_t size);
  void Flush();
  void CompleteSegment();
  void SendStatus(pg_conn* conn, bool reply);

  WalArchive& archive_;
  StreamOptions options_;
  pg::TimelineId timeline_ = 0;
  std::optional<std::uint64_t> segno_;  // segment of the open partial file
  int fd_ = -1;                         // the open partial file
  pg::Lsn written_;
  pg::Lsn flushed_;
};

// Path of the stream partial for segment `name`.
std::filesystem::path StreamPartialPath(const std::filesystem::path& partial_dir,
                                        const std::string& name);

// The stream partials in `partial_dir` ("<segment>.partial"): segment name and bytes received.
struct StreamPartial {
  std::string name;
  std::uint64_t bytes = 0;
};
std::vector<StreamPartial> ListStreamPartials(const std::filesystem::path& partial_dir);

// For `wal get`: the stream partial for `name` zero-padded to a whole segment, or nullopt.
std::optional<std::string> ReadStreamPartial(const std::filesystem::path& partial_dir,
                                             const std::string& name);

}  // namespace dbmedic::wal
