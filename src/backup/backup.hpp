// Online full backup of a running PostgreSQL 15 cluster into the configured repository.
//
// One held connection: a temporary physical replication slot reserves the WAL from the start
// (so the segments between start and stop cannot be recycled), pg_backup_start(label, fast) /
// pg_backup_stop(wait_for_archive := false) bracket the copy (non-exclusive: if we die, the
// session ends and so does the backup). Files are split into chunks copied by `jobs` threads
// (hash -> page-checksum check -> compress -> Storage); the WAL from start to stop, backup_label
// and tablespace_map follow; the manifest is written last and atomically. A backup that did not
// reach its manifest is never listed, and the next backup removes its leftovers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "repo/manifest.hpp"
#include "repo/repository.hpp"

namespace dbmedic::backup {

struct Progress {
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
};

struct BackupOptions {
  // Called (serialised, from worker threads) after each chunk is stored.
  std::function<void(const Progress&)> on_progress;
};

struct BackupResult {
  repo::Manifest manifest;
  std::vector<std::string> removed_incomplete;  // interrupted backups cleaned up first
};

// Uses repository.path / cluster.* / backup.jobs / backup.chunk_size / repository.compression*.
// Throws Error: kConflict (another backup holds the repository lock, naming it), kPostgres (cluster not reachable, query failed), kRepository (another cluster's
// repository), kCorrupt (a page whose checksum fails and that predates the backup start, naming
// file and block), kIo / kDiskFull (naming the file).
BackupResult RunBackup(const core::Config& config, const BackupOptions& options = {});
// Same, into an already opened repository (tests pass a fault-injecting storage this way).
BackupResult RunBackup(const core::Config& config, repo::Repository& repository,
                       const BackupOptions& options = {});

}  // namespace dbmedic::backup
