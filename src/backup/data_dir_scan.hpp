// What a backup copies: the data directory's files and directories, tablespaces followed through
// pg_tblspc, minus what PostgreSQL's documentation says a base backup must skip (pg_wal contents,
// postmaster.pid/.opts, pg_replslot, pg_dynshmem, pg_notify, pg_serial, pg_snapshots,
// pg_stat_tmp, pg_subtrans contents, pgsql_tmp*, temporary relations, pg_internal.init, old
// backup_label / tablespace_map, and the main forks of unlogged relations (their init fork is
// kept; recovery rebuilds them from it)).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "repo/manifest.hpp"

namespace dbmedic::backup {

struct PlannedFile {
  std::string path;             // relative to the data directory ("pg_tblspc/OID/..." inside)
  std::filesystem::path source;  // absolute path to read
  std::uint64_t size = 0;
  std::uint32_t mode = 0600;
  std::int64_t mtime = 0;
};

struct DataDirPlan {
  std::vector<repo::DirectoryEntry> directories;
  std::vector<repo::TablespaceEntry> tablespaces;
  std::vector<PlannedFile> files;
  std::uint64_t total_bytes = 0;
};

// Throws Error(kIo) naming the directory that cannot be listed.
DataDirPlan ScanDataDirectory(const std::filesystem::path& data_dir);

// Whether a top-level entry / file name is excluded by name alone (exposed for tests).
bool IsExcludedFile(const std::string& relative_path);
bool IsContentExcludedDir(const std::string& relative_path);

}  // namespace dbmedic::backup
