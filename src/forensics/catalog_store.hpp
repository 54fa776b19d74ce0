// The relation catalog kept in the repository, beside the backups and WAL it names: every backup,
// `wal stream` interval and agent interval adds a snapshot, so `incidents` can name what the
// archived WAL shows without the user having captured anything by hand.
#pragma once

#include <string>
#include <string_view>

#include "pg/relation_catalog.hpp"
#include "repo/repository.hpp"

namespace dbmedic::forensics {

inline constexpr std::string_view kCatalogObject = "forensics/catalog.json";

// The repository's catalog; empty when none was captured yet. Throws Error(kCorrupt) naming the
// object when it is damaged.
pg::RelationCatalog LoadRepositoryCatalog(const repo::Repository& repository);

struct CaptureResult {
  std::size_t relations = 0;
  std::size_t databases = 0;
  std::size_t snapshots = 0;  // in the repository's catalog afterwards
  std::string lsn;
  std::string captured_at;
};

// Captures the cluster's catalog (every database) and adds it to the repository's catalog
// (compacting unchanged periods). Throws Error(kRepository) when the cluster is not the
// repository's, Error(kPostgres) when the capture fails.
CaptureResult CaptureIntoRepository(repo::Repository& repository, const std::string& conninfo);

}  // namespace dbmedic::forensics
