// What log-report learns from a server log: statements aggregated per fingerprint, auto_explain
// plans, lock waits, deadlocks, lock timeouts, temporary files, checkpoints and errors, plus an
// hourly histogram. LogAnalyzer consumes entries of one stream (one thread); the LogStats of
// several streams merge in stream order.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "diagnose/log_entry.hpp"
#include "diagnose/quantile_sketch.hpp"

namespace dbmedic::diagnose {

struct StatementSample {
  double duration_ms = -1;
  std::string query;
  std::string parameters;  // "$1 = '42', $2 = 'x'" from the DETAIL of extended-protocol runs
  std::string plan;        // auto_explain output, when the sample came with one
  std::int64_t time = 0;
  std::int64_t pid = 0;
  std::string database;
  std::string user;
};

struct Timing {
  std::uint64_t count = 0;
  double total_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  QuantileSketch sketch;
  void Add(double ms);
  void Merge(const Timing& other);
  // The sketch's answer, kept within the exact min and max: a bucket's representative can lie
  // up to 1% beyond them (a p99 above the max, or a single execution's p50 off its duration).
  double Quantile(double q) const;
};

struct StatementStats {
  std::string normalized;
  Timing timing;       // "duration: ... statement/execute" lines
  Timing plan_timing;  // auto_explain "duration: ... plan:" lines
  StatementSample slowest;
  StatementSample slowest_plan;
  std::map<std::int64_t, std::uint64_t> hourly;  // hour -> executions
  // The timing reports use: duration lines if any, else auto_explain plans.
  const Timing& Reported() const { return timing.count > 0 ? timing : plan_timing; }
};

struct Side {  // one process of a lock conflict
  std::int64_t pid = 0;
  std::string waits_for;  // "ShareLock on transaction 745"
  std::int64_t blocked_by = 0;
  std::string query;  // empty when the log did not show it
};

struct Deadlock {
  std::int64_t time = 0;
  std::string database;
  std::int64_t victim_pid = 0;
  std::vector<Side> processes;
};

struct LockWaitStats {
  std::string lock;  // "ShareLock on transaction", "AccessExclusiveLock on relation"
  std::string normalized;  // waiting statement's fingerprint text
  std::uint64_t waits = 0;  // "still waiting" reports (each one waited deadlock_timeout)
  std::uint64_t acquired = 0;  // "acquired ... after" reports
  double acquired_total_ms = 0;
  double max_wait_ms = 0;
  std::string sample_query;
  std::int64_t sample_blocker_pid = 0;
  std::string sample_blocker_query;  // the blocker's last statement seen in the log
};

struct LockTimeout {
  std::int64_t time = 0;
  std::int64_t pid = 0;
  std::string database;
  std::string query;
  std::int64_t blocker_pid = 0;  // from a preceding "still waiting" DETAIL, if logged
  std::string blocker_query;
};

struct TempFileStats {
  std::string normalized;
  std::uint64_t count = 0;
  std::uint64_t total_bytes = 0;
  std::uint64_t max_bytes = 0;
  std::string sample_query;
};

struct CheckpointStats {
  std::uint64_t started = 0;
  std::uint64_t completed = 0;
  std::map<std::string, std::uint64_t> reasons;  // "time", "wal", "immediate force wait"...
  std::uint64_t buffers_written = 0;
  double write_s = 0;
  double sync_s = 0;
  double total_s = 0;
  double max_total_s = 0;
};

struct ErrorStats {
  std::string severity;
  std::string normalized;
  std::uint64_t count = 0;
  std::string sample_message;
  std::string sample_detail;
  std::string sample_statement;
  std::int64_t first_time = 0;
  std::int64_t last_time = 0;
};

struct HourStats {
  std::uint64_t statements = 0;
  double statement_ms = 0;
  std::uint64_t errors = 0;
  std::uint64_t lock_waits = 0;
  std::uint64_t deadlocks = 0;
  std::uint64_t temp_files = 0;
  std::uint64_t checkpoints = 0;
};

struct LogStats {
  static constexpr std::size_t kMaxDeadlocks = 1000;
  static constexpr std::size_t kMaxLockTimeouts = 1000;

  std::uint64_t bytes = 0;
  std::uint64_t lines = 0;
  std::uint64_t entries = 0;
  std::uint64_t unparsed_lines = 0;
  std::int64_t first_time = 0;
  std::int64_t last_time = 0;
  std::uint64_t connections = 0;
  std::uint64_t disconnections = 0;
  std::uint64_t autovacuums = 0;
  std::uint64_t autoanalyzes = 0;
  std::uint64_t parse_bind_durations = 0;  // extended-protocol parse/bind steps (not counted)
  std::unordered_map<std::uint64_t, StatementStats> statements;  // by fingerprint
  std::map<std::string, LockWaitStats> lock_waits;                // by lock + fingerprint
  std::uint64_t deadlock_count = 0;
  std::vector<Deadlock> deadlocks;  // the first kMaxDeadlocks
  std::uint64_t lock_timeout_count = 0;
  std::vector<LockTimeout> lock_timeouts;  // the first kMaxLockTimeouts
  std::unordered_map<std::uint64_t, TempFileStats> temp_files;  // by fingerprint
  std::uint64_t temp_file_count = 0;
  std::uint64_t temp_file_bytes = 0;
  CheckpointStats checkpoints;
  std::map<std::string, ErrorStats> errors;  // by severity + normalised message
  std::map<std::int64_t, HourStats> hours;

  // Adds `later` (the stats of the stream that follows this one).
  void Merge(LogStats&& later);
};

// Classifies entries of one stream into a LogStats. Remembers each process's last statement
// (bounded) so that lock waits and timeouts can name the blocker's query.
class LogAnalyzer {
 public:
  explicit LogAnalyzer(LogStats& stats) : stats_(stats) {}
  void Consume(const LogEntry& entry);
  // Attributes what still waits for its statement (temp files, lock waits) to "unknown".
  void Finish();

 private:
  void OnLog(const LogEntry& e, std::string_view msg);
  void OnDuration(const LogEntry& e, std::string_view rest);
  void OnStatement(const LogEntry& e, double ms, std::string_view sql, bool is_plan,
                   std::string_view plan);
  void OnLockWait(const LogEntry& e, std::string_view msg, bool acquired);
  void OnTempFile(const LogEntry& e, std::string_view msg);
  void OnCheckpoint(std::string_view msg);
  void OnProblem(const LogEntry& e);
  void OnDeadlock(const LogEntry& e);
  void OnLockTimeout(const LogEntry& e);
  void Remember(std::int64_t pid, std::string_view sql);
  std::string LastStatementOf(std::int64_t pid) const;
  HourStats& Hour(std::int64_t time);

  // Temp files and lock waits are logged before their statement's duration line (and without
  // a STATEMENT part unless log_min_error_statement <= LOG): they wait for it per process.
  struct Awaiting {
    std::uint64_t temp_files = 0;
    std::uint64_t temp_bytes = 0;
    std::vector<std::string> lock_keys;
  };
  void Resolve(std::int64_t pid, std::string_view sql);
  void AddTempFiles(std::string_view sql, std::uint64_t files, std::uint64_t bytes,
                    std::uint64_t max_bytes);

  static constexpr std::size_t kMaxRemembered = 20000;

  LogStats& stats_;
  std::unordered_map<std::int64_t, std::string> last_statement_;  // pid -> SQL
  std::unordered_map<std::int64_t, std::int64_t> blocker_of_;      // waiting pid -> holder pid
  std::unordered_map<std::int64_t, std::string> pending_statement_;  // log_statement, no duration
  std::unordered_map<std::int64_t, Awaiting> awaiting_;
};

}  // namespace dbmedic::diagnose
