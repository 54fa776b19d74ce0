#include "cli/incident_scan.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "diagnose/session.hpp"
#include <spdlog/spdlog.h>
#include "forensics/catalog_store.hpp"
#include "pg/relation_catalog.hpp"
#include "pg/wal_decoders.hpp"
#include "pg/wal_reader.hpp"
#include "pg/wal_source.hpp"
#include "repo/cluster.hpp"
#include "repo/parallel.hpp"
#include "wal/archive.hpp"
#include "wal/archive_wal_source.hpp"

namespace dbmedic::cli {
namespace {

bool HasValue(const core::Config& config, std::string_view key) {
  auto v = config.Optional(key);
  return v && !v->empty();
}

// Adds the running cluster's catalog, so that a DROP newer than the last stored snapshot is
// confirmed ("gone in a later snapshot") rather than inferred, and relations no stored snapshot
// knows get a name. Best effort: the cluster may be the one that is broken. Called by the scan
// only when a decision needs it (IncidentOptions::complete_catalog), so a scan the stored
// catalog answers costs no connection, and libpq is not even loaded when no server socket exists.
void AddLiveSnapshot(const core::Config& config, pg::RelationCatalog& catalog, IncidentScan& scan) {
  if (!config.Bool("forensics.live_snapshot")) {
    scan.live_snapshot_note = "turned off (forensics.live_snapshot)";
    return;
  }
  const auto socket = pg::LocalSocketFile(config.Optional("cluster.host").value_or(""),
                                          static_cast<int>(config.Int("cluster.port")));
  std::error_code ec;
  if (socket && !std::filesystem::exists(*socket, ec)) {
    scan.live_snapshot_note =
        fmt::format("the cluster could not be read: no server socket at {}", *socket);
    spdlog::debug("no live catalog snapshot: no server socket at {}", *socket);
    return;
  }
  try {
    const std::string conninfo = diagnose::ConnInfoFromConfig(config) + " connect_timeout=5";
    pg::CatalogSnapshot snapshot = pg::CaptureClusterCatalog(conninfo);
    if (!catalog.empty() &&
        catalog.snapshots().front().system_identifier != snapshot.system_identifier) {
      scan.live_snapshot_note = fmt::format(
          "the running cluster ({}) is not the one the WAL belongs to", snapshot.system_identifier);
      return;
    }
    catalog.Add(std::move(snapshot));
    scan.live_snapshot = true;
  } catch (const Error& e) {
    scan.live_snapshot_note = fmt::format("the cluster could not be read: {}", e.what());
    spdlog::debug("no live catalog snapshot: {}", e.what());
  }
}

}  // namespace

IncidentScan ScanForIncidents(Context& ctx, const forensics::IncidentOptions& scan_options,
                              std::optional<pg::TimelineId> timeline) {
  const core::Config& config = ctx.config();
  IncidentScan scan;
  pg::RelationCatalog catalog;
  std::optional<repo::Repository> repository;
  const bool from_dir = HasValue(config, "forensics.wal_dir");
  if (!from_dir || HasValue(config, "repository.path")) {
    repository.emplace(repo::OpenRepository(config));
  }
  if (HasValue(config, "forensics.catalog")) {
    catalog = pg::RelationCatalog::Load(config.Path("forensics.catalog"));
  } else if (repository) {
    catalog = forensics::LoadRepositoryCatalog(*repository);
  }
  forensics::IncidentOptions options = scan_options;
  options.complete_catalog = [&config, &catalog, &scan] { AddLiveSnapshot(config, catalog, scan); };

  pg::WalReaderOptions reader_options;
  if (repository) {
    reader_options.system_identifier = std::stoull(repository->info().system_identifier);
  }
  std::optional<wal::WalArchive> archive;
  if (!from_dir) archive.emplace(*repository, repository->info().codec);
  // One source per reader: a source holds the reader's segment buffer (and, for the archive,
  // the segment being prefetched).
  auto make_source = [&]() -> std::unique_ptr<pg::WalSource> {
    if (from_dir) {
      return std::make_unique<pg::DirectoryWalSource>(config.Path("forensics.wal_dir"), timeline);
    }
    return std::make_unique<wal::ArchiveWalSource>(*archive, timeline);
  };
  const int jobs = repo::EffectiveJobs(static_cast<int>(config.Int("forensics.jobs")));
  if (jobs == 1) {
    std::unique_ptr<pg::WalSource> source = make_source();
    scan.source = source->Describe();
    pg::WalReader reader(*source, reader_options);
    scan.report = forensics::FindIncidents(reader, &catalog, options);
  } else {
    scan.source = make_source()->Describe();
    scan.report =
        forensics::FindIncidentsInParallel(make_source, reader_options, &catalog, options, jobs);
  }
  scan.catalog_snapshots = catalog.snapshots().size();
  if (!scan.live_snapshot && scan.live_snapshot_note.empty()) {
    scan.live_snapshot_note = "not needed: the stored catalog answered every question";
  }
  return scan;
}

std::string DescribeIncident(const forensics::Incident& incident) {
  std::string what;
  for (const auto& r : incident.relations) {
    if (!what.empty()) what += ", ";
    what += fmt::format("{} {}", forensics::IncidentKindName(r.action), r.name);
    if (r.rows_known) what += fmt::format(" ({}{} rows)", r.rows_estimated ? "~" : "", r.rows);
  }
  return fmt::format("transaction {} committed at {} (LSN {}): {}", incident.xid,
                     pg::FormatPgTimestamp(incident.commit_time), incident.commit_lsn.ToString(),
                     what);
}

const forensics::Incident& PickIncident(const IncidentScan& scan,
                                        std::optional<pg::TransactionId> xid,
                                        const std::optional<std::string>& table) {
  const auto& incidents = scan.report.incidents;
  for (auto it = incidents.rbegin(); it != incidents.rend(); ++it) {
    if (!xid || it->xid == *xid) return *it;
  }
  std::string looked_for = xid ? fmt::format("transaction {}", *xid) : std::string("an incident");
  if (table) looked_for += fmt::format(" on table {}", *table);
  std::string found;
  for (const auto& i : incidents) found += "\n  " + DescribeIncident(i);
  throw Error(ErrorCode::kTarget,
              fmt::format("{} is not among the destructive transactions in {} ({} .. {}, {} "
                          "commits scanned)",
                          looked_for, scan.source, scan.report.first_lsn.ToString(),
                          scan.report.last_lsn.ToString(), scan.report.commits),
              found.empty()
                  ? std::string("no incident found; to stop before any transaction use "
                                "--to-xid XID --exclusive, or lower --min-rows")
                  : "incidents found:" + found);
}

}  // namespace dbmedic::cli
