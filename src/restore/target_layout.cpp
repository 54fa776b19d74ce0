#include "restore/target_layout.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "restore/restore.hpp"

namespace dbmedic::restore {
namespace fs = std::filesystem;
namespace {

bool IsNonEmptyDir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && !fs::is_empty(dir, ec);
}

void CreateDir(const fs::path& dir, mode_t mode) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw SystemError(ec.value(), "create directory", dir.string());
  if (::chmod(dir.c_str(), mode) != 0) throw SystemError(errno, "chmod", dir.string());
}

}  // namespace

TargetLayout::TargetLayout(fs::path target, const repo::Manifest& manifest,
                           const std::map<std::string, std::string>& mapping)
    : target_(fs::absolute(std::move(target)).lexically_normal()) {
  std::set<std::string> used;
  for (const repo::TablespaceEntry& t : manifest.tablespaces) {
    auto it = mapping.find(t.location);
    tablespaces_[t.oid] = it == mapping.end() ? fs::path(t.location) : fs::path(it->second);
    old_locations_[t.oid] = t.location;
    if (it != mapping.end()) used.insert(it->first);
  }
  for (const auto& [old_location, new_location] : mapping) {
    if (used.count(old_location)) continue;
    throw Error(ErrorCode::kUsage,
                fmt::format("--tablespace-map '{}={}' names no tablespace of backup {}",
                            old_location, new_location, manifest.label),
                "list the backup's tablespace locations in 'dbmedic info --output json'");
  }
}

std::vector<fs::path> TargetLayout::Roots() const {
  std::vector<fs::path> roots{target_};
  for (const auto& [oid, location] : tablespaces_) roots.push_back(location);
  return roots;
}

void TargetLayout::CheckTargets(bool delta) const {
  if (delta) {
    if (fs::exists(target_ / "postmaster.pid")) {
      throw Error(ErrorCode::kConflict,
                  fmt::format("'{}' holds postmaster.pid: a server may be running there",
                              target_.string()),
                  "stop that server (pg_ctl stop) before a delta restore");
    }
    return;
  }
  for (const fs::path& dir : Roots()) {
    if (!IsNonEmptyDir(dir)) continue;
    throw Error(ErrorCode::kConflict,
                fmt::format("restore target '{}' is not empty", dir.string()),
                "restore into an empty or new directory, or use --delta to update it in place");
  }
}

void TargetLayout::CreateDirectories(const repo::Manifest& manifest) const {
  CreateDir(target_, 0700);
  CreateDir(target_ / "pg_tblspc", 0700);
  for (const auto& [oid, location] : tablespaces_) {
    CreateDir(location, 0700);
    const fs::path link = target_ / "pg_tblspc" / oid;
    std::error_code ec;
    if (fs::is_symlink(link, ec) && fs::read_symlink(link, ec) == location) continue;
    fs::remove_all(link, ec);
    fs::create_directory_symlink(location, link, ec);
    if (ec) throw SystemError(ec.value(), "create symlink", link.string());
  }
  for (const repo::DirectoryEntry& d : manifest.directories) {
    CreateDir(target_ / d.path, static_cast<mode_t>(d.mode));
  }
}

std::uint64_t TargetLayout::RemoveExtraneous(const repo::Manifest& manifest) const {
  std::set<std::string> keep{std::string(kIncompleteMarker)};
  for (const repo::FileEntry& f : manifest.files) keep.insert(f.path);
  std::set<std::string> keep_dirs;
  for (const repo::DirectoryEntry& d : manifest.directories) keep_dirs.insert(d.path);
  for (const auto& [oid, location] : tablespaces_) keep_dirs.insert("pg_tblspc/" + oid);
  keep_dirs.insert("pg_tblspc");

  std::uint64_t removed = 0;
  std::vector<fs::path> extra_dirs;
  std::error_code ec;
  const auto options = fs::directory_options::follow_directory_symlink;
  for (auto it = fs::recursive_directory_iterator(target_, options, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    // lexically: fs::relative would resolve the pg_tblspc symlinks
    const std::string rel = it->path().lexically_relative(target_).generic_string();
    const bool is_dir = it->is_directory(ec) ;
    if (is_dir && !it->is_symlink(ec)) {
      if (!keep_dirs.count(rel)) extra_dirs.push_back(it->path());
      continue;
    }
    if (is_dir || keep.count(rel)) continue;
    if (::unlink(it->path().c_str()) != 0) throw SystemError(errno, "remove", it->path().string());
    ++removed;
  }
  if (ec) throw SystemError(ec.value(), "list", target_.string());
  std::sort(extra_dirs.rbegin(), extra_dirs.rend());  // children before parents
  for (const fs::path& dir : extra_dirs) fs::remove_all(dir, ec);
  return removed;
}

std::string TargetLayout::RemapTablespaceMap(const std::string& text) const {
  // One line per tablespace: "<oid> <location>".
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    const auto space = line.find(' ');
    if (space != std::string::npos) {
      auto it = tablespaces_.find(line.substr(0, space));
      if (it != tablespaces_.end()) line = line.substr(0, space + 1) + it->second.string();
    }
    if (!line.empty()) out += line + "\n";
  }
  return out;
}

}  // namespace dbmedic::restore
