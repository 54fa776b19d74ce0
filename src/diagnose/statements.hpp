// pg_stat_statements snapshots and the deltas between two of them ("what ran in the last 15
// minutes"). A snapshot is one read of the view; a StatementSnapshotStore keeps a bounded series
// of them (the agent adds one per interval) and can be saved to / loaded from a file so that a
// later `dbmedic top-queries --since` can use it. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pg/connection.hpp"

namespace dbmedic::diagnose {

using Clock = std::chrono::system_clock;

struct StatementCounters {
  std::int64_t userid = 0;
  std::int64_t dbid = 0;
  std::int64_t queryid = 0;
  bool toplevel = true;
  std::string user;
  std::string database;
  std::string query;  // pg_stat_statements' normalised text ($1 for constants)
  std::int64_t calls = 0;
  double total_ms = 0;
  double max_ms = 0;  // since the entry was created or reset: not a delta
  std::int64_t rows = 0;
  std::int64_t shared_blks_hit = 0;
  std::int64_t shared_blks_read = 0;
  std::int64_t temp_blks_read = 0;
  std::int64_t temp_blks_written = 0;
};

struct StatementSnapshot {
  Clock::time_point taken;
  std::vector<StatementCounters> rows;
};

enum class StatementOrder { kTotal, kMean, kCalls, kIo, kRows };
// "total" | "mean" | "calls" | "io" | "rows"; throws Error(kUsage) otherwise.
StatementOrder ParseStatementOrder(std::string_view text);

struct StatementDelta {
  StatementCounters counters;  // calls, times, rows and blocks are differences
  double mean_ms = 0;
  double share = 0;  // of the total execution time of all statements in the interval
};

struct TopStatements {
  Clock::time_point from;
  Clock::time_point to;
  double total_ms = 0;  // all statements in the interval
  std::int64_t total_calls = 0;
  std::vector<StatementDelta> top;
};

// The ALTER SYSTEM that adds pg_stat_statements to the current shared_preload_libraries, one
// literal per library: a single quoted 'a, b' would name one library called "a, b", and the
// server would not start.
std::string PreloadCommand(std::string_view current);

// The schema pg_stat_statements is installed in. Throws Error(kNotFound) saying exactly what
// to change: shared_preload_libraries (and a restart) and/or CREATE EXTENSION in this database.
std::string PgStatStatementsSchema(pg::Connection& conn);

// Reads pg_stat_statements. When it is not usable, throws Error(kNotFound) saying exactly what
// to change: shared_preload_libraries (and a restart) and/or CREATE EXTENSION in this database.
StatementSnapshot TakeStatementSnapshot(pg::Connection& conn);

// Differences after - before per (userid, dbid, queryid, toplevel). Entries that are new, or
// whose calls went down (reset, eviction), count from zero. Entries without new calls are left
// out. Sorted by `order`, at most `limit` rows.
TopStatements DiffSnapshots(const StatementSnapshot& before, const StatementSnapshot& after,
                            StatementOrder order, std::size_t limit);

class StatementSnapshotStore {
 public:
  StatementSnapshotStore(std::size_t max_snapshots, std::chrono::seconds max_age)
      : max_snapshots_(max_snapshots), max_age_(max_age) {}

  // Adds a snapshot (newest last) and drops those beyond the limits.
  void Add(StatementSnapshot snapshot);
  // The newest snapshot taken at or before `time`; nullopt if none is that old.
  const StatementSnapshot* AtOrBefore(Clock::time_point time) const;
  const StatementSnapshot* Newest() const;
  const StatementSnapshot* Oldest() const;
  std::size_t size() const { return snapshots_.size(); }

  // File format: JSON {"format": "dbmedic-statement-snapshots", "version": 1, "snapshots":
  // [{"taken_ms": ..., "rows": [...]}]}, written atomically. Load throws Error(kNotFound) for a
  // missing file and Error(kCorrupt) for one it cannot read.
  void Save(const std::filesystem::path& path) const;
  static StatementSnapshotStore Load(const std::filesystem::path& path, std::size_t max_snapshots,
                                     std::chrono::seconds max_age);

 private:
  std::size_t max_snapshots_;
  std::chrono::seconds max_age_;
  std::deque<StatementSnapshot> snapshots_;
};

nlohmann::json TopStatementsToJson(const TopStatements& top);

}  // namespace dbmedic::diagnose
