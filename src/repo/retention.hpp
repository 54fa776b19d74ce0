// Applying retention to a repository: summaries of its backups for PlanExpire, and the removal
// of what a plan expires. Backups go first (oldest first, manifest before data, so a crash leaves
// only unlisted leftovers), then WAL; a crash between the two leaves extra WAL, never too little.
#pragma once

#include <vector>

#include "core/config.hpp"
#include "repo/manifest.hpp"
#include "repo/repository.hpp"
#include "repo/retention_policy.hpp"

namespace dbmedic::repo {

BackupSummary SummarizeBackup(const Manifest& manifest);

// The policy of retention.keep_full / retention.keep_days (either may be unset).
RetentionPolicy RetentionFromConfig(const core::Config& config);

struct ExpireResult {
  std::vector<std::string> removed_backups;
  std::uint64_t removed_wal_files = 0;
  std::uint64_t removed_wal_bytes = 0;
};

// Removes what `plan` expires. Throws what Storage::Remove throws; what was removed before the
// failure stays removed and the result of a rerun is the same plan minus that.
ExpireResult ApplyExpire(Repository& repository, const ExpirePlan& plan);

}  // namespace dbmedic::repo
