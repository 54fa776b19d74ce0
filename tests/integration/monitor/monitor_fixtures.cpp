#include "monitor_fixtures.hpp"

#include <fmt/format.h>

namespace dbmedic::monitor::testing {

bool WaitUntil(const std::function<bool()>& condition, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

namespace {

pg::ClusterSpec StandbySpec(const std::filesystem::path& root) {
  pg::ClusterSpec spec;
  spec.data_dir = root / "data";
  spec.socket_dir = root / "sock";
  spec.log_file = root / "server.log";
  return spec;
}

}  // namespace

Standby::Standby(TestCluster& primary, const std::string& slot)
    : root_("dbmedic-standby"), cluster_(StandbySpec(root_.path())) {
  core::MakeDirs(cluster_.data_dir(), 0700);
  cluster_.GiveToOsUser(cluster_.data_dir());
  primary.cluster().RunTool(
      "pg_basebackup",
      {"-D", cluster_.data_dir().string(), "-h", primary.socket_dir().string(), "-p",
       std::to_string(primary.port()), "-U", "postgres", "-R", "-C", "-S", slot, "-X", "stream",
       "-c", "fast"});
  cluster_.WriteSettings({{"fsync", "off"},
                          {"shared_buffers", "32MB"},
                          {"hot_standby", "on"},
                          {"cluster_name", slot},
                          {"wal_receiver_status_interval", "1s"}});
  cluster_.Start();
}

Standby::~Standby() noexcept {
  try {
    if (cluster_.IsRunning()) cluster_.Stop(pg::StopMode::kImmediate);
  } catch (const std::exception& e) {
    fmt::print(stderr, "warning: could not stop the standby: {}\n", e.what());
  }
}

WebhookReceiver::WebhookReceiver() {
  server_.Post("/alerts", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    ++attempts_;
    if (fail_next_ > 0) {
      --fail_next_;
      res.status = fail_status_;
      res.set_content("receiver unavailable", "text/plain");
      return;
    }
    payloads_.push_back(nlohmann::json::parse(req.body));
    res.set_content("ok", "text/plain");
  });
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

WebhookReceiver::~WebhookReceiver() {
  server_.stop();
  thread_.join();
}

void WebhookReceiver::FailNext(int n, int status) {
  std::lock_guard lock(mu_);
  fail_next_ = n;
  fail_status_ = status;
}

int WebhookReceiver::Attempts() const {
  std::lock_guard lock(mu_);
  return attempts_;
}

std::vector<nlohmann::json> WebhookReceiver::Payloads() const {
  std::lock_guard lock(mu_);
  return payloads_;
}

bool WebhookReceiver::Received(const std::string& alertname, const std::string& status,
                               const std::string& label, const std::string& value) const {
  std::lock_guard lock(mu_);
  for (const auto& p : payloads_) {
    for (const auto& a : p["alerts"]) {
      if (a["labels"]["alertname"] != alertname || a["status"] != status) continue;
      if (label.empty() || (a["labels"].contains(label) && a["labels"][label] == value)) {
        return true;
      }
    }
  }
  return false;
}

AgentSettings FastSettings(const std::filesystem::path& dir) {
  AgentSettings s;
  s.port = 0;
  s.history_path = dir / "monitor.db";
  s.history_interval = std::chrono::milliseconds(300);
  s.maintenance_interval = std::chrono::minutes(10);
  s.host_interval = std::chrono::milliseconds(300);
  s.pg_interval = std::chrono::milliseconds(200);
  s.collector_timeout = std::chrono::seconds(5);
  s.evaluation_interval = std::chrono::milliseconds(200);
  s.repeat_interval = std::chrono::hours(1);
  return s;
}

DefaultRuleSettings FastRuleSettings() {
  return {std::chrono::seconds(1), std::chrono::seconds(2), std::chrono::seconds(2),
          std::chrono::hours(1)};
}

std::optional<double> Value(const Snapshot& snapshot, const std::string& name,
                            const Labels& labels) {
  for (const auto& family : snapshot) {
    if (family.name != name) continue;
    for (const auto& sample : family.samples) {
      bool match = std::all_of(labels.begin(), labels.end(), [&](const auto& kv) {
        auto it = sample.labels.find(kv.first);
        return it != sample.labels.end() && it->second == kv.second;
      });
      if (match) return sample.value;
    }
  }
  return std::nullopt;
}

}  // namespace dbmedic::monitor::testing
