// `dbmedic monitor`: runs the monitoring agent in the foreground until SIGINT/SIGTERM (or
// --run-for). docs/dbmedic-monitor.service runs it under systemd.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/agent_diagnose.hpp"
#include "cli/catalog_capture.hpp"
#include "cli/command.hpp"
#include "core/error.hpp"
#include "monitor/agent.hpp"
#include "monitor/collector.hpp"
#include "monitor/alert_rule.hpp"
#include "monitor/notifier.hpp"
#include "monitor/target.hpp"

namespace dbmedic::cli {

// Recovery objectives for the agent (recovery_metrics.cpp).
std::unique_ptr<monitor::Collector> MakeRecoveryCollector(Context& ctx);
std::vector<monitor::AlertRule> RecoveryAlertRules(const core::Config& config);

namespace {

struct MonitorArgs {
  std::string run_for;
  bool check = false;
};

// Waits for SIGINT/SIGTERM (blocked in every thread, so only this wait sees them) or the deadline.
void WaitForSignal(std::optional<std::chrono::milliseconds> run_for, const sigset_t& signals) {
  auto deadline = run_for ? std::chrono::steady_clock::now() + *run_for
                          : std::chrono::steady_clock::time_point::max();
  while (std::chrono::steady_clock::now() < deadline) {
    timespec tick{0, 200'000'000};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("monitor: received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
      return;
    }
  }
}

void PrintCheck(Context& ctx, const std::vector<monitor::MonitorTarget>& targets,
                const std::vector<monitor::AlertRule>& rules,
                const std::vector<monitor::NotifierConfig>& notifiers) {
  if (ctx.json()) {
    nlohmann::json j = {{"targets", nlohmann::json::array()}, {"rules", nlohmann::json::array()},
                        {"notifiers", nlohmann::json::array()}};
    for (const auto& t : targets) j["targets"].push_back(t.name);
    for (const auto& r : rules) j["rules"].push_back({{"name", r.name}, {"expr", r.ToPromQL()}});
    for (const auto& n : notifiers) j["notifiers"].push_back(n.name);
    PrintJson(j);
    return;
  }
  fmt::print("configuration OK: {} target(s), {} rule(s), {} notifier(s)\n", targets.size(),
             rules.size(), notifiers.size());
}

void Run(Context& ctx, const MonitorArgs& args) {
  const auto& config = ctx.config();
  auto settings = monitor::LoadAgentSettings(config);
  auto targets = monitor::LoadTargets(config);
  auto rules = monitor::LoadAlertRules(config);
  // Recovery rules join the defaults when the repository is configured; an [[alert]] with the
  // same name wins, as for the shipped defaults.
  const bool recovery = config.Has("repository.path");
  if (recovery && config.Bool("monitor.default_alerts")) {
    for (monitor::AlertRule& r : RecoveryAlertRules(config)) {
      const bool overridden = std::any_of(rules.begin(), rules.end(),
                                          [&](const monitor::AlertRule& o) { return o.name == r.name; });
      if (!overridden) rules.push_back(std::move(r));
    }
  }
  auto file = config.file() ? config.file()->string() : std::string();
  auto notifiers = monitor::ParseNotifiers(config.Raw(), file);
  CheckDiagnoseSettings(config);
  if (args.check) {
    PrintCheck(ctx, targets, rules, notifiers);
    return;
  }
  std::optional<std::chrono::milliseconds> run_for;
  if (!args.run_for.empty()) run_for = core::ParseDuration(args.run_for);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts

  monitor::SystemClock clock;
  monitor::Agent agent(settings, std::move(targets), std::move(rules), std::move(notifiers),
                       clock);
  AttachDiagnose(agent, config);  // top queries and wait events, kept by the agent
  const PeriodicCatalogCapture catalog_capture(config);  // names for `incidents`
  if (recovery) agent.AddCollector(MakeRecoveryCollector(ctx));
  agent.Start();
  if (ctx.json()) {
    PrintJson({{"url", agent.BaseUrl()}, {"port", agent.port()}});
  } else {
    fmt::print("dbmedic monitor: serving {} (dashboard /, metrics /metrics)\n", agent.BaseUrl());
  }
  std::fflush(stdout);
  WaitForSignal(run_for, signals);
  agent.Stop();
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<MonitorArgs>();
  auto* cmd = root.add_subcommand(
      "monitor",
      "Run the monitoring agent in the foreground: collectors (host and every [[monitor_target]] "
      "or the cluster.* keys), Prometheus /metrics, JSON /api, dashboard, history and alerts.");
  for (const char* key : {"monitor.listen_address", "monitor.port", "monitor.history_path",
                          "monitor.host_interval", "monitor.pg_interval", "monitor.size_interval",
                          "monitor.evaluation_interval", "monitor.history_interval",
                          "cluster.host", "cluster.port", "cluster.data_dir",
                          "diagnose.snapshot_interval", "diagnose.wait_sample_interval",
                          "diagnose.snapshot_file", "forensics.capture_interval"}) {
    AddConfigOption(cmd, ctx, key);
  }
  cmd->add_option("--run-for", args->run_for,
                  "Stop after this long (e.g. 10m); default: run until SIGINT/SIGTERM");
  cmd->add_flag("--check", args->check,
                "Validate the configuration (targets, [[alert]], [[notifier]]) and exit");
  cmd->callback([&ctx, args] { Run(ctx, *args); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
