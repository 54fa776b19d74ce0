// The selective restore of undo's side cluster: which backup files it needs, from a catalog
// snapshot (real PostgreSQL numbering: database 5 = postgres, catalogs below 16384).
#include <gtest/gtest.h>

#include "rescue/side_files.hpp"

namespace dbmedic::rescue {
namespace {

pg::CatalogRelation Rel(pg::Oid db, pg::Oid oid, pg::Oid relfilenode, std::string name, char kind,
                        pg::Oid parent = 0) {
  pg::CatalogRelation r;
  r.db = db;
  r.tablespace = 1663;
  r.oid = oid;
  r.relfilenode = relfilenode;
  r.schema = kind == 't' ? "pg_toast" : "public";
  r.name = std::move(name);
  r.kind = kind;
  r.parent = parent;
  return r;
}

pg::RelationCatalog Catalog() {
  pg::CatalogSnapshot s;
  s.captured_at = "2026-11-29T12:00:00.000000Z";
  s.lsn = pg::Lsn{0x3000028};
  s.system_identifier = 7;
  s.databases = {{1, "template1", 1663}, {5, "postgres", 1663}, {16400, "shop", 1663}};
  s.relations = {
      Rel(5, 1259, 1259, "pg_class", 'r'),
      Rel(5, 2619, 16999, "pg_statistic", 'r'),  // a catalog rewritten by VACUUM FULL
      Rel(5, 16384, 16384, "users", 'r'),
      Rel(5, 16387, 16387, "pg_toast_16384", 't', 16384),
      Rel(5, 16389, 16389, "pg_toast_16384_index", 'i', 16387),
      Rel(5, 16390, 16390, "users_pkey", 'i', 16384),
      Rel(5, 16391, 16391, "users_id_seq", 'S'),
      Rel(5, 16392, 20000, "orders", 'r'),  // rewritten once: other relfilenode
      Rel(5, 16393, 16393, "orders_pkey", 'i', 16392),
  };
  pg::RelationCatalog catalog;
  catalog.Add(s);
  return catalog;
}

TEST(SideFilesTest, KeepsTheTableItsToastIndexesSequencesAndCatalogs) {
  const auto files = SideFilesFor(Catalog(), "postgres", {"public.users"});
  ASSERT_TRUE(files.has_value());
  for (const char* path : {"base/5/16384", "base/5/16384_fsm", "base/5/16384_vm", "base/5/16384.1",
                           "base/5/16387", "base/5/16389", "base/5/16390", "base/5/16391",
                           "base/5/1259", "base/5/16999", "base/5/2840", "base/5/PG_VERSION",
                           "base/5/pg_filenode.map", "global/1262", "global/pg_control",
                           "pg_xact/0000", "postgresql.conf"}) {
    EXPECT_TRUE(ContentNeeded(*files, path)) << path;
  }
}

TEST(SideFilesTest, SkipsOtherTablesOfTheDatabaseAndEveryOtherDatabase) {
  const auto files = SideFilesFor(Catalog(), "postgres", {"users"});
  ASSERT_TRUE(files.has_value());
  for (const char* path : {"base/5/20000", "base/5/20000_vm", "base/5/20000.3", "base/5/16393",
                           "base/1/1259", "base/16400/16500", "base/16400/1259",
                           "pg_tblspc/16500/PG_15_202209061/16400/16600"}) {
    EXPECT_FALSE(ContentNeeded(*files, path)) << path;
  }
}

TEST(SideFilesTest, KeepsARelationFileTheCatalogDoesNotName) {
  const auto files = SideFilesFor(Catalog(), "postgres", {"public.users"});
  ASSERT_TRUE(files.has_value());
  EXPECT_TRUE(ContentNeeded(*files, "base/5/30000")) << "created after the snapshot: kept";
  EXPECT_TRUE(ContentNeeded(*files, "pg_tblspc/16500/PG_15_202209061/5/30000"));
}

TEST(SideFilesTest, UnknownTableOrDatabaseMeansTheWholeBackup) {
  EXPECT_FALSE(SideFilesFor(Catalog(), "postgres", {"public.nope"}).has_value());
  EXPECT_FALSE(SideFilesFor(Catalog(), "postgres", {"users", "nope"}).has_value());
  EXPECT_FALSE(SideFilesFor(Catalog(), "nodb", {"users"}).has_value());
  EXPECT_FALSE(SideFilesFor(pg::RelationCatalog{}, "postgres", {"users"}).has_value());
}

}  // namespace
}  // namespace dbmedic::rescue
