// Retention: which backups and which archived WAL files `dbmedic expire` removes. Pure logic on
// summaries (no storage), so every rule is tested without a cluster; retention.cpp applies it.
//
// Rules (docs/retention.md):
//  - keep_full N: the N newest full backups are retained, with every backup taken after the
//    oldest of them (differential / incremental backups of the retained chains).
//  - keep_days D: every backup that ended within the last D days is retained, and so is the
//    newest one that ended before that, because recovery to the start of the window needs it.
//  - Both given: a backup is retained if either rule retains it. Neither: Error(kUsage).
//  - A retained backup keeps the backups it was taken against (its reference chain) whole.
//  - The newest backup is always retained.
//  - WAL: a segment (or .partial / .backup file) on timeline T with segment number S is still
//    needed when some retained backup started on a timeline <= T at a segment <= S: replay from
//    that backup may run through it, up to the end of the archive on any later timeline.
//    Everything else is removable. .history files are tiny and always kept. With no backup at
//    all, nothing in the archive is removed (it may be all that is left of the cluster).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/lsn.hpp"

namespace dbmedic::repo {

struct RetentionPolicy {
  std::optional<int> keep_full;  // >= 1
  std::optional<int> keep_days;  // >= 1
};

struct BackupSummary {
  std::string label;
  std::string type = "full";  // full | diff | incr
  std::string reference;      // label of the backup this one is based on (empty for full)
  pg::Lsn start_lsn;
  pg::TimelineId timeline = 0;
  std::int64_t stop_time = 0;  // seconds since the epoch
};

// One archived WAL file as the repository holds it (the wal module lists them).
struct WalObject {
  std::string name;    // PostgreSQL's file name
  std::string object;  // repository object path
  std::uint64_t stored_size = 0;
};

enum class RetainReason { kKeepFull, kKeepDays, kWindowStart, kReference, kNewest };
std::string_view RetainReasonName(RetainReason reason);

struct RetainedBackup {
  std::string label;
  std::vector<RetainReason> reasons;
};

struct ExpirePlan {
  std::vector<RetainedBackup> retained;      // oldest first
  std::vector<std::string> expired_backups;  // oldest first
  std::vector<WalObject> expired_wal;        // sorted by name
  std::uint64_t expired_wal_bytes = 0;
  // Oldest WAL still needed: the start of the oldest retained backup (nullopt: no backup).
  std::optional<std::string> wal_kept_from;  // segment name
};

// Throws Error(kUsage) when the policy names no rule or a rule below 1. `backups` in any order;
// `now` in seconds since the epoch.
ExpirePlan PlanExpire(const std::vector<BackupSummary>& backups,
                      const std::vector<WalObject>& wal, const RetentionPolicy& policy,
                      std::int64_t now);

}  // namespace dbmedic::repo
