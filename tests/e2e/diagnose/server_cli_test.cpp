// Commands that talk to a server, run as the built binary against real clusters.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/test_cluster.hpp"

namespace dbmedic {
namespace {

using testing::RunDbmedic;
using testing::TestCluster;

std::vector<std::string> ConnArgs(const TestCluster& c) {
  return {"--pg-host", c.socket_dir().string(), "--pg-port", std::to_string(c.port())};
}

std::vector<std::string> Cmd(std::vector<std::string> args, const TestCluster& c) {
  for (auto& a : ConnArgs(c)) args.push_back(a);
  return args;
}

TEST(DiagnoseServerCli, TopQueriesWithoutPreloadSaysWhatToChange) {
  TestCluster cluster;  // no shared_preload_libraries
  auto r = RunDbmedic(Cmd({"top-queries", "--interval", "1s"}, cluster));
  EXPECT_EQ(r.exit_code, 9);
  EXPECT_NE(r.err.find("it is not in shared_preload_libraries"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("CREATE EXTENSION pg_stat_statements;"), std::string::npos) << r.err;
}

// The advice is run as printed: the server restarts with both libraries loaded.
TEST(DiagnoseServerCli, PreloadAdviceKeepsTheOtherLibrariesAndWorks) {
  TestCluster cluster(testing::TestClusterOptions{.settings = {{"shared_preload_libraries", "auto_explain"}}});
  auto r = RunDbmedic(Cmd({"top-queries", "--interval", "1s"}, cluster));
  ASSERT_EQ(r.exit_code, 9) << r.err;
  const std::string command =
      "ALTER SYSTEM SET shared_preload_libraries = 'auto_explain', 'pg_stat_statements';";
  ASSERT_NE(r.err.find(command), std::string::npos) << r.err;
  cluster.Sql(command.substr(0, command.size() - 1));
  cluster.cluster().Stop();
  cluster.cluster().Start();
  EXPECT_EQ(cluster.Scalar("SHOW shared_preload_libraries"), "auto_explain, pg_stat_statements");
  cluster.Sql("CREATE EXTENSION pg_stat_statements");
  auto after = RunDbmedic(Cmd({"--output", "json", "top-queries", "--interval", "1s"}, cluster));
  EXPECT_EQ(after.exit_code, 0) << after.err;
}

class WithStatements : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<TestCluster>(testing::TestClusterOptions{
        .settings = {{"shared_preload_libraries", "pg_stat_statements"}}});
    cluster_->Sql("CREATE EXTENSION pg_stat_statements; CREATE TABLE e2e_t AS SELECT g AS id "
                  "FROM generate_series(1, 100000) g; ANALYZE e2e_t");
  }
  static void TearDownTestSuite() { cluster_.reset(); }
  static inline std::unique_ptr<TestCluster> cluster_;
};

TEST_F(WithStatements, TopQueriesFromRecordedSnapshots) {
  core::TempDir dir("diagnose-e2e");
  auto file = (dir.path() / "snapshots.json").string();
  auto rec = RunDbmedic(Cmd({"top-queries", "--record", "--diagnose-snapshot-file", file}, *cluster_));
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  for (int i = 0; i < 3; ++i) cluster_->Sql("SELECT count(*) FROM e2e_t WHERE id > " + std::to_string(i));
  auto r = RunDbmedic(Cmd({"--output", "json", "top-queries", "--since", "0s", "--by", "calls",
                           "--diagnose-snapshot-file", file}, *cluster_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& s : j["statements"]) {
    if (s["query"] == "SELECT count(*) FROM e2e_t WHERE id > $1") {
      found = true;
      EXPECT_EQ(s["calls"], 3);
    }
  }
  EXPECT_TRUE(found) << r.out;
}

TEST_F(WithStatements, TopQueriesSinceWithoutAStoredSnapshotMeasuresOverTheInterval) {
  core::TempDir dir("diagnose-e2e");
  auto file = (dir.path() / "none.json").string();
  auto r = RunDbmedic(Cmd({"--output", "json", "top-queries", "--since", "15m", "--interval",
                           "1s", "--diagnose-snapshot-file", file}, *cluster_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["source"], "interval");
  EXPECT_EQ(j["note"], fmt::format("'{}' does not exist: is `dbmedic monitor` running?; "
                                   "measuring over --interval 1s instead", file));
  EXPECT_GE(j["interval_s"].get<double>(), 1.0);
}

TEST_F(WithStatements, TopQueriesSinceUsesTheStoredSnapshot) {
  core::TempDir dir("diagnose-e2e");
  auto file = (dir.path() / "snapshots.json").string();
  ASSERT_EQ(RunDbmedic(Cmd({"top-queries", "--record", "--diagnose-snapshot-file", file},
                           *cluster_)).exit_code, 0);
  auto r = RunDbmedic(Cmd({"--output", "json", "top-queries", "--since", "0s",
                           "--diagnose-snapshot-file", file}, *cluster_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["source"], "snapshots");
  EXPECT_FALSE(j.contains("note"));
}

TEST_F(WithStatements, ExplainSuggestsTheMissingIndex) {
  auto r = RunDbmedic(Cmd({"explain", "SELECT * FROM e2e_t WHERE id = 5"}, *cluster_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("CREATE INDEX ON public.e2e_t (id);"), std::string::npos) << r.out;
}

TEST_F(WithStatements, ExplainJsonListsTheFindingAndThePlan) {
  auto r = RunDbmedic(Cmd({"--output", "json", "explain", "SELECT * FROM e2e_t WHERE id = 5"}, *cluster_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["analyzed"], false);
  ASSERT_EQ(j["findings"].size(), 1u) << r.out;
  EXPECT_EQ(j["findings"][0]["kind"], "seq_scan_selective_filter");
  EXPECT_EQ(j["findings"][0]["suggestion"], "CREATE INDEX ON public.e2e_t (id);");
  EXPECT_EQ(j["plan"][0]["Plan"]["Relation Name"], "e2e_t");
}

// A session idle in an open transaction holds a row; another waits for it.
TEST_F(WithStatements, LocksShowsTheTreeInTextAndJson) {
  cluster_->Sql("CREATE TABLE IF NOT EXISTS e2e_acc (id int PRIMARY KEY, n int); "
                "INSERT INTO e2e_acc VALUES (1, 0) ON CONFLICT DO NOTHING");
  auto holder = cluster_->Connect();
  auto waiter = cluster_->Connect();
  std::string holder_pid = holder.Scalar("SELECT pg_backend_pid()");
  std::string waiter_pid = waiter.Scalar("SELECT pg_backend_pid()");
  holder.Exec("BEGIN; UPDATE e2e_acc SET n = 1 WHERE id = 1");
  std::jthread t([&] {
    try {
      waiter.Exec("UPDATE e2e_acc SET n = 2 WHERE id = 1");
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  });
  auto observer = cluster_->Connect();
  for (int i = 0; i < 1500 && observer.Scalar("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = " +
                                              waiter_pid) != "1"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto text = RunDbmedic(Cmd({"locks"}, *cluster_));
  auto json_run = RunDbmedic(Cmd({"--output", "json", "locks"}, *cluster_));
  holder.Exec("ROLLBACK");
  t.join();
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("1 session(s) waiting; 1 root blocker(s)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("pid " + holder_pid + " postgres@postgres"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("idle in transaction since "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("terminate: SELECT pg_terminate_backend(" + holder_pid + ");"),
            std::string::npos) << text.out;
  EXPECT_NE(text.out.find("└─ pid " + waiter_pid), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("query: UPDATE e2e_acc SET n = 2 WHERE id = 1"), std::string::npos) << text.out;
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  auto j = nlohmann::json::parse(json_run.out);
  EXPECT_EQ(j["waiting_sessions"], 1);
  ASSERT_EQ(j["root_blockers"].size(), 1u);
  const auto& root = j["root_blockers"][0];
  EXPECT_EQ(root["pid"], std::stoll(holder_pid));
  EXPECT_EQ(root["state"], "idle in transaction");
  EXPECT_EQ(root["cancel_command"], "SELECT pg_cancel_backend(" + holder_pid + ");");
  ASSERT_EQ(root["waiters"].size(), 1u);
  EXPECT_EQ(root["waiters"][0]["waiting_for"]["locktype"], "transactionid");
  EXPECT_EQ(root["waiters"][0]["waiting_for"]["relation"], "e2e_acc");
}

TEST_F(WithStatements, LocksWithNoContention) {
  auto r = RunDbmedic(Cmd({"--output", "json", "locks"}, *cluster_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["waiting_sessions"], 0);
  EXPECT_TRUE(j["root_blockers"].empty());
}

TEST_F(WithStatements, ExplainAllowWritesWithoutAnalyzeIsAUsageError) {
  auto r = RunDbmedic(Cmd({"explain", "--allow-writes", "UPDATE t SET v = v"}, *cluster_));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--allow-writes needs --analyze"), std::string::npos) << r.err;
}

TEST_F(WithStatements, WaitsRejectsAnIntervalLongerThanTheDuration) {
  auto r = RunDbmedic(Cmd({"waits", "--duration", "1s", "--interval", "2s"}, *cluster_));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("must be positive and not longer than --duration"), std::string::npos) << r.err;
}

TEST_F(WithStatements, WaitsJsonOverAShortRun) {
  auto r = RunDbmedic(Cmd({"--output", "json", "waits", "--duration", "300ms", "--interval", "100ms"},
                          *cluster_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["snapshots"].get<int>(), 1);
  EXPECT_TRUE(j.contains("by_event"));
}

}  // namespace
}  // namespace dbmedic
