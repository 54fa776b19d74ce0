// `dbmedic undo`: bring one table back from just before an accident into the live cluster,
// keeping every other change (rescue/undo.hpp). The incident form takes the xid that
// `dbmedic incidents` lists and finds its tables in the WAL with the forensics module; the CLI
// is where forensics, restore and rescue meet.
#include <unistd.h>

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/incident_scan.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "forensics/catalog_store.hpp"
#include "forensics/incident_scanner.hpp"
#include "pg/connection.hpp"
#include "pg/relation_catalog.hpp"
#include "pg/wal_reader.hpp"
#include "pg/wal_source.hpp"
#include "repo/cluster.hpp"
#include "repo/repository_set.hpp"
#include "rescue/undo.hpp"
#include "wal/archive_catalog.hpp"
#include "wal/wal_filter.hpp"

namespace dbmedic::cli {

repo::RepositoryConfig FirstHealthyRepository(Context& ctx);  // cmd_repo.cpp

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);
std::function<void(std::uint64_t, std::uint64_t)> MakeProgressPrinter(const char* verb);
restore::ArchiveView LoadArchiveView(const repo::Repository& repository);
std::string ScratchRestoreCommand(Context& ctx,
                                  const std::filesystem::path& wal_filter = {});
std::string ScratchRecoveryEndCommand();

namespace {

struct UndoArgs {
  std::string incident;
  std::vector<std::string> tables;
  std::string before;
  std::string into;
  std::string on_conflict;
  bool dry_run = false;
  bool yes = false;
};

bool IsNumber(std::string_view s) {
  return !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos;
}

// Just before a time or a transaction: exclusive, so the accident itself is not replayed.
restore::RecoveryTarget BeforeTarget(const std::string& before) {
  restore::RecoveryTarget t;
  t.inclusive = false;
  if (IsNumber(before)) {
    t.kind = restore::TargetKind::kXid;
    t.text = before;
    return t;
  }
  t.kind = restore::TargetKind::kTime;
  t.unix_micros = restore::ParseTargetTime(before);
  t.text = wal::FormatUnixMicros(*t.unix_micros);
  return t;
}

// The incident's tables and database, found like `dbmedic incidents` finds them: in the
// repository's WAL archive (or forensics.wal_dir), named through the repository's catalog (or
// forensics.catalog) and the live cluster's.
void ResolveIncident(Context& ctx, const std::string& xid, UndoArgs& args,
                     std::string& database) {
  const core::Config& config = ctx.config();
  forensics::IncidentOptions options;
  options.min_rows = static_cast<std::uint64_t>(config.Int("forensics.min_rows"));
  options.min_percent = static_cast<int>(config.Int("forensics.min_percent"));
  const IncidentScan scan = ScanForIncidents(ctx, options, std::nullopt);
  const forensics::Incident& incident = PickIncident(
      scan, static_cast<pg::TransactionId>(std::stoull(xid)), std::nullopt);
  for (const forensics::AffectedRelation& r : incident.relations) {
    if (r.relkind == "table") args.tables.push_back(r.name);
  }
  if (args.tables.empty()) {
    throw Error(ErrorCode::kUsage,
                fmt::format("incident {}: none of its relations is named as a table ({})", xid,
                            DescribeIncident(incident)),
                "give the table with --table NAME --before " + xid);
  }
  if (!incident.database_name.empty()) database = incident.database_name;
}

void PrintPlan(const rescue::UndoPlan& plan) {
  fmt::print("undo plan: side cluster from backup {} at {}, database {}\n", plan.label,
             plan.target, plan.database);
  for (const rescue::TablePlan& t : plan.tables) {
    fmt::print("  {}: {} -> {}; {} row(s) then, {} now; {} row(s) to bring back (match: {})\n",
               t.name, rescue::TableActionName(t.action), t.destination, t.old_rows,
               t.live_rows < 0 ? std::string("table absent") : std::to_string(t.live_rows),
               t.rows_to_insert, t.match);
    if (t.conflicting_rows > 0) {
      fmt::print("    {} row(s) changed since the incident\n", t.conflicting_rows);
    }
    for (const std::string& s : t.sequences) fmt::print("    sequence {}\n", s);
    for (const std::string& f : t.foreign_keys) fmt::print("    foreign key {} added back\n", f);
    for (const std::string& n : t.notes) fmt::print("    note: {}\n", n);
  }
}

bool AskToProceed(const rescue::UndoPlan& plan) {
  PrintPlan(plan);
  fmt::print("Apply this to the live cluster in one transaction? [y/N] ");
  std::fflush(stdout);
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

void PrintResult(const rescue::UndoResult& r) {
  if (!r.applied) {
    PrintPlan(r.plan);
    fmt::print("nothing changed ({})\n", "dry run or not confirmed");
    return;
  }
  for (const rescue::TableOutcome& o : r.outcomes) {
    fmt::print("{}: {} row(s) brought back{}\n", o.name, o.inserted,
               o.replaced ? fmt::format(", {} replaced by their old version", o.replaced) : "");
    for (const std::string& f : o.foreign_keys_added) fmt::print("  foreign key {} restored\n", f);
    for (const std::string& w : o.warnings) fmt::print("  WARNING: {}\n", w);
  }
  fmt::print("committed in one transaction; side cluster ready in {} ({} of the backup "
             "restored, {} of relations it does not need skipped{}), undo took {}\n",
             HumanSeconds(r.side_cluster_seconds), HumanBytes(r.side_bytes_restored),
             HumanBytes(r.side_bytes_skipped),
             r.side_wal_filtered
                 ? fmt::format(", and {} of their WAL not replayed",
                               HumanBytes(double(r.side_wal_bytes_skipped)))
                 : "",
             HumanSeconds(r.total_seconds));
}

void Run(Context& ctx, UndoArgs args) {
  const core::Config& config = ctx.config();
  std::string database = config.String("cluster.dbname");
  if (!args.incident.empty()) {
    if (!IsNumber(args.incident)) {
      throw Error(ErrorCode::kUsage, fmt::format("invalid incident '{}'", args.incident),
                  "give the XID that dbmedic incidents lists");
    }
    if (!args.before.empty()) {
      throw Error(ErrorCode::kUsage, "an incident and --before both given",
                  "the incident sets the target (just before its transaction): drop --before");
    }
    args.before = args.incident;
    if (args.tables.empty()) ResolveIncident(ctx, args.incident, args, database);
  }
  if (args.tables.empty() || args.before.empty()) {
    throw Error(ErrorCode::kUsage, "undo needs an incident, or --table NAME and --before TIME|XID",
                "e.g. dbmedic undo --table public.users --before '2026-11-29 13:04:05+00'");
  }
  const repo::Repository repository = repo::OpenRepository(config);
  rescue::UndoRequest request;
  request.tables = args.tables;
  request.database = database;
  request.live_conninfo =
      pg::ConnInfo(config.String("cluster.host"), static_cast<int>(config.Int("cluster.port")),
                   config.String("cluster.user"), database);
  request.side.target = BeforeTarget(args.before);
  request.side.restore_command = ScratchRestoreCommand(ctx);
  request.side.recovery_end_command = ScratchRecoveryEndCommand();
  if (config.Bool("undo.wal_filter")) {
    request.filtered_restore_command = [&ctx](const rescue::SideFiles& files,
                                              const std::filesystem::path& dir) {
      const wal::WalFilter filter{files.database, rescue::SparseRelfilenodes(files)};
      const std::filesystem::path file = dir / "wal-filter.json";
      core::AtomicWriteFile(file, filter.ToJson(), 0644);
      return ScratchRestoreCommand(ctx, file);
    };
  }
  request.side.os_user = config.String("cluster.os_user");
  request.side.jobs = static_cast<int>(config.Int("backup.jobs"));
  if (auto dir = config.Optional("drill.scratch_dir"); dir && !dir->empty()) {
    request.side.parent_dir = config.Path("drill.scratch_dir");
  }
  request.side.start_timeout = config.Duration("drill.timeout");
  if (auto print = MakeProgressPrinter("restore"); print && !ctx.json()) {
    request.side.on_progress = [print](const restore::RestoreProgress& p) {
      print(p.bytes_done, p.bytes_total);
    };
  }
  // Taken at every backup: lets the side cluster skip the relations undo does not read.
  const pg::RelationCatalog catalog = forensics::LoadRepositoryCatalog(repository);
  if (!catalog.empty()) request.catalog = &catalog;
  if (!args.into.empty()) request.into_schema = args.into;
  if (!args.on_conflict.empty()) request.on_conflict = rescue::ParseOnConflict(args.on_conflict);
  request.dry_run = args.dry_run;
  request.archive_wait = config.Duration("wal.check_timeout");
  if (!args.yes && !args.dry_run && !ctx.json() && ::isatty(STDIN_FILENO)) {
    request.confirm = AskToProceed;
  }
  const rescue::UndoResult result = rescue::RunUndo(
      repository, [&] { return LoadArchiveView(repository); }, request);
  if (ctx.json()) {
    PrintJson(rescue::ToJson(result));
  } else {
    PrintResult(result);
  }
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<UndoArgs>();
  CLI::App* cmd = root.add_subcommand(
      "undo",
      "Bring a dropped, truncated or mass-deleted table back from just before the accident, "
      "keeping every other change: a side cluster is restored to that instant, and the table "
      "(DDL, rows, sequences, foreign keys) is brought back into the live cluster in one "
      "transaction. Prints the plan first and asks on a terminal.");
  cmd->add_option("incident", args->incident,
                  "XID of the incident (dbmedic incidents); its tables are found in the WAL");
  cmd->add_option("--table", args->tables, "Table to bring back (schema.table); repeatable");
  cmd->add_option("--before", args->before,
                  "Restore to just before this time (with its zone) or transaction id");
  cmd->add_option("--into", args->into,
                  "Put the old content in SCHEMA.table beside the live table instead");
  cmd->add_option("--on-conflict", args->on_conflict,
                  "Rows changed since the incident: skip (keep today's) or replace (put the old "
                  "ones back); default: refuse")
      ->check(CLI::IsMember({"skip", "replace"}));
  cmd->add_flag("--dry-run", args->dry_run, "Print the plan and change nothing");
  cmd->add_flag("--yes", args->yes, "Do not ask for confirmation on a terminal");
  AddRepositoryOptions(cmd, ctx, true);
  AddConfigOption(cmd, ctx, "cluster.os_user");
  AddConfigOption(cmd, ctx, "backup.jobs");
  AddConfigOption(cmd, ctx, "drill.scratch_dir");
  AddConfigOption(cmd, ctx, "undo.wal_filter");
  AddConfigOption(cmd, ctx, "forensics.catalog");
  AddConfigOption(cmd, ctx, "forensics.wal_dir");
  AddConfigOption(cmd, ctx, "forensics.live_snapshot");
  cmd->callback([&ctx, args] {
    const repo::RepositoryConfig chosen = FirstHealthyRepository(ctx);
    const RepositoryScope scope(ctx, chosen.config, chosen.index);
    Run(ctx, *args);
  });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
