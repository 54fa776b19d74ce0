#include "monitor/pg_collector.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "pg/lsn.hpp"

namespace dbmedic::monitor {
namespace {

// A Prometheus-friendly LSN: bytes since 0/0.
std::uint64_t LsnBytes(std::string_view text) {
  auto lsn = pg::Lsn::TryParse(text);
  return lsn ? lsn->value : 0;
}

// Whether a failure was a timeout: statement_timeout (SQLSTATE 57014), lock_timeout (55P03) or
// libpq's connect_timeout. pg::Connection puts the SQLSTATE in brackets in its message.
bool IsTimeout(std::string_view message) {
  return message.find("[57014]") != std::string_view::npos ||
         message.find("[55P03]") != std::string_view::npos ||
         message.find("timeout expired") != std::string_view::npos;
}

// Wraparound happens at 2^31 transaction IDs of age.
constexpr double kXidWraparoundAge = 2147483648.0;

}  // namespace

PgCollector::PgCollector(MonitorTarget target, PgCollectorOptions options)
    : target_(std::move(target)), options_(options), timeline_(options.lsn_timeline_window) {}

Labels PgCollector::L(Labels extra) const {
  extra["target"] = target_.name;
  return extra;
}

std::optional<double> PgCollector::Rate(std::optional<std::pair<TimePoint, double>>& prev,
                                        TimePoint now, double value) {
  std::optional<double> rate;
  if (prev && value >= prev->second) {
    double seconds = std::chrono::duration<double>(now - prev->first).count();
    if (seconds > 0) rate = (value - prev->second) / seconds;
  }
  prev = std::make_pair(now, value);
  return rate;
}

CollectResult PgCollector::Collect() {
  FamilyBuilder b(std::chrono::system_clock::now());
  try {
    if (!conn_) {
      int timeout_s = std::max<int>(1, static_cast<int>(options_.timeout.count() / 1000));
      conn_ = pg::Connection::Open(WithConnectOptions(target_.conninfo, timeout_s));
      conn_->Exec(fmt::format("SET statement_timeout = {}", options_.timeout.count()));
      // A lock wait gives up within the collector timeout too (after at most 1 s): the catalog
      // views the collector reads are only locked by DDL, which should not stall monitoring.
      conn_->Exec(fmt::format("SET lock_timeout = {}",
                              std::min<std::int64_t>(1000, options_.timeout.count())));
    }
    CollectInstance(b);
    CollectActivity(b);
    CollectDatabases(b);
    CollectBgwriter(b);
    CollectWal(b);
    CollectArchiver(b);
    if (in_recovery_) {
      CollectStandby(b);
    } else {
      CollectReplication(b);
    }
    CollectSlots(b);
    return {b.Take(), std::nullopt};
  } catch (const std::exception& e) {
    // A broken connection is reopened next time; one that only had a statement cancelled
    // (timeout) is kept, so a stuck server never collects a pile of half-closed sessions.
    // Report the target as down, with what was collected before the failure dropped (a
    // half-read snapshot would mislead the rules).
    if (conn_ && PQstatus(conn_->raw()) != CONNECTION_OK) conn_.reset();
    spdlog::warn("monitor: collecting PostgreSQL metrics of target '{}' failed: {}",
                 target_.name, e.what());
    FamilyBuilder down(b.time());
    down.Gauge("dbmedic_pg_up", "1 if the cluster answered the last collection.", L(), 0);
    return {down.Take(), std::string(e.what()), IsTimeout(e.what())};
  }
}

void PgCollector::CollectInstance(FamilyBuilder& b) {
  auto r = conn_->ExecPrepared(
      "SELECT current_setting('server_version_num')::int, current_setting('server_version'), "
      "extract(epoch FROM pg_postmaster_start_time())::float8, extract(epoch FROM now())::float8, "
      "pg_is_in_recovery(), current_setting('max_connections')::int, "
      "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text "
      "ELSE pg_current_wal_insert_lsn()::text END");
  in_recovery_ = r.GetBool(0, 4);
  server_now_ = r.GetDouble(0, 3);
  start_time_ = r.GetDouble(0, 2);
  current_lsn_ = LsnBytes(r.Get(0, 6));
  b.Gauge("dbmedic_pg_up", "1 if the cluster answered the last collection.", L(), 1);
  b.Gauge("dbmedic_pg_version_info", "PostgreSQL version (value is 1).",
          L({{"version", r.GetString(0, 1)}, {"version_num", r.GetString(0, 0)}}), 1);
  b.Gauge("dbmedic_pg_start_time_seconds", "Unix time the postmaster started.", L(), start_time_);
  b.Gauge("dbmedic_pg_uptime_seconds", "Seconds since the postmaster started.", L(),
          server_now_ - start_time_);
  b.Gauge("dbmedic_pg_in_recovery", "1 on a standby (or a server in recovery).", L(),
          in_recovery_ ? 1 : 0);
  b.Gauge("dbmedic_pg_max_connections", "max_connections setting.", L(), r.GetDouble(0, 5));
  if (!in_recovery_) timeline_.Record(b.time(), current_lsn_);
}

void PgCollector::CollectActivity(FamilyBuilder& b) {
  // Client backends only: background workers and walsenders are not "connections" users count.
  auto states = conn_->ExecPrepared(
      "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
      "WHERE backend_type = 'client backend' GROUP BY 1");
  std::map<std::string, double> by_state = {{"active", 0},
                                            {"idle", 0},
                                            {"idle in transaction", 0},
                                            {"idle in transaction (aborted)", 0}};
  double total = 0;
  for (int i = 0; i < states.rows(); ++i) {
    by_state[states.GetString(i, 0)] = states.GetDouble(i, 1);
    total += states.GetDouble(i, 1);
  }
  for (const auto& [state, count] : by_state) {
    b.Gauge("dbmedic_pg_connections", "Client connections by state.", L({{"state", state}}),
            count);
  }
  auto max = conn_->ExecPrepared("SELECT current_setting('max_connections')::int - "
                                 "current_setting('superuser_reserved_connections')::int");
  double usable = max.GetDouble(0, 0);
  b.Gauge("dbmedic_pg_connections_used_ratio",
          "Client connections / (max_connections - superuser_reserved_connections).", L(),
          usable > 0 ? total / usable : 0);

  auto r = conn_->ExecPrepared(
      "SELECT "
      "coalesce(max(extract(epoch FROM now() - xact_start)) FILTER (WHERE xact_start IS NOT NULL "
      "  AND backend_type = 'client backend' AND pid <> pg_backend_pid()), 0)::float8, "
      "count(*) FILTER (WHERE state LIKE 'idle in transaction%'), "
      "coalesce(max(extract(epoch FROM now() - state_change)) "
      "  FILTER (WHERE state LIKE 'idle in transaction%'), 0)::float8, "
      "count(*) FILTER (WHERE wait_event_type = 'Lock'), "
      "coalesce(max(extract(epoch FROM now() - query_start)) "
      "  FILTER (WHERE wait_event_type = 'Lock'), 0)::float8, "
      "count(*) FILTER (WHERE backend_type = 'autovacuum worker'), "
      "coalesce(max(extract(epoch FROM now() - xact_start)) "
      "  FILTER (WHERE backend_type = 'autovacuum worker'), 0)::float8 "
      "FROM pg_stat_activity");
  b.Gauge("dbmedic_pg_oldest_transaction_age_seconds",
          "Age of the oldest open transaction of a client backend.", L(), r.GetDouble(0, 0));
  b.Gauge("dbmedic_pg_idle_in_transaction_sessions", "Sessions idle inside a transaction.", L(),
          r.GetDouble(0, 1));
  b.Gauge("dbmedic_pg_idle_in_transaction_max_age_seconds",
          "Longest time a session has been idle inside a transaction.", L(), r.GetDouble(0, 2));
  b.Gauge("dbmedic_pg_lock_waiting_sessions", "Sessions waiting for a heavyweight lock.", L(),
          r.GetDouble(0, 3));
  b.Gauge("dbmedic_pg_lock_wait_max_seconds",
          "Longest running query among the sessions waiting for a lock.", L(), r.GetDouble(0, 4));
  b.Gauge("dbmedic_pg_autovacuum_workers", "Running autovacuum workers.", L(), r.GetDouble(0, 5));
  b.Gauge("dbmedic_pg_autovacuum_max_age_seconds", "Age of the longest running autovacuum.", L(),
          r.GetDouble(0, 6));
}

void PgCollector::MeasureDatabaseSizesIfDue() {
  const auto now = std::chrono::steady_clock::now();
  if (sizes_measured_at_ && now - *sizes_measured_at_ < options_.size_interval) return;
  auto r = conn_->ExecPrepared(
      "SELECT datname, pg_database_size(oid) FROM pg_database WHERE datallowconn");
  database_sizes_.clear();
  for (int i = 0; i < r.rows(); ++i) database_sizes_[r.GetString(i, 0)] = r.GetDouble(i, 1);
  sizes_measured_at_ = now;
}

void PgCollector::CollectDatabases(FamilyBuilder& b) {
  MeasureDatabaseSizesIfDue();
  auto r = conn_->ExecPrepared(
      "SELECT d.datname, s.xact_commit, s.xact_rollback, s.blks_read, s.blks_hit, "
      "s.tup_returned, s.tup_fetched, s.tup_inserted, s.tup_updated, s.tup_deleted, "
      "s.temp_files, s.temp_bytes, s.deadlocks, age(d.datfrozenxid) "
      "FROM pg_database d JOIN pg_stat_database s ON s.datid = d.oid "
      "WHERE d.datallowconn ORDER BY d.datname");
  double xacts = 0, hits = 0, reads = 0, max_age = 0;
  for (int i = 0; i < r.rows(); ++i) {
    Labels l = L({{"datname", r.GetString(i, 0)}});
    auto counter = [&](const char* name, const char* help, int col) {
      b.Counter(name, help, l, r.GetDouble(i, col));
    };
    counter("dbmedic_pg_xact_commits_total", "Committed transactions.", 1);
    counter("dbmedic_pg_xact_rollbacks_total", "Rolled back transactions.", 2);
    counter("dbmedic_pg_blocks_read_total", "Blocks read from outside shared buffers.", 3);
    counter("dbmedic_pg_blocks_hit_total", "Blocks found in shared buffers.", 4);
    counter("dbmedic_pg_tuples_returned_total", "Tuples returned by scans.", 5);
    counter("dbmedic_pg_tuples_fetched_total", "Tuples fetched by index scans.", 6);
    counter("dbmedic_pg_tuples_inserted_total", "Tuples inserted.", 7);
    counter("dbmedic_pg_tuples_updated_total", "Tuples updated.", 8);
    counter("dbmedic_pg_tuples_deleted_total", "Tuples deleted.", 9);
    counter("dbmedic_pg_temp_files_total", "Temporary files created by queries.", 10);
    counter("dbmedic_pg_temp_bytes_total", "Bytes written to temporary files.", 11);
    counter("dbmedic_pg_deadlocks_total", "Deadlocks detected.", 12);
    // A database created since the last size measurement has no size until the next one.
    if (auto size = database_sizes_.find(r.GetString(i, 0)); size != database_sizes_.end()) {
      b.Gauge("dbmedic_pg_database_size_bytes",
              "Size of the database on disk (measured every monitor.size_interval).", l,
              size->second);
    }
    b.Gauge("dbmedic_pg_database_xid_age", "Age of the database's datfrozenxid.", l,
            r.GetDouble(i, 13));
    double db_hit = r.GetDouble(i, 4), db_read = r.GetDouble(i, 3);
    b.Gauge("dbmedic_pg_cache_hit_ratio", "Shared buffer hits / (hits + reads) since the stats "
            "reset.", l, db_hit + db_read > 0 ? db_hit / (db_hit + db_read) : 1);
    xacts += r.GetDouble(i, 1) + r.GetDouble(i, 2);
    hits += db_hit;
    reads += db_read;
    max_age = std::max(max_age, r.GetDouble(i, 13));
  }
  b.Gauge("dbmedic_pg_xid_wraparound_ratio",
          "Oldest datfrozenxid age / 2^31: 1 means transaction-ID wraparound.", L(),
          max_age / kXidWraparoundAge);
  if (auto tps = Rate(prev_xacts_, b.time(), xacts)) {
    b.Gauge("dbmedic_pg_transactions_per_second",
            "Commits + rollbacks per second over the last interval, all databases.", L(), *tps);
  }
}

void PgCollector::CollectBgwriter(FamilyBuilder& b) {
  // PostgreSQL 15 and 16; 17 moved the checkpoint columns to pg_stat_checkpointer.
  auto r = conn_->ExecPrepared(
      "SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time / 1000.0, "
      "checkpoint_sync_time / 1000.0, buffers_checkpoint, buffers_clean, maxwritten_clean, "
      "buffers_backend, buffers_backend_fsync, buffers_alloc FROM pg_stat_bgwriter");
  const std::pair<const char*, const char*> columns[] = {
      {"dbmedic_pg_checkpoints_timed_total", "Scheduled checkpoints."},
      {"dbmedic_pg_checkpoints_requested_total", "Requested checkpoints."},
      {"dbmedic_pg_checkpoint_write_seconds_total", "Time spent writing checkpoint files."},
      {"dbmedic_pg_checkpoint_sync_seconds_total", "Time spent syncing checkpoint files."},
      {"dbmedic_pg_buffers_checkpoint_total", "Buffers written by checkpoints."},
      {"dbmedic_pg_buffers_clean_total", "Buffers written by the background writer."},
      {"dbmedic_pg_bgwriter_maxwritten_clean_total",
       "Times the background writer stopped for writing too many buffers."},
      {"dbmedic_pg_buffers_backend_total", "Buffers written directly by backends."},
      {"dbmedic_pg_buffers_backend_fsync_total", "Times a backend had to fsync itself."},
      {"dbmedic_pg_buffers_alloc_total", "Buffers allocated."},
  };
  for (int col = 0; col < 10; ++col) {
    b.Counter(columns[col].first, columns[col].second, L(), r.GetDouble(0, col));
  }
}

void PgCollector::CollectWal(FamilyBuilder& b) {
  auto r = conn_->ExecPrepared("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal");
  b.Counter("dbmedic_pg_wal_records_total", "WAL records generated.", L(), r.GetDouble(0, 0));
  b.Counter("dbmedic_pg_wal_fpi_total", "WAL full-page images generated.", L(),
            r.GetDouble(0, 1));
  b.Counter("dbmedic_pg_wal_bytes_total", "WAL bytes generated.", L(), r.GetDouble(0, 2));
  b.Gauge("dbmedic_pg_wal_position_bytes",
          "Current WAL insert position (replay position on a standby) as bytes since 0/0.", L(),
          static_cast<double>(current_lsn_));
  if (auto rate = Rate(prev_wal_, b.time(), static_cast<double>(current_lsn_))) {
    b.Gauge("dbmedic_pg_wal_bytes_per_second", "WAL generation (or replay) rate over the last "
            "interval.", L(), *rate);
  }
}

}  // namespace dbmedic::monitor
