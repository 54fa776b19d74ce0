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
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "pg/wal_source.hpp"
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
  // The repository's WAL archive as a source of segments on `timeline` (the CLI builds it: the
  // backup module does not depend on the wal module). Diff / incr backups summarise the WAL
  // since the reference from pg_wal and, for the segments recycled there, from this source.
  // Unset, or throwing, means pg_wal only. May throw Error(kNotFound) for an empty archive.
  std::function<std::unique_ptr<pg::WalSource>(std::uint32_t timeline)> archived_wal;
};

// How a diff / incr chose the pages of the relation main forks it shares with its reference
// (backup.incremental_from_wal): from a summary of the WAL in between, or by reading every page.
struct WalSummaryReport {
  bool attempted = false;     // an incremental with the option on
  bool used = false;          // the summary decided which blocks were read
  std::string fallback;       // why it was not used (attempted && !used)
  std::string source;         // where the WAL was read
  std::uint64_t records = 0;
  std::uint64_t segments = 0;
  std::uint64_t files_summarised = 0;   // main forks read block by block from the summary
  std::uint64_t files_page_scanned = 0; // main forks read whole, pages judged by LSN
  std::uint64_t files_copied_whole = 0; // main forks re-created in the range: copied whole
  std::uint64_t pages_read = 0;         // pages the summarised files read
  double seconds = 0;                   // time spent summarising
};

struct BackupResult {
  repo::Manifest manifest;
  std::vector<std::string> removed_incomplete;  // interrupted backups cleaned up first
  WalSummaryReport wal_summary;
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
