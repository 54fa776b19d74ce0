// A PostgreSQL collector stuck behind a real lock: a session holds ACCESS EXCLUSIVE on the
// pg_stat_bgwriter view in an open transaction, so the collector's query waits. It hits its
// timeout, which shows in dbmedic_collector_timeouts_total (and errors_total); the host collector
// keeps its schedule meanwhile; the stuck collector never has more than one query in flight; and
// it recovers once the lock is gone.
#include <gtest/gtest.h>

#include "monitor_fixtures.hpp"
#include "pg/connection.hpp"

namespace dbmedic::monitor::testing {
namespace {

double Metric(const Agent& agent, const std::string& name, const Labels& labels) {
  return Value(agent.registry().Merged(), name, labels).value_or(-1);
}

TEST(SlowCollector, TimeoutIsAnErrorMetricAndOthersKeepTheirSchedule) {
  TestCluster cluster;
  core::TempDir dir("monitor-slow");
  AgentSettings settings = FastSettings(dir.path());
  settings.collector_timeout = std::chrono::milliseconds(500);
  SystemClock clock;
  Agent agent(settings, {{"main", cluster.ConnInfo(), cluster.data_dir()}}, {}, {}, clock);
  agent.Start();
  const Labels pg{{"collector", "postgres:main"}};
  const Labels host{{"collector", "host"}};
  ASSERT_TRUE(WaitUntil([&] { return Metric(agent, "dbmedic_collector_success", pg) == 1; }));
  EXPECT_EQ(Metric(agent, "dbmedic_collector_timeouts_total", pg), 0);

  auto holder = pg::Connection::Open(cluster.ConnInfo());
  holder.Exec("BEGIN");
  holder.Exec("LOCK TABLE pg_catalog.pg_stat_bgwriter IN ACCESS EXCLUSIVE MODE");

  ASSERT_TRUE(WaitUntil([&] { return Metric(agent, "dbmedic_collector_timeouts_total", pg) >= 1; }));
  double host_runs = Metric(agent, "dbmedic_collector_runs_total", host);
  // While the PostgreSQL collector keeps timing out, the host collector keeps running, and the
  // stuck collector has one session at most, with one query at most.
  auto observer = pg::Connection::Open(cluster.ConnInfo());
  int max_sessions = 0, max_active = 0;
  ASSERT_TRUE(WaitUntil([&] {
    auto r = observer.Exec(
        "SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity "
        "WHERE application_name = 'dbmedic-monitor'");
    max_sessions = std::max(max_sessions, static_cast<int>(r.GetInt(0, 0)));
    max_active = std::max(max_active, static_cast<int>(r.GetInt(0, 1)));
    return Metric(agent, "dbmedic_collector_timeouts_total", pg) >= 3 &&
           Metric(agent, "dbmedic_collector_runs_total", host) >= host_runs + 3;
  }));
  EXPECT_LE(max_sessions, 1);
  EXPECT_LE(max_active, 1);
  auto s = agent.registry().Merged();
  EXPECT_GE(Value(s, "dbmedic_collector_errors_total", pg).value_or(0),
            Value(s, "dbmedic_collector_timeouts_total", pg).value_or(0));
  EXPECT_EQ(Value(s, "dbmedic_collector_success", host), 1);
  EXPECT_EQ(Value(s, "dbmedic_pg_up", {{"target", "main"}}), 0);
  auto statuses = agent.registry().Statuses();
  auto it = std::find_if(statuses.begin(), statuses.end(),
                         [](const CollectorStatus& c) { return c.name == "postgres:main"; });
  ASSERT_NE(it, statuses.end());
  ASSERT_TRUE(it->last_error.has_value());
  EXPECT_NE(it->last_error->find("canceling statement due to"), std::string::npos)
      << *it->last_error;

  holder.Exec("COMMIT");
  EXPECT_TRUE(WaitUntil([&] { return Metric(agent, "dbmedic_collector_success", pg) == 1; }));
  EXPECT_TRUE(WaitUntil([&] { return Metric(agent, "dbmedic_pg_up", {{"target", "main"}}) == 1; }));
}

}  // namespace
}  // namespace dbmedic::monitor::testing
