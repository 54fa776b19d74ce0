// `dbmedic incidents`: destructive transactions (DROP, TRUNCATE, mass DELETE/UPDATE) found in a
// directory of WAL segments, named through a relation catalog. And `dbmedic catalog capture`,
// which records that catalog (relfilenode -> table) from the running cluster.
#include <memory>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/incident_scan.hpp"
#include "diagnose/session.hpp"
#include "core/error.hpp"
#include "forensics/catalog_store.hpp"
#include "forensics/incident_scanner.hpp"
#include "repo/cluster.hpp"
#include "pg/connection.hpp"
#include "pg/relation_catalog.hpp"
#include "pg/wal_decoders.hpp"
#include "pg/wal_reader.hpp"
#include "pg/wal_source.hpp"

namespace dbmedic::cli {
namespace {

struct IncidentsArgs {
  std::string since;
  std::string until;
  std::string table;
  std::uint32_t timeline = 0;
};

std::string RowsText(const forensics::AffectedRelation& r) {
  if (!r.rows_known) return "unknown";
  return r.rows_estimated ? fmt::format("~{}", r.rows) : std::to_string(r.rows);
}

void PrintIncidents(const forensics::IncidentReport& report) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& i : report.incidents) {
    for (const auto& r : i.relations) {
      rows.push_back({pg::FormatPgTimestamp(i.commit_time), std::to_string(i.xid),
                      i.commit_lsn.ToString(),
                      i.database_name.empty() ? std::to_string(i.database) : i.database_name,
                      std::string(forensics::IncidentKindName(r.action)), r.name, RowsText(r),
                      std::to_string(i.later_commits)});
    }
  }
  if (rows.empty()) {
    fmt::print("No destructive transactions in {} .. {} ({} records, {} commits).\n",
               report.first_lsn.ToString(), report.last_lsn.ToString(), report.records,
               report.commits);
  } else {
    PrintTable({"COMMIT TIME", "XID", "COMMIT LSN", "DATABASE", "ACTION", "RELATION", "ROWS",
                "COMMITS AFTER"},
               rows);
    fmt::print("\n{} incident(s) in {} records ({} .. {}). Who ran them is not in the WAL: "
               "check the server log around the commit time.\n",
               report.incidents.size(), report.records, report.first_lsn.ToString(),
               report.last_lsn.ToString());
    fmt::print("Restore to just before one: dbmedic restore --target-dir DIR "
               "--before-incident XID (or: --before-incident latest --table NAME).\n");
  }
  if (!report.catalog_used && !report.incidents.empty()) {
    fmt::print("Relations are unnamed: no catalog snapshot in the repository yet (every backup "
               "takes one; or 'dbmedic catalog capture'), and the cluster could not be read.\n");
  }
}

void RunIncidents(Context& ctx, const IncidentsArgs& args) {
  const core::Config& config = ctx.config();
  forensics::IncidentOptions options;
  if (!args.since.empty()) options.since = forensics::ParseTimestamp(args.since);
  if (!args.until.empty()) options.until = forensics::ParseTimestamp(args.until);
  if (!args.table.empty()) options.table = args.table;
  options.min_rows = static_cast<std::uint64_t>(config.Int("forensics.min_rows"));
  options.min_percent = static_cast<int>(config.Int("forensics.min_percent"));
  IncidentScan scan = ScanForIncidents(
      ctx, options,
      args.timeline ? std::optional<pg::TimelineId>(args.timeline) : std::nullopt);
  const forensics::IncidentReport& report = scan.report;
  if (ctx.json()) {
    nlohmann::json j = forensics::ToJson(report);
    j["scan"]["source"] = scan.source;
    j["scan"]["catalog_snapshots"] = scan.catalog_snapshots;
    j["scan"]["live_snapshot"] = scan.live_snapshot;
    PrintJson(j);
  } else {
    fmt::print("Scanned {} ({} segments, catalog: {} snapshot(s){}).\n", scan.source,
               report.segments, scan.catalog_snapshots,
               scan.live_snapshot ? " incl. the running cluster" : "");
    PrintIncidents(report);
  }
  bool damaged = report.error_exit_code.has_value();
  fmt::print(stderr, "{}: scan stopped at {}: {}\n", damaged ? "ERROR" : "note",
             report.stop.lsn.ToString(), report.stop.detail);
  if (damaged) ctx.exit_code = *report.error_exit_code;
}

void RunCaptureToFile(Context& ctx, const std::string& out) {
  const core::Config& config = ctx.config();
  pg::RelationCatalog catalog;
  std::error_code ec;
  if (std::filesystem::exists(out, ec)) catalog = pg::RelationCatalog::Load(out);
  pg::CatalogSnapshot snapshot = pg::CaptureClusterCatalog(diagnose::ConnInfoFromConfig(config));
  std::size_t relations = snapshot.relations.size();
  std::size_t databases = snapshot.databases.size();
  std::string lsn = snapshot.lsn.ToString();
  std::string at = snapshot.captured_at;
  catalog.Add(std::move(snapshot));
  catalog.Save(out);
  if (ctx.json()) {
    PrintJson({{"file", out}, {"captured_at", at}, {"lsn", lsn}, {"relations", relations},
               {"databases", databases}, {"snapshots", catalog.snapshots().size()}});
    return;
  }
  fmt::print("Captured {} relations of {} databases at {} (LSN {}) into {} ({} snapshots).\n",
             relations, databases, at, lsn, out, catalog.snapshots().size());
}

void RunCaptureToRepository(Context& ctx) {
  const core::Config& config = ctx.config();
  repo::Repository repository = repo::OpenRepository(config);
  forensics::CaptureResult r =
      forensics::CaptureIntoRepository(repository, diagnose::ConnInfoFromConfig(config));
  const std::string where = repository.storage().Describe(forensics::kCatalogObject);
  if (ctx.json()) {
    PrintJson({{"object", where}, {"captured_at", r.captured_at}, {"lsn", r.lsn},
               {"relations", r.relations}, {"databases", r.databases},
               {"snapshots", r.snapshots}});
    return;
  }
  fmt::print("Captured {} relations of {} databases at {} (LSN {}) into {} ({} snapshots).\n",
             r.relations, r.databases, r.captured_at, r.lsn, where, r.snapshots);
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<IncidentsArgs>();
  CLI::App* cmd = root.add_subcommand(
      "incidents",
      "List destructive transactions in the WAL archive (or --wal-dir): DROP, TRUNCATE, and "
      "DELETE/UPDATE over many rows, with xid, commit time, commit LSN, database, tables, row "
      "counts and how many transactions committed after each");
  AddConfigOption(cmd, ctx, "forensics.wal_dir");
  AddConfigOption(cmd, ctx, "repository.path");
  AddConfigOption(cmd, ctx, "forensics.live_snapshot");
  AddConfigOption(cmd, ctx, "forensics.catalog");
  AddConfigOption(cmd, ctx, "forensics.min_rows");
  AddConfigOption(cmd, ctx, "forensics.min_percent");
  AddConfigOption(cmd, ctx, "forensics.jobs");
  // The running cluster, for the live catalog snapshot when the stored catalog cannot name a
  // relation (forensics.live_snapshot).
  for (const char* key : {"cluster.host", "cluster.port", "cluster.user", "cluster.dbname"}) {
    AddConfigOption(cmd, ctx, key);
  }
  cmd->add_option("--since", args->since, "Only transactions committed at or after this time "
                                          "(UTC unless an offset is given)");
  cmd->add_option("--until", args->until, "Only transactions committed at or before this time");
  cmd->add_option("--table", args->table, "Only incidents touching this table (schema.table "
                                          "or table)");
  cmd->add_option("--timeline", args->timeline, "Timeline to follow (default: the highest)");
  cmd->callback([&ctx, args] { RunIncidents(ctx, *args); });

  auto out = std::make_shared<std::string>();
  CLI::App* catalog = root.add_subcommand(
      "catalog", "The relation catalog that names relfilenodes seen in the WAL");
  catalog->require_subcommand(1);
  CLI::App* capture = catalog->add_subcommand(
      "capture", "Capture pg_class (relfilenode -> schema.table) of every database and add it "
                 "as a time-stamped snapshot to the repository's catalog (or to --out FILE). "
                 "Every backup does this too");
  capture->add_option("--out", *out, "Catalog file (JSON) instead of the repository; created "
                                     "or appended to");
  AddConfigOption(capture, ctx, "repository.path");
  for (const char* key : {"cluster.host", "cluster.port", "cluster.user", "cluster.dbname"}) {
    AddConfigOption(capture, ctx, key);
  }
  capture->callback([&ctx, out] {
    if (out->empty()) {
      RunCaptureToRepository(ctx);
    } else {
      RunCaptureToFile(ctx, *out);
    }
  });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
