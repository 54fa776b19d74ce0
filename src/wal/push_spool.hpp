// Asynchronous `wal push`: a bounded local spool and a background worker, so that a slow or
// briefly unreachable repository does not stall PostgreSQL's archiver.
//
// archive_command (`wal push --async %p`) calls Offer():
//   - the worker already pushed the file ahead of PostgreSQL (done/<name> marker): success;
//   - otherwise the file is copied durably (temp, fsync, rename, fsync dir) into queue/<name>
//     and archive_command succeeds: from then on the spool, on local disk, is the copy that
//     counts until the worker has pushed it (the RPO includes the spool: docs/pitr.md);
//   - when the queue would grow beyond its bound, nothing is queued and the caller pushes
//     synchronously (which fails, and PostgreSQL retries, when the repository is unwritable).
// The worker (`wal push-worker`, one per spool, flock on <spool>/.lock) pushes queued files, then
// the files pg_wal/archive_status marks .ready that PostgreSQL has not handed over yet (push
// ahead), retrying failures every retry_delay and recording the last one in <spool>/last-error;
// it exits after idle_exit without work and is started again by the next Offer().
//
// Spool layout (docs/formats/wal-archive.md): queue/<name> (complete copies), done/<name> (empty
// markers), last-error (text of the last failed push, removed after the next success), .lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "wal/archive.hpp"

namespace dbmedic::wal {

inline constexpr std::string_view kPushSpoolDirName = "dbmedic-spool";

enum class OfferOutcome { kPushedAhead, kQueued, kFull };

class PushSpool {
 public:
  // `max_bytes` bounds the bytes held in queue/. Creates nothing: Offer() makes the directories
  // (as the server's OS user), the readers below see a missing spool as an empty one.
  PushSpool(std::filesystem::path dir, std::uint64_t max_bytes);

  // See the file comment. Throws Error(kIo / kDiskFull) naming the spool file when the copy
  // cannot be made durable (archive_command then fails and PostgreSQL retries).
  OfferOutcome Offer(const std::filesystem::path& file);

  // Whether a worker holds the spool lock right now.
  bool WorkerRunning() const;

  std::vector<std::string> Queued() const;  // sorted names in queue/
  std::uint64_t QueuedBytes() const;
  std::optional<std::string> LastError() const;

  const std::filesystem::path& dir() const { return dir_; }
  std::uint64_t max_bytes() const { return max_bytes_; }

 private:
  std::filesystem::path dir_;
  std::uint64_t max_bytes_;
};

// The default spool beside archive_command's %p (pg_wal/dbmedic-spool).
std::filesystem::path DefaultPushSpool(const std::filesystem::path& wal_file);

struct SpoolWorkerOptions {
  std::filesystem::path pg_wal;  // push ahead from here; empty: only the queue
  int jobs = 2;
  std::chrono::milliseconds idle_exit{30000};
  std::chrono::milliseconds retry_delay{1000};
};

// Body of `wal push-worker`. Returns at once when another worker holds the spool; otherwise when
// idle for idle_exit or `stop` is set. Push failures are recorded and retried, never thrown.
void RunSpoolWorker(WalArchive& archive, const std::filesystem::path& spool,
                    const SpoolWorkerOptions& options, const std::atomic<bool>& stop);

}  // namespace dbmedic::wal
