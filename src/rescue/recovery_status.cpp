#include "rescue/recovery_status.hpp"

#include <fmt/format.h>

#include "pg/lsn.hpp"

namespace dbmedic::rescue {
namespace {

std::string Seconds(double s) {
  if (s < 120) return fmt::format("{:.1f} s", s);
  if (s < 7200) return fmt::format("{:.1f} min", s / 60);
  if (s < 172800) return fmt::format("{:.1f} h", s / 3600);
  return fmt::format("{:.1f} d", s / 86400);
}

std::string Met(const std::optional<bool>& met) {
  if (!met) return "unknown: not measured yet";
  return *met ? "target met" : "NOT MET";
}

void Predict(const RecoveryInputs& in, RecoveryStatus& s) {
  if (!s.last_success || s.last_success->restore_bytes_per_second <= 0 || in.backups.empty()) {
    return;
  }
  const repo::Manifest& newest = in.backups.back();
  s.predicted_restore_bytes = in.cluster_bytes.value_or(newest.database_size);
  if (in.current_lsn) {
    const std::uint64_t start = pg::Lsn::Parse(newest.start_lsn).value;
    s.predicted_wal_bytes = *in.current_lsn > start ? *in.current_lsn - start : 0;
  }
  s.replay_rate_assumed = true;
  s.replay_bytes_per_second = kAssumedReplayRate;
  for (auto it = in.drills.rbegin(); it != in.drills.rend(); ++it) {
    if (it->passed && it->wal_bytes_replayed >= kMinReplayForRate &&
        it->replay_bytes_per_second > 0) {
      s.replay_bytes_per_second = it->replay_bytes_per_second;
      s.replay_rate_assumed = false;
      break;
    }
  }
  s.predicted_rto_seconds =
      static_cast<double>(s.predicted_restore_bytes) / s.last_success->restore_bytes_per_second +
      s.last_success->replay_seconds +
      static_cast<double>(s.predicted_wal_bytes) / s.replay_bytes_per_second;
}

}  // namespace

RecoveryStatus ComputeRecoveryStatus(const RecoveryInputs& in, const RecoveryPolicy& policy) {
  RecoveryStatus s;
  s.policy = policy;
  if (!in.drills.empty()) s.last_drill = in.drills.back();
  for (auto it = in.drills.rbegin(); it != in.drills.rend(); ++it) {
    if (!it->passed) continue;
    s.last_success = *it;
    s.last_success_age_seconds = static_cast<double>(in.now - it->started_at);
    break;
  }
  if (!in.backups.empty()) {
    s.newest_backup = in.backups.back().label;
    s.newest_backup_age_seconds = static_cast<double>(in.now - in.backups.back().stop_time);
    s.backup_fresh = *s.newest_backup_age_seconds <= policy.backup_max_age_seconds;
  }
  s.drill_fresh = s.last_success && s.last_drill->passed &&
                  *s.last_success_age_seconds <= policy.drill_max_age_seconds;
  Predict(in, s);
  if (s.predicted_rto_seconds) s.rto_met = *s.predicted_rto_seconds <= policy.rto_target_seconds;
  s.rpo_seconds = in.rpo_seconds;
  if (s.rpo_seconds) s.rpo_met = *s.rpo_seconds <= policy.rpo_target_seconds;
  return s;
}

nlohmann::json ToJson(const RecoveryStatus& s) {
  auto opt = [](const auto& v) -> nlohmann::json {
    if (v) return *v;
    return nullptr;
  };
  nlohmann::json j = {
      {"last_drill", s.last_drill ? nlohmann::json{{"id", s.last_drill->id},
                                                   {"passed", s.last_drill->passed},
                                                   {"error", s.last_drill->error}}
                                  : nlohmann::json(nullptr)},
      {"last_successful_drill", s.last_success ? nlohmann::json(s.last_success->id)
                                               : nlohmann::json(nullptr)},
      {"last_successful_drill_rto_seconds",
       s.last_success ? nlohmann::json(s.last_success->rto_seconds) : nlohmann::json(nullptr)},
      {"last_successful_drill_age_seconds", opt(s.last_success_age_seconds)},
      {"newest_backup", opt(s.newest_backup)},
      {"newest_backup_age_seconds", opt(s.newest_backup_age_seconds)},
      {"predicted_rto_seconds", opt(s.predicted_rto_seconds)},
      {"predicted_restore_bytes", s.predicted_restore_bytes},
      {"predicted_wal_bytes", s.predicted_wal_bytes},
      {"replay_bytes_per_second", s.replay_bytes_per_second},
      {"replay_rate_assumed", s.replay_rate_assumed},
      {"rpo_seconds", opt(s.rpo_seconds)},
      {"rpo_target_seconds", s.policy.rpo_target_seconds},
      {"rto_target_seconds", s.policy.rto_target_seconds},
      {"backup_max_age_seconds", s.policy.backup_max_age_seconds},
      {"drill_max_age_seconds", s.policy.drill_max_age_seconds},
      {"rpo_met", opt(s.rpo_met)},
      {"rto_met", opt(s.rto_met)},
      {"backup_fresh", s.backup_fresh},
      {"drill_fresh", s.drill_fresh}};
  return j;
}

std::vector<std::string> DescribeRecoveryStatus(const RecoveryStatus& s) {
  std::vector<std::string> out;
  if (s.newest_backup) {
    out.push_back(fmt::format("newest backup: {} ({} old; policy {}: {})", *s.newest_backup,
                              Seconds(*s.newest_backup_age_seconds),
                              Seconds(s.policy.backup_max_age_seconds),
                              s.backup_fresh ? "ok" : "TOO OLD"));
  } else {
    out.push_back("newest backup: none");
  }
  if (s.last_success) {
    out.push_back(fmt::format("last successful drill: {} ({} ago), RTO {}; policy {}: {}",
                              s.last_success->id, Seconds(*s.last_success_age_seconds),
                              Seconds(s.last_success->rto_seconds),
                              Seconds(s.policy.drill_max_age_seconds),
                              s.drill_fresh ? "ok" : "TOO OLD OR LAST DRILL FAILED"));
  } else {
    out.push_back("last successful drill: none (run dbmedic drill)");
  }
  if (s.last_drill && !s.last_drill->passed) {
    out.push_back(fmt::format("last drill FAILED: {}: {}", s.last_drill->id, s.last_drill->error));
  }
  if (s.predicted_rto_seconds) {
    out.push_back(fmt::format("predicted RTO now: {} ({} to restore, {} of WAL to replay at "
                              "{}); target {}: {}",
                              Seconds(*s.predicted_rto_seconds),
                              fmt::format("{:.1f} MiB", s.predicted_restore_bytes / 1048576.0),
                              fmt::format("{:.1f} MiB", s.predicted_wal_bytes / 1048576.0),
                              fmt::format("{:.0f} MiB/s{}", s.replay_bytes_per_second / 1048576.0,
                                          s.replay_rate_assumed
                                              ? " (assumed: no drill --to-time measured it)"
                                              : ""),
                              Seconds(s.policy.rto_target_seconds), Met(s.rto_met)));
  } else {
    out.push_back(fmt::format("predicted RTO now: unknown (needs a successful drill); target {}: {}",
                              Seconds(s.policy.rto_target_seconds), Met(s.rto_met)));
  }
  if (s.rpo_seconds) {
    out.push_back(fmt::format("current RPO: {}; target {}: {}", Seconds(*s.rpo_seconds),
                              Seconds(s.policy.rpo_target_seconds), Met(s.rpo_met)));
  } else {
    out.push_back(fmt::format("current RPO: unknown (cluster not reachable); target {}: {}",
                              Seconds(s.policy.rpo_target_seconds), Met(s.rpo_met)));
  }
  return out;
}

}  // namespace dbmedic::rescue
