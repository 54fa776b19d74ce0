// The chain of a differential / incremental backup: the earlier backups whose objects its
// manifest uses. Restore and verify refuse a backup whose chain is broken, naming the backup
// that is missing, instead of failing on the first object they cannot read.
#pragma once

#include <optional>
#include <string>

#include "repo/manifest.hpp"
#include "repo/repository.hpp"

namespace dbmedic::repo {

// The first backup of `manifest`'s chain (or used by one of its objects) that the repository
// does not list, nullopt when the chain is whole. Reads only listings.
std::optional<std::string> MissingFromChain(const Repository& repository, const Manifest& manifest);

// Throws Error(kCorrupt) naming the backup and the missing one.
void CheckChain(const Repository& repository, const Manifest& manifest);

}  // namespace dbmedic::repo
