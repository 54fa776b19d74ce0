// PostgreSQL metrics of one cluster: availability, version, uptime, connections, transactions,
// tuples, cache, temp files, deadlocks, sizes, checkpoints/bgwriter, WAL rate, archiver and RPO,
// replication (per standby and slot, or receive/replay lag on a standby), old and idle
// transactions, lock waits, autovacuum and transaction-ID age.
//
// One connection, reused between runs and reopened after a failure; every statement runs under
// statement_timeout = the collector timeout. Every sample carries the target's name as label
// "target". When the server cannot be reached, the result holds dbmedic_pg_up 0 and the error.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "monitor/collector.hpp"
#include "monitor/lsn_timeline.hpp"
#include "monitor/target.hpp"
#include "pg/connection.hpp"

namespace dbmedic::monitor {

struct PgCollectorOptions {
  std::chrono::milliseconds interval{15000};
  std::chrono::milliseconds timeout{10000};
  // Database sizes are measured this often (0: every collection); see monitor.size_interval.
  std::chrono::milliseconds size_interval{60000};
  // How far back the LSN timeline reaches (monitor.lsn_timeline_window).
  std::chrono::milliseconds lsn_timeline_window = LsnTimeline::kDefaultWindow;
};

class PgCollector final : public Collector {
 public:
  PgCollector(MonitorTarget target, PgCollectorOptions options);
  std::string name() const override { return "postgres:" + target_.name; }
  std::chrono::milliseconds interval() const override { return options_.interval; }
  CollectResult Collect() override;

 private:
  // Each adds its families; `b` carries the sample time. They throw Error(kPostgres).
  void CollectInstance(FamilyBuilder& b);
  void CollectActivity(FamilyBuilder& b);
  void CollectDatabases(FamilyBuilder& b);
  void MeasureDatabaseSizesIfDue();
  void CollectBgwriter(FamilyBuilder& b);
  void CollectWal(FamilyBuilder& b);
  void CollectArchiver(FamilyBuilder& b);
  void CollectReplication(FamilyBuilder& b);
  void CollectSlots(FamilyBuilder& b);
  void CollectStandby(FamilyBuilder& b);
  void EmitLag(FamilyBuilder& b, const std::string& standby, const char* kind,
               std::optional<std::uint64_t> position, double pg_lag_seconds);

  Labels L(Labels extra = {}) const;
  // Per-second rate of a counter since the previous run (nullopt on the first run or a reset).
  std::optional<double> Rate(std::optional<std::pair<TimePoint, double>>& prev, TimePoint now,
                             double value);

  MonitorTarget target_;
  PgCollectorOptions options_;
  std::optional<pg::Connection> conn_;
  // Facts of the current run, shared by the Collect* steps.
  bool in_recovery_ = false;
  std::uint64_t current_lsn_ = 0;  // insert position (primary) or replay position (standby)
  double server_now_ = 0;          // server's now() as Unix time
  double start_time_ = 0;
  LsnTimeline timeline_;
  std::optional<std::pair<TimePoint, double>> prev_xacts_;
  std::optional<std::pair<TimePoint, double>> prev_wal_;
  std::map<std::string, double> database_sizes_;  // datname -> bytes, as last measured
  std::optional<std::chrono::steady_clock::time_point> sizes_measured_at_;
  // Standbys seen streaming (or holding a physical slot), by slot name or application_name, with
  // their last write/flush/replay positions: lag of a disconnected standby keeps growing.
  struct StandbyPositions {
    std::array<std::uint64_t, 3> lsn{};
  };
  std::map<std::string, StandbyPositions> standbys_;
};

}  // namespace dbmedic::monitor
