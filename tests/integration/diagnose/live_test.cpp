// locks, waits, top-queries and explain against the shared real server, with real contention:
// sessions holding row and table locks in open transactions, and a slow query that a missing
// index causes.
#include <thread>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "diagnose/blocking_tree.hpp"
#include "diagnose/explain.hpp"
#include "diagnose/statements.hpp"
#include "diagnose/wait_sampler.hpp"
#include "diagnose_cluster.hpp"

namespace dbmedic::diagnose {
namespace {

using testing::SharedCluster;
using testing::WaitFor;
using testing::WaitsForLock;

std::int64_t Pid(pg::Connection& c) { return std::stoll(c.Scalar("SELECT pg_backend_pid()")); }

// A holder that updated a row and sits idle in transaction; one session waits for the row, a
// second waits for the table behind both.
class Contention : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SharedCluster().Sql("DROP TABLE IF EXISTS ct_acc; CREATE TABLE ct_acc (id int PRIMARY KEY, n int);"
                        "INSERT INTO ct_acc VALUES (1, 0)");
  }

  void SetUp() override {
    auto& cluster = SharedCluster();
    holder_.emplace(cluster.Connect());
    row_waiter_.emplace(cluster.Connect());
    table_waiter_.emplace(cluster.Connect());
    observer_.emplace(cluster.Connect());
    holder_pid_ = Pid(*holder_);
    row_pid_ = Pid(*row_waiter_);
    table_pid_ = Pid(*table_waiter_);
    holder_->Exec("BEGIN; UPDATE ct_acc SET n = n + 1 WHERE id = 1");
    row_thread_ = std::jthread([this] { Quietly(*row_waiter_, "UPDATE ct_acc SET n = 5 WHERE id = 1"); });
    ASSERT_TRUE(WaitFor([&] { return WaitsForLock(*observer_, row_pid_); }));
    table_thread_ = std::jthread(
        [this] { Quietly(*table_waiter_, "BEGIN; LOCK TABLE ct_acc IN EXCLUSIVE MODE; ROLLBACK"); });
    ASSERT_TRUE(WaitFor([&] { return WaitsForLock(*observer_, table_pid_); }));
  }
  void TearDown() override {
    holder_->Exec("ROLLBACK");
    row_thread_.join();
    table_thread_.join();
  }

  // Runs in a waiter thread: an exception there would terminate the test binary.
  static void Quietly(pg::Connection& conn, const std::string& sql) {
    try {
      conn.Exec(sql);
    } catch (const std::exception& e) {
      ADD_FAILURE() << sql << ": " << e.what();
    }
  }

  std::optional<pg::Connection> holder_, row_waiter_, table_waiter_, observer_;
  std::int64_t holder_pid_ = 0, row_pid_ = 0, table_pid_ = 0;
  std::jthread row_thread_, table_thread_;
};

const BlockingNode* FindNode(const BlockingNode& n, std::int64_t pid) {
  if (n.session.pid == pid) return &n;
  for (const auto& w : n.waiters) {
    if (const BlockingNode* f = FindNode(w, pid)) return f;
  }
  return nullptr;
}

TEST_F(Contention, BlockingTreeRootIsTheIdleTransaction) {
  BlockingTree tree = ReadBlockingTree(*observer_);
  ASSERT_EQ(tree.roots.size(), 1u);
  const BlockingNode& root = tree.roots[0];
  EXPECT_EQ(root.session.pid, holder_pid_);
  EXPECT_EQ(root.session.state, "idle in transaction");
  EXPECT_EQ(root.session.query, "BEGIN; UPDATE ct_acc SET n = n + 1 WHERE id = 1");
  EXPECT_EQ(root.blocked_total, 2u);
  EXPECT_EQ(root.terminate_command, "SELECT pg_terminate_backend(" + std::to_string(holder_pid_) + ");");
  EXPECT_NE(root.advice.find("terminate"), std::string::npos);
  EXPECT_EQ(tree.waiting, 2u);
}

TEST_F(Contention, WaitersSayWhatTheyWaitFor) {
  BlockingTree tree = ReadBlockingTree(*observer_);
  ASSERT_EQ(tree.roots.size(), 1u);
  const BlockingNode* row = FindNode(tree.roots[0], row_pid_);
  ASSERT_NE(row, nullptr);
  ASSERT_TRUE(row->session.waiting_for);
  EXPECT_EQ(row->session.waiting_for->locktype, "transactionid");
  EXPECT_EQ(row->session.waiting_for->mode, "ShareLock");
  EXPECT_EQ(row->session.waiting_for->relation, "ct_acc");
  EXPECT_TRUE(row->session.waiting_for->target.starts_with("transaction "));
  // The row version the holder updated: still the visible one to the observer.
  std::string ctid = observer_->Scalar("SELECT ctid FROM ct_acc WHERE id = 1");
  EXPECT_TRUE(row->session.waiting_for->target.ends_with(" (row " + ctid + " of ct_acc)"))
      << row->session.waiting_for->target << " " << ctid;
  EXPECT_EQ(row->session.query, "UPDATE ct_acc SET n = 5 WHERE id = 1");
  const BlockingNode* table = FindNode(tree.roots[0], table_pid_);
  ASSERT_NE(table, nullptr);
  ASSERT_TRUE(table->session.waiting_for);
  EXPECT_EQ(table->session.waiting_for->mode, "ExclusiveLock");
  EXPECT_EQ(table->session.waiting_for->target, "relation ct_acc");
}

TEST_F(Contention, RootSaysSinceWhenItIsIdleInTransaction) {
  BlockingTree tree = ReadBlockingTree(*observer_);
  ASSERT_EQ(tree.roots.size(), 1u);
  const SessionInfo& root = tree.roots[0].session;
  std::string since = observer_->Scalar(
      "SELECT to_char(state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"') "
      "FROM pg_stat_activity WHERE pid = " + std::to_string(holder_pid_));
  EXPECT_EQ(root.state_since, since);
  EXPECT_TRUE(tree.roots[0].advice.starts_with("idle in transaction since " + since))
      << tree.roots[0].advice;
  std::string text = BlockingTreeToText(tree);
  EXPECT_NE(text.find("idle in transaction since " + since), std::string::npos) << text;
  EXPECT_NE(text.find("SELECT pg_terminate_backend(" + std::to_string(holder_pid_) + ");"),
            std::string::npos) << text;
  EXPECT_NE(text.find(" s for ExclusiveLock on relation ct_acc\n"), std::string::npos) << text;
}

TEST_F(Contention, WaitSamplesShowLockTimeOnTheRelation) {
  SamplingRun run = SampleFor(*observer_, std::chrono::milliseconds(500), std::chrono::milliseconds(50));
  WaitProfile p = ProfileWaits(run.samples, run.snapshots, std::chrono::milliseconds(50), 10);
  ASSERT_GT(p.samples, 0u);
  auto has = [](const std::vector<WaitShare>& v, std::string_view key) {
    return std::any_of(v.begin(), v.end(), [&](auto& w) { return w.key == key; });
  };
  EXPECT_TRUE(has(p.by_event, "Lock:transactionid"));
  EXPECT_TRUE(has(p.by_event, "Lock:relation"));
  EXPECT_TRUE(has(p.by_relation, "ct_acc"));
  EXPECT_TRUE(has(p.by_query, "update ct_acc set n = ? where id = ?"));
}

// Two sessions update the same row an open transaction changed: the first waits for the
// holder's transaction (holding the row's tuple lock), the second for that tuple lock.
TEST(RowLocks, SecondWaiterForARowWaitsForTheTupleLock) {
  auto& cluster = SharedCluster();
  cluster.Sql("DROP TABLE IF EXISTS rl_acc; CREATE TABLE rl_acc (id int PRIMARY KEY, n int);"
              "INSERT INTO rl_acc VALUES (1, 0)");
  auto holder = cluster.Connect();
  auto first = cluster.Connect();
  auto second = cluster.Connect();
  auto observer = cluster.Connect();
  std::int64_t first_pid = Pid(first), second_pid = Pid(second);
  holder.Exec("BEGIN; UPDATE rl_acc SET n = 1 WHERE id = 1");
  auto update = [](pg::Connection& c) {
    try {
      c.Exec("UPDATE rl_acc SET n = n + 1 WHERE id = 1");
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  };
  std::jthread t1([&] { update(first); });
  ASSERT_TRUE(WaitFor([&] { return WaitsForLock(observer, first_pid); }));
  std::jthread t2([&] { update(second); });
  // The holder rolls back whatever happens below, or the waiter threads never end.
  std::optional<BlockingTree> read;
  try {
    if (WaitFor([&] { return WaitsForLock(observer, second_pid); })) read = ReadBlockingTree(observer);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  holder.Exec("ROLLBACK");
  t1.join();
  t2.join();
  ASSERT_TRUE(read);
  const BlockingTree& tree = *read;
  ASSERT_EQ(tree.roots.size(), 1u);
  const BlockingNode* n = FindNode(tree.roots[0], second_pid);
  ASSERT_NE(n, nullptr) << BlockingTreeToText(tree);
  ASSERT_TRUE(n->session.waiting_for);
  EXPECT_EQ(n->session.waiting_for->locktype, "tuple");
  EXPECT_EQ(n->session.waiting_for->mode, "ExclusiveLock");
  EXPECT_EQ(n->session.waiting_for->target, "tuple (0,1) of rl_acc");
  EXPECT_EQ(n->session.blocked_by, std::vector<std::int64_t>{first_pid});
}

// A transaction prepared for two-phase commit keeps its row lock with no session behind it:
// pg_blocking_pids() names pid 0, and the way out is COMMIT/ROLLBACK PREPARED, not a signal.
TEST(PreparedTransaction, BlockerIsNamedByItsGidWithTheCommandsThatEndIt) {
  auto& cluster = SharedCluster();
  cluster.Sql("DROP TABLE IF EXISTS pt_acc; CREATE TABLE pt_acc (id int PRIMARY KEY, n int);"
              "INSERT INTO pt_acc VALUES (1, 0)");
  cluster.Sql("BEGIN; UPDATE pt_acc SET n = 1 WHERE id = 1; PREPARE TRANSACTION 'dbmedic-pt'");
  auto waiter = cluster.Connect();
  auto observer = cluster.Connect();
  std::int64_t waiter_pid = Pid(waiter);
  std::jthread t([&] {
    try {
      waiter.Exec("UPDATE pt_acc SET n = 2 WHERE id = 1");
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  });
  std::optional<BlockingTree> read;
  try {
    if (WaitFor([&] { return WaitsForLock(observer, waiter_pid); })) read = ReadBlockingTree(observer);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  observer.Exec("ROLLBACK PREPARED 'dbmedic-pt'");
  t.join();
  ASSERT_TRUE(read);
  ASSERT_EQ(read->roots.size(), 1u) << BlockingTreeToText(*read);
  const BlockingNode& root = read->roots[0];
  EXPECT_EQ(root.session.pid, 0);
  EXPECT_EQ(root.session.state, "prepared transaction");
  ASSERT_EQ(root.prepared.size(), 1u);
  EXPECT_EQ(root.prepared[0].gid, "dbmedic-pt");
  EXPECT_EQ(root.prepared[0].database, "postgres");
  EXPECT_EQ(root.cancel_command, "COMMIT PREPARED 'dbmedic-pt';");
  EXPECT_EQ(root.terminate_command, "ROLLBACK PREPARED 'dbmedic-pt';");
  ASSERT_NE(FindNode(root, waiter_pid), nullptr);
  EXPECT_NE(BlockingTreeToText(*read).find("rollback: ROLLBACK PREPARED 'dbmedic-pt';"),
            std::string::npos);
}

TEST(TopQueries, DeltaCountsOnlyTheCallsBetweenSnapshots) {
  auto conn = SharedCluster().Connect();
  conn.Exec("DROP TABLE IF EXISTS tq_t; CREATE TABLE tq_t AS SELECT g AS id FROM generate_series(1, 1000) g");
  conn.Exec("SELECT count(*) FROM tq_t WHERE id < 10");  // exists before the first snapshot
  StatementSnapshot before = TakeStatementSnapshot(conn);
  for (int i = 0; i < 5; ++i) conn.Exec("SELECT count(*) FROM tq_t WHERE id < " + std::to_string(i));
  StatementSnapshot after = TakeStatementSnapshot(conn);
  TopStatements top = DiffSnapshots(before, after, StatementOrder::kCalls, 100);
  auto it = std::find_if(top.top.begin(), top.top.end(), [](const StatementDelta& d) {
    return d.counters.query == "SELECT count(*) FROM tq_t WHERE id < $1";
  });
  ASSERT_NE(it, top.top.end());
  EXPECT_EQ(it->counters.calls, 5);
  EXPECT_EQ(it->counters.rows, 5);
  EXPECT_GT(it->share, 0);
}

TEST(TopQueries, ItsOwnSnapshotStatementsAreLeftOut) {
  auto conn = SharedCluster().Connect();
  StatementSnapshot before = TakeStatementSnapshot(conn);
  StatementSnapshot between = TakeStatementSnapshot(conn);
  StatementSnapshot after = TakeStatementSnapshot(conn);
  for (const auto& c : after.rows) {
    EXPECT_EQ(c.query.find("dbmedic top-queries"), std::string::npos) << c.query;
  }
  TopStatements top = DiffSnapshots(before, after, StatementOrder::kCalls, 100);
  for (const auto& d : top.top) EXPECT_EQ(d.counters.query.find("pg_stat_statements"), std::string::npos);
}

TEST(TopQueries, SortSpillingToDiskShowsTempBlocks) {
  auto conn = SharedCluster().Connect();
  conn.Exec("DROP TABLE IF EXISTS tq_sort; CREATE TABLE tq_sort AS SELECT g AS id, md5(g::text) AS "
            "note FROM generate_series(1, 50000) g");
  conn.Exec("SET work_mem = '64kB'");
  StatementSnapshot before = TakeStatementSnapshot(conn);
  conn.Exec("SELECT * FROM tq_sort ORDER BY note OFFSET 49999");
  StatementSnapshot after = TakeStatementSnapshot(conn);
  conn.Exec("RESET work_mem");
  TopStatements top = DiffSnapshots(before, after, StatementOrder::kIo, 100);
  auto it = std::find_if(top.top.begin(), top.top.end(), [](const StatementDelta& d) {
    return d.counters.query == "SELECT * FROM tq_sort ORDER BY note OFFSET $1";
  });
  ASSERT_NE(it, top.top.end());
  EXPECT_EQ(it->counters.calls, 1);
  EXPECT_GT(it->counters.temp_blks_written, 0);
  EXPECT_GT(it->counters.temp_blks_read, 0);
  EXPECT_GT(it->counters.max_ms, 0);
}

TEST(TopQueries, MissingExtensionSaysWhatToRun) {
  SharedCluster().Sql("DROP DATABASE IF EXISTS tq_noext");
  SharedCluster().Sql("CREATE DATABASE tq_noext");
  auto conn = SharedCluster().Connect("tq_noext");
  try {
    TakeStatementSnapshot(conn);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_EQ(std::string(e.what()),
              "pg_stat_statements is loaded but the extension is not created in database 'tq_noext'");
    EXPECT_EQ(e.hint(), "run CREATE EXTENSION pg_stat_statements; in database 'tq_noext'");
  }
}

// A slow query caused by a missing index.
class Explain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SharedCluster().Sql(
        "DROP TABLE IF EXISTS ex_orders, ex_small;"
        "CREATE TABLE ex_orders AS SELECT g AS id, g % 5000 AS customer_id, g % 100 AS a, "
        "g % 100 AS b, md5(g::text) AS note FROM generate_series(1, 200000) g;"
        "CREATE TABLE ex_small AS SELECT g AS customer_id FROM generate_series(1, 2000) g;"
        "ANALYZE ex_orders; ANALYZE ex_small");
  }
  ExplainOptions Options(bool analyze = false, bool writes = false) {
    return ExplainOptions{analyze, writes, std::chrono::seconds(30)};
  }
  static const Finding* Find(const ExplainResult& r, FindingKind kind) {
    for (const auto& f : r.findings) {
      if (f.kind == kind) return &f;
    }
    return nullptr;
  }
};

TEST_F(Explain, SeqScanUnderSelectiveFilterSuggestsTheIndex) {
  auto conn = SharedCluster().Connect();
  ExplainResult r = RunExplain(conn, "SELECT * FROM ex_orders WHERE customer_id = 42", Options());
  const Finding* f = Find(r, FindingKind::kSeqScanSelective);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->relation, "public.ex_orders");
  EXPECT_EQ(f->suggestion, "CREATE INDEX ON public.ex_orders (customer_id);");
  EXPECT_FALSE(r.analyzed);
}

TEST_F(Explain, ExistingIndexIsNotSuggestedAgain) {
  auto conn = SharedCluster().Connect();
  conn.Exec("CREATE INDEX ex_orders_note ON ex_orders (note)");
  // A comparison with a per-row expression cannot use the plain index on note.
  ExplainResult r = RunExplain(conn, "SELECT * FROM ex_orders WHERE note = 'x' || id::text", Options());
  conn.Exec("DROP INDEX ex_orders_note");
  const Finding* f = Find(r, FindingKind::kSeqScanSelective);
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->suggestion.find("index ex_orders_note on (note) exists but was not used"),
            std::string::npos) << f->suggestion;
}

TEST_F(Explain, AnalyzeFindsRowEstimatesOffOnCorrelatedColumns) {
  auto conn = SharedCluster().Connect();
  ExplainResult r = RunExplain(conn, "SELECT * FROM ex_orders WHERE a = 7 AND b = 7", Options(true));
  EXPECT_TRUE(r.analyzed);
  const Finding* f = Find(r, FindingKind::kRowEstimate);
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->message.find("under"), std::string::npos) << f->message;
}

TEST_F(Explain, AnalyzeFindsASortSpillingToDisk) {
  auto conn = SharedCluster().Connect();
  conn.Exec("SET work_mem = '64kB'");
  ExplainResult r = RunExplain(conn, "SELECT * FROM ex_orders ORDER BY note", Options(true));
  conn.Exec("RESET work_mem");
  const Finding* f = Find(r, FindingKind::kSortSpill);
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->suggestion.find("work_mem"), std::string::npos);
}

TEST_F(Explain, AnalyzeFindsANestedLoopOverManyRows) {
  auto conn = SharedCluster().Connect();
  conn.Exec("SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_material = off");
  ExplainResult r = RunExplain(conn,
                               "SELECT count(*) FROM (SELECT * FROM ex_orders WHERE id <= 3000) o "
                               "JOIN ex_small s ON s.customer_id = o.customer_id",
                               Options(true));
  conn.Exec("RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_material");
  const Finding* f = Find(r, FindingKind::kNestedLoop);
  ASSERT_NE(f, nullptr) << PlanToText(r.plan);
  EXPECT_EQ(f->suggestion, "CREATE INDEX ON public.ex_small (customer_id);") << PlanToText(r.plan);
}

TEST_F(Explain, AnalyzeOfAWriteIsRefusedWithoutAllowWrites) {
  auto conn = SharedCluster().Connect();
  try {
    RunExplain(conn, "UPDATE ex_orders SET a = 0 WHERE id = 1", Options(true));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("refused in a read-only transaction"), std::string::npos);
    EXPECT_NE(e.hint().find("--allow-writes"), std::string::npos);
  }
}

TEST_F(Explain, AllowedWritesAreRolledBack) {
  auto conn = SharedCluster().Connect();
  ExplainResult r = RunExplain(conn, "UPDATE ex_orders SET a = -1 WHERE id = 1", Options(true, true));
  EXPECT_TRUE(r.analyzed);
  EXPECT_EQ(conn.Scalar("SELECT a FROM ex_orders WHERE id = 1"), "1");
}

TEST_F(Explain, AnalyzeFindsAHashSpillingToDisk) {
  auto conn = SharedCluster().Connect();
  conn.Exec("SET work_mem = '64kB'; SET hash_mem_multiplier = 1; SET enable_mergejoin = off; "
            "SET enable_nestloop = off");
  ExplainResult r = RunExplain(conn,
                               "SELECT count(*) FROM ex_orders a JOIN ex_orders b ON b.id = a.id",
                               Options(true));
  conn.Exec("RESET work_mem; RESET hash_mem_multiplier; RESET enable_mergejoin; "
            "RESET enable_nestloop");
  const Finding* f = Find(r, FindingKind::kHashSpill);
  ASSERT_NE(f, nullptr) << PlanToText(r.plan);
  EXPECT_NE(f->suggestion.find("work_mem"), std::string::npos);
}

TEST_F(Explain, AnalyzedPlanTextShowsBuffers) {
  auto conn = SharedCluster().Connect();
  ExplainResult r = RunExplain(conn, "SELECT count(*) FROM ex_small", Options(true));
  std::string text = PlanToText(r.plan);
  EXPECT_NE(text.find("Seq Scan on public.ex_small"), std::string::npos) << text;
  EXPECT_NE(text.find("     Buffers: shared "), std::string::npos) << text;
}

TEST_F(Explain, AnalyzeStopsAtTheStatementTimeout) {
  auto conn = SharedCluster().Connect();
  try {
    RunExplain(conn, "SELECT pg_sleep(30)", ExplainOptions{true, false, std::chrono::milliseconds(300)});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTimeout);
    EXPECT_EQ(std::string(e.what()), "EXPLAIN stopped after statement_timeout (300 ms)");
    EXPECT_NE(e.hint().find("drop --analyze"), std::string::npos) << e.hint();
  }
  EXPECT_EQ(conn.Scalar("SELECT 1"), "1");  // the session is usable again
}

TEST_F(Explain, LockedTableStopsAtTheLockTimeout) {
  auto holder = SharedCluster().Connect();
  holder.Exec("BEGIN; LOCK TABLE ex_small IN ACCESS EXCLUSIVE MODE");
  auto conn = SharedCluster().Connect();
  try {
    RunExplain(conn, "SELECT * FROM ex_small", ExplainOptions{false, false, std::chrono::milliseconds(600)});
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTimeout);
    EXPECT_EQ(std::string(e.what()),
              "EXPLAIN waited longer than lock_timeout (300 ms, half of statement_timeout) for a "
              "lock on a table of the statement");
    EXPECT_NE(e.hint().find("dbmedic locks"), std::string::npos) << e.hint();
  }
  holder.Exec("ROLLBACK");
}

TEST_F(Explain, SeveralStatementsAreRefused) {
  auto conn = SharedCluster().Connect();
  try {
    RunExplain(conn, "SELECT 1; DROP TABLE ex_orders", Options());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_EQ(std::string(e.what()), "explain takes one statement, the SQL has several");
  }
}

TEST_F(Explain, QueryIdGivesAGenericPlanOfTheNormalisedStatement) {
  auto conn = SharedCluster().Connect();
  conn.Exec("SELECT * FROM ex_orders WHERE customer_id = 4321");
  std::string id = conn.Scalar(
      "SELECT queryid FROM pg_stat_statements WHERE query = "
      "'SELECT * FROM ex_orders WHERE customer_id = $1' LIMIT 1");
  ASSERT_FALSE(id.empty());
  ExplainResult r = RunExplain(conn, id, Options());
  EXPECT_TRUE(r.generic);
  EXPECT_EQ(r.sql, "SELECT * FROM ex_orders WHERE customer_id = $1");
  ASSERT_NE(Find(r, FindingKind::kSeqScanSelective), nullptr);
  // The prepared statement was deallocated: a second run works.
  EXPECT_NO_THROW(RunExplain(conn, id, Options()));
}

TEST_F(Explain, UnknownQueryIdIsNotFound) {
  auto conn = SharedCluster().Connect();
  try {
    RunExplain(conn, "123456789", Options());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_EQ(std::string(e.what()), "no statement with queryid 123456789 in pg_stat_statements");
  }
}

}  // namespace
}  // namespace dbmedic::diagnose
