// `dbmedic verify`: recomputes every checksum of one backup or of all of them, and names each
// missing, truncated or altered file. Read-only; works without the cluster.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "repo/repository.hpp"

namespace dbmedic::backup {

struct VerifyProblem {
  std::string label;
  std::string file;    // path in the data directory ("base/5/16384"), or "manifest.json"
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
