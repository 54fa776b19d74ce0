// `dbmedic verify`: recomputes every checksum of one backup or of all of them, and names each
// missing, truncated or altered file. Read-only; works without the cluster. A differential or
// incremental backup is checked with what it uses of earlier backups (when verifying one backup)
// and its chain must be whole (a missing backup of the chain is a problem of kind "missing").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "repo/repository.hpp"

namespace dbmedic::backup {

struct VerifyProblem {
  std::string label;
  // Path in the data directory ("base/5/16384"), "manifest.json", or "chain" (a backup it is
  // based on is missing: `object` names it).
  std::string file;
  std::string kind;    // "missing", "truncated", "altered"
  std::string object;  // repository location
  std::string detail;
};

struct VerifyResult {
  std::vector<std::string> labels;      // backups checked
  std::vector<std::string> incomplete;  // interrupted backups (not restorable, not an error)
  std::uint64_t files_checked = 0;
  std::uint64_t bytes_checked = 0;
  std::vector<VerifyProblem> problems;
  bool ok() const { return problems.empty(); }
};

// `label` nullopt: every backup in the catalog. Throws Error(kNotFound) for an unknown label.
VerifyResult VerifyBackups(const repo::Repository& repository,
                           const std::optional<std::string>& label, int jobs);

}  // namespace dbmedic::backup
