// `dbmedic metrics NAME --since 1h`: reads the monitor's history store.
#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "monitor/exposition.hpp"
#include "monitor/history_store.hpp"
#include "monitor/notifier.hpp"

namespace dbmedic::cli {
namespace {

struct MetricsArgs {
  std::string name;
  std::string since = "1h";
  std::vector<std::string> matchers;
  bool list = false;
  bool points = false;
};

std::vector<std::string> Summary(const monitor::SeriesPoints& s) {
  double min = s.points.front().second, max = min, sum = 0;
  for (const auto& [t, v] : s.points) {
    min = std::min(min, v);
    max = std::max(max, v);
    sum += v;
  }
  return {monitor::LabelsToString(s.labels), std::to_string(s.points.size()),
          monitor::FormatValue(min), monitor::FormatValue(sum / double(s.points.size())),
          monitor::FormatValue(max), monitor::FormatValue(s.points.back().second),
          monitor::Rfc3339(monitor::FromMillis(s.points.back().first))};
}

void Run(Context& ctx, const MetricsArgs& args) {
  auto store = monitor::HistoryStore::Open(ctx.config().Path("monitor.history_path"),
                                           monitor::HistoryStore::Mode::kReadOnly);
  if (args.list || args.name.empty()) {
    auto names = store.MetricNames();
    if (ctx.json()) {
      PrintJson(names);
    } else {
      for (const auto& n : names) fmt::print("{}\n", n);
    }
    return;
  }
  std::vector<monitor::LabelMatcher> matchers;
  for (const auto& m : args.matchers) matchers.push_back(monitor::ParseMatcher(m));
  auto now = std::chrono::system_clock::now();
  auto series = store.Query(args.name, now - core::ParseDuration(args.since), now, matchers);
  if (series.empty()) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("no samples of metric '{}' in the last {} in '{}'", args.name,
                            args.since, store.path().string()),
                "list the stored metrics with 'dbmedic metrics --list', or widen --since");
  }
  if (ctx.json()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : series) {
      out.push_back({{"name", s.name}, {"labels", s.labels}, {"points", s.points}});
    }
    PrintJson(out);
    return;
  }
  if (args.points) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : series) {
      for (const auto& [t, v] : s.points) {
        rows.push_back({monitor::Rfc3339(monitor::FromMillis(t)),
                        monitor::LabelsToString(s.labels), monitor::FormatValue(v)});
      }
    }
    PrintTable({"TIME", "LABELS", "VALUE"}, rows);
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : series) rows.push_back(Summary(s));
  fmt::print("{} over the last {}\n", args.name, args.since);
  PrintTable({"LABELS", "POINTS", "MIN", "AVG", "MAX", "LAST", "LAST AT"}, rows);
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<MetricsArgs>();
  auto* cmd = root.add_subcommand(
      "metrics", "Show a metric's history from the monitor's store (dbmedic monitor writes it).");
  cmd->add_option("name", args->name, "Metric name, e.g. dbmedic_pg_transactions_per_second");
  cmd->add_option("--since", args->since, "How far back: 15m, 1h, 7d (default 1h)");
  cmd->add_option("--match", args->matchers,
                  "Label matcher, repeatable: target=main, state!=idle, device=~sd.*");
  cmd->add_flag("--list", args->list, "List the stored metric names");
  cmd->add_flag("--points", args->points, "Print every point instead of a summary per series");
  AddConfigOption(cmd, ctx, "monitor.history_path");
  cmd->callback([&ctx, args] { Run(ctx, *args); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
