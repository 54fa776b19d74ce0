// The monitoring agent: scheduler ticks -> collectors -> registry -> {exposition, history,
// rules} -> notifiers. Threads (std::jthread, stopped through their stop tokens):
//   one per collector (its own interval; one query in flight at most),
//   the evaluator (rules engine; alert states saved to the history store),
//   the history writer (snapshot -> SQLite; retention and downsampling),
//   the dispatcher (notifications, so a slow webhook never delays evaluation),
//   the HTTP server (serves the last snapshot; never waits for a collection).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "monitor/alert_rule.hpp"
#include "monitor/clock.hpp"
#include "monitor/collector.hpp"
#include "monitor/history_store.hpp"
#include "monitor/http_route.hpp"
#include "monitor/notifier.hpp"
#include "monitor/registry.hpp"
#include "monitor/rules_engine.hpp"
#include "monitor/target.hpp"

namespace dbmedic::monitor {

class HttpServer;

struct AgentSettings {
  std::string listen_address = "127.0.0.1";
  int port = 9633;  // 0: any free port (see Agent::port())
  std::filesystem::path history_path;
  HistoryPolicy history_policy;
  std::chrono::milliseconds history_interval{15000};
  std::chrono::milliseconds maintenance_interval{600000};
  std::chrono::milliseconds host_interval{15000};
  std::chrono::milliseconds pg_interval{15000};
  std::chrono::milliseconds size_interval{60000};
  std::chrono::milliseconds lsn_timeline_window{std::chrono::hours(6)};
  std::chrono::milliseconds collector_timeout{10000};
  std::chrono::milliseconds evaluation_interval{15000};
  std::chrono::milliseconds repeat_interval{std::chrono::hours(4)};
  std::optional<std::filesystem::path> repository_path;  // filesystem usage only
  std::string basic_auth_user;
  std::string basic_auth_password;
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  std::string external_url;
};

// Reads the monitor.* options (and repository.path). Throws Error(kConfig).
AgentSettings LoadAgentSettings(const core::Config& config);

class Agent {
 public:
  Agent(AgentSettings settings, std::vector<MonitorTarget> targets, std::vector<AlertRule> rules,
        std::vector<NotifierConfig> notifiers, const Clock& clock);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Extension points for other modules, wired in by the CLI (monitor never includes them). Call
  // before Start(). A collector gets its own thread and interval; its families join /metrics,
  // the history and the rules like the built-in ones, and its health is in the
  // dbmedic_collector_* families. A route is a GET path served next to /api/*; its path must
  // start with "/api/" and not be taken (Error(kInternal) otherwise).
  void AddCollector(std::unique_ptr<Collector> collector);
  void AddRoute(HttpRoute route);
  const std::vector<HttpRoute>& routes() const { return routes_; }

  // Opens the history store, binds the HTTP port and starts the threads. Throws Error(kConflict)
  // if the port is taken, Error(kIo) if the store cannot be opened.
  void Start();
  // Stops and joins every thread. Idempotent; also done by the destructor.
  void Stop();

  int port() const;  // the bound port (useful with port 0)
  std::string BaseUrl() const;
  const Registry& registry() const { return registry_; }
  std::vector<AlertInstance> Alerts() const;
  const std::vector<AlertRule>& rules() const { return rules_; }
  const std::vector<MonitorTarget>& targets() const { return targets_; }
  const HistoryStore& history() const { return *history_; }

 private:
  void CollectorLoop(std::stop_token stop, Collector& collector);
  void EvaluatorLoop(std::stop_token stop);
  void HistoryLoop(std::stop_token stop);
  void DispatcherLoop(std::stop_token stop);
  void Dispatch(std::stop_token stop, const std::vector<AlertEvent>& events);
  void PublishAlertMetrics(const std::vector<AlertInstance>& alerts);
  void PublishSelfMetrics();  // history thread: RSS, heap, SQLite memory

  AgentSettings settings_;
  std::vector<MonitorTarget> targets_;
  std::vector<AlertRule> rules_;
  const Clock& clock_;
  Registry registry_;
  std::vector<std::unique_ptr<Collector>> collectors_;
  std::vector<HttpRoute> routes_;  // extra routes, fixed once started
  std::vector<std::unique_ptr<Notifier>> notifiers_;
  std::optional<HistoryStore> history_;
  std::unique_ptr<RulesEngine> engine_;  // used by the evaluator thread only
  std::string saved_signature_;          // evaluator thread only: states last saved
  double evaluations_ = 0;               // evaluator thread only

  mutable std::mutex alerts_mu_;
  std::vector<AlertInstance> alerts_;  // guarded by alerts_mu_: copy for the HTTP thread

  std::mutex queue_mu_;
  std::condition_variable_any queue_cv_;
  std::deque<AlertEvent> queue_;  // guarded by queue_mu_
  struct NotifyCounts {
    double delivered = 0;
    double failed = 0;
    double retries = 0;
  };
  std::map<std::string, NotifyCounts> notify_counts_;  // guarded by queue_mu_

  std::unique_ptr<HttpServer> http_;
  std::vector<std::jthread> threads_;
  bool started_ = false;
};

// Sleeps `duration` or until `stop` is requested; returns false if stopped.
bool SleepFor(std::stop_token stop, std::chrono::milliseconds duration);

}  // namespace dbmedic::monitor
