// A broken archive_command fires ArchivingFailing and RpoAboveTarget through a real webhook;
// fixing archive_command resolves them.
#include <gtest/gtest.h>

#include "monitor_fixtures.hpp"

namespace dbmedic::monitor::testing {
namespace {

TEST(ArchiveAlert, BrokenArchiveCommandFiresAndFixResolves) {
  TestCluster cluster({.settings = {{"archive_mode", "on"}, {"archive_command", "false"}}});
  core::TempDir dir("monitor-archive");
  WebhookReceiver receiver;
  SystemClock clock;
  Agent agent(FastSettings(dir.path()), {{"main", cluster.ConnInfo(), cluster.data_dir()}},
              DefaultAlertRules(FastRuleSettings()),
              {{"hook", NotifierType::kWebhook, receiver.url(), {}, std::chrono::seconds(5),
                true}},
              clock);
  agent.Start();
  cluster.Sql("CREATE TABLE t AS SELECT 1 AS x");
  cluster.Sql("SELECT pg_switch_wal()");
  ASSERT_TRUE(WaitUntil([&] { return receiver.Received("ArchivingFailing", "firing", "target",
                                                       "main"); }));
  EXPECT_TRUE(WaitUntil([&] { return receiver.Received("RpoAboveTarget", "firing", "target",
                                                      "main"); }));
  auto s = agent.registry().Merged();
  EXPECT_GE(*Value(s, "dbmedic_pg_archiver_failed_total"), 1);
  EXPECT_GT(*Value(s, "dbmedic_pg_rpo_bytes"), 0);

  cluster.Sql("ALTER SYSTEM SET archive_command = 'true'");
  cluster.Sql("SELECT pg_reload_conf()");
  EXPECT_TRUE(WaitUntil([&] { return receiver.Received("ArchivingFailing", "resolved", "target",
                                                      "main"); }));
  // The alert list the agent serves and saves says the same.
  agent.Stop();
  auto saved = HistoryStore::Open(dir.path() / "monitor.db").LoadAlerts();
  auto it = std::find_if(saved.begin(), saved.end(),
                         [](const AlertInstance& a) { return a.rule == "ArchivingFailing"; });
  ASSERT_NE(it, saved.end());
  EXPECT_EQ(it->state, AlertState::kResolved);
}

}  // namespace
}  // namespace dbmedic::monitor::testing
