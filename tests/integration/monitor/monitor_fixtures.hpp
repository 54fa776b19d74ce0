// Helpers of the monitor's integration tests: a real streaming standby made with
// pg_basebackup -R from a TestCluster, a real HTTP webhook receiver, agent settings with short
// intervals, and polling with a deadline (waiting for a condition, never asserting a duration).
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/fs.hpp"
#include "harness/test_cluster.hpp"
#include "monitor/agent.hpp"
#include "pg/local_cluster.hpp"

namespace dbmedic::monitor::testing {

using dbmedic::testing::TestCluster;

// Polls `condition` every 100 ms until it holds or `limit` passes; returns whether it held.
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::seconds limit = std::chrono::seconds(60));

// A hot standby streaming from `primary` through physical slot `slot` (pg_basebackup -R -C -S),
// with cluster_name = slot. Stopped (immediate) and removed by the destructor.
class Standby {
 public:
  Standby(TestCluster& primary, const std::string& slot);
  ~Standby() noexcept;
  pg::LocalCluster& cluster() { return cluster_; }
  std::string ConnInfo() const { return cluster_.ConnInfo(); }

 private:
  core::TempDir root_;
  pg::LocalCluster cluster_;
};

// An HTTP server on a free loopback port that records the JSON bodies POSTed to it.
class WebhookReceiver {
 public:
  WebhookReceiver();
  ~WebhookReceiver();
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/alerts"; }
  std::vector<nlohmann::json> Payloads() const;
  // The next `n` POSTs are answered with HTTP `status` (and not recorded as payloads).
  void FailNext(int n, int status);
  int Attempts() const;  // POSTs received, failed ones included
  // Whether an alert with this name and status (and label `label`=`value` if given) arrived.
  bool Received(const std::string& alertname, const std::string& status,
                const std::string& label = {}, const std::string& value = {}) const;

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<nlohmann::json> payloads_;  // guarded by mu_
  int fail_next_ = 0;                      // guarded by mu_
  int fail_status_ = 500;                  // guarded by mu_
  int attempts_ = 0;                       // guarded by mu_
};

// Agent settings for tests: port 0, history under `dir`, collectors every 200-300 ms.
AgentSettings FastSettings(const std::filesystem::path& dir);

// Short windows for the default rules: for = 1 s, replication lag 2 s, RPO 2 s.
DefaultRuleSettings FastRuleSettings();

// The value of the first sample of `name` whose labels include all of `labels`.
std::optional<double> Value(const Snapshot& snapshot, const std::string& name,
                            const Labels& labels = {});

}  // namespace dbmedic::monitor::testing
