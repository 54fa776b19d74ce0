// How the incident finder consults its catalog (synthetic WAL): relations are looked up only for
// commits a rule could take, and IncidentOptions::complete_catalog (the live snapshot in the CLI)
// runs once, only when the catalog lacks an answer a decision needs.
#include <gtest/gtest.h>

#include <limits>

#include "forensics/incident_scanner.hpp"
#include "pg/relation_catalog.hpp"
#include "wal_builder.hpp"

namespace dbmedic::forensics {
namespace {

using pg::RelFileNode;
using testing::WalBuilder;

constexpr RelFileNode kOrders{1663, 5, 16390};

pg::CatalogSnapshot Snapshot(pg::Lsn lsn, double orders_rows, bool with_orders = true) {
  pg::CatalogSnapshot s;
  s.captured_at = "2026-11-30T00:00:00.000000Z";
  s.lsn = lsn;
  s.system_identifier = 7;
  s.databases.push_back({5, "shop", 1663});
  if (with_orders) {
    s.relations.push_back({5, 1663, kOrders.rel, 16388, "public", "orders", 'r', orders_rows, 0});
  }
  return s;
}

// Transaction `xid` deletes `rows` rows of orders and commits at `commit_time`.
void AddOrdersDelete(WalBuilder& wal, std::uint32_t xid, int rows,
                     std::int64_t commit_time = 5000000) {
  for (int i = 0; i < rows; ++i) wal.AddHeapDelete(xid, kOrders);
  wal.AddCommit(xid, commit_time, 5);
}

IncidentReport Scan(const WalBuilder& wal, const pg::RelationCatalog& catalog,
                    const IncidentOptions& options) {
  auto source = wal.Source();
  pg::WalReader reader(*source);
  return FindIncidents(reader, &catalog, options);
}

TEST(IncidentCatalog, CommitsNoRuleCanTakeNeverCompleteTheCatalog) {
  WalBuilder wal;
  AddOrdersDelete(wal, 740, 49);  // < 50% of any table >= 100
  pg::RelationCatalog catalog;
  int calls = 0;
  IncidentOptions options;
  options.complete_catalog = [&] { ++calls; };
  IncidentReport report = Scan(wal, catalog, options);
  EXPECT_TRUE(report.incidents.empty());
  EXPECT_EQ(report.commits, 1u);
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(report.catalog_used);
}

TEST(IncidentCatalog, HalfOfASmallTableIsStillFoundByPercent) {
  WalBuilder wal;
  AddOrdersDelete(wal, 740, 50);
  pg::RelationCatalog catalog;
  catalog.Add(Snapshot(pg::Lsn{0}, 100));
  IncidentReport report = Scan(wal, catalog, {});
  ASSERT_EQ(report.incidents.size(), 1u);
  ASSERT_EQ(report.incidents[0].relations.size(), 1u);
  EXPECT_EQ(report.incidents[0].relations[0].name, "public.orders");
  EXPECT_EQ(report.incidents[0].relations[0].basis, "50 rows >= 50% of ~100");
}

TEST(IncidentCatalog, AnUnnamedRelationCompletesTheCatalogOnceAndIsNamedByIt) {
  WalBuilder wal;
  AddOrdersDelete(wal, 740, 1000);
  AddOrdersDelete(wal, 741, 1000, 5000001);
  pg::RelationCatalog catalog;
  int calls = 0;
  IncidentOptions options;
  options.complete_catalog = [&] {
    ++calls;
    catalog.Add(Snapshot(pg::Lsn{std::numeric_limits<std::uint64_t>::max()}, 5000));
  };
  IncidentReport report = Scan(wal, catalog, options);
  ASSERT_EQ(report.incidents.size(), 2u);
  EXPECT_EQ(report.incidents[0].relations[0].name, "public.orders");
  EXPECT_EQ(report.incidents[0].database_name, "shop");
  EXPECT_EQ(report.incidents[1].relations[0].name, "public.orders");
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(report.catalog_used);
}

TEST(IncidentCatalog, ACompletionThatAddsNothingLeavesTheRelationUnnamed) {
  WalBuilder wal;
  AddOrdersDelete(wal, 740, 1000);
  pg::RelationCatalog catalog;
  int calls = 0;
  IncidentOptions options;
  options.complete_catalog = [&] { ++calls; };  // the cluster could not be read
  IncidentReport report = Scan(wal, catalog, options);
  ASSERT_EQ(report.incidents.size(), 1u);
  EXPECT_EQ(report.incidents[0].relations[0].name, "relation 1663/5/16390 (not in the catalog)");
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(report.catalog_used);
}

TEST(IncidentCatalog, AFateUnknownToTheStoredSnapshotsIsAskedOfTheCompletion) {
  WalBuilder wal;
  wal.AddCommit(770, 5000000, 5, {}, {kOrders});
  pg::RelationCatalog catalog;
  catalog.Add(Snapshot(pg::Lsn{0}, 3000));
  int calls = 0;
  IncidentOptions options;
  options.complete_catalog = [&] {
    ++calls;
    catalog.Add(Snapshot(pg::Lsn{std::numeric_limits<std::uint64_t>::max()}, 0, false));
  };
  IncidentReport report = Scan(wal, catalog, options);
  ASSERT_EQ(report.incidents.size(), 1u);
  const AffectedRelation& r = report.incidents[0].relations[0];
  EXPECT_EQ(r.name, "public.orders");
  EXPECT_EQ(r.action, IncidentKind::kDrop);
  EXPECT_EQ(r.basis, "catalog: the relation is gone in a later snapshot");
  EXPECT_EQ(r.rows, 3000u);
  EXPECT_EQ(calls, 1);
}

TEST(IncidentCatalog, ACatalogThatAnswersEverythingIsNotCompleted) {
  WalBuilder wal;
  AddOrdersDelete(wal, 740, 1000);
  pg::RelationCatalog catalog;
  catalog.Add(Snapshot(pg::Lsn{0}, 5000));
  int calls = 0;
  IncidentOptions options;
  options.complete_catalog = [&] { ++calls; };
  IncidentReport report = Scan(wal, catalog, options);
  ASSERT_EQ(report.incidents.size(), 1u);
  EXPECT_EQ(report.incidents[0].relations[0].name, "public.orders");
  EXPECT_EQ(calls, 0);
}

TEST(IncidentCatalog, RowsOfManyRelationsInOneTransactionAreCountedInFirstTouchOrder) {
  WalBuilder wal;
  // Six relations, interleaved: more than a transaction's rows keep inline.
  for (int i = 0; i < 1000; ++i) {
    for (pg::Oid rel = 16401; rel <= 16406; ++rel) {
      if (rel != 16403 || i < 10) wal.AddHeapDelete(740, {1663, 5, rel});
    }
  }
  wal.AddCommit(740, 5000000, 5);
  pg::RelationCatalog catalog;
  IncidentReport report = Scan(wal, catalog, {});
  ASSERT_EQ(report.incidents.size(), 1u);
  const auto& relations = report.incidents[0].relations;
  ASSERT_EQ(relations.size(), 5u);  // 16403 lost only 10 rows
  const pg::Oid expected[] = {16401, 16402, 16404, 16405, 16406};
  for (std::size_t i = 0; i < relations.size(); ++i) {
    EXPECT_EQ(relations[i].file.rel, expected[i]);
    EXPECT_EQ(relations[i].rows, 1000u);
  }
}

}  // namespace
}  // namespace dbmedic::forensics
