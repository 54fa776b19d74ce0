// The restore target on disk: where each manifest path lands (tablespaces through their
// pg_tblspc symlinks, possibly remapped), the emptiness check, and delta's clean-up of what the
// backup does not contain.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "repo/manifest.hpp"

namespace dbmedic::restore {

class TargetLayout {
 public:
  // Resolves each tablespace's location through `mapping` (old -> new). Throws Error(kUsage) for
  // a mapping that names no tablespace of the backup.
  TargetLayout(std::filesystem::path target, const repo::Manifest& manifest,
               const std::map<std::string, std::string>& mapping);

  // Throws Error(kConflict) naming the first directory (data or tablespace) that is not empty,
  // or, for delta, a data directory with postmaster.pid (a server may be running there).
  void CheckTargets(bool delta) const;
  // Creates the data directory (0700), tablespace locations, pg_tblspc symlinks and every
  // directory of the manifest.
  void CreateDirectories(const repo::Manifest& manifest) const;
  // Delta: removes files (and then directories) that the backup does not contain; returns how
  // many files were removed.
  std::uint64_t RemoveExtraneous(const repo::Manifest& manifest) const;
  // The tablespace_map text of the backup with remapped locations.
  std::string RemapTablespaceMap(const std::string& text) const;

  const std::filesystem::path& target() const { return target_; }
  std::filesystem::path PathOf(const std::string& manifest_path) const { return target_ / manifest_path; }
  // Every directory the restore writes into: the target and the tablespace locations.
  std::vector<std::filesystem::path> Roots() const;

 private:
  std::filesystem::path target_;
  std::map<std::string, std::filesystem::path> tablespaces_;  // oid -> location to restore to
  std::map<std::string, std::string> old_locations_;          // oid -> location at backup time
};

}  // namespace dbmedic::restore
