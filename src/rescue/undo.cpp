#include "rescue/undo.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "pg/connection.hpp"
#include "rescue/interrupt.hpp"
#include "rescue/side_files.hpp"
#include "rescue/table_undo.hpp"

namespace dbmedic::rescue {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kInterruptedUndo = "undo (nothing was changed in the live cluster)";

void Phase(const UndoRequest& request, std::string_view phase) {
  ThrowIfInterrupted(kInterruptedUndo);
  spdlog::info("undo: {}", phase);
  if (request.on_phase) request.on_phase(phase);
}

// The incident may still sit in the live cluster's current WAL segment: switch it and wait
// until the archiver has it, or the side cluster cannot replay up to the incident.
void ArchiveCurrentSegment(pg::Connection& live, std::chrono::milliseconds timeout) {
  pg::Result r = live.Exec(
      "SELECT current_setting('archive_mode'), pg_is_in_recovery(), "
      "CASE WHEN pg_is_in_recovery() THEN '' ELSE pg_walfile_name(pg_switch_wal()) END");
  if (r.GetBool(0, 1)) {
    throw Error(ErrorCode::kPostgres, fmt::format("{} is a standby", live.Describe()),
                "run undo against the primary: the table is brought back with writes");
  }
  if (r.Get(0, 0) == "off") {
    throw Error(ErrorCode::kConfig,
                fmt::format("archive_mode is off on {}: the WAL up to the incident is not in "
                            "the repository",
                            live.Describe()),
                "set archive_mode = on and archive_command = 'dbmedic wal push %p'");
  }
  const std::string segment = r.GetString(0, 2);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    pg::Result a = live.ExecParams(
        "SELECT coalesce(last_archived_wal >= $1, false), coalesce(last_failed_wal, ''), "
        "coalesce(last_failed_time > last_archived_time, last_failed_time IS NOT NULL) "
        "FROM pg_stat_archiver",
        {segment});
    if (a.GetBool(0, 0)) return;
    if (Clock::now() > deadline) {
      throw Error(ErrorCode::kTimeout,
                  fmt::format("WAL segment {} was not archived within {} s{}", segment,
                              timeout.count() / 1000,
                              a.GetBool(0, 2) ? fmt::format(" (archive_command fails, last on {})",
                                                            a.Get(0, 1))
                                              : ""),
                  "check archiving with dbmedic check; undo needs the WAL up to the incident");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Tables referenced by others of the set come first, so that restored rows satisfy the foreign
// keys between them (TRUNCATE ... CASCADE emptied both).
void OrderByReferences(std::vector<std::unique_ptr<TableUndo>>& tables) {
  std::vector<std::unique_ptr<TableUndo>> ordered;
  while (!tables.empty()) {
    auto ready = std::find_if(tables.begin(), tables.end(), [&](const auto& t) {
      return std::none_of(t->references().begin(), t->references().end(),
                          [&](const std::string& ref) {
                            return ref != t->name() &&
                                   std::any_of(tables.begin(), tables.end(),
                                               [&](const auto& o) { return o->name() == ref; });
                          });
    });
    if (ready == tables.end()) ready = tables.begin();  // a cycle: keep the given order
    ordered.push_back(std::move(*ready));
    tables.erase(ready);
  }
  tables = std::move(ordered);
}

void Rollback(pg::Connection& live) noexcept {
  try {
    live.Exec("ROLLBACK");
  } catch (const std::exception& e) {
    spdlog::warn("undo: rollback failed (the connection closes, which rolls back): {}", e.what());
  }
}

std::vector<TableOutcome> ApplyAll(pg::Connection& live,
                                   std::vector<std::unique_ptr<TableUndo>>& tables) {
  std::vector<TableOutcome> outcomes;
  live.Exec("BEGIN");
  try {
    for (auto& t : tables) outcomes.push_back(t->Apply());
    live.Exec("COMMIT");
  } catch (const Error& e) {
    Rollback(live);
    throw e.WithContext("undo rolled back, nothing was changed in the live cluster");
  }
  return outcomes;
}

}  // namespace

OnConflict ParseOnConflict(std::string_view text) {
  if (text == "skip") return OnConflict::kSkip;
  if (text == "replace") return OnConflict::kReplace;
  throw Error(ErrorCode::kUsage, fmt::format("invalid --on-conflict '{}'", text),
              "use skip (keep today's rows) or replace (put the old rows back)");
}

std::string_view TableActionName(TableAction action) {
  switch (action) {
    case TableAction::kRecreate: return "recreate";
    case TableAction::kRestoreRows: return "restore rows";
    case TableAction::kCopyInto: return "copy into";
  }
  return "?";
}

namespace {

// The side cluster lives for one table copy and is then removed, so it may run as no real
// server should: no fsync, no restartpoints during replay, no autovacuum. What makes replay
// fast is memory: with the default 128 MB of shared buffers, replaying 1.1 GB of pgbench WAL
// took 42 s, with 1 GB 20 s (the startup process stops evicting and re-reading pages). It gets
// an eighth of the machine's memory, between 128 MB and 1 GB.
std::vector<std::pair<std::string, std::string>> SideClusterSettings() {
  constexpr std::uint64_t kMiB = 1024 * 1024;
  const auto ram = static_cast<std::uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                   static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  const std::uint64_t buffers = std::clamp<std::uint64_t>(ram / 8, 128 * kMiB, 1024 * kMiB);
  return {{"shared_buffers", fmt::format("{}MB", buffers / kMiB)},
          {"fsync", "off"},
          {"full_page_writes", "off"},
          {"max_wal_size", "64GB"},
          {"checkpoint_timeout", "1d"},
          {"autovacuum", "off"}};
}

// Sums the "<records> <bytes>" lines the filtering processes appended (see UndoRequest).
void AddSkippedWal(const std::filesystem::path& stats, UndoResult& result) {
  std::error_code ec;
  if (!std::filesystem::exists(stats, ec)) return;
  std::istringstream in(core::ReadFile(stats));
  std::uint64_t records = 0, bytes = 0;
  while (in >> records >> bytes) {
    result.side_wal_records_skipped += records;
    result.side_wal_bytes_skipped += bytes;
  }
}

std::vector<std::string> QuotedLiterals(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& v : values) out.push_back(pg::QuoteLiteral(v));
  return out;
}

// The WAL filter skipped the files the repository's catalog knew as other relations'. Should one
// of those file numbers have been reused since the last backup by a relation undo reads (after an
// OID wraparound), its content in the side cluster would be wrong: refuse rather than copy it.
void CheckNothingReadWasSkipped(pg::Connection& side, const std::vector<std::string>& tables,
                                const std::vector<pg::Oid>& skipped) {
  if (skipped.empty()) return;
  const std::string sql = fmt::format(
      "WITH t AS (SELECT to_regclass(n)::oid AS oid FROM unnest(ARRAY[{}]::text[]) AS n), "
      "rel AS (SELECT oid FROM t WHERE oid IS NOT NULL UNION "
      "        SELECT reltoastrelid FROM pg_class WHERE oid IN (SELECT oid FROM t) "
      "        AND reltoastrelid <> 0), "
      "idx AS (SELECT indexrelid AS oid FROM pg_index WHERE indrelid IN (SELECT oid FROM rel)) "
      "SELECT coalesce(string_agg(c.oid::regclass::text || ' (file ' || "
      "pg_relation_filenode(c.oid) || ')', ', '), '') FROM pg_class c "
      "WHERE (c.oid < 16384 OR c.oid IN (SELECT oid FROM rel UNION SELECT oid FROM idx)) "
      "AND pg_relation_filenode(c.oid) = ANY({}::oid[])",
      fmt::join(QuotedLiterals(tables), ","),
      pg::QuoteLiteral(fmt::format("{{{}}}", fmt::join(skipped, ","))));
  const std::string hit = side.Scalar(sql);
  if (hit.empty()) return;
  throw Error(ErrorCode::kConflict,
              fmt::format("undo's side cluster skipped the WAL of files that {} now use (file "
                          "numbers reused since the last backup)",
                          hit),
              "run the undo again with --undo-wal-filter false (replays every record)");
}

UndoResult Undo(const repo::Repository& repository,
                const std::function<restore::ArchiveView()>& load_archive,
                const UndoRequest& request) {
  const auto began = Clock::now();
  if (request.tables.empty()) {
    throw Error(ErrorCode::kUsage, "no table to undo", "give --table NAME (or an incident)");
  }
  pg::Connection live = pg::Connection::Open(request.live_conninfo);
  Phase(request, "archiving the live cluster's current WAL segment");
  ArchiveCurrentSegment(live, request.archive_wait);
  ScratchOptions side_options = request.side;
  // Promoted, not paused: paused recovery keeps the locks of the transaction it stopped before
  // (DROP/TRUNCATE log an AccessExclusiveLock), so the table could not even be read; promotion
  // aborts that transaction. The side cluster's new timeline is not archived (archive_mode off).
  side_options.target.action = restore::TargetAction::kPromote;
  side_options.server_settings = SideClusterSettings();
  std::optional<core::TempDir> filter_dir;  // outlives the side cluster, which reads it
  std::vector<pg::Oid> skipped;
  if (request.catalog) {
    if (auto files = SideFilesFor(*request.catalog, request.database, request.tables)) {
      side_options.content_needed = [files = *files](const std::string& path) {
        return ContentNeeded(files, path);
      };
      if (request.filtered_restore_command) {
        filter_dir.emplace("dbmedic-undo-filter", request.side.parent_dir);
        core::GiveToOsUser(filter_dir->path(), request.side.os_user);  // restore_command's user
        side_options.restore_command =
            request.filtered_restore_command(*files, filter_dir->path());
        skipped = SparseRelfilenodes(*files);
      }
    } else {
      spdlog::info("undo: the repository's catalog does not name every table: restoring the "
                   "whole backup for the side cluster");
    }
  }
  Phase(request, "restoring a side cluster to " + side_options.target.Describe());
  std::optional<ScratchCluster> side_cluster;
  try {
    side_cluster.emplace(repository, load_archive(), side_options);
  } catch (const Error& e) {
    // The filter is an optimisation: should replay fail with it (a case it does not foresee,
    // e.g. a record crossing a timeline switch that touches a skipped page), replay everything.
    if (!filter_dir || e.code() != ErrorCode::kPostgres) throw;
    ThrowIfInterrupted(kInterruptedUndo);
    spdlog::warn("undo: the side cluster's recovery failed with the WAL filter ({}); restoring "
                 "it again, replaying every record",
                 e.what());
    filter_dir.reset();
    side_options.restore_command = request.side.restore_command;
    side_cluster.emplace(repository, load_archive(), side_options);
  }
  ScratchCluster& side = *side_cluster;
  UndoResult result;
  result.side_cluster_seconds = side.result().rto_seconds;
  result.side_bytes_skipped = side.result().restore.bytes_skipped;
  result.side_bytes_restored = side.result().restore.bytes - result.side_bytes_skipped;
  if (filter_dir) {
    result.side_wal_filtered = true;
    AddSkippedWal(filter_dir->path() / kWalFilterStatsFile, result);
  }
  result.plan.label = side.result().restore.label;
  result.plan.target = side_options.target.Describe();
  result.plan.database = request.database;
  pg::Connection old = pg::Connection::Open(side.ConnInfo(request.database));
  if (filter_dir) CheckNothingReadWasSkipped(old, request.tables, skipped);
  std::vector<std::unique_ptr<TableUndo>> tables;
  for (const std::string& name : request.tables) {
    tables.push_back(std::make_unique<TableUndo>(old, live, name, request,
                                                 static_cast<int>(tables.size())));
  }
  OrderByReferences(tables);
  Phase(request, "planning");
  const SideDump dump{side.cluster().spec().bin_dir, side.ConnInfo(request.database),
                      side.cluster().os_user()};
  for (auto& t : tables) result.plan.tables.push_back(t->Plan(dump));
  if (request.dry_run || (request.confirm && !request.confirm(result.plan))) {
    result.total_seconds = std::chrono::duration<double>(Clock::now() - began).count();
    return result;
  }
  Phase(request, "bringing the table(s) back in one transaction");
  result.outcomes = ApplyAll(live, tables);
  result.applied = true;
  result.total_seconds = std::chrono::duration<double>(Clock::now() - began).count();
  return result;
}

}  // namespace

UndoResult RunUndo(const repo::Repository& repository,
                   const std::function<restore::ArchiveView()>& load_archive,
                   const UndoRequest& request) {
  try {
    return Undo(repository, load_archive, request);
  } catch (const Error&) {
    // Queries on the stopped side cluster fail: say why they did.
    ThrowIfInterrupted(kInterruptedUndo);
    throw;
  }
}

nlohmann::json ToJson(const UndoPlan& plan) {
  nlohmann::json tables = nlohmann::json::array();
  for (const TablePlan& t : plan.tables) {
    tables.push_back({{"table", t.name}, {"action", std::string(TableActionName(t.action))},
                      {"destination", t.destination}, {"old_rows", t.old_rows},
                      {"live_rows", t.live_rows}, {"rows_to_insert", t.rows_to_insert},
                      {"conflicting_rows", t.conflicting_rows}, {"match", t.match},
                      {"sequences", t.sequences}, {"foreign_keys", t.foreign_keys},
                      {"notes", t.notes}});
  }
  return {{"backup", plan.label}, {"target", plan.target}, {"database", plan.database},
          {"tables", tables}};
}

nlohmann::json ToJson(const UndoResult& result) {
  nlohmann::json outcomes = nlohmann::json::array();
  for (const TableOutcome& o : result.outcomes) {
    outcomes.push_back({{"table", o.name}, {"inserted", o.inserted}, {"replaced", o.replaced},
                        {"foreign_keys_added", o.foreign_keys_added}, {"warnings", o.warnings}});
  }
  return {{"plan", ToJson(result.plan)}, {"applied", result.applied}, {"outcomes", outcomes},
          {"side_cluster_seconds", result.side_cluster_seconds},
          {"side_bytes_restored", result.side_bytes_restored},
          {"side_bytes_skipped", result.side_bytes_skipped},
          {"side_wal_filtered", result.side_wal_filtered},
          {"side_wal_records_skipped", result.side_wal_records_skipped},
          {"side_wal_bytes_skipped", result.side_wal_bytes_skipped},
          {"total_seconds", result.total_seconds}};
}

}  // namespace dbmedic::rescue
