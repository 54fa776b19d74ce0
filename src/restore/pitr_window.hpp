// The recoverable window: which points in time / LSNs a restore can reach, from the backups in
// the repository and what the WAL archive covers; and the choice of the backup for a target.
// The restore module does not read the WAL archive itself (that is the wal module's, a sibling):
// the caller describes the archive in an ArchiveView.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pg/lsn.hpp"
#include "repo/manifest.hpp"
#include "restore/recovery_target.hpp"

namespace dbmedic::restore {

struct ArchiveView {
  // Archived segment numbers per timeline.
  std::map<pg::TimelineId, std::set<std::uint64_t>> segments;
  // Commit time (Unix microseconds) of the last transaction in the newest segment of a timeline.
  std::map<pg::TimelineId, std::int64_t> last_transaction_micros;
};

struct RecoverableWindow {
  pg::TimelineId timeline = 0;
  std::string oldest_backup;
  pg::Lsn from_lsn;               // end of the oldest usable backup
  std::int64_t from_micros = 0;   // its stop time (Unix microseconds, rounded up to a second)
  pg::Lsn to_lsn;                 // end of the WAL reachable without a gap
  std::optional<std::int64_t> to_micros;  // last transaction reachable, when known
};

// One window per timeline of the archive (and of the backups), oldest timeline first. A timeline
// with no usable backup has no window.
std::vector<RecoverableWindow> ComputeWindows(const std::vector<repo::Manifest>& backups,
                                              const ArchiveView& archive);

// "timeline 1: 0/3000100 (2026-11-29 13:00:01+00, backup L) .. 0/5000000 (2026-11-29 13:04:05+00)"
std::string DescribeWindow(const RecoverableWindow& window);

// The newest backup (in `backups`, oldest first) that can reach `target`, or `label` when given
// (checked too). Throws Error(kTarget) with the recoverable window when the target is before the
// oldest backup or beyond the archive; Error(kNotFound) for an empty repository or unknown label.
const repo::Manifest& ChooseBackup(const std::vector<repo::Manifest>& backups,
                                   const ArchiveView& archive, const RecoveryTarget& target,
                                   const std::optional<std::string>& label);

}  // namespace dbmedic::restore
