// The replication half of PgCollector: archiver and RPO, standbys seen from the primary,
// replication slots, and receive/replay lag seen from a standby.
#include <set>

#include <fmt/format.h>

#include "monitor/pg_collector.hpp"
#include "pg/lsn.hpp"

namespace dbmedic::monitor {
namespace {

std::optional<std::uint64_t> LsnOf(const pg::Result& r, int row, int col) {
  if (r.IsNull(row, col)) return std::nullopt;
  auto lsn = pg::Lsn::TryParse(r.Get(row, col));
  if (!lsn) return std::nullopt;
  return lsn->value;
}

double BytesBehind(std::uint64_t current, std::optional<std::uint64_t> position) {
  if (!position || *position >= current) return 0;
  return static_cast<double>(current - *position);
}

}  // namespace

void PgCollector::CollectArchiver(FamilyBuilder& b) {
  auto r = conn_->ExecPrepared(
      "SELECT archived_count, last_archived_wal, "
      "extract(epoch FROM last_archived_time)::float8, failed_count, "
      "extract(epoch FROM last_failed_time)::float8, current_setting('archive_mode'), "
      "pg_size_bytes(current_setting('wal_segment_size')) "
      "FROM pg_stat_archiver");
  bool enabled = r.Get(0, 5) != "off";
  b.Gauge("dbmedic_pg_archive_mode_enabled", "1 if archive_mode is on or always.", L(),
          enabled ? 1 : 0);
  b.Counter("dbmedic_pg_archiver_archived_total", "WAL files archived since the stats reset.", L(),
            r.GetDouble(0, 0));
  b.Counter("dbmedic_pg_archiver_failed_total", "Failed archive_command runs since the reset.",
            L(), r.GetDouble(0, 3));
  std::optional<double> last_ok, last_failed;
  if (!r.IsNull(0, 2)) last_ok = r.GetDouble(0, 2);
  if (!r.IsNull(0, 4)) last_failed = r.GetDouble(0, 4);
  if (last_ok) {
    b.Gauge("dbmedic_pg_archiver_last_archived_timestamp_seconds",
            "Unix time of the last successful archive.", L(), *last_ok);
  }
  if (last_failed) {
    b.Gauge("dbmedic_pg_archiver_last_failed_timestamp_seconds",
            "Unix time of the last failed archive attempt.", L(), *last_failed);
  }
  bool failing = last_failed && (!last_ok || *last_failed > *last_ok);
  b.Gauge("dbmedic_pg_archiver_failing", "1 if the last archive attempt failed.", L(),
          enabled && failing ? 1 : 0);
  if (!enabled || in_recovery_) return;

  // RPO: WAL after the end of the last archived segment is not in the archive yet.
  std::uint64_t seg_size = static_cast<std::uint64_t>(r.GetInt(0, 6));
  std::uint64_t archived_end = 0;
  if (auto name = pg::ParseWalSegmentName(r.Get(0, 1), seg_size)) {
    archived_end = pg::SegmentStart(name->segno + 1, seg_size).value;
  }
  double pending = current_lsn_ > archived_end ? static_cast<double>(current_lsn_ - archived_end)
                                               : 0;
  b.Gauge("dbmedic_pg_rpo_bytes", "WAL bytes written but not yet archived.", L(), pending);
  double since = last_ok.value_or(start_time_);
  b.Gauge("dbmedic_pg_rpo_seconds",
          "Seconds since the last successful archive while WAL is waiting to be archived (0 "
          "when everything is archived).", L(), pending > 0 ? std::max(0.0, server_now_ - since)
                                                            : 0);
}

void PgCollector::CollectReplication(FamilyBuilder& b) {
  auto r = conn_->ExecPrepared(
      "SELECT coalesce(s.slot_name, r.application_name), r.application_name, "
      "coalesce(host(r.client_addr), 'local'), coalesce(r.state, ''), coalesce(r.sync_state, ''), "
      "r.write_lsn::text, r.flush_lsn::text, r.replay_lsn::text, "
      "extract(epoch FROM r.write_lag)::float8, extract(epoch FROM r.flush_lag)::float8, "
      "extract(epoch FROM r.replay_lag)::float8 "
      "FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid");
  std::set<std::string> connected;
  for (int i = 0; i < r.rows(); ++i) {
    std::string standby = r.GetString(i, 0);
    connected.insert(standby);
    b.Gauge("dbmedic_pg_replication_standby_info", "A connected standby (value is 1).",
            L({{"standby", standby}, {"application_name", r.GetString(i, 1)},
               {"client_addr", r.GetString(i, 2)}, {"state", r.GetString(i, 3)},
               {"sync_state", r.GetString(i, 4)}}), 1);
    StandbyPositions& pos = standbys_[standby];
    const char* kinds[] = {"write", "flush", "replay"};
    for (int k = 0; k < 3; ++k) {
      auto lsn = LsnOf(r, i, 5 + k);
      if (lsn) pos.lsn[k] = *lsn;
      double pg_lag = r.IsNull(i, 8 + k) ? 0 : r.GetDouble(i, 8 + k);
      EmitLag(b, standby, kinds[k], lsn, pg_lag);
    }
  }
  // Standbys seen before (or holding a physical slot) that are not connected now: their lag
  // keeps growing from the last position they reported.
  for (auto& [standby, pos] : standbys_) {
    if (connected.contains(standby)) continue;
    const char* kinds[] = {"write", "flush", "replay"};
    for (int k = 0; k < 3; ++k) EmitLag(b, standby, kinds[k], pos.lsn[k], 0);
  }
  for (const auto& [standby, pos] : standbys_) {
    b.Gauge("dbmedic_pg_replication_standby_connected",
            "1 if the standby (by slot or application_name) is streaming now.",
            L({{"standby", standby}}), connected.contains(standby) ? 1 : 0);
  }
}

void PgCollector::EmitLag(FamilyBuilder& b, const std::string& standby, const char* kind,
                          std::optional<std::uint64_t> position, double pg_lag_seconds) {
  Labels l = L({{"standby", standby}, {"kind", kind}});
  double bytes = BytesBehind(current_lsn_, position);
  b.Gauge("dbmedic_pg_replication_lag_bytes", "WAL bytes the standby has not written / flushed "
          "/ replayed yet.", l, bytes);
  double seconds = 0;
  if (bytes > 0) {
    seconds = std::max(pg_lag_seconds, timeline_.LagSeconds(position.value_or(0), b.time()));
  }
  b.Gauge("dbmedic_pg_replication_lag_seconds",
          "Age of the oldest WAL the standby has not written / flushed / replayed yet.", l,
          seconds);
}

void PgCollector::CollectSlots(FamilyBuilder& b) {
  auto r = conn_->ExecPrepared(
      "SELECT slot_name, slot_type, active, restart_lsn::text, coalesce(wal_status, '') "
      "FROM pg_replication_slots ORDER BY slot_name");
  for (int i = 0; i < r.rows(); ++i) {
    std::string slot = r.GetString(i, 0);
    std::string type = r.GetString(i, 1);
    bool active = r.GetBool(i, 2);
    auto restart = LsnOf(r, i, 3);
    Labels l = L({{"slot", slot}, {"type", type}});
    double retained = BytesBehind(current_lsn_, restart);
    b.Gauge("dbmedic_pg_replication_slot_active", "1 if a consumer is connected to the slot.", l,
            active ? 1 : 0);
    b.Gauge("dbmedic_pg_replication_slot_retained_bytes",
            "WAL retained for the slot (current position - restart_lsn).", l, retained);
    b.Gauge("dbmedic_pg_replication_slot_inactive_retained_bytes",
            "WAL retained by the slot while nobody consumes it (0 when active).", l,
            active ? 0 : retained);
    b.Gauge("dbmedic_pg_replication_slot_wal_lost", "1 if the slot's WAL was removed "
            "(wal_status lost).", l, r.Get(i, 4) == "lost" ? 1 : 0);
    // A physical slot stands for a standby: remember it so a disconnected one still has a lag.
    if (!in_recovery_ && type == "physical" && !active && restart &&
        !standbys_.contains(slot)) {
      standbys_[slot].lsn = {*restart, *restart, *restart};
    }
  }
}

void PgCollector::CollectStandby(FamilyBuilder& b) {
  auto r = conn_->ExecPrepared(
      "SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, "
      "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, "
      "pg_is_wal_replay_paused()");
  auto receive = LsnOf(r, 0, 0);
  auto replay = LsnOf(r, 0, 1);
  double replay_bytes = receive && replay && *receive > *replay
                            ? static_cast<double>(*receive - *replay) : 0;
  b.Gauge("dbmedic_pg_standby_replay_lag_bytes", "WAL received but not replayed yet.", L(),
          replay_bytes);
  double replay_age = r.IsNull(0, 2) ? 0 : r.GetDouble(0, 2);
  b.Gauge("dbmedic_pg_standby_replay_lag_seconds",
          "Age of the last replayed transaction while WAL is waiting to be replayed.", L(),
          replay_bytes > 0 ? replay_age : 0);
  b.Gauge("dbmedic_pg_standby_last_replay_age_seconds",
          "Seconds since the last replayed transaction committed on the primary.", L(),
          replay_age);
  b.Gauge("dbmedic_pg_standby_replay_paused", "1 if WAL replay is paused.", L(),
          r.GetBool(0, 3) ? 1 : 0);

  auto w = conn_->ExecPrepared(
      "SELECT status, flushed_lsn::text, latest_end_lsn::text, "
      "extract(epoch FROM now() - last_msg_receipt_time)::float8 FROM pg_stat_wal_receiver");
  bool streaming = w.rows() > 0 && w.Get(0, 0) == "streaming";
  b.Gauge("dbmedic_pg_standby_receiver_connected", "1 if the WAL receiver is streaming.", L(),
          streaming ? 1 : 0);
  if (w.rows() == 0) return;
  b.Gauge("dbmedic_pg_standby_receive_lag_bytes",
          "WAL the primary last reported beyond what this standby flushed.", L(),
          BytesBehind(LsnOf(w, 0, 2).value_or(0), LsnOf(w, 0, 1)));
  if (!w.IsNull(0, 3)) {
    b.Gauge("dbmedic_pg_standby_last_message_age_seconds",
            "Seconds since the last message from the primary.", L(), w.GetDouble(0, 3));
  }
}

}  // namespace dbmedic::monitor
