// Restores a backup from the repository into a data directory, in parallel: the chunks of one big
// file are written by several threads with pwrite, and every chunk's size and SHA-256 are checked
// before it is written. The target is refused when not empty (unless delta), is mode 0700 and
// owned by cluster.os_user when we are root. Nothing claims to be complete before it is:
// global/pg_control, tablespace_map and backup_label are written last (backup_label very last,
// atomically), and a marker file "dbmedic.restore.incomplete" exists until the end.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "core/config.hpp"
#include "repo/repository.hpp"

namespace dbmedic::restore {

inline constexpr std::string_view kIncompleteMarker = "dbmedic.restore.incomplete";

struct RestoreProgress {
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
};

struct RestoreOptions {
  std::filesystem::path target_dir;
  std::optional<std::string> label;  // nullopt: the newest backup
  // Rewrite only chunks whose content differs, remove files that are not in the backup.
  bool delta = false;
  int jobs = 0;  // 0: one per core
  // Original tablespace location -> new location.
  std::map<std::string, std::string> tablespace_map;
  // OS user to own the restored files when running as root (empty: leave as root's).
  std::string os_user;
  std::function<void(const RestoreProgress&)> on_progress;  // serialised
  // A selective restore (undo's side cluster: relations it never reads): a file for which this
  // returns false is created at its size as a sparse (all-zero) file and its chunks are not
  // read. Called with the manifest path ("base/5/16384"). Empty: every file's content.
  std::function<bool(const std::string& path)> content_needed;
};

struct RestoreResult {
  std::string label;
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;          // raw bytes of the backup
  std::uint64_t bytes_written = 0;  // less than bytes with delta
  std::uint64_t files_removed = 0;  // delta: files not in the backup
  std::uint64_t files_skipped = 0;  // content_needed said no: sparse
  std::uint64_t bytes_skipped = 0;
  double seconds = 0;               // wall time of the restore
};

// Throws Error: kNotFound (no such backup / empty repository), kConflict (target not empty, or a
// server running in it for delta), kUsage (a --tablespace-map for no tablespace of the backup),
// kCorrupt (a repository file missing, truncated or altered: names it), kIo / kDiskFull.
RestoreResult RestoreBackup(const repo::Repository& repository, const RestoreOptions& options);
// Opens the configured repository; os_user defaults to cluster.os_user, jobs to backup.jobs.
RestoreResult RestoreBackup(const core::Config& config, RestoreOptions options);

// Parses "OLD=NEW" (--tablespace-map). Throws Error(kUsage).
std::pair<std::string, std::string> ParseTablespaceMapping(std::string_view text);

}  // namespace dbmedic::restore
