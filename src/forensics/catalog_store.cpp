#include "forensics/catalog_store.hpp"

#include <mutex>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::forensics {

pg::RelationCatalog LoadRepositoryCatalog(const repo::Repository& repository) {
  if (!repository.storage().Exists(kCatalogObject)) return {};
  return pg::RelationCatalog::Parse(
      repository.storage().ReadAll(kCatalogObject),
      fmt::format("repository object {}", repository.storage().Describe(kCatalogObject)));
}

CaptureResult CaptureIntoRepository(repo::Repository& repository, const std::string& conninfo) {
  pg::CatalogSnapshot snapshot = pg::CaptureClusterCatalog(conninfo);
  repository.CheckCluster(std::to_string(snapshot.system_identifier));
  CaptureResult result{snapshot.relations.size(), snapshot.databases.size(), 0,
                       snapshot.lsn.ToString(), snapshot.captured_at};
  // Backups, the streamer and the agent may capture at the same moment from one process;
  // serialise the read-modify-write within it (across processes the last writer wins, which
  // loses at most one snapshot of an interval).
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  pg::RelationCatalog catalog = LoadRepositoryCatalog(repository);
  catalog.AddCompacting(std::move(snapshot));
  repository.storage().WriteAtomic(kCatalogObject, catalog.Serialize());
  result.snapshots = catalog.snapshots().size();
  return result;
}

}  // namespace dbmedic::forensics
