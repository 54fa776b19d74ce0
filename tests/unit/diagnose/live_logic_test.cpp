// Pure parts of the live commands: blocking trees, wait profiles, statement deltas and the
// snapshot store.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "diagnose/blocking_tree.hpp"
#include "diagnose/statements.hpp"
#include "diagnose/wait_sampler.hpp"

namespace dbmedic::diagnose {
namespace {

SessionInfo Session(std::int64_t pid, std::vector<std::int64_t> blocked_by,
                    std::string state = "active") {
  SessionInfo s;
  s.pid = pid;
  s.state = std::move(state);
  s.blocked_by = std::move(blocked_by);
  if (!s.blocked_by.empty()) s.waiting_for = LockRequest{"transactionid", "ShareLock", "", "transaction 7"};
  return s;
}

TEST(ParseIntArray, ReadsPostgresArrays) {
  EXPECT_EQ(ParseIntArray("{12,345}"), (std::vector<std::int64_t>{12, 345}));
  EXPECT_TRUE(ParseIntArray("{}").empty());
}

TEST(BuildBlockingTree, ChainsHangUnderTheirRoot) {
  auto tree = BuildBlockingTree({Session(1, {}, "idle in transaction"), Session(2, {1}),
                                 Session(3, {2}), Session(4, {1, 2})});
  ASSERT_EQ(tree.roots.size(), 1u);
  EXPECT_EQ(tree.waiting, 3u);
  const BlockingNode& root = tree.roots[0];
  EXPECT_EQ(root.session.pid, 1);
  EXPECT_EQ(root.blocked_total, 3u);  // 4 appears twice but counts once
  EXPECT_EQ(root.cancel_command, "SELECT pg_cancel_backend(1);");
  EXPECT_NE(root.advice.find("no statement to cancel"), std::string::npos);
  ASSERT_EQ(root.waiters.size(), 2u);
  EXPECT_EQ(root.waiters[0].session.pid, 2);
  EXPECT_EQ(root.waiters[0].waiters.size(), 2u);
  std::string text = BlockingTreeToText(tree);
  EXPECT_NE(text.find("3 session(s) waiting; 1 root blocker(s)"), std::string::npos) << text;
  EXPECT_NE(text.find("cancel: SELECT pg_cancel_backend(1);   terminate: SELECT pg_terminate_backend(1);"),
            std::string::npos) << text;
  EXPECT_NE(text.find("pid 3 @ waits 0.0 s for ShareLock on transaction 7"), std::string::npos) << text;
}

TEST(BuildBlockingTree, CycleWithoutARootIsShownAsDeadlock) {
  auto tree = BuildBlockingTree({Session(5, {6}), Session(6, {5})});
  ASSERT_EQ(tree.roots.size(), 1u);
  EXPECT_TRUE(tree.roots[0].in_cycle);
  EXPECT_EQ(tree.roots[0].blocked_total, 1u);
}

TEST(BuildBlockingTree, PidZeroIsAPreparedTransactionToCommitOrRollBack) {
  PreparedXact p{"pay-42", "746", "alice", "shop", "2026-11-30 05:32:55 UTC", 70};
  auto tree = BuildBlockingTree({Session(9, {0})}, {p});
  ASSERT_EQ(tree.roots.size(), 1u);
  const BlockingNode& root = tree.roots[0];
  EXPECT_EQ(root.session.pid, 0);
  EXPECT_EQ(root.session.user, "alice");
  EXPECT_EQ(root.cancel_command, "COMMIT PREPARED 'pay-42';");
  EXPECT_EQ(root.terminate_command, "ROLLBACK PREPARED 'pay-42';");
  EXPECT_EQ(root.advice.find("pg_terminate_backend"), std::string::npos);
  EXPECT_NE(root.advice.find("'pay-42' (xid 746, by alice in database shop"), std::string::npos)
      << root.advice;
  EXPECT_EQ(BlockingTreeToJson(tree)["root_blockers"][0]["prepared_transactions"][0]["gid"], "pay-42");
}

TEST(BuildBlockingTree, PidZeroWithoutThePreparedTransactionSaysToLookAgain) {
  auto tree = BuildBlockingTree({Session(9, {0})}, {});
  ASSERT_EQ(tree.roots.size(), 1u);
  EXPECT_TRUE(tree.roots[0].terminate_command.empty());
  EXPECT_NE(tree.roots[0].advice.find("none was found in pg_prepared_xacts"), std::string::npos);
}

TEST(BuildBlockingTree, NobodyWaiting) {
  auto tree = BuildBlockingTree({});
  EXPECT_TRUE(tree.roots.empty());
  EXPECT_EQ(BlockingTreeToText(tree), "No session is waiting for a lock held by another session.\n");
}

WaitSample Sample(std::string type, std::string event, std::string query, std::string rel = "") {
  WaitSample s;
  s.wait_event_type = std::move(type);
  s.wait_event = std::move(event);
  s.query = std::move(query);
  s.relation = std::move(rel);
  return s;
}

TEST(ProfileWaits, AddsSamplesUpByEventQueryAndRelation) {
  std::vector<WaitSample> samples = {
      Sample("Lock", "transactionid", "update t set v = 1 where id = 1", "t"),
      Sample("Lock", "transactionid", "update t set v = 2 where id = 1", "t"),
      Sample("CPU", "CPU", "select 1 from a"),
      Sample("IO", "DataFileRead", "select 2 from b"),
  };
  WaitProfile p = ProfileWaits(samples, 2, std::chrono::milliseconds(100), 10);
  EXPECT_EQ(p.samples, 4u);
  EXPECT_DOUBLE_EQ(p.average_active, 2.0);
  ASSERT_FALSE(p.by_event.empty());
  EXPECT_EQ(p.by_event[0].key, "Lock:transactionid");
  EXPECT_DOUBLE_EQ(p.by_event[0].seconds, 0.2);
  EXPECT_DOUBLE_EQ(p.by_event[0].share, 0.5);
  EXPECT_EQ(p.by_query[0].key, "update t set v = ? where id = ?");
  EXPECT_EQ(p.by_query[0].samples, 2u);
  EXPECT_EQ(p.by_query[0].detail, "Lock:transactionid");
  ASSERT_EQ(p.by_relation.size(), 1u);
  EXPECT_EQ(p.by_relation[0].key, "t");
  EXPECT_DOUBLE_EQ(p.by_relation[0].share, 1.0);
}

TEST(ActiveSessionHistory, DropsTheOldestSamples) {
  ActiveSessionHistory h(3, std::chrono::minutes(15));
  for (int i = 0; i < 5; ++i) {
    WaitSample s = Sample("CPU", "CPU", "select 1");
    s.time_ms = 1000 + i;
    h.Add({s});
  }
  EXPECT_EQ(h.size(), 3u);
  SamplingRun run = h.Since(1003);
  EXPECT_EQ(run.samples.size(), 2u);
  EXPECT_EQ(run.snapshots, 2u);
}

TEST(ActiveSessionHistory, QuietRoundsDoNotGrowItBeyondItsLimit) {
  ActiveSessionHistory h(3, std::chrono::minutes(15));
  WaitSample s = Sample("Lock", "relation", "update t");
  s.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch()).count() - 10000;
  h.Add({s});
  for (int i = 0; i < 10; ++i) h.Add({});  // rounds with no active session
  SamplingRun run = h.Since(0);
  EXPECT_EQ(run.snapshots, 3u);
  EXPECT_TRUE(run.samples.empty());  // older than every round still kept
  EXPECT_EQ(h.size(), 0u);
}

StatementCounters Counters(std::int64_t queryid, std::int64_t calls, double ms) {
  StatementCounters c;
  c.queryid = queryid;
  c.query = "q" + std::to_string(queryid);
  c.calls = calls;
  c.total_ms = ms;
  c.rows = calls;
  return c;
}

TEST(DiffSnapshots, DeltasNewEntriesAndResets) {
  StatementSnapshot before{Clock::time_point(std::chrono::seconds(100)),
                           {Counters(1, 10, 100), Counters(2, 50, 500), Counters(3, 5, 5)}};
  StatementSnapshot after{Clock::time_point(std::chrono::seconds(160)),
                          {Counters(1, 14, 180), Counters(2, 3, 30), Counters(3, 5, 5),
                           Counters(4, 2, 10)}};
  TopStatements top = DiffSnapshots(before, after, StatementOrder::kTotal, 10);
  ASSERT_EQ(top.top.size(), 3u);  // 3 had no new calls
  EXPECT_EQ(top.top[0].counters.queryid, 1);
  EXPECT_EQ(top.top[0].counters.calls, 4);
  EXPECT_DOUBLE_EQ(top.top[0].counters.total_ms, 80);
  EXPECT_DOUBLE_EQ(top.top[0].mean_ms, 20);
  EXPECT_EQ(top.top[1].counters.queryid, 2);  // reset: counted from zero
  EXPECT_EQ(top.top[1].counters.calls, 3);
  EXPECT_DOUBLE_EQ(top.total_ms, 120);
  EXPECT_DOUBLE_EQ(top.top[0].share, 80.0 / 120.0);
}

TEST(DiffSnapshots, OrdersByCallsAndLimits) {
  StatementSnapshot before{Clock::time_point(), {}};
  StatementSnapshot after{Clock::time_point(), {Counters(1, 1, 900), Counters(2, 9, 9)}};
  TopStatements top = DiffSnapshots(before, after, StatementOrder::kCalls, 1);
  ASSERT_EQ(top.top.size(), 1u);
  EXPECT_EQ(top.top[0].counters.queryid, 2);
}

// Three statements, each the largest by a different measure.
StatementSnapshot ThreeKinds() {
  StatementCounters many_rows = Counters(1, 2, 10);
  many_rows.rows = 50000;
  StatementCounters reads = Counters(2, 2, 20);
  reads.shared_blks_read = 100;
  reads.temp_blks_read = 40;
  reads.temp_blks_written = 40;
  reads.shared_blks_hit = 1;
  StatementCounters hits_only = Counters(3, 1, 30);
  hits_only.shared_blks_hit = 10000;  // cache hits are not I/O
  return {Clock::time_point(), {many_rows, reads, hits_only}};
}

TEST(DiffSnapshots, OrdersByIoCountsBlocksReadAndTempBlocks) {
  TopStatements top = DiffSnapshots({}, ThreeKinds(), StatementOrder::kIo, 10);
  ASSERT_EQ(top.top.size(), 3u);
  EXPECT_EQ(top.top[0].counters.queryid, 2);
  EXPECT_EQ(top.top[0].counters.temp_blks_written, 40);
}

TEST(DiffSnapshots, OrdersByRows) {
  TopStatements top = DiffSnapshots({}, ThreeKinds(), StatementOrder::kRows, 10);
  EXPECT_EQ(top.top[0].counters.queryid, 1);
}

TEST(DiffSnapshots, OrdersByMeanTime) {
  TopStatements top = DiffSnapshots({}, ThreeKinds(), StatementOrder::kMean, 10);
  EXPECT_EQ(top.top[0].counters.queryid, 3);  // 30 ms in one call
  EXPECT_DOUBLE_EQ(top.top[0].mean_ms, 30);
  EXPECT_EQ(top.top[1].counters.queryid, 2);  // 10 ms per call
}

TEST(DiffSnapshots, MaxTimeIsTheLatestValueNotADifference) {
  StatementCounters before = Counters(1, 2, 10);
  before.max_ms = 8;
  StatementCounters after = Counters(1, 5, 40);
  after.max_ms = 12;
  TopStatements top = DiffSnapshots({Clock::time_point(), {before}}, {Clock::time_point(), {after}},
                                    StatementOrder::kTotal, 10);
  ASSERT_EQ(top.top.size(), 1u);
  EXPECT_DOUBLE_EQ(top.top[0].counters.max_ms, 12);
}

TEST(PreloadCommand, QuotesEachLibraryApart) {
  EXPECT_EQ(PreloadCommand(""), "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';");
  EXPECT_EQ(PreloadCommand("auto_explain, \"pg_cron\""),
            "ALTER SYSTEM SET shared_preload_libraries = 'auto_explain', 'pg_cron', "
            "'pg_stat_statements';");
}

TEST(ParseStatementOrder, RejectsUnknownOrders) {
  EXPECT_EQ(ParseStatementOrder("io"), StatementOrder::kIo);
  try {
    ParseStatementOrder("fastest");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_EQ(std::string(e.what()), "unknown order 'fastest' for --by");
  }
}

TEST(StatementSnapshotStore, SavesLoadsAndFindsByAge) {
  core::TempDir dir("diagnose-unit");
  StatementSnapshotStore store(10, std::chrono::hours(1));
  store.Add({Clock::time_point(std::chrono::seconds(1000)), {Counters(1, 1, 1)}});
  store.Add({Clock::time_point(std::chrono::seconds(1600)), {Counters(1, 5, 9)}});
  store.Save(dir.path() / "s.json");
  auto loaded = StatementSnapshotStore::Load(dir.path() / "s.json", 10, std::chrono::hours(1));
  EXPECT_EQ(loaded.size(), 2u);
  const StatementSnapshot* s = loaded.AtOrBefore(Clock::time_point(std::chrono::seconds(1599)));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->rows.at(0).calls, 1);
  EXPECT_EQ(loaded.AtOrBefore(Clock::time_point(std::chrono::seconds(999))), nullptr);
}

TEST(StatementSnapshotStore, DropsSnapshotsBeyondItsLimits) {
  StatementSnapshotStore store(2, std::chrono::seconds(100));
  for (int i = 0; i < 4; ++i) store.Add({Clock::time_point(std::chrono::seconds(i * 10)), {}});
  EXPECT_EQ(store.size(), 2u);
  store.Add({Clock::time_point(std::chrono::seconds(1000)), {}});
  EXPECT_EQ(store.size(), 1u);  // the others are older than 100 s
}

TEST(StatementSnapshotStore, ForeignFileIsCorrupt) {
  core::TempDir dir("diagnose-unit");
  core::AtomicWriteFile(dir.path() / "x.json", "{\"format\": \"other\", \"version\": 1}");
  try {
    StatementSnapshotStore::Load(dir.path() / "x.json", 10, std::chrono::hours(1));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("is not a version 1 statement snapshot file"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace dbmedic::diagnose
