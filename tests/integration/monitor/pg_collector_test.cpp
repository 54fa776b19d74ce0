#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cmath>

#include "core/subprocess.hpp"
#include "monitor/exposition.hpp"
#include "monitor/pg_collector.hpp"
#include "monitor_fixtures.hpp"

namespace dbmedic::monitor::testing {
namespace {

class PgCollectorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new TestCluster({.settings = {{"archive_mode", "on"},
                                             {"archive_command", "true"}}});
    cluster_->Sql("CREATE TABLE t(id int)");
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  // size_interval 0: database sizes measured on every collection.
  PgCollector Collector(std::chrono::milliseconds size_interval = std::chrono::milliseconds(0)) {
    return PgCollector({"main", cluster_->ConnInfo(), cluster_->data_dir()},
                       {std::chrono::seconds(1), std::chrono::seconds(5), size_interval});
  }
  static TestCluster* cluster_;
};
TestCluster* PgCollectorTest::cluster_ = nullptr;

TEST_F(PgCollectorTest, ReportsUpVersionAndUptime) {
  auto c = Collector();
  auto r = c.Collect();
  ASSERT_FALSE(r.error) << *r.error;
  EXPECT_EQ(Value(r.families, "dbmedic_pg_up", {{"target", "main"}}), 1);
  auto version = cluster_->Scalar("SHOW server_version_num");
  EXPECT_EQ(Value(r.families, "dbmedic_pg_version_info", {{"version_num", version}}), 1);
  EXPECT_GT(*Value(r.families, "dbmedic_pg_uptime_seconds"), 0);
  EXPECT_EQ(Value(r.families, "dbmedic_pg_in_recovery"), 0);
  EXPECT_EQ(Value(r.families, "dbmedic_pg_max_connections"),
            std::stod(cluster_->Scalar("SHOW max_connections")));
}

TEST_F(PgCollectorTest, CountsCommitsAndDatabaseSizes) {
  auto c = Collector();
  auto before = *Value(c.Collect().families, "dbmedic_pg_xact_commits_total",
                       {{"datname", "postgres"}});
  for (int i = 0; i < 5; ++i) cluster_->Sql("INSERT INTO t VALUES (1)");
  auto r = c.Collect();
  // Each Sql() is at least one committed transaction of its own connection.
  EXPECT_GE(*Value(r.families, "dbmedic_pg_xact_commits_total", {{"datname", "postgres"}}),
            before + 5);
  EXPECT_TRUE(Value(r.families, "dbmedic_pg_transactions_per_second"));
  EXPECT_EQ(Value(r.families, "dbmedic_pg_database_size_bytes", {{"datname", "postgres"}}),
            std::stod(cluster_->Scalar("SELECT pg_database_size('postgres')")));
  EXPECT_GT(*Value(r.families, "dbmedic_pg_database_xid_age", {{"datname", "postgres"}}), 0);
}

TEST_F(PgCollectorTest, DatabaseSizesAreMeasuredOncePerSizeInterval) {
  auto c = Collector(std::chrono::hours(1));
  auto first = c.Collect();
  const double measured =
      *Value(first.families, "dbmedic_pg_database_size_bytes", {{"datname", "postgres"}});
  cluster_->Sql("CREATE TABLE grows AS SELECT g AS id, repeat('x', 500) AS pad "
                "FROM generate_series(1, 20000) g");
  const double now = std::stod(cluster_->Scalar("SELECT pg_database_size('postgres')"));
  ASSERT_GT(now, measured + 1e6);
  // Within the interval the last measurement is served.
  auto second = c.Collect();
  EXPECT_EQ(Value(second.families, "dbmedic_pg_database_size_bytes", {{"datname", "postgres"}}),
            measured);
  // A collector due to measure (here: a new one) sees the new size.
  auto fresh = Collector(std::chrono::hours(1)).Collect();
  EXPECT_EQ(Value(fresh.families, "dbmedic_pg_database_size_bytes", {{"datname", "postgres"}}),
            now);
  cluster_->Sql("DROP TABLE grows");
}

TEST_F(PgCollectorTest, SeesIdleInTransactionAndLockWaiters) {
  auto holder = cluster_->Connect();
  holder.Exec("BEGIN");
  holder.Exec("LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
  auto waiter = cluster_->Connect();
  ASSERT_EQ(PQsendQuery(waiter.raw(), "SELECT count(*) FROM t"), 1);
  auto c = Collector();
  ASSERT_TRUE(WaitUntil([&] {
    auto r = c.Collect();
    return Value(r.families, "dbmedic_pg_lock_waiting_sessions").value_or(0) >= 1;
  }));
  auto r = c.Collect();
  EXPECT_GE(*Value(r.families, "dbmedic_pg_idle_in_transaction_sessions"), 1);
  EXPECT_GE(*Value(r.families, "dbmedic_pg_connections", {{"state", "idle in transaction"}}), 1);
  EXPECT_GT(*Value(r.families, "dbmedic_pg_oldest_transaction_age_seconds"), 0);
  holder.Exec("COMMIT");
  while (PGresult* res = PQgetResult(waiter.raw())) PQclear(res);
}

TEST_F(PgCollectorTest, ArchiverAndRpoFollowWalSwitches) {
  auto c = Collector();
  cluster_->Sql("INSERT INTO t VALUES (2)");
  cluster_->Sql("SELECT pg_switch_wal()");
  ASSERT_TRUE(WaitUntil([&] {
    return cluster_->Scalar("SELECT archived_count FROM pg_stat_archiver") != "0";
  }));
  auto r = c.Collect();
  EXPECT_EQ(Value(r.families, "dbmedic_pg_archive_mode_enabled"), 1);
  EXPECT_GE(*Value(r.families, "dbmedic_pg_archiver_archived_total"), 1);
  EXPECT_EQ(Value(r.families, "dbmedic_pg_archiver_failing"), 0);
  EXPECT_TRUE(Value(r.families, "dbmedic_pg_archiver_last_archived_timestamp_seconds"));
  // Not archived: the WAL written since the switch, i.e. the start of the current segment up to
  // the insert position (the switched segment is the last archived one).
  double position = *Value(r.families, "dbmedic_pg_wal_position_bytes");
  double segment = 16.0 * 1024 * 1024;
  EXPECT_EQ(*Value(r.families, "dbmedic_pg_rpo_bytes"),
            position - std::floor(position / segment) * segment);
}

TEST_F(PgCollectorTest, InactiveSlotRetainsWal) {
  cluster_->Sql("SELECT pg_create_physical_replication_slot('ghost', true)");
  cluster_->Sql("INSERT INTO t SELECT generate_series(1, 1000)");
  auto c = Collector();
  auto r = c.Collect();
  Labels slot{{"slot", "ghost"}, {"type", "physical"}};
  EXPECT_EQ(Value(r.families, "dbmedic_pg_replication_slot_active", slot), 0);
  double retained = *Value(r.families, "dbmedic_pg_replication_slot_retained_bytes", slot);
  EXPECT_GT(retained, 0);
  EXPECT_EQ(Value(r.families, "dbmedic_pg_replication_slot_inactive_retained_bytes", slot),
            retained);
  cluster_->Sql("SELECT pg_drop_replication_slot('ghost')");
}

TEST_F(PgCollectorTest, OutputPassesPromtoolCheckMetrics) {
  auto c = Collector();
  c.Collect();
  auto r = c.Collect();
  core::RunOptions options;
  options.stdin_data = RenderExposition(r.families);
  auto check = core::RunProcess({"promtool", "check", "metrics"}, options);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "");
}

TEST(PgCollector, UnreachableServerIsDownWithTheError) {
  int port = core::FindFreeTcpPort();
  PgCollector c({"gone", "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres", {}},
                {std::chrono::seconds(1), std::chrono::seconds(2)});
  auto r = c.Collect();
  EXPECT_EQ(Value(r.families, "dbmedic_pg_up", {{"target", "gone"}}), 0);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find(std::to_string(port)), std::string::npos) << *r.error;
  ASSERT_EQ(r.families.size(), 1u);
}

TEST(PgCollector, ReconnectsAfterTheServerComesBack) {
  TestCluster cluster;
  PgCollector c({"main", cluster.ConnInfo(), {}}, {std::chrono::seconds(1),
                                                  std::chrono::seconds(5)});
  EXPECT_EQ(Value(c.Collect().families, "dbmedic_pg_up"), 1);
  cluster.cluster().Stop(pg::StopMode::kFast);
  EXPECT_EQ(Value(c.Collect().families, "dbmedic_pg_up"), 0);
  cluster.cluster().Start();
  EXPECT_EQ(Value(c.Collect().families, "dbmedic_pg_up"), 1);
}

}  // namespace
}  // namespace dbmedic::monitor::testing
