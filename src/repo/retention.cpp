#include "repo/retention.hpp"

#include "repo/lock.hpp"

#include <spdlog/spdlog.h>

namespace dbmedic::repo {

BackupSummary SummarizeBackup(const Manifest& manifest) {
  BackupSummary summary;
  summary.label = manifest.label;
  summary.type = manifest.type;
  summary.reference = manifest.reference;
  summary.start_lsn = pg::Lsn::Parse(manifest.start_lsn);
  summary.timeline = manifest.timeline;
  summary.stop_time = manifest.stop_time;
  return summary;
}

RetentionPolicy RetentionFromConfig(const core::Config& config) {
  RetentionPolicy policy;
  if (config.Has("retention.keep_full")) {
    policy.keep_full = static_cast<int>(config.Int("retention.keep_full"));
  }
  if (config.Has("retention.keep_days")) {
    policy.keep_days = static_cast<int>(config.Int("retention.keep_days"));
  }
  return policy;
}

ExpireResult ApplyExpire(Repository& repository, const ExpirePlan& plan) {
  // One writer at a time: a backup running now must not see its WAL or its reference backup go.
  const RepositoryLock lock = LockRepository(repository, "dbmedic expire");
  ExpireResult result;
  for (const std::string& label : plan.expired_backups) {
    spdlog::info("expire: removing backup {}", label);
    repository.RemoveBackup(label);
    result.removed_backups.push_back(label);
  }
  for (const WalObject& file : plan.expired_wal) {
    repository.storage().Remove(file.object);
    ++result.removed_wal_files;
    result.removed_wal_bytes += file.stored_size;
  }
  if (!plan.expired_wal.empty()) {
    spdlog::info("expire: removed {} WAL files {} .. {}", plan.expired_wal.size(),
                 plan.expired_wal.front().name, plan.expired_wal.back().name);
  }
  return result;
}

}  // namespace dbmedic::repo
