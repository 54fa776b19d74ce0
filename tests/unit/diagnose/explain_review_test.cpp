// The plan review on hand-written EXPLAIN (FORMAT JSON) documents, shaped like PostgreSQL 15's.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "diagnose/explain.hpp"

namespace dbmedic::diagnose {
namespace {

using nlohmann::json;

json Wrap(json plan) { return json::array({{{"Plan", plan}}}); }

json SeqScan(double plan_rows, std::string filter) {
  return {{"Node Type", "Seq Scan"}, {"Relation Name", "orders"}, {"Schema", "public"},
          {"Alias", "orders"},       {"Plan Rows", plan_rows},      {"Filter", filter}};
}

TEST(FilterColumns, EqualityFirstThenRanges) {
  EXPECT_EQ(FilterColumns("((o.created_at > now()) AND (o.customer_id = 42))"),
            (std::vector<std::string>{"customer_id", "created_at"}));
}

TEST(FilterColumns, SeesThroughCastsAndConstantsOnTheLeft) {
  EXPECT_EQ(FilterColumns("((orders.status)::text = 'open'::text)"),
            (std::vector<std::string>{"status"}));
  EXPECT_EQ(FilterColumns("(42 = orders.customer_id)"), (std::vector<std::string>{"customer_id"}));
  EXPECT_EQ(FilterColumns("((t.ts)::timestamp without time zone >= '2026-01-01'::timestamp without time zone)"),
            (std::vector<std::string>{"ts"}));
}

TEST(FilterColumns, IgnoresFunctionsOfColumns) {
  EXPECT_TRUE(FilterColumns("(lower(t.name) = 'x'::text)").empty());
}

TEST(AnalyzePlan, SelectiveSeqScanOnALargeTableSuggestsAnIndex) {
  auto findings = AnalyzePlan(Wrap(SeqScan(5, "(orders.customer_id = 42)")),
                              {{"public.orders", 1'000'000}});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].kind, FindingKind::kSeqScanSelective);
  EXPECT_EQ(findings[0].suggestion, "CREATE INDEX ON public.orders (customer_id);");
  EXPECT_EQ(findings[0].node, "Seq Scan on public.orders");
}

TEST(AnalyzePlan, SmallTablesAndUnselectiveFiltersAreFine) {
  EXPECT_TRUE(AnalyzePlan(Wrap(SeqScan(5, "(orders.customer_id = 42)")), {{"public.orders", 5000}})
                  .empty());
  EXPECT_TRUE(AnalyzePlan(Wrap(SeqScan(600'000, "(orders.status <> 'x')")),
                          {{"public.orders", 1'000'000}})
                  .empty());
}

TEST(AnalyzePlan, UnanalyzedTableUsesActualRowsAndRemovedRows) {
  json scan = SeqScan(1, "(orders.v = 5)");
  scan["Actual Rows"] = 10;
  scan["Actual Loops"] = 1;
  scan["Rows Removed by Filter"] = 99'990;
  auto findings = AnalyzePlan(Wrap(scan), {{"public.orders", -1}});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].kind, FindingKind::kSeqScanSelective);
}

TEST(AnalyzePlan, RowEstimateOffByMoreThanTenTimes) {
  json node = {{"Node Type", "Index Scan"}, {"Relation Name", "t"}, {"Schema", "public"},
               {"Plan Rows", 10}, {"Actual Rows", 5000}, {"Actual Loops", 1}};
  auto findings = AnalyzePlan(Wrap(node), {});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].kind, FindingKind::kRowEstimate);
  EXPECT_EQ(findings[0].message, "estimated 10 rows, got 5000 (500x under)");
  EXPECT_EQ(findings[0].suggestion, "ANALYZE public.t; for correlated columns, CREATE STATISTICS");
}

TEST(AnalyzePlan, SmallEstimateErrorsAreNoise) {
  json node = {{"Node Type", "Index Scan"}, {"Plan Rows", 1}, {"Actual Rows", 40},
               {"Actual Loops", 1}};
  EXPECT_TRUE(AnalyzePlan(Wrap(node), {}).empty());
}

TEST(AnalyzePlan, SortAndHashSpills) {
  json sort = {{"Node Type", "Sort"}, {"Plan Rows", 1}, {"Sort Space Type", "Disk"},
               {"Sort Space Used", 20480}, {"Sort Method", "external merge"}};
  json hash = {{"Node Type", "Hash"}, {"Plan Rows", 1}, {"Hash Batches", 8},
               {"Peak Memory Usage", 4096}};
  sort["Plans"] = json::array({hash});
  auto findings = AnalyzePlan(Wrap(sort), {});
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].kind, FindingKind::kSortSpill);
  EXPECT_EQ(findings[0].message, "sort spilled 20480 kB to disk (external merge)");
  EXPECT_EQ(findings[1].kind, FindingKind::kHashSpill);
}

TEST(AnalyzePlan, NestedLoopOverASeqScanSuggestsTheJoinIndex) {
  json outer = {{"Node Type", "Seq Scan"}, {"Relation Name", "a"}, {"Schema", "public"},
                {"Plan Rows", 50000}};
  json inner = {{"Node Type", "Seq Scan"}, {"Relation Name", "b"}, {"Schema", "public"},
                {"Plan Rows", 1}, {"Filter", "(b.a_id = a.id)"}};
  json loop = {{"Node Type", "Nested Loop"}, {"Plan Rows", 50000},
               {"Plans", json::array({outer, inner})}};
  auto findings = AnalyzePlan(Wrap(loop), {{"public.a", 50000}, {"public.b", 100}});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].kind, FindingKind::kNestedLoop);
  EXPECT_EQ(findings[0].suggestion, "CREATE INDEX ON public.b (a_id);");
}

}  // namespace
}  // namespace dbmedic::diagnose
