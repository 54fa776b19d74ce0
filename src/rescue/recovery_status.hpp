// Recovery objectives: what the repository's backups and drills say about how much could be
// lost (RPO) and how long a restore would take (RTO) right now, against the targets in the
// configuration (recovery.rpo_target, recovery.rto_target) and the policy ages
// (recovery.backup_max_age, recovery.drill_max_age). Pure computation over values the caller
// gathers (drill records, manifests, the live cluster's size and WAL position), so it is the
// same for `dbmedic info`, `drill` and the agent's metrics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "repo/manifest.hpp"
#include "rescue/drill_record.hpp"

namespace dbmedic::rescue {

inline constexpr std::uint64_t kMinReplayForRate = 16ull << 20;
// PostgreSQL 15 replays archived WAL at ~100 MB/s on the reference machine (FIELD-NOTES:
// 618 MB in ~6 s with restore); half of that is assumed until a drill measured it.
inline constexpr double kAssumedReplayRate = 50.0 * (1 << 20);

struct RecoveryPolicy {
  double rpo_target_seconds = 60;
  double rto_target_seconds = 900;
  double backup_max_age_seconds = 86400;
  double drill_max_age_seconds = 7 * 86400;
};

struct RecoveryInputs {
  std::vector<DrillRecord> drills;       // oldest first
  std::vector<repo::Manifest> backups;   // oldest first
  std::int64_t now = 0;                  // Unix seconds
  // From the live cluster when reachable (else the newest backup's size and no WAL term).
  std::optional<std::uint64_t> cluster_bytes;
  std::optional<std::uint64_t> current_lsn;
  // dbmedic_pg_rpo_seconds' definition: seconds WAL has waited to be archived (0 when all is).
  std::optional<double> rpo_seconds;
};

struct RecoveryStatus {
  std::optional<DrillRecord> last_drill;
  std::optional<DrillRecord> last_success;
  std::optional<double> last_success_age_seconds;
  std::optional<double> newest_backup_age_seconds;
  std::optional<std::string> newest_backup;
  // Predicted RTO now: bytes to restore / restore rate of the last successful drill + that
  // drill's start-to-ready time + WAL since the newest backup's start / replay rate. The replay
  // rate comes from the newest successful drill that replayed at least kMinReplayForRate bytes
  // (a drill --to-time); without one, kAssumedReplayRate is used and replay_rate_assumed says so.
  std::optional<double> predicted_rto_seconds;
  double replay_bytes_per_second = 0;
  bool replay_rate_assumed = false;
  std::uint64_t predicted_restore_bytes = 0;
  std::uint64_t predicted_wal_bytes = 0;
  std::optional<double> rpo_seconds;
  RecoveryPolicy policy;
  // nullopt: unknown (nothing measured yet); an unknown is reported as not met.
  std::optional<bool> rpo_met;
  std::optional<bool> rto_met;
  bool backup_fresh = false;
  bool drill_fresh = false;  // a successful drill within drill_max_age, and the last one passed
};

RecoveryStatus ComputeRecoveryStatus(const RecoveryInputs& inputs, const RecoveryPolicy& policy);

nlohmann::json ToJson(const RecoveryStatus& status);
// Human lines for `info` / `drill`, each ending with "(target met)" / "NOT MET" where it applies.
std::vector<std::string> DescribeRecoveryStatus(const RecoveryStatus& status);

}  // namespace dbmedic::rescue
