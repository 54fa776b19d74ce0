#include "backup/data_dir_scan.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"

namespace dbmedic::backup {
namespace fs = std::filesystem;
namespace {

// Directories kept (empty) but whose contents are never copied.
constexpr std::array<std::string_view, 8> kContentExcludedDirs = {
    "pg_wal", "pg_replslot", "pg_dynshmem", "pg_notify",
    "pg_serial", "pg_snapshots", "pg_stat_tmp", "pg_subtrans"};

// Top-level files never copied (the server's run-time state and previous backups' leftovers).
constexpr std::array<std::string_view, 10> kExcludedTopFiles = {
    "postmaster.pid", "postmaster.opts", "backup_label", "backup_label.old",
    "tablespace_map", "tablespace_map.old", "backup_manifest", "postgresql.auto.conf.tmp",
    "current_logfiles.tmp", "recovery.signal"};

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "t3_16384" (optionally with fork / segment): a temporary relation of some backend.
bool IsTempRelation(std::string_view name) {
  if (name.size() < 4 || name[0] != 't') return false;
  auto underscore = name.find('_');
  if (underscore == name.npos || !AllDigits(name.substr(1, underscore - 1))) return false;
  std::string_view rest = name.substr(underscore + 1);
  return !rest.empty() && rest[0] >= '0' && rest[0] <= '9';
}

// The relfilenode part of a relation file name ("16384_fsm.2" -> "16384"); empty otherwise.
std::string_view RelfilenodeOf(std::string_view name) {
  auto end = name.find_first_of("_.");
  std::string_view node = name.substr(0, end);
  return AllDigits(node) ? node : std::string_view{};
}

bool IsInitFork(std::string_view name) {
  auto underscore = name.find('_');
  return underscore != name.npos && name.substr(underscore, 5) == "_init";
}

struct Scanner {
  DataDirPlan plan;

  void Add(const std::string& rel, const fs::path& full, const struct stat& st) {
    PlannedFile f;
    f.path = rel;
    f.source = full;
    f.size = static_cast<std::uint64_t>(st.st_size);
    f.mode = st.st_mode & 07777;
    f.mtime = st.st_mtime;
    plan.total_bytes += f.size;
    plan.files.push_back(std::move(f));
  }

  // Lists one directory; recurses. `rel` is "" for the data directory itself.
  void Walk(const fs::path& dir, const std::string& rel) {
    std::error_code ec;
    std::vector<fs::path> entries;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      entries.push_back(it->path());
    }
    if (ec) throw SystemError(ec.value(), "list directory", dir.string());
    std::sort(entries.begin(), entries.end());

    std::set<std::string, std::less<>> unlogged;  // relfilenodes with an init fork here
    for (const fs::path& p : entries) {
      const std::string name = p.filename().string();
      if (IsInitFork(name) && !RelfilenodeOf(name).empty()) unlogged.insert(std::string(RelfilenodeOf(name)));
    }
    for (const fs::path& p : entries) Visit(p, rel, unlogged);
  }

  void Visit(const fs::path& full, const std::string& parent_rel,
             const std::set<std::string, std::less<>>& unlogged) {
    const std::string name = full.filename().string();
    const std::string rel = parent_rel.empty() ? name : parent_rel + "/" + name;
    if (name.starts_with("pgsql_tmp") || name == "pg_internal.init" || IsTempRelation(name)) return;
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) {
      if (errno == ENOENT) return;  // removed while we looked (a dropped relation)
      throw SystemError(errno, "stat", full.string());
    }
    if (S_ISLNK(st.st_mode)) return VisitLink(full, rel);
    if (S_ISDIR(st.st_mode)) {
      plan.directories.push_back({rel, st.st_mode & 07777});
      if (IsContentExcludedDir(rel)) {
        if (rel == "pg_wal") plan.directories.push_back({"pg_wal/archive_status", 0700});
        return;
      }
      return Walk(full, rel);
    }
    if (!S_ISREG(st.st_mode) || IsExcludedFile(rel)) return;
    const std::string_view node = RelfilenodeOf(name);
    if (!node.empty() && unlogged.count(node) && !IsInitFork(name)) return;
    Add(rel, full, st);
  }

  // Symlinks: pg_tblspc/<oid> (tablespaces) and a pg_wal moved elsewhere are followed.
  void VisitLink(const fs::path& full, const std::string& rel) {
    std::error_code ec;
    const fs::path target = fs::read_symlink(full, ec);
    if (ec) throw SystemError(ec.value(), "read symlink", full.string());
    if (rel == "pg_wal") {
      plan.directories.push_back({"pg_wal", 0700});
      plan.directories.push_back({"pg_wal/archive_status", 0700});
      return;
    }
    if (rel.starts_with("pg_tblspc/") && rel.find('/', 10) == std::string::npos) {
      plan.tablespaces.push_back({rel.substr(10), target.string()});
      struct stat st;
      if (::stat(full.c_str(), &st) != 0) throw SystemError(errno, "stat tablespace", full.string());
      return Walk(full, rel);
    }
    spdlog::warn("skipping symbolic link '{}' -> '{}' (only tablespaces and pg_wal are followed)",
                 full.string(), target.string());
  }
};

}  // namespace

bool IsContentExcludedDir(const std::string& rel) {
  return std::find(kContentExcludedDirs.begin(), kContentExcludedDirs.end(), rel) !=
         kContentExcludedDirs.end();
}

bool IsExcludedFile(const std::string& rel) {
  return std::find(kExcludedTopFiles.begin(), kExcludedTopFiles.end(), rel) !=
         kExcludedTopFiles.end();
}

DataDirPlan ScanDataDirectory(const fs::path& data_dir) {
  Scanner scanner;
  scanner.Walk(data_dir, "");
  return std::move(scanner.plan);
}

}  // namespace dbmedic::backup
