#include "repo/backup_chain.hpp"

#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"

namespace dbmedic::repo {

std::optional<std::string> MissingFromChain(const Repository& repository, const Manifest& manifest) {
  if (manifest.chain.empty() && manifest.reference.empty()) return std::nullopt;
  const std::vector<std::string> listed = repository.ListBackups();
  const std::set<std::string> present(listed.begin(), listed.end());
  for (const std::string& label : manifest.chain) {
    if (!present.contains(label)) return label;
  }
  for (const std::string& label : ReferencedBackups(manifest)) {
    if (!present.contains(label)) return label;
  }
  return std::nullopt;
}

void CheckChain(const Repository& repository, const Manifest& manifest) {
  const std::optional<std::string> missing = MissingFromChain(repository, manifest);
  if (!missing) return;
  throw Error(ErrorCode::kCorrupt,
              fmt::format("backup {} ({}) is based on backup {}, which is missing from repository "
                          "'{}': the chain {} <- {} is broken",
                          manifest.label, manifest.type, *missing, repository.storage().Describe(""),
                          fmt::join(manifest.chain, " <- "), manifest.label),
              "restore an older full backup, or another backup whose chain is whole (dbmedic "
              "info), and take a new full backup");
}

}  // namespace dbmedic::repo
