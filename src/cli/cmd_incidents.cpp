// `dbmedic incidents`: destructive transactions (DROP, TRUNCATE, mass DELETE/UPDATE) found in a
// directory of WAL segments, named through a relation catalog. And `dbmedic catalog capture`,
// which records that catalog (relfilenode -> table) from the running cluster.
#include <memory>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "forensics/incident_scanner.hpp"
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
                      std::string(forensics::IncidentKindName(r.action)), r.name, RowsText(r)});
    }
  }
  if (rows.empty()) {
    fmt::print("No destructive transactions in {} .. {} ({} records, {} commits).\n",
               report.first_lsn.ToString(), report.last_lsn.ToString(), report.records,
               report.commits);
  } else {
    PrintTable({"COMMIT TIME", "XID", "COMMIT LSN", "DATABASE", "ACTION", "RELATION", "ROWS"},
               rows);
    fmt::print("\n{} incident(s) in {} records ({} .. {}). Who ran them is not in the WAL: "
               "check the server log around the commit time.\n",
               report.incidents.size(), report.records, report.first_lsn.ToString(),
               report.last_lsn.ToString());
    fmt::print("Recover to just before one with a recovery target of xid <XID> and "
               "recovery_target_inclusive = off.\n");
  }
  if (!report.catalog_used) {
    fmt::print("Relations are unnamed: pass --catalog FILE (from 'dbmedic catalog capture').\n");
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
  std::optional<pg::RelationCatalog> catalog;
  if (auto path = config.Optional("forensics.catalog"); path && !path->empty()) {
    catalog = pg::RelationCatalog::Load(config.Path("forensics.catalog"));
  }
  pg::DirectoryWalSource source(config.Path("forensics.wal_dir"),
                                args.timeline ? std::optional<pg::TimelineId>(args.timeline)
                                              : std::nullopt);
  pg::WalReader reader(source);
  forensics::IncidentReport report =
      forensics::FindIncidents(reader, catalog ? &*catalog : nullptr, options);
  if (ctx.json()) {
    PrintJson(forensics::ToJson(report));
  } else {
    PrintIncidents(report);
  }
  bool damaged = report.error_exit_code.has_value();
  fmt::print(stderr, "{}: scan stopped at {}: {}\n", damaged ? "ERROR" : "note",
             report.stop.lsn.ToString(), report.stop.detail);
  if (damaged) ctx.exit_code = *report.error_exit_code;
}

std::string ConnInfoFromConfig(const core::Config& config) {
  return pg::ConnInfo(config.String("cluster.host"), static_cast<int>(config.Int("cluster.port")),
                      config.String("cluster.user"), config.String("cluster.dbname"));
}

void RunCapture(Context& ctx, const std::string& out) {
  const core::Config& config = ctx.config();
  pg::RelationCatalog catalog;
  std::error_code ec;
  if (std::filesystem::exists(out, ec)) catalog = pg::RelationCatalog::Load(out);
  pg::CatalogSnapshot snapshot = pg::CaptureClusterCatalog(ConnInfoFromConfig(config));
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

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<IncidentsArgs>();
  CLI::App* cmd = root.add_subcommand(
      "incidents",
      "List destructive transactions in the WAL: DROP, TRUNCATE, and DELETE/UPDATE over many "
      "rows, with xid, commit time, commit LSN, database, tables and row counts");
  AddConfigOption(cmd, ctx, "forensics.wal_dir");
  AddConfigOption(cmd, ctx, "forensics.catalog");
  AddConfigOption(cmd, ctx, "forensics.min_rows");
  AddConfigOption(cmd, ctx, "forensics.min_percent");
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
                 "as a time-stamped snapshot to FILE");
  capture->add_option("--out", *out, "Catalog file (JSON); created or appended to")->required();
  for (const char* key : {"cluster.host", "cluster.port", "cluster.user", "cluster.dbname"}) {
    AddConfigOption(capture, ctx, key);
  }
  capture->callback([&ctx, out] { RunCapture(ctx, *out); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
