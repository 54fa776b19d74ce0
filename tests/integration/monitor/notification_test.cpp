// Notifications against a real HTTP webhook receiver: retries with backoff when the receiver
// fails (HTTP 5xx, down), no retry when it refuses the request (4xx), giving up loudly; and in
// a running agent, one notification per firing alert (de-duplication) plus one reminder per
// repeat interval (driven by a FakeClock, so nothing here waits for a real interval to pass).
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "monitor_fixtures.hpp"

namespace dbmedic::monitor::testing {
namespace {

using std::chrono::milliseconds;

AlertEvent Firing(const std::string& name = "DiskFull") {
  AlertInstance a;
  a.rule = name;
  a.labels = {{"alertname", name}, {"severity", "critical"}, {"target", "main"}};
  a.state = AlertState::kFiring;
  a.summary = "disk full";
  return {a, false};
}

NotifierConfig Hook(const std::string& url, int retries) {
  NotifierConfig c{"hook", NotifierType::kWebhook, url, {}, std::chrono::seconds(5), true};
  c.retries = retries;
  c.retry_backoff = milliseconds(10);
  return c;
}

// Records the waits instead of sleeping them.
struct RecordingSleep {
  std::vector<milliseconds> waits;
  RetrySleep Fn() {
    return [this](milliseconds d) {
      waits.push_back(d);
      return true;
    };
  }
};

// Captures what the code logs, to assert warnings and errors as part of the contract.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100)) {
    previous_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::vector<std::string> Lines() const { return sink_->last_formatted(); }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

bool Contains(const std::vector<std::string>& lines, const std::string& text) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

TEST(Notification, ServerErrorsAreRetriedWithGrowingBackoffUntilDelivered) {
  WebhookReceiver receiver;
  receiver.FailNext(2, 503);
  auto notifier = MakeNotifier(Hook(receiver.url(), 3));
  RecordingSleep sleep;
  DeliveryResult r = Deliver(*notifier, {Firing()}, "http://agent", sleep.Fn());
  EXPECT_TRUE(r.delivered);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(sleep.waits, (std::vector<milliseconds>{milliseconds(10), milliseconds(20)}));
  EXPECT_EQ(receiver.Attempts(), 3);
  ASSERT_EQ(receiver.Payloads().size(), 1u);
  EXPECT_EQ(receiver.Payloads()[0]["alerts"][0]["labels"]["alertname"], "DiskFull");
}

TEST(Notification, GivesUpLoudlyAfterTheLastRetry) {
  WebhookReceiver receiver;
  receiver.FailNext(100, 500);
  auto notifier = MakeNotifier(Hook(receiver.url(), 2));
  RecordingSleep sleep;
  LogCapture log;
  DeliveryResult r = Deliver(*notifier, {Firing()}, "http://agent", sleep.Fn());
  EXPECT_FALSE(r.delivered);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(receiver.Attempts(), 3);
  EXPECT_EQ(r.error, "notifier 'hook': POST " + receiver.url() +
                         " answered HTTP 500: receiver unavailable");
  auto lines = log.Lines();
  EXPECT_TRUE(Contains(lines, "warning monitor: notifying 'hook' of alert DiskFull (firing) "
                              "failed (attempt 1 of 3), retrying in 10 ms"));
  EXPECT_TRUE(Contains(lines, "warning monitor: notifying 'hook' of alert DiskFull (firing) "
                              "failed (attempt 2 of 3), retrying in 20 ms"));
  EXPECT_TRUE(Contains(lines, "error monitor: giving up notifying 'hook' of alert DiskFull "
                              "(firing) after 3 attempt(s): " + r.error));
}

TEST(Notification, ReceiverDownIsRetried) {
  int port = core::FindFreeTcpPort();  // nobody listens there
  auto notifier = MakeNotifier(Hook("http://127.0.0.1:" + std::to_string(port) + "/x", 1));
  RecordingSleep sleep;
  DeliveryResult r = Deliver(*notifier, {Firing()}, "http://agent", sleep.Fn());
  EXPECT_FALSE(r.delivered);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(sleep.waits.size(), 1u);
  EXPECT_NE(r.error.find("notifier 'hook': POST http://127.0.0.1:" + std::to_string(port) +
                         "/x failed: "), std::string::npos) << r.error;
}

TEST(Notification, ClientErrorIsNotRetried) {
  WebhookReceiver receiver;
  receiver.FailNext(1, 400);
  auto notifier = MakeNotifier(Hook(receiver.url(), 3));
  RecordingSleep sleep;
  DeliveryResult r = Deliver(*notifier, {Firing()}, "http://agent", sleep.Fn());
  EXPECT_FALSE(r.delivered);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_TRUE(sleep.waits.empty());
  EXPECT_EQ(receiver.Attempts(), 1);
}

TEST(Notification, StoppingTheAgentAbandonsTheRetries) {
  WebhookReceiver receiver;
  receiver.FailNext(100, 503);
  auto notifier = MakeNotifier(Hook(receiver.url(), 5));
  DeliveryResult r = Deliver(*notifier, {Firing()}, "http://agent",
                             [](milliseconds) { return false; });
  EXPECT_FALSE(r.delivered);
  EXPECT_EQ(r.attempts, 1);
}

// A running agent with a rule that is always true on the host collector's data.
class AgentNotifications : public ::testing::Test {
 protected:
  void SetUp() override {
    AlertRule always{"LoadSeen", "dbmedic_host_load1", {}, Comparison::kGreaterEqual, 0,
                     milliseconds(0), "info", "load is {{ $value }}"};
    AgentSettings settings = FastSettings(dir_.path());
    settings.repeat_interval = std::chrono::hours(1);
    auto hook = Hook(receiver_.url(), 3);
    agent_ = std::make_unique<Agent>(settings, std::vector<MonitorTarget>{},
                                     std::vector<AlertRule>{always},
                                     std::vector<NotifierConfig>{hook}, clock_);
  }
  int FiringPayloads() const {
    int n = 0;
    for (const auto& p : receiver_.Payloads()) n += p["status"] == "firing";
    return n;
  }
  double Evaluations() const {
    return Value(agent_->registry().Merged(), "dbmedic_rule_evaluations_total").value_or(0);
  }

  core::TempDir dir_{"monitor-notify"};
  WebhookReceiver receiver_;
  FakeClock clock_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentNotifications, FiringAlertIsNotifiedOnceThenOncePerRepeatInterval) {
  agent_->Start();
  ASSERT_TRUE(WaitUntil([&] { return FiringPayloads() == 1; }));
  // Many evaluations later the alert is still firing and still notified once.
  double seen = Evaluations();
  ASSERT_TRUE(WaitUntil([&] { return Evaluations() >= seen + 10; }));
  EXPECT_EQ(FiringPayloads(), 1);
  // One repeat interval later: exactly one reminder.
  clock_.Advance(std::chrono::hours(1));
  ASSERT_TRUE(WaitUntil([&] { return FiringPayloads() == 2; }));
  seen = Evaluations();
  ASSERT_TRUE(WaitUntil([&] { return Evaluations() >= seen + 10; }));
  EXPECT_EQ(FiringPayloads(), 2);
  auto alerts = agent_->Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kFiring);
}

TEST_F(AgentNotifications, FailingReceiverIsRetriedAndCounted) {
  receiver_.FailNext(2, 502);
  agent_->Start();
  ASSERT_TRUE(WaitUntil([&] { return FiringPayloads() == 1; }));
  EXPECT_EQ(receiver_.Attempts(), 3);
  ASSERT_TRUE(WaitUntil([&] {
    return Value(agent_->registry().Merged(), "dbmedic_notifications_total",
                 {{"notifier", "hook"}}) == 1.0;
  }));
  auto s = agent_->registry().Merged();
  EXPECT_EQ(Value(s, "dbmedic_notification_retries_total", {{"notifier", "hook"}}), 2.0);
  EXPECT_EQ(Value(s, "dbmedic_notifications_failed_total", {{"notifier", "hook"}}), 0.0);
}

}  // namespace
}  // namespace dbmedic::monitor::testing
