// A primary with a real streaming standby (pg_basebackup -R): stopping the standby while the
// primary writes fires ReplicationLagHigh (and PostgresDown for the standby target) through a real
// webhook receiver; starting it again resolves both.
#include <gtest/gtest.h>

#include "monitor_fixtures.hpp"

namespace dbmedic::monitor::testing {
namespace {

class ReplicationAlertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    primary_.Sql("CREATE TABLE filler(id serial, pad text)");
    standby_ = std::make_unique<Standby>(primary_, "standby1");
    ASSERT_TRUE(WaitUntil([&] {
      return primary_.Scalar("SELECT count(*) FROM pg_stat_replication WHERE state = "
                             "'streaming'") == "1";
    }));
    std::vector<NotifierConfig> notifiers{
        {"hook", NotifierType::kWebhook, receiver_.url(), {}, std::chrono::seconds(5), true}};
    agent_ = std::make_unique<Agent>(
        FastSettings(dir_.path()),
        std::vector<MonitorTarget>{{"primary", primary_.ConnInfo(), primary_.data_dir()},
                                   {"standby", standby_->ConnInfo(), {}}},
        DefaultAlertRules(FastRuleSettings()), notifiers, clock_);
    agent_->Start();
  }

  void Write() { primary_.Sql("INSERT INTO filler(pad) SELECT repeat('x', 200) FROM "
                              "generate_series(1, 50)"); }

  TestCluster primary_;
  std::unique_ptr<Standby> standby_;
  core::TempDir dir_{"monitor-repl"};
  WebhookReceiver receiver_;
  SystemClock clock_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(ReplicationAlertTest, StoppedStandbyFiresLagAlertAndRestartResolvesIt) {
  // Both sides see the replication: the primary its standby, the standby its receiver.
  ASSERT_TRUE(WaitUntil([&] {
    auto s = agent_->registry().Merged();
    return Value(s, "dbmedic_pg_replication_standby_connected", {{"standby", "standby1"}}) ==
               1 &&
           Value(s, "dbmedic_pg_standby_receiver_connected", {{"target", "standby"}}) == 1 &&
           Value(s, "dbmedic_pg_in_recovery", {{"target", "standby"}}) == 1;
  }));
  Write();
  ASSERT_TRUE(WaitUntil([&] {
    auto s = agent_->registry().Merged();
    return Value(s, "dbmedic_pg_replication_lag_bytes",
                 {{"standby", "standby1"}, {"kind", "replay"}}) == 0;
  }));

  standby_->cluster().Stop(pg::StopMode::kFast);
  ASSERT_TRUE(WaitUntil([&] {
    Write();
    return receiver_.Received("ReplicationLagHigh", "firing", "standby", "standby1");
  })) << "alerts: " << agent_->Alerts().size();
  EXPECT_TRUE(WaitUntil([&] { return receiver_.Received("PostgresDown", "firing", "target",
                                                        "standby"); }));
  auto s = agent_->registry().Merged();
  EXPECT_EQ(Value(s, "dbmedic_pg_replication_standby_connected", {{"standby", "standby1"}}), 0);
  EXPECT_GT(*Value(s, "dbmedic_pg_replication_lag_bytes",
                   {{"standby", "standby1"}, {"kind", "replay"}}), 0);

  standby_->cluster().Start();
  EXPECT_TRUE(WaitUntil([&] {
    return receiver_.Received("ReplicationLagHigh", "resolved", "standby", "standby1");
  }));
  EXPECT_TRUE(WaitUntil([&] { return receiver_.Received("PostgresDown", "resolved", "target",
                                                        "standby"); }));
  for (const auto& a : agent_->Alerts()) {
    if (a.rule == "ReplicationLagHigh") {
      EXPECT_EQ(a.state, AlertState::kResolved);
    }
  }
  // De-duplication: one firing and one resolved notification for the lag alert, however many
  // evaluations saw the condition.
  int firing = 0, resolved = 0;
  for (const auto& p : receiver_.Payloads()) {
    for (const auto& a : p["alerts"]) {
      if (a["labels"]["alertname"] != "ReplicationLagHigh") continue;
      (a["status"] == "firing" ? firing : resolved) += 1;
    }
  }
  EXPECT_EQ(firing, 1);
  EXPECT_EQ(resolved, 1);
}

}  // namespace
}  // namespace dbmedic::monitor::testing
