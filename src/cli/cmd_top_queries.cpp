// `dbmedic top-queries [--since 15m] [--by total|mean|calls|io|rows] [--limit N]`: what ran
// lately, from pg_stat_statements deltas — against a stored snapshot (--since, from the file the
// agent or `--record` keeps) or, when there is none that old (no agent running), between two
// snapshots --interval apart.
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

struct Measured {
  diagnose::TopStatements top;
  std::string source;  // "snapshots" (the agent's or --record's) or "interval"
  std::string note;    // why --since fell back to measuring now (empty otherwise)
};

// The stored snapshot at least `since` old: nullopt with the reason when there is none.
std::optional<diagnose::StatementSnapshot> StoredSnapshot(const core::Config& config,
                                                          const std::string& since,
                                                          std::string& why_not) {
  auto file_key = config.Optional("diagnose.snapshot_file");
  if (!file_key || file_key->empty()) {
    why_not = "diagnose.snapshot_file is not set (the agent keeps its snapshots there)";
    return std::nullopt;
  }
  auto file = config.Path("diagnose.snapshot_file");
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    why_not = fmt::format("'{}' does not exist: is `dbmedic monitor` running?", file.string());
    return std::nullopt;
  }
  auto store = LoadStore(file);
  const auto* old = store.AtOrBefore(diagnose::Clock::now() - core::ParseDuration(since));
  if (old == nullptr) {
    why_not = fmt::format("no snapshot {} old in '{}' ({} snapshot(s))", since, file.string(),
                          store.size());
    return std::nullopt;
  }
  return *old;
}

Measured Measure(Context& ctx, const TopArgs& args, pg::Connection& conn) {
  auto order = diagnose::ParseStatementOrder(args.by);
  Measured m;
  if (!args.since.empty()) {
    if (auto old = StoredSnapshot(ctx.config(), args.since, m.note)) {
      m.top = diagnose::DiffSnapshots(*old, diagnose::TakeStatementSnapshot(conn), order,
                                      args.limit);
      m.source = "snapshots";
      return m;
    }
    m.note += fmt::format("; measuring over --interval {} instead", args.interval);
  }
  auto interval = core::ParseDuration(args.interval);
  auto before = diagnose::TakeStatementSnapshot(conn);
  if (!ctx.json()) {
    if (!m.note.empty()) fmt::print("{}\n", m.note);
    fmt::print("Measuring for {} ...\n", args.interval);
  }
  std::this_thread::sleep_for(interval);
  m.top = diagnose::DiffSnapshots(before, diagnose::TakeStatementSnapshot(conn), order,
                                  args.limit);
  m.source = "interval";
  return m;
}

void Print(const diagnose::TopStatements& top) {
  double seconds = std::chrono::duration<double>(top.to - top.from).count();
  fmt::print("{} calls, {:.1f} ms of execution in {:.1f} s\n", top.total_calls, top.total_ms,
             seconds);
  if (top.top.empty()) {
    fmt::print("No statement completed in this interval.\n");
    return;
  }
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
  Measured m = Measure(ctx, args, conn);
  if (ctx.json()) {
    auto j = diagnose::TopStatementsToJson(m.top);
    j["source"] = m.source;
    if (!m.note.empty()) j["note"] = m.note;
    PrintJson(j);
    return;
  }
  Print(m.top);
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<TopArgs>();
  auto* cmd = root.add_subcommand(
      "top-queries",
      "Top statements from pg_stat_statements deltas: calls, total/mean/max time, rows, shared "
      "blocks hit/read, temp blocks, share of time. Needs pg_stat_statements (the error says "
      "what to change).");
  cmd->add_option("--since", args->since,
                  "Compare with the agent's stored snapshot this old (15m, 1h; from "
                  "diagnose.snapshot_file); without one, measure over --interval");
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
