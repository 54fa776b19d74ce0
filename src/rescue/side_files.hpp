// Which files undo's side cluster needs: a selective restore. Undo reads only the system
// catalogs of one database, the tables it brings back (with their TOAST tables and indexes) and
// sequences; every other relation file of the backup (other tables, and every relation of the
// other databases) is restored as an all-zero sparse file of its size, and its chunks are not
// read from the repository. Replay stays correct for the kept relations and harmless for the
// others: each page's first change after the backup's checkpoint is logged as a full-page image
// (full_page_writes is forced during a backup), so replay rebuilds a touched page from the image
// and never needs its old content; an untouched all-zero page is a valid "new" page. The
// zeroed relations are not readable (same rule as pgBackRest's selective restore): nothing
// reads them.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pg/relation_catalog.hpp"

namespace dbmedic::rescue {

struct SideFiles {
  pg::Oid database = 0;
  std::set<pg::Oid> needed;  // relfilenodes read by undo (any snapshot's)
  std::set<pg::Oid> known;   // relfilenodes the catalog names in `database`
};

// From the repository's catalog snapshots (taken at each backup); nullopt when the catalog does
// not know `database` or one of `tables` ("schema.table" or "table"): restore everything then.
std::optional<SideFiles> SideFilesFor(const pg::RelationCatalog& catalog,
                                      const std::string& database,
                                      const std::vector<std::string>& tables);

// For a manifest path ("base/16384/16390_vm.1"): false only for a relation file of another
// database, or of `database` that the catalog names and undo does not read. Everything else
// (global/, pg_xact/, catalogs, files the catalog does not know) is needed.
bool ContentNeeded(const SideFiles& files, std::string_view path);

// The relfilenodes of `files.database` that ContentNeeded leaves sparse (sorted): their WAL need
// not be replayed either (wal/wal_filter.hpp); nor need any other database's.
std::vector<pg::Oid> SparseRelfilenodes(const SideFiles& files);

}  // namespace dbmedic::rescue
