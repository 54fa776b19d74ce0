#include <gtest/gtest.h>

#include "monitor/rules_engine.hpp"

namespace dbmedic::monitor {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

AlertRule LagRule(std::chrono::milliseconds for_duration = minutes(1)) {
  return AlertRule{"ReplicationLagHigh", "lag_seconds", {ParseMatcher("kind=replay")},
                   Comparison::kGreater, 30, for_duration, "warning",
                   "{{ $labels.standby }} lags {{ $value }} s"};
}

Snapshot Lag(double value, std::string kind = "replay", std::string standby = "s1") {
  FamilyBuilder b(TimePoint{});
  b.Gauge("lag_seconds", "lag", {{"standby", standby}, {"kind", kind}, {"target", "main"}}, value);
  return b.Take();
}

class RulesEngineTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  RulesEngine engine_{{LagRule()}, clock_, std::chrono::hours(1)};
};

TEST_F(RulesEngineTest, ConditionStartsPendingWithoutNotification) {
  EXPECT_TRUE(engine_.Evaluate(Lag(45)).empty());
  auto alerts = engine_.Instances();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kPending);
  EXPECT_EQ(alerts[0].summary, "s1 lags 45 s");
  EXPECT_EQ(alerts[0].labels.at("alertname"), "ReplicationLagHigh");
  EXPECT_EQ(alerts[0].labels.at("severity"), "warning");
}

TEST_F(RulesEngineTest, FiresOnceTheForWindowHasPassed) {
  engine_.Evaluate(Lag(45));
  clock_.Advance(seconds(59));
  EXPECT_TRUE(engine_.Evaluate(Lag(46)).empty());
  clock_.Advance(seconds(1));
  auto events = engine_.Evaluate(Lag(47));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].alert.state, AlertState::kFiring);
  EXPECT_FALSE(events[0].repeat);
  EXPECT_EQ(events[0].alert.value, 47);
  EXPECT_EQ(events[0].alert.fired_at, clock_.Now());
}

TEST_F(RulesEngineTest, StaysSilentWhileFiringUntilTheRepeatInterval) {
  engine_.Evaluate(Lag(45));
  clock_.Advance(minutes(1));
  ASSERT_EQ(engine_.Evaluate(Lag(45)).size(), 1u);
  for (int i = 0; i < 59; ++i) {
    clock_.Advance(minutes(1));
    EXPECT_TRUE(engine_.Evaluate(Lag(45)).empty()) << "minute " << i;
  }
  clock_.Advance(minutes(1));
  auto events = engine_.Evaluate(Lag(45));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].repeat);
}

TEST_F(RulesEngineTest, ResolvesWithOneNotificationWhenTheConditionClears) {
  engine_.Evaluate(Lag(45));
  clock_.Advance(minutes(1));
  engine_.Evaluate(Lag(45));
  clock_.Advance(seconds(15));
  auto events = engine_.Evaluate(Lag(2));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].alert.state, AlertState::kResolved);
  EXPECT_EQ(events[0].alert.resolved_at, clock_.Now());
  clock_.Advance(seconds(15));
  EXPECT_TRUE(engine_.Evaluate(Lag(2)).empty());
  EXPECT_EQ(engine_.Instances().at(0).state, AlertState::kResolved);
}

TEST_F(RulesEngineTest, PendingThatClearsIsDroppedSilently) {
  engine_.Evaluate(Lag(45));
  clock_.Advance(seconds(30));
  EXPECT_TRUE(engine_.Evaluate(Lag(1)).empty());
  EXPECT_TRUE(engine_.Instances().empty());
}

TEST_F(RulesEngineTest, MissingMetricResolvesAFiringAlert) {
  engine_.Evaluate(Lag(45));
  clock_.Advance(minutes(1));
  engine_.Evaluate(Lag(45));
  auto events = engine_.Evaluate(Snapshot{});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].alert.state, AlertState::kResolved);
}

TEST_F(RulesEngineTest, MatchersSelectSamples) {
  EXPECT_TRUE(engine_.Evaluate(Lag(45, "write")).empty());
  EXPECT_TRUE(engine_.Instances().empty());
}

TEST_F(RulesEngineTest, EachLabelSetIsItsOwnAlert) {
  Snapshot both = Lag(45, "replay", "s1");
  both[0].samples.push_back(Lag(50, "replay", "s2")[0].samples[0]);
  engine_.Evaluate(both);
  clock_.Advance(minutes(1));
  auto events = engine_.Evaluate(both);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(events[0].alert.Fingerprint(), events[1].alert.Fingerprint());
}

TEST_F(RulesEngineTest, FiringAgainAfterResolveStartsANewPendingWindow) {
  engine_.Evaluate(Lag(45));
  clock_.Advance(minutes(1));
  engine_.Evaluate(Lag(45));
  engine_.Evaluate(Lag(1));
  clock_.Advance(seconds(10));
  EXPECT_TRUE(engine_.Evaluate(Lag(45)).empty());
  EXPECT_EQ(engine_.Instances().at(0).state, AlertState::kPending);
}

TEST_F(RulesEngineTest, ResolvedAlertsAreForgottenAfterTheKeepTime) {
  engine_.Evaluate(Lag(45));
  clock_.Advance(minutes(1));
  engine_.Evaluate(Lag(45));
  engine_.Evaluate(Lag(1));
  clock_.Advance(std::chrono::hours(1));
  engine_.Evaluate(Lag(1));
  EXPECT_TRUE(engine_.Instances().empty());
}

TEST(RulesEngine, ZeroForFiresOnTheFirstEvaluation) {
  FakeClock clock;
  RulesEngine engine({LagRule(std::chrono::milliseconds(0))}, clock, std::chrono::hours(1));
  auto events = engine.Evaluate(Lag(31));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].alert.state, AlertState::kFiring);
}

TEST(RulesEngine, RestoredFiringAlertIsNotNotifiedAgain) {
  FakeClock clock;
  RulesEngine first({LagRule(std::chrono::milliseconds(0))}, clock, std::chrono::hours(1));
  ASSERT_EQ(first.Evaluate(Lag(31)).size(), 1u);
  RulesEngine second({LagRule(std::chrono::milliseconds(0))}, clock, std::chrono::hours(1));
  second.Restore(first.Instances());
  clock.Advance(minutes(5));
  EXPECT_TRUE(second.Evaluate(Lag(31)).empty());
  EXPECT_EQ(second.Instances().at(0).state, AlertState::kFiring);
}

TEST(RulesEngine, RestoreIgnoresAlertsOfRulesThatNoLongerExist) {
  FakeClock clock;
  RulesEngine engine({LagRule()}, clock, std::chrono::hours(1));
  AlertInstance old;
  old.rule = "Removed";
  old.state = AlertState::kFiring;
  engine.Restore({old});
  EXPECT_TRUE(engine.Instances().empty());
}

}  // namespace
}  // namespace dbmedic::monitor
