// `dbmedic top-queries [--since 15m] [--by total|mean|calls|io|rows] [--limit N]`: what ran
// lately, from pg_stat_statements deltas — against a stored snapshot (--since, from the file the
// agent or `--record` keeps) or between two snapshots --interval apart.
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "diagnose/session.hpp"
#include "diagnose/statements.hpp"
#include "diagnose/text_table.hpp"

namespace dbmedic::cli {
namespace {

constexpr std::size_t kStoreSnapshots = 200;
constexpr std::chrono::hours kStoreAge{48};

struct TopArgs {
  std::string since;
  std::string interval = "10s";
  std::string by = "total";
  std::size_t limit = 20;
  bool record = false;
};

diagnose::StatementSnapshotStore LoadStore(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return {kStoreSnapshots, kStoreAge};
  return diagnose::StatementSnapshotStore::Load(file, kStoreSnapshots, kStoreAge);
}

std::filesystem::path SnapshotFile(const core::Config& config, std::string_view why) {
  auto file = config.Optional("diagnose.snapshot_file");
  if (!file || file->empty()) {
    throw Error(ErrorCode::kUsage, fmt::format("{} needs a snapshot file", why),
                "set diagnose.snapshot_file (or --diagnose-snapshot-file), or measure now with "
                "--interval 30s");
  }
  return config.Path("diagnose.snapshot_file");
}

diagnose::TopStatements Measure(Context& ctx, const TopArgs& args, pg::Connection& conn) {
  auto order = diagnose::ParseStatementOrder(args.by);
  const core::Config& config = ctx.config();
  if (!args.since.empty()) {
    auto file = SnapshotFile(config, "--since");
    auto store = LoadStore(file);
    auto since = core::ParseDuration(args.since);
    const auto* old = store.AtOrBefore(diagnose::Clock::now() - since);
    if (old == nullptr) {
      throw Error(ErrorCode::kNotFound,
                  fmt::format("no pg_stat_statements snapshot {} old in '{}' ({} snapshot(s))",
                              args.since, file.string(), store.size()),
                  "the agent (or `dbmedic top-queries --record` from cron) keeps them; measure "
                  "now with --interval 30s instead");
    }
    return diagnose::DiffSnapshots(*old, diagnose::TakeStatementSnapshot(conn), order, args.limit);
  }
  auto interval = core::ParseDuration(args.interval);
  auto before = diagnose::TakeStatementSnapshot(conn);
  if (!ctx.json()) fmt::print("Measuring for {} ...\n", args.interval);
  std::this_thread::sleep_for(interval);
  return diagnose::DiffSnapshots(before, diagnose::TakeStatementSnapshot(conn), order, args.limit);
}

void Print(const diagnose::TopStatements& top) {
  double seconds = std::chrono::duration<double>(top.to - top.from).count();
  fmt::print("{} calls, {:.1f} ms of execution in {:.1f} s\n", top.total_calls, top.total_ms,
             seconds);
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : top.top) {
    const auto& c = d.counters;
    rows.push_back({std::to_string(c.queryid), std::to_string(c.calls),
                    fmt::format("{:.1f}", c.total_ms), fmt::format("{:.2f}", d.mean_ms),
                    fmt::format("{:.1f}", c.max_ms), std::to_string(c.rows),
                    std::to_string(c.shared_blks_hit), std::to_string(c.shared_blks_read),
                    std::to_string(c.temp_blks_read + c.temp_blks_written),
                    fmt::format("{:.1f}%", d.share * 100),
                    diagnose::OneLine(c.query).substr(0, 80)});
  }
  PrintTable({"QUERYID", "CALLS", "TOTAL MS", "MEAN MS", "MAX MS*", "ROWS", "HIT", "READ", "TEMP",
              "SHARE", "QUERY"},
             rows);
  fmt::print("* max since the entry was created or pg_stat_statements was reset\n");
}

void Run(Context& ctx, const TopArgs& args) {
  const core::Config& config = ctx.config();
  pg::Connection conn = diagnose::OpenDiagnoseSession(
      diagnose::ConnInfoFromConfig(config), config.Duration("diagnose.statement_timeout"));
  if (args.record) {
    auto file = SnapshotFile(config, "--record");
    auto store = LoadStore(file);
    store.Add(diagnose::TakeStatementSnapshot(conn));
    store.Save(file);
    if (ctx.json()) {
      PrintJson({{"file", file.string()}, {"snapshots", store.size()}});
    } else {
      fmt::print("snapshot recorded in {} ({} kept)\n", file.string(), store.size());
    }
    return;
  }
  diagnose::TopStatements top = Measure(ctx, args, conn);
  if (ctx.json()) {
    PrintJson(diagnose::TopStatementsToJson(top));
    return;
  }
  Print(top);
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<TopArgs>();
  auto* cmd = root.add_subcommand(
      "top-queries",
      "Top statements from pg_stat_statements deltas: calls, total/mean/max time, rows, shared "
      "blocks hit/read, temp blocks, share of time. Needs pg_stat_statements (the error says "
      "what to change).");
  cmd->add_option("--since", args->since,
                  "Compare with the stored snapshot this old (15m, 1h; needs "
                  "diagnose.snapshot_file)");
  cmd->add_option("--interval", args->interval,
                  "Without --since: measure between two snapshots this far apart (default 10s)");
  cmd->add_option("--by", args->by, "Order: total, mean, calls, io, rows (default total)");
  cmd->add_option("--limit", args->limit, "Number of statements (default 20)");
  cmd->add_flag("--record", args->record,
                "Only add a snapshot to diagnose.snapshot_file (for cron, without the agent)");
  for (const char* key : {"cluster.host", "cluster.port", "cluster.user", "cluster.dbname",
                          "diagnose.statement_timeout", "diagnose.snapshot_file"}) {
    AddConfigOption(cmd, ctx, key);
  }
  cmd->callback([&ctx, args] { Run(ctx, *args); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
