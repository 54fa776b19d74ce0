#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "monitor/notifier.hpp"

namespace dbmedic::monitor {
namespace {

using nlohmann::json;

AlertEvent Firing(std::string standby = "s1") {
  AlertInstance a;
  a.rule = "ReplicationLagHigh";
  a.labels = {{"alertname", "ReplicationLagHigh"}, {"severity", "warning"},
              {"standby", standby}, {"target", "main"}};
  a.state = AlertState::kFiring;
  a.value = 42;
  a.summary = standby + " lags 42 s";
  a.active_since = FromMillis(1'700'000'000'000);
  a.fired_at = FromMillis(1'700'000'060'123);
  return {a, false};
}

std::vector<NotifierConfig> ParseText(std::string_view text) {
  return ParseNotifiers(toml::parse(text), "dbmedic.toml");
}

TEST(Notifier, AlertmanagerPayloadHasTheWebhookFields) {
  auto resolved = Firing("s2");
  resolved.alert.state = AlertState::kResolved;
  resolved.alert.resolved_at = FromMillis(1'700'000'120'000);
  json p = AlertmanagerPayload({Firing(), Firing("s2")}, "ops", "http://agent:9633");
  EXPECT_EQ(p["version"], "4");
  EXPECT_EQ(p["status"], "firing");
  EXPECT_EQ(p["receiver"], "ops");
  EXPECT_EQ(p["externalURL"], "http://agent:9633");
  EXPECT_EQ(p["groupLabels"], json({{"alertname", "ReplicationLagHigh"}}));
  EXPECT_EQ(p["commonLabels"], json({{"alertname", "ReplicationLagHigh"},
                                     {"severity", "warning"}, {"target", "main"}}));
  EXPECT_EQ(p["groupKey"], "{}:{alertname=\"ReplicationLagHigh\"}");
  ASSERT_EQ(p["alerts"].size(), 2u);
  const auto& a = p["alerts"][0];
  EXPECT_EQ(a["status"], "firing");
  EXPECT_EQ(a["labels"]["standby"], "s1");
  EXPECT_EQ(a["annotations"]["summary"], "s1 lags 42 s");
  EXPECT_EQ(a["startsAt"], "2023-11-14T22:14:20.123Z");
  EXPECT_EQ(a["endsAt"], "0001-01-01T00:00:00Z");
  json r = AlertmanagerPayload({resolved}, "ops", "");
  EXPECT_EQ(r["status"], "resolved");
  EXPECT_EQ(r["alerts"][0]["endsAt"], "2023-11-14T22:15:20.000Z");
}

TEST(Notifier, ParsesTheThreeTypes) {
  auto n = ParseText(R"(
[[notifier]]
name = "am"
type = "webhook"
url = "http://127.0.0.1:9093/api/v1/alerts"
timeout = "3s"
[[notifier]]
name = "pager"
type = "command"
command = ["/usr/local/bin/page", "--team", "db"]
send_resolved = false
[[notifier]]
name = "log"
type = "log"
)");
  ASSERT_EQ(n.size(), 3u);
  EXPECT_EQ(n[0].type, NotifierType::kWebhook);
  EXPECT_EQ(n[0].timeout, std::chrono::seconds(3));
  EXPECT_EQ(n[1].command, (std::vector<std::string>{"/usr/local/bin/page", "--team", "db"}));
  EXPECT_FALSE(n[1].send_resolved);
  EXPECT_EQ(n[2].type, NotifierType::kLog);
}

TEST(Notifier, RetriesDefaultToThreeWithOneSecondBackoff) {
  auto n = ParseText("[[notifier]]\nname = \"am\"\ntype = \"webhook\"\nurl = \"http://x/\"\n"
                     "[[notifier]]\nname = \"b\"\ntype = \"log\"\nretries = 0\n"
                     "retry_backoff = \"250ms\"\n");
  EXPECT_EQ(n[0].retries, 3);
  EXPECT_EQ(n[0].retry_backoff, std::chrono::seconds(1));
  EXPECT_EQ(n[1].retries, 0);
  EXPECT_EQ(n[1].retry_backoff, std::chrono::milliseconds(250));
}

TEST(Notifier, NegativeRetriesAreRejected) {
  try {
    ParseText("[[notifier]]\nname = \"x\"\ntype = \"log\"\nretries = -1\n");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_STREQ(e.what(), "[[notifier]] #1 ('x'): key 'retries' must be between 0 and 100");
  }
}

TEST(Notifier, UnknownTypeIsRejected) {
  try {
    ParseText("[[notifier]]\nname = \"x\"\ntype = \"email\"\n");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_STREQ(e.what(), "[[notifier]] #1 ('x'): key 'type' must be webhook, command or log; "
                           "got 'email'");
  }
}

TEST(Notifier, WebhookNeedsAnHttpUrl) {
  try {
    ParseText("[[notifier]]\nname = \"x\"\ntype = \"webhook\"\nurl = \"ftp://host/\"\n");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "[[notifier]] #1 ('x'): key 'url' must start with http:// or "
                           "https://; got 'ftp://host/'");
  }
}

TEST(Notifier, CommandNeedsAnArgv) {
  try {
    ParseText("[[notifier]]\nname = \"x\"\ntype = \"command\"\n");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "[[notifier]] #1 ('x'): key 'command' is required: an array "
                           "[\"program\", \"arg\"...]");
  }
}

TEST(Notifier, CommandReceivesThePayloadOnStdin) {
  core::TempDir dir("monitor-notify");
  auto out = dir.path() / "payload.json";
  NotifierConfig c{"cmd", NotifierType::kCommand, "",
                   {"sh", "-c", "cat > " + out.string() + "; echo $DBMEDIC_ALERT_STATUS >> " +
                                    out.string() + ".status"},
                   std::chrono::seconds(10), true};
  MakeNotifier(c)->Send({Firing()}, "http://agent");
  json p = json::parse(core::ReadFile(out));
  EXPECT_EQ(p["alerts"][0]["labels"]["alertname"], "ReplicationLagHigh");
  EXPECT_EQ(core::ReadFile(out.string() + ".status"), "firing\n");
}

TEST(Notifier, FailingCommandIsAnIoError) {
  NotifierConfig c{"cmd", NotifierType::kCommand, "", {"sh", "-c", "echo nope >&2; exit 3"},
                   std::chrono::seconds(10), true};
  try {
    MakeNotifier(c)->Send({Firing()}, "");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_STREQ(e.what(), "notifier 'cmd': command sh -c 'echo nope >&2; exit 3' exited with 3: "
                           "nope\n");
  }
}

TEST(Notifier, WebhookPostsToARealReceiver) {
  httplib::Server receiver;
  std::string body, path, content_type;
  receiver.Post(R"(/hook/.*)", [&](const httplib::Request& req, httplib::Response& res) {
    body = req.body;
    path = req.path;
    content_type = req.get_header_value("Content-Type");
    res.set_content("ok", "text/plain");
  });
  int port = receiver.bind_to_any_port("127.0.0.1");
  std::thread serve([&] { receiver.listen_after_bind(); });
  NotifierConfig c{"am", NotifierType::kWebhook,
                   "http://127.0.0.1:" + std::to_string(port) + "/hook/x", {},
                   std::chrono::seconds(5), true};
  MakeNotifier(c)->Send({Firing()}, "http://agent");
  receiver.stop();
  serve.join();
  EXPECT_EQ(path, "/hook/x");
  EXPECT_EQ(content_type, "application/json");
  EXPECT_EQ(json::parse(body)["receiver"], "am");
}

TEST(Notifier, WebhookErrorStatusIsANetworkError) {
  httplib::Server receiver;
  receiver.Post("/", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content("busy", "text/plain");
  });
  int port = receiver.bind_to_any_port("127.0.0.1");
  std::thread serve([&] { receiver.listen_after_bind(); });
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  NotifierConfig c{"am", NotifierType::kWebhook, url, {}, std::chrono::seconds(5), true};
  try {
    MakeNotifier(c)->Send({Firing()}, "");
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNetwork);
    EXPECT_EQ(std::string(e.what()), "notifier 'am': POST " + url + " answered HTTP 503: busy");
  }
  receiver.stop();
  serve.join();
}

TEST(Notifier, UnreachableWebhookIsANetworkError) {
  httplib::Server probe;
  int port = probe.bind_to_any_port("127.0.0.1");
  probe.stop();  // the port is closed now: nobody listens
  NotifierConfig c{"am", NotifierType::kWebhook, "http://127.0.0.1:" + std::to_string(port) + "/",
                   {}, std::chrono::seconds(2), true};
  try {
    MakeNotifier(c)->Send({Firing()}, "");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNetwork);
    EXPECT_NE(std::string(e.what()).find("failed"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dbmedic::monitor
