#include "monitor/agent.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "monitor/host_collector.hpp"
#include "monitor/http_server.hpp"
#include "monitor/pg_collector.hpp"

namespace dbmedic::monitor {

bool SleepFor(std::stop_token stop, std::chrono::milliseconds duration) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  return !cv.wait_for(lock, stop, duration, [] { return false; }) && !stop.stop_requested();
}

AgentSettings LoadAgentSettings(const core::Config& config) {
  AgentSettings s;
  s.listen_address = config.String("monitor.listen_address");
  s.port = static_cast<int>(config.Int("monitor.port"));
  s.history_path = config.Path("monitor.history_path");
  s.history_policy = {config.Duration("monitor.history_retention"),
                      config.Duration("monitor.downsample_after"),
                      config.Duration("monitor.downsample_step")};
  s.history_interval = config.Duration("monitor.history_interval");
  s.maintenance_interval = config.Duration("monitor.maintenance_interval");
  s.host_interval = config.Duration("monitor.host_interval");
  s.pg_interval = config.Duration("monitor.pg_interval");
  s.size_interval = config.Duration("monitor.size_interval");
  s.lsn_timeline_window = config.Duration("monitor.lsn_timeline_window");
  if (s.lsn_timeline_window < std::chrono::minutes(1)) {
    throw Error(ErrorCode::kConfig, "monitor.lsn_timeline_window is shorter than a minute",
                "replication lag in seconds needs the WAL history of at least the lag alert's "
                "threshold: set it to 1m or more (default 6h)");
  }
  s.collector_timeout = config.Duration("monitor.collector_timeout");
  s.evaluation_interval = config.Duration("monitor.evaluation_interval");
  s.repeat_interval = config.Duration("monitor.repeat_interval");
  if (auto repo = config.Optional("repository.path"); repo && !repo->empty()) {
    s.repository_path = config.Path("repository.path");
  }
  s.basic_auth_user = config.Optional("monitor.basic_auth_user").value_or("");
  s.basic_auth_password = config.Optional("monitor.basic_auth_password").value_or("");
  if (!s.basic_auth_user.empty() && s.basic_auth_password.empty()) {
    throw Error(ErrorCode::kConfig,
                "monitor.basic_auth_user is set but monitor.basic_auth_password is empty",
                "set monitor.basic_auth_password in the config file or "
                "DBMEDIC_MONITOR_BASIC_AUTH_PASSWORD");
  }
  if (auto cert = config.Optional("monitor.tls_cert"); cert && !cert->empty()) {
    s.tls_cert = config.Path("monitor.tls_cert");
    auto key = config.Optional("monitor.tls_key");
    if (!key || key->empty()) {
      throw Error(ErrorCode::kConfig, "monitor.tls_cert is set but monitor.tls_key is not",
                  "set monitor.tls_key to the PEM private key of the certificate");
    }
    s.tls_key = config.Path("monitor.tls_key");
  }
  s.external_url = config.Optional("monitor.external_url").value_or("");
  return s;
}

Agent::Agent(AgentSettings settings, std::vector<MonitorTarget> targets,
             std::vector<AlertRule> rules, std::vector<NotifierConfig> notifiers,
             const Clock& clock)
    : settings_(std::move(settings)),
      targets_(std::move(targets)),
      rules_(std::move(rules)),
      clock_(clock) {
  HostCollectorOptions host{settings_.host_interval, "/proc", "/sys", {}};
  for (const auto& t : targets_) {
    if (!t.data_dir) continue;
    host.paths.push_back({t.name, "data", *t.data_dir});
    host.paths.push_back({t.name, "wal", *t.data_dir / "pg_wal"});
  }
  if (settings_.repository_path) {
    host.paths.push_back({"", "repository", *settings_.repository_path});
  }
  collectors_.push_back(std::make_unique<HostCollector>(std::move(host)));
  for (const auto& t : targets_) {
    collectors_.push_back(std::make_unique<PgCollector>(
        t, PgCollectorOptions{settings_.pg_interval, settings_.collector_timeout,
                                    settings_.size_interval, settings_.lsn_timeline_window}));
  }
  if (notifiers.empty()) notifiers.push_back({"log", NotifierType::kLog, "", {}, {}, true});
  for (const auto& n : notifiers) notifiers_.push_back(MakeNotifier(n));
  engine_ = std::make_unique<RulesEngine>(rules_, clock_, settings_.repeat_interval);
}

Agent::~Agent() { Stop(); }

void Agent::AddCollector(std::unique_ptr<Collector> collector) {
  if (started_) {
    throw Error(ErrorCode::kInternal, "Agent::AddCollector called after Start()");
  }
  collectors_.push_back(std::move(collector));
}

void Agent::AddRoute(HttpRoute route) {
  if (started_) throw Error(ErrorCode::kInternal, "Agent::AddRoute called after Start()");
  bool taken = std::any_of(routes_.begin(), routes_.end(),
                           [&](const HttpRoute& r) { return r.path == route.path; });
  if (!route.path.starts_with("/api/") || taken || route.path == "/api/alerts" ||
      route.path == "/api/targets" || route.path == "/api/rules" ||
      route.path == "/api/metrics" || route.path == "/api/series") {
    throw Error(ErrorCode::kInternal,
                fmt::format("agent route '{}' must start with /api/ and not be taken",
                            route.path));
  }
  routes_.push_back(std::move(route));
}

void Agent::Start() {
  if (started_) return;
  // A dozen mostly idle threads each got a malloc arena whose freed memory stayed in the
  // process (the one-hour soak's slow RSS climb was that "free but kept" heap): two arenas do.
  ::mallopt(M_ARENA_MAX, 2);
  history_ = HistoryStore::Open(settings_.history_path);
  engine_->Restore(history_->LoadAlerts());
  {
    std::lock_guard lock(alerts_mu_);
    alerts_ = engine_->Instances();
  }
  http_ = std::make_unique<HttpServer>(*this, settings_);
  http_->Bind();
  started_ = true;
  for (auto& c : collectors_) {
    threads_.emplace_back([this, &c](std::stop_token stop) { CollectorLoop(stop, *c); });
  }
  threads_.emplace_back([this](std::stop_token stop) { EvaluatorLoop(stop); });
  threads_.emplace_back([this](std::stop_token stop) { HistoryLoop(stop); });
  threads_.emplace_back([this](std::stop_token stop) { DispatcherLoop(stop); });
  http_->Start();
  spdlog::info("monitor: serving {} ({} targets, {} rules, history {})", BaseUrl(),
               targets_.size(), rules_.size(), settings_.history_path.string());
}

void Agent::Stop() {
  if (!started_) return;
  started_ = false;
  http_->Stop();
  for (auto& t : threads_) t.request_stop();
  queue_cv_.notify_all();
  threads_.clear();  // joins
  try {
    history_->SaveAlerts(engine_->Instances());
  } catch (const Error& e) {
    spdlog::error("monitor: saving alert states on shutdown failed: {}", e.what());
  }
}

int Agent::port() const { return http_ ? http_->port() : settings_.port; }

std::string Agent::BaseUrl() const {
  return fmt::format("{}://{}:{}", settings_.tls_cert.empty() ? "http" : "https",
                     settings_.listen_address, port());
}

std::vector<AlertInstance> Agent::Alerts() const {
  std::lock_guard lock(alerts_mu_);
  return alerts_;
}

void Agent::CollectorLoop(std::stop_token stop, Collector& collector) {
  do {
    auto start = std::chrono::steady_clock::now();
    CollectResult result = collector.Collect();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                         .count();
    registry_.Publish(collector.name(), std::move(result.families), seconds, result.error,
                      std::chrono::system_clock::now(), result.timed_out);
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    // Fixed interval between starts; a run longer than the interval is followed at once.
    auto wait = collector.interval() - elapsed;
    if (wait.count() < 0) wait = std::chrono::milliseconds(0);
    if (!SleepFor(stop, wait)) return;
  } while (!stop.stop_requested());
}

void Agent::PublishAlertMetrics(const std::vector<AlertInstance>& alerts) {
  FamilyBuilder b(clock_.Now());
  std::map<std::string, double> by_state = {{"pending", 0}, {"firing", 0}};
  for (const auto& a : alerts) {
    if (a.state == AlertState::kResolved) continue;
    by_state[std::string(AlertStateName(a.state))] += 1;
    Labels l = a.labels;
    l["alertstate"] = std::string(AlertStateName(a.state));
    b.Gauge("dbmedic_alert_active", "Pending and firing alerts (value is 1).", l, 1);
  }
  for (const auto& [state, n] : by_state) {
    b.Gauge("dbmedic_alerts", "Alerts by state.", {{"state", state}}, n);
  }
  b.Counter("dbmedic_rule_evaluations_total", "Evaluations of the alert rules.", {},
            evaluations_);
  {
    std::lock_guard lock(queue_mu_);
    for (const auto& [name, counts] : notify_counts_) {
      b.Counter("dbmedic_notifications_total", "Notifications delivered.", {{"notifier", name}},
                counts.delivered);
      b.Counter("dbmedic_notifications_failed_total",
                "Notifications given up after every attempt failed.", {{"notifier", name}},
                counts.failed);
      b.Counter("dbmedic_notification_retries_total",
                "Delivery attempts repeated after a failure.", {{"notifier", name}},
                counts.retries);
    }
  }
  registry_.PublishExtra("alerts", b.Take());
}

void Agent::EvaluatorLoop(std::stop_token stop) {
  while (SleepFor(stop, settings_.evaluation_interval)) {
    try {
      auto events = engine_->Evaluate(registry_.Merged());
      ++evaluations_;
      auto alerts = engine_->Instances();
      PublishAlertMetrics(alerts);
      {
        std::lock_guard lock(alerts_mu_);
        alerts_ = alerts;
      }
      // Saved whenever the set of states changes: `dbmedic alerts` reads them, a restart
      // resumes them without notifying again.
      std::string signature;
      for (const auto& a : alerts) {
        signature += a.Fingerprint();
        signature += AlertStateName(a.state);
      }
      if (signature != saved_signature_ || !events.empty()) {
        history_->SaveAlerts(alerts);
        saved_signature_ = std::move(signature);
      }
      if (!events.empty()) {
        std::lock_guard lock(queue_mu_);
        queue_.insert(queue_.end(), events.begin(), events.end());
        queue_cv_.notify_one();
      }
    } catch (const std::exception& e) {
      spdlog::error("monitor: evaluating alert rules failed: {}", e.what());
    }
  }
}

void Agent::PublishSelfMetrics() {
  FamilyBuilder b(clock_.Now());
  std::ifstream statm("/proc/self/statm");
  double pages_total = 0, pages_resident = 0;
  if (statm >> pages_total >> pages_resident) {
    b.Gauge("dbmedic_agent_resident_memory_bytes", "Resident set size of the agent process.", {},
            pages_resident * static_cast<double>(::sysconf(_SC_PAGESIZE)));
  }
  // In use vs free-but-kept by malloc: a leak grows the first, fragmentation the second.
  struct mallinfo2 heap = ::mallinfo2();
  b.Gauge("dbmedic_agent_heap_in_use_bytes", "Heap bytes allocated and not freed (malloc).", {},
          static_cast<double>(heap.uordblks + heap.hblkhd));
  b.Gauge("dbmedic_agent_heap_free_bytes", "Heap bytes freed but kept by malloc.", {},
          static_cast<double>(heap.fordblks));
  HistoryMemory m = history_->Memory();
  b.Gauge("dbmedic_agent_history_cache_bytes", "SQLite page cache of the history store.", {},
          static_cast<double>(m.cache_bytes));
  b.Gauge("dbmedic_agent_sqlite_memory_bytes", "Memory SQLite has allocated.", {},
          static_cast<double>(m.sqlite_bytes));
  b.Gauge("dbmedic_agent_history_series", "Series ids the history writer caches.", {},
          static_cast<double>(m.series));
  registry_.PublishExtra("agent", b.Take());
}

void Agent::HistoryLoop(std::stop_token stop) {
  auto last_maintenance = std::chrono::steady_clock::now();
  while (SleepFor(stop, settings_.history_interval)) {
    try {
      // Hand memory freed since the last round back to the system, so RSS follows what is in
      // use rather than the peak of every thread's arena (cheap: a heap of a few MB).
      ::malloc_trim(0);
      PublishSelfMetrics();
      history_->Write(registry_.Merged());
      if (std::chrono::steady_clock::now() - last_maintenance >= settings_.maintenance_interval) {
        last_maintenance = std::chrono::steady_clock::now();
        auto r = history_->Maintain(clock_.Now(), settings_.history_policy);
        spdlog::debug("monitor: history maintenance: {} rows downsampled, {} expired",
                      r.downsampled_rows, r.expired_rows);
      }
    } catch (const std::exception& e) {
      spdlog::error("monitor: writing history failed: {}", e.what());
    }
  }
}

void Agent::DispatcherLoop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::vector<AlertEvent> events;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, stop, [&] { return !queue_.empty(); });
      events.assign(queue_.begin(), queue_.end());
      queue_.clear();
    }
    if (!events.empty()) Dispatch(stop, events);
  }
}

void Agent::Dispatch(std::stop_token stop, const std::vector<AlertEvent>& events) {
  // One delivery per alert: each has its own status, and a receiver can de-duplicate by
  // fingerprint. Retries wait on the dispatcher thread only: evaluation goes on meanwhile.
  RetrySleep sleep = [&stop](std::chrono::milliseconds d) { return SleepFor(stop, d); };
  for (const auto& event : events) {
    for (auto& notifier : notifiers_) {
      const auto& cfg = notifier->config();
      if (event.alert.state == AlertState::kResolved && !cfg.send_resolved) continue;
      DeliveryResult r = Deliver(*notifier, {event},
                                 settings_.external_url.empty() ? BaseUrl()
                                                                : settings_.external_url,
                                 sleep);
      std::lock_guard lock(queue_mu_);
      auto& counts = notify_counts_[cfg.name];
      (r.delivered ? counts.delivered : counts.failed) += 1;
      counts.retries += r.attempts - 1;
    }
  }
}

}  // namespace dbmedic::monitor
