// `dbmedic check`: proves archiving works end to end (switch a WAL segment on the server and wait
// until that segment is in the repository) and reports the recovery point objective as it was
// before the switch: how far, in bytes and seconds, the newest archived WAL is behind the server;
// plus every range of segments missing from the archive.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"
#include "wal/archive.hpp"
#include "wal/archive_catalog.hpp"

namespace dbmedic::wal {

struct MissingRange {
  pg::TimelineId timeline = 0;
  std::string first;  // first missing segment name
  std::string last;
};

struct CheckOptions {
  std::chrono::milliseconds timeout{60000};
  // `wal stream`'s partial segments (<repository>/stream): streamed WAL counts for the RPO and
  // fills the archive's tail; with them, archive_mode may be off.
  std::filesystem::path stream_dir;
  // The asynchronous push spool, when there is one: its backlog is WAL not yet in the repository.
  std::optional<std::filesystem::path> push_spool;
};

struct CheckReport {
  std::string archive_mode;
  std::string archive_command;
  std::string current_lsn;
  pg::TimelineId timeline = 0;
  std::optional<std::string> newest_archived;  // segment name, current timeline
  std::optional<std::string> streamed_lsn;     // end of the newest stream partial, this timeline
  std::uint64_t rpo_bytes = 0;                 // WAL written but not yet archived
  double rpo_seconds = 0;                      // since the archive last caught up
  std::string switched_segment;                // the segment the check waited for
  double wait_seconds = 0;                     // until it was in the repository
  std::vector<MissingRange> missing;
  std::optional<std::string> last_failed_wal;  // pg_stat_archiver
  std::optional<std::string> last_failed_time;
  std::uint64_t spool_files = 0;               // asynchronous push backlog
  std::uint64_t spool_bytes = 0;
  std::optional<std::string> spool_error;      // the push worker's last failure
};

// Throws Error(kConfig) when archive_mode is off and nothing is streamed either, Error(kTimeout)
// naming the segment and the archiver's last failure when it did not arrive within the timeout.
// Missing ranges are computed over the archive plus the stream partials.
CheckReport RunCheck(pg::Connection& conn, const WalArchive& archive, const CheckOptions& options);

}  // namespace dbmedic::wal
