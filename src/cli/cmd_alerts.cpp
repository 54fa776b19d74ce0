// `dbmedic alerts` (current alert states, as the agent last saved them) and
// `dbmedic export-rules` (the configured rules as a Prometheus rules file).
#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "monitor/alert_rule.hpp"
#include "monitor/exposition.hpp"
#include "monitor/history_store.hpp"
#include "monitor/notifier.hpp"

namespace dbmedic::cli {
namespace {

void RunAlerts(Context& ctx) {
  auto store = monitor::HistoryStore::Open(ctx.config().Path("monitor.history_path"),
                                           monitor::HistoryStore::Mode::kReadOnly);
  auto alerts = store.LoadAlerts();
  if (ctx.json()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& a : alerts) {
      out.push_back({{"alertname", a.rule}, {"state", monitor::AlertStateName(a.state)},
                     {"labels", a.labels}, {"value", a.value}, {"summary", a.summary},
                     {"active_since", monitor::Rfc3339(a.active_since)},
                     {"fired_at", monitor::Rfc3339(a.fired_at)},
                     {"resolved_at", monitor::Rfc3339(a.resolved_at)}});
    }
    PrintJson(out);
    return;
  }
  if (alerts.empty()) {
    fmt::print("no alerts (pending, firing or recently resolved)\n");
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : alerts) {
    auto since = a.state == monitor::AlertState::kResolved ? a.resolved_at
                 : a.state == monitor::AlertState::kFiring ? a.fired_at
                                                           : a.active_since;
    auto target = a.labels.find("target");
    rows.push_back({std::string(monitor::AlertStateName(a.state)), a.rule,
                    a.labels.at("severity"), target == a.labels.end() ? "" : target->second,
                    monitor::FormatValue(a.value), monitor::Rfc3339(since), a.summary});
  }
  PrintTable({"STATE", "ALERT", "SEVERITY", "TARGET", "VALUE", "SINCE", "SUMMARY"}, rows);
}

void RunExport(Context& ctx, const std::string& file) {
  auto rules = monitor::LoadAlertRules(ctx.config());
  std::string yaml = monitor::ExportPrometheusRules(rules);
  if (file.empty()) {
    fmt::print("{}", yaml);
    return;
  }
  core::AtomicWriteFile(file, yaml);
  if (ctx.json()) {
    PrintJson({{"file", file}, {"rules", rules.size()}});
  } else {
    fmt::print("wrote {} rules to {}\n", rules.size(), file);
  }
}

void Setup(CLI::App& root, Context& ctx) {
  auto* alerts = root.add_subcommand(
      "alerts", "Show alert states (pending, firing, recently resolved) saved by dbmedic monitor.");
  AddConfigOption(alerts, ctx, "monitor.history_path");
  alerts->callback([&ctx] { RunAlerts(ctx); });

  auto file = std::make_shared<std::string>();
  auto* exp = root.add_subcommand(
      "export-rules",
      "Write the alert rules (defaults and [[alert]]) as a Prometheus rules file "
      "(promtool check rules accepts it).");
  exp->add_option("-f,--file", *file, "Write to this file instead of stdout");
  exp->callback([&ctx, file] { RunExport(ctx, *file); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
