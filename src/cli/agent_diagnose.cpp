#include "cli/agent_diagnose.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "diagnose/session.hpp"
#include "diagnose/statements.hpp"
#include "diagnose/wait_sampler.hpp"
#include "monitor/collector.hpp"

namespace dbmedic::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Millis = std::chrono::milliseconds;

// Query text kept per wait sample: enough to recognise a statement on the dashboard, and it
// bounds the history's memory (pooled: each distinct text once, at most one per sample held).
constexpr std::size_t kSampleQueryChars = 512;

struct DiagnoseSettings {
  Millis snapshot_interval{};
  std::size_t snapshot_keep = 0;
  std::optional<fs::path> snapshot_file;
  Millis wait_interval{};
  std::size_t wait_samples = 0;
  Millis wait_window{};
  Millis statement_timeout{};
};

DiagnoseSettings LoadSettings(const core::Config& config) {
  DiagnoseSettings s;
  s.snapshot_interval = config.Duration("diagnose.snapshot_interval");
  s.snapshot_keep = static_cast<std::size_t>(config.Int("diagnose.snapshot_keep"));
  if (auto file = config.Optional("diagnose.snapshot_file"); file && !file->empty()) {
    s.snapshot_file = config.Path("diagnose.snapshot_file");
  }
  s.wait_interval = config.Duration("diagnose.wait_sample_interval");
  s.wait_samples = static_cast<std::size_t>(config.Int("diagnose.wait_history_samples"));
  s.wait_window = config.Duration("diagnose.wait_history_window");
  if (s.wait_window <= Millis::zero()) {
    throw Error(ErrorCode::kConfig, "diagnose.wait_history_window must be longer than 0",
                "set how long the active-session history keeps samples, e.g. 15m (the default)");
  }
  s.statement_timeout = std::min(config.Duration("monitor.collector_timeout"),
                                 config.Duration("diagnose.statement_timeout"));
  return s;
}

// What one target's samplers collect and the routes read. Shared by the samplers (owned by the
// agent) and the route handlers (owned by the HTTP server), hence shared_ptr.
struct TargetDiagnosis {
  TargetDiagnosis(std::string name, const DiagnoseSettings& s)
      : target(std::move(name)),
        wait_interval(s.wait_interval),
        statements(s.snapshot_keep, std::chrono::duration_cast<std::chrono::seconds>(
                                        s.snapshot_interval * (s.snapshot_keep + 1))),
        waits(s.wait_samples, s.wait_window) {}
  const std::string target;
  const Millis wait_interval;
  std::mutex mu;
  diagnose::StatementSnapshotStore statements;  // guarded by mu
  diagnose::ActiveSessionHistory waits;         // guarded by mu
};

bool IsTimeout(std::string_view message) {
  return message.find("[57014]") != std::string_view::npos ||
         message.find("timeout expired") != std::string_view::npos;
}

// A diagnose session to one target, opened on first use and reopened after a failure. A failure
// is logged when its message changes, not at every run of a sampler.
class Session {
 public:
  Session(std::string label, std::string conninfo, Millis timeout)
      : label_(std::move(label)), conninfo_(std::move(conninfo)), timeout_(timeout) {}

  pg::Connection& Get() {
    if (!conn_) {
      int connect_s = std::max<int>(1, static_cast<int>(timeout_.count() / 1000));
      conn_ = diagnose::OpenDiagnoseSession(monitor::WithConnectOptions(conninfo_, connect_s),
                                            timeout_);
    }
    return *conn_;
  }
  monitor::CollectResult Failed(monitor::FamilyBuilder& b, const std::exception& e) {
    conn_.reset();
    std::string message = e.what();
    if (message != last_error_) {
      spdlog::warn("monitor: {} failed: {}", label_, message);
      if (const auto* err = dynamic_cast<const Error*>(&e); err && !err->hint().empty()) {
        spdlog::warn("HINT: {}", err->hint());
      }
      last_error_ = message;
    }
    return {b.Take(), message, IsTimeout(message)};
  }
  void Succeeded() { last_error_.clear(); }

 private:
  std::string label_;
  std::string conninfo_;
  Millis timeout_;
  std::optional<pg::Connection> conn_;
  std::string last_error_;
};

class StatementSampler final : public monitor::Collector {
 public:
  StatementSampler(const monitor::MonitorTarget& target, std::shared_ptr<TargetDiagnosis> state,
                   const DiagnoseSettings& s, std::optional<fs::path> file)
      : state_(std::move(state)),
        interval_(s.snapshot_interval),
        file_(std::move(file)),
        session_("pg_stat_statements snapshot of target '" + target.name + "'", target.conninfo,
                 s.statement_timeout) {}
  std::string name() const override { return "statements:" + state_->target; }
  Millis interval() const override { return interval_; }

  monitor::CollectResult Collect() override {
    monitor::FamilyBuilder b(std::chrono::system_clock::now());
    monitor::Labels l{{"target", state_->target}};
    try {
      diagnose::StatementSnapshot snapshot = diagnose::TakeStatementSnapshot(session_.Get());
      double rows = static_cast<double>(snapshot.rows.size());
      std::size_t kept = 0;
      {
        std::lock_guard lock(state_->mu);
        state_->statements.Add(std::move(snapshot));
        // Saved for `dbmedic top-queries --since`, which runs in another process.
        if (file_) state_->statements.Save(*file_);
        kept = state_->statements.size();
      }
      b.Gauge("dbmedic_pg_statements_tracked", "Entries in pg_stat_statements at the last "
              "snapshot.", l, rows);
      b.Gauge("dbmedic_pg_statement_snapshots", "pg_stat_statements snapshots the agent keeps.",
              l, static_cast<double>(kept));
      session_.Succeeded();
      return {b.Take(), std::nullopt};
    } catch (const std::exception& e) {
      return session_.Failed(b, e);
    }
  }

 private:
  std::shared_ptr<TargetDiagnosis> state_;
  Millis interval_;
  std::optional<fs::path> file_;
  Session session_;
};

class WaitSampler final : public monitor::Collector {
 public:
  WaitSampler(const monitor::MonitorTarget& target, std::shared_ptr<TargetDiagnosis> state,
              const DiagnoseSettings& s)
      : state_(std::move(state)),
        session_("wait-event sampling of target '" + target.name + "'", target.conninfo,
                 s.statement_timeout) {}
  std::string name() const override { return "waits:" + state_->target; }
  Millis interval() const override { return state_->wait_interval; }

  monitor::CollectResult Collect() override {
    monitor::FamilyBuilder b(std::chrono::system_clock::now());
    try {
      std::vector<diagnose::WaitSample> round = diagnose::SampleActivity(session_.Get());
      for (auto& s : round) {
        if (s.query.size() > kSampleQueryChars) s.query.resize(kSampleQueryChars);
        ++counts_[{s.wait_event_type, s.wait_event}];  // bounded: PostgreSQL's wait events
      }
      double active = static_cast<double>(round.size());
      std::size_t held = 0;
      std::size_t strings = 0;
      {
        std::lock_guard lock(state_->mu);
        state_->waits.Add(round);
        held = state_->waits.size();
        strings = state_->waits.distinct_strings();
      }
      for (const auto& [event, n] : counts_) {
        b.Counter("dbmedic_pg_wait_samples_total",
                  "Active sessions seen per wait event by the sampler (\"CPU\": no wait); "
                  "rate() x interval = average sessions in that state.",
                  {{"target", state_->target}, {"wait_event_type", event.first},
                   {"wait_event", event.second}},
                  static_cast<double>(n));
      }
      b.Gauge("dbmedic_pg_active_sessions", "Active sessions at the last wait sample.",
              {{"target", state_->target}}, active);
      b.Gauge("dbmedic_pg_wait_history_samples", "Session samples the agent's active-session "
              "history holds (diagnose.wait_history_window, at most wait_history_samples).",
              {{"target", state_->target}}, static_cast<double>(held));
      b.Gauge("dbmedic_pg_wait_history_strings", "Distinct strings (database, user, wait event, "
              "query text) the active-session history holds, each once.",
              {{"target", state_->target}}, static_cast<double>(strings));
      session_.Succeeded();
      return {b.Take(), std::nullopt};
    } catch (const std::exception& e) {
      return session_.Failed(b, e);
    }
  }

 private:
  std::shared_ptr<TargetDiagnosis> state_;
  Session session_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> counts_;
};

monitor::HttpReply JsonReply(const json& body, int status = 200) {
  return {status, "application/json", body.dump()};
}

std::string Param(const monitor::HttpParams& params, const std::string& key,
                  const std::string& fallback) {
  auto it = params.find(key);
  return it == params.end() || it->second.empty() ? fallback : it->second;
}

// The target named by ?target= (default: the first). nullptr if unknown.
std::shared_ptr<TargetDiagnosis> FindTarget(
    const std::vector<std::shared_ptr<TargetDiagnosis>>& targets, const monitor::HttpParams& p) {
  std::string name = Param(p, "target", targets.front()->target);
  for (const auto& t : targets) {
    if (t->target == name) return t;
  }
  return nullptr;
}

std::optional<monitor::HttpReply> UnknownTarget(const std::shared_ptr<TargetDiagnosis>& t,
                                                const monitor::HttpParams& p) {
  if (t) return std::nullopt;
  return JsonReply({{"error", fmt::format("unknown target '{}'", Param(p, "target", ""))}}, 404);
}

monitor::HttpReply TopQueries(const std::vector<std::shared_ptr<TargetDiagnosis>>& targets,
                              const monitor::HttpParams& params) {
  auto t = FindTarget(targets, params);
  if (auto reply = UnknownTarget(t, params)) return *reply;
  std::string since_text = Param(params, "since", "15m");
  auto since = core::ParseDuration(since_text);
  auto order = diagnose::ParseStatementOrder(Param(params, "by", "total"));
  auto limit = static_cast<std::size_t>(std::stoul(Param(params, "limit", "20")));
  std::lock_guard lock(t->mu);
  const auto* newest = t->statements.Newest();
  // The snapshot `since` old, or the oldest one while the agent is younger than that.
  const auto* old = t->statements.AtOrBefore(diagnose::Clock::now() - since);
  if (old == nullptr) old = t->statements.Oldest();
  if (newest == nullptr || old == newest) {
    return JsonReply({{"error", fmt::format("target '{}': fewer than two pg_stat_statements "
                                            "snapshots yet", t->target)},
                      {"hint", "the agent takes one every diagnose.snapshot_interval; check "
                               "/healthz for the statements collector's error"}},
                     404);
  }
  json out = diagnose::TopStatementsToJson(diagnose::DiffSnapshots(*old, *newest, order, limit));
  out["target"] = t->target;
  out["since"] = since_text;
  return JsonReply(out);
}

monitor::HttpReply Waits(const std::vector<std::shared_ptr<TargetDiagnosis>>& targets,
                         const monitor::HttpParams& params) {
  auto t = FindTarget(targets, params);
  if (auto reply = UnknownTarget(t, params)) return *reply;
  std::string since_text = Param(params, "since", "15m");
  auto since = core::ParseDuration(since_text);
  auto limit = static_cast<std::size_t>(std::stoul(Param(params, "limit", "10")));
  auto since_ms = std::chrono::duration_cast<Millis>(
                      (diagnose::Clock::now() - since).time_since_epoch()).count();
  diagnose::SamplingRun run;
  {
    std::lock_guard lock(t->mu);
    run = t->waits.Since(since_ms);
  }
  json out = diagnose::WaitProfileToJson(
      diagnose::ProfileWaits(run.samples, run.snapshots, t->wait_interval, limit));
  out["target"] = t->target;
  out["since"] = since_text;
  return JsonReply(out);
}

// Bad parameters are the caller's fault: 400 with the message and hint.
monitor::HttpHandler Guarded(std::function<monitor::HttpReply(const monitor::HttpParams&)> fn) {
  return [fn = std::move(fn)](const monitor::HttpParams& params) {
    try {
      return fn(params);
    } catch (const Error& e) {
      int status = e.code() == ErrorCode::kUsage ? 400 : 500;
      return JsonReply({{"error", e.what()}, {"hint", e.hint()}}, status);
    } catch (const std::logic_error& e) {  // std::stoul: not a number, or too large
      return JsonReply({{"error", std::string("bad number: ") + e.what()}}, 400);
    }
  };
}

// Snapshots saved by an earlier run (or `top-queries --record`), so a restart keeps --since.
void Preload(TargetDiagnosis& t, const fs::path& file, const DiagnoseSettings& s) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return;
  try {
    auto stored = diagnose::StatementSnapshotStore::Load(
        file, s.snapshot_keep,
        std::chrono::duration_cast<std::chrono::seconds>(s.snapshot_interval *
                                                         (s.snapshot_keep + 1)));
    t.statements = std::move(stored);
  } catch (const Error& e) {
    spdlog::warn("monitor: ignoring stored pg_stat_statements snapshots: {}", e.what());
  }
}

}  // namespace

void CheckDiagnoseSettings(const core::Config& config) { (void)LoadSettings(config); }

void AttachDiagnose(monitor::Agent& agent, const core::Config& config) {
  DiagnoseSettings s = LoadSettings(config);
  if (agent.targets().empty()) return;
  std::vector<std::shared_ptr<TargetDiagnosis>> targets;
  bool first = true;
  for (const auto& target : agent.targets()) {
    auto state = std::make_shared<TargetDiagnosis>(target.name, s);
    // One snapshot file: the first target's (the cluster.* one without [[monitor_target]]).
    std::optional<fs::path> file = first ? s.snapshot_file : std::nullopt;
    first = false;
    if (s.snapshot_interval.count() > 0) {
      if (file) Preload(*state, *file, s);
      agent.AddCollector(std::make_unique<StatementSampler>(target, state, s, file));
    }
    if (s.wait_interval.count() > 0) {
      agent.AddCollector(std::make_unique<WaitSampler>(target, state, s));
    }
    targets.push_back(std::move(state));
  }
  agent.AddRoute({"/api/top-queries", Guarded([targets](const monitor::HttpParams& p) {
                    return TopQueries(targets, p);
                  })});
  agent.AddRoute({"/api/waits", Guarded([targets](const monitor::HttpParams& p) {
                    return Waits(targets, p);
                  })});
}

}  // namespace dbmedic::cli
