// Undo one accident without losing the rest: a side cluster is restored (rescue::ScratchCluster,
// promoted just before the incident), and only the affected tables are brought back
// into the live cluster, in ONE transaction there:
// - a dropped table is recreated from the side cluster's DDL (pg_dump of that table: columns,
//   defaults, owned sequences, constraints, indexes, triggers, grants), filled, its owned
//   sequences set to their old values, and the foreign keys of other tables that pointed at it
//   added back once the rows are there (NOT VALID, with a warning, when rows written since the
//   drop violate them);
// - a truncated / mass-deleted table (same OID as before) gets the rows it lacks back, matched
//   on its primary key (whole rows without one); rows changed since the incident are conflicts:
//   refused unless on_conflict says skip (keep today's) or replace (put the old ones back);
// - with `into_schema`, the old content lands beside the live table as SCHEMA.table instead;
// - a table dropped and recreated under the same name (another OID now) is refused unless
//   into_schema is given: merging two different tables is the user's call.
// The plan (what will be done, row counts, conflicts) is computed first; `confirm` sees it
// before anything is written, and dry_run stops there. The side cluster is removed at the end,
// also on failure.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pg/relation_catalog.hpp"
#include "repo/repository.hpp"
#include "rescue/scratch_cluster.hpp"
#include "rescue/side_files.hpp"

namespace dbmedic::rescue {

enum class OnConflict { kRefuse, kSkip, kReplace };
// "skip" / "replace"; throws Error(kUsage) for anything else.
OnConflict ParseOnConflict(std::string_view text);

enum class TableAction { kRecreate, kRestoreRows, kCopyInto };
std::string_view TableActionName(TableAction action);  // "recreate", "restore rows", "copy into"

struct TablePlan {
  std::string name;           // as it was: "public.users" (quoted identifiers where needed)
  TableAction action = TableAction::kRestoreRows;
  std::string destination;    // where the rows go: the table itself or "schema.table" (--into)
  std::int64_t old_rows = 0;  // rows in the side cluster
  std::int64_t live_rows = -1;       // -1: not in the live cluster
  std::int64_t rows_to_insert = 0;   // rows the live table lacks (all, for recreate / into)
  std::int64_t conflicting_rows = 0; // same key, other content now
  std::string match;          // "primary key (id)", "whole rows (no primary key)"
  std::vector<std::string> sequences;     // owned sequences recreated, with their old values
  std::vector<std::string> foreign_keys;  // "public.orders.orders_user_id_fkey" to add back
  std::vector<std::string> notes;
};

struct UndoPlan {
  std::string label;    // backup restored for the side cluster
  std::string target;   // recovery target (just before the incident)
  std::string database;
  std::vector<TablePlan> tables;
};

struct TableOutcome {
  std::string name;
  std::int64_t inserted = 0;
  std::int64_t replaced = 0;
  std::vector<std::string> foreign_keys_added;
  std::vector<std::string> warnings;
};

struct UndoResult {
  UndoPlan plan;
  bool applied = false;  // false: dry run or not confirmed
  std::vector<TableOutcome> outcomes;
  double side_cluster_seconds = 0;  // restore + replay to just before the incident
  std::uint64_t side_bytes_restored = 0;  // backup bytes read into the side cluster
  std::uint64_t side_bytes_skipped = 0;   // relations undo does not read: left sparse
  // WAL records of those relations that the side cluster's replay skipped (undo.wal_filter).
  bool side_wal_filtered = false;
  std::uint64_t side_wal_records_skipped = 0;
  std::uint64_t side_wal_bytes_skipped = 0;
  double total_seconds = 0;
};

struct UndoRequest {
  std::vector<std::string> tables;  // "schema.table" or "table" (search_path of the database)
  std::string database = "postgres";
  std::string live_conninfo;        // to `database` on the live cluster
  ScratchOptions side;              // target (exclusive, before the incident), label, user...
  std::optional<std::string> into_schema;
  OnConflict on_conflict = OnConflict::kRefuse;
  bool dry_run = false;
  std::function<bool(const UndoPlan&)> confirm;  // empty: proceed
  // Before restoring, switch the live cluster's WAL segment and wait until it is archived, so
  // the side cluster can replay up to the incident (it may still be in the current segment).
  std::chrono::milliseconds archive_wait{60000};
  std::function<void(std::string_view phase)> on_phase;
  // The repository's catalog snapshots: when they name the database and every table, the side
  // cluster gets only the files undo reads (rescue/side_files.hpp); nullptr: every file.
  const pg::RelationCatalog* catalog = nullptr;
  // When set and the side cluster is selective: the side cluster's restore_command that also
  // skips the WAL of the relations left sparse, with the filter written into `dir` (the CLI
  // writes it: the format belongs to the wal module). Unset: side.restore_command replays all.
  // Each process applying the filter appends "<records> <bytes>\n" (what it skipped) to
  // dir/kWalFilterStatsFile, which `dir`'s owner (the cluster's OS user) may write.
  std::function<std::string(const SideFiles& files, const std::filesystem::path& dir)>
      filtered_restore_command;
};

inline constexpr std::string_view kWalFilterStatsFile = "skipped";

// Throws Error: kNotFound (a table that did not exist at the target), kConflict (rows changed
// since, without on_conflict; a recreated table without into_schema; SCHEMA.table already
// exists), kPostgres (the live transaction failed: nothing was changed), kTimeout (the WAL was
// not archived in time), and what ScratchCluster throws.
// `load_archive` describes the WAL archive; it is called after the live cluster's current WAL
// segment was archived (the CLI reads it through the wal module).
UndoResult RunUndo(const repo::Repository& repository,
                   const std::function<restore::ArchiveView()>& load_archive,
                   const UndoRequest& request);

nlohmann::json ToJson(const UndoPlan& plan);
nlohmann::json ToJson(const UndoResult& result);

}  // namespace dbmedic::rescue
