// `dbmedic waits --duration 60s --interval 100ms`: samples active sessions' wait events and
// shows where the time goes, by wait event, by query and by relation for lock waits.
#include <unistd.h>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "diagnose/session.hpp"
#include "diagnose/text_table.hpp"
#include "diagnose/wait_sampler.hpp"

namespace dbmedic::cli {
namespace {

struct WaitsArgs {
  std::string duration = "60s";
  std::string interval = "100ms";
  std::size_t limit = 15;
};

std::vector<std::vector<std::string>> Rows(const std::vector<diagnose::WaitShare>& shares,
                                           bool with_detail) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : shares) {
    std::vector<std::string> row = {fmt::format("{:.1f}%", s.share * 100),
                                    fmt::format("{:.2f}", s.seconds), std::to_string(s.samples)};
    if (with_detail) row.push_back(s.detail);
    row.push_back(diagnose::OneLine(s.key).substr(0, 120));
    rows.push_back(std::move(row));
  }
  return rows;
}

void Run(Context& ctx, const WaitsArgs& args) {
  auto duration = core::ParseDuration(args.duration);
  auto interval = core::ParseDuration(args.interval);
  if (interval.count() <= 0 || duration < interval) {
    throw Error(ErrorCode::kUsage,
                fmt::format("--interval {} must be positive and not longer than --duration {}",
                            args.interval, args.duration),
                "e.g. --duration 60s --interval 100ms");
  }
  const core::Config& config = ctx.config();
  pg::Connection conn = diagnose::OpenDiagnoseSession(
      diagnose::ConnInfoFromConfig(config), config.Duration("diagnose.statement_timeout"));
  if (!ctx.json() && ::isatty(STDERR_FILENO)) {  // a minute of silence looks like a hang
    fmt::print(stderr, "Sampling pg_stat_activity every {} for {} ...\n", args.interval,
               args.duration);
  }
  diagnose::SamplingRun run = diagnose::SampleFor(conn, duration, interval);
  diagnose::WaitProfile profile =
      diagnose::ProfileWaits(run.samples, run.snapshots, interval, args.limit);
  if (ctx.json()) {
    PrintJson(diagnose::WaitProfileToJson(profile));
    return;
  }
  fmt::print("{} rounds every {} ms, {} session samples, {:.2f} active sessions on average\n\n",
             profile.snapshots, interval.count(), profile.samples, profile.average_active);
  fmt::print("By wait event (CPU = active without a wait event)\n");
  PrintTable({"SHARE", "SECONDS", "SAMPLES", "TYPE", "EVENT"}, Rows(profile.by_event, true));
  fmt::print("\nBy query\n");
  PrintTable({"SHARE", "SECONDS", "SAMPLES", "MAIN EVENT", "QUERY"}, Rows(profile.by_query, true));
  if (!profile.by_relation.empty()) {
    fmt::print("\nLock waits by relation\n");
    PrintTable({"SHARE", "SECONDS", "SAMPLES", "LOCK", "RELATION"},
               Rows(profile.by_relation, true));
  }
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<WaitsArgs>();
  auto* cmd = root.add_subcommand(
      "waits",
      "Sample pg_stat_activity's wait events for a while (active-session history) and show "
      "where the time goes: by wait event, by query, and by relation for lock waits.");
  cmd->add_option("--duration", args->duration, "How long to sample (default 60s)");
  cmd->add_option("--interval", args->interval, "Time between samples (default 100ms)");
  cmd->add_option("--limit", args->limit, "Rows per list (default 15)");
  for (const char* key : {"cluster.host", "cluster.port", "cluster.user", "cluster.dbname",
                          "diagnose.statement_timeout"}) {
    AddConfigOption(cmd, ctx, key);
  }
  cmd->callback([&ctx, args] { Run(ctx, *args); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
