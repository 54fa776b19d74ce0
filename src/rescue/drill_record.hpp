// The result of one restore drill, kept in the repository as drill/<id>.json (written
// atomically, one small object per drill) so that `info`, the agent and the next drill can see
// when the backups were last proven restorable and how fast. See docs/formats/repository.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "repo/repository.hpp"

namespace dbmedic::rescue {

struct RelationCheck {
  std::string database;
  std::string name;        // "public.users"
  std::string kind;        // "table", "materialized view", "TOAST", "index"
  std::int64_t rows = -1;  // tables: rows read by the full scan; indexes: -1
  std::string error;       // empty: readable (tables) / amcheck passed (indexes)
};

struct DrillRecord {
  std::string id;                 // "20261129T150203.123456Z-<label>": sorts by start time
  std::string label;              // the backup restored
  std::string target;             // RecoveryTarget::Describe()
  bool passed = false;
  std::string error;              // why it failed (empty when passed)
  std::int64_t started_at = 0;    // Unix seconds
  double duration_seconds = 0;    // the whole drill, checks included
  double rto_seconds = 0;         // restore + start + replay until the cluster accepts writes
  double restore_seconds = 0;
  double replay_seconds = 0;
  std::uint64_t restored_bytes = 0;
  std::uint64_t wal_bytes_replayed = 0;  // backup start LSN .. replay LSN
  double restore_bytes_per_second = 0;
  double replay_bytes_per_second = 0;
  bool amcheck = false;           // whether indexes were checked with amcheck
  std::uint64_t relations_checked = 0;
  std::uint64_t indexes_checked = 0;
  std::int64_t total_rows = 0;
  std::vector<RelationCheck> checks;  // failures always; passing ones too (row counts)
};

nlohmann::json ToJson(const DrillRecord& record);
// Throws Error(kCorrupt) naming `what` when a field is missing or of the wrong type.
DrillRecord DrillRecordFromJson(const nlohmann::json& json, std::string_view what);

inline constexpr std::string_view kDrillDir = "drill";

// drill/<id>.json, written atomically.
void SaveDrillRecord(repo::Repository& repository, const DrillRecord& record);
// Every drill, oldest first. A damaged record is skipped with a warning (it must not hide the
// others).
std::vector<DrillRecord> LoadDrillRecords(const repo::Repository& repository);

// "20261129T150203Z"
std::string CompactUtc(std::int64_t unix_seconds);

// "20261129T150203.123456Z": drill ids carry microseconds because two drills (a failed one and
// the next) can start within one second, and the last record must be the last drill.
std::string CompactUtcMicros(std::int64_t unix_micros);

}  // namespace dbmedic::rescue
