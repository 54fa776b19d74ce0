// The shipped default alert set. Metric names are those of host_collector.cpp and
// pg_collector.cpp / pg_replication.cpp.
#include "monitor/alert_rule.hpp"

namespace dbmedic::monitor {
namespace {

double Seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

AlertRule Rule(std::string name, std::string metric, std::vector<LabelMatcher> matchers,
               Comparison op, double threshold, std::chrono::milliseconds for_duration,
               std::string severity, std::string summary) {
  return AlertRule{std::move(name), std::move(metric), std::move(matchers), op, threshold,
                   for_duration, std::move(severity), std::move(summary)};
}

}  // namespace

std::vector<AlertRule> DefaultAlertRules(const DefaultRuleSettings& s) {
  using C = Comparison;
  const auto f = s.for_duration;
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  return {
      Rule("PostgresDown", "dbmedic_pg_up", {}, C::kEqual, 0, f, "critical",
           "PostgreSQL target {{ $labels.target }} does not answer"),
      Rule("ReplicationLagHigh", "dbmedic_pg_replication_lag_seconds",
           {ParseMatcher("kind=replay")}, C::kGreater, Seconds(s.replication_lag), f, "warning",
           "Standby {{ $labels.standby }} of {{ $labels.target }} is {{ $value }} s behind in "
           "replay"),
      Rule("StandbyReplayLagHigh", "dbmedic_pg_standby_replay_lag_seconds", {}, C::kGreater,
           Seconds(s.replication_lag), f, "warning",
           "Standby {{ $labels.target }} replays {{ $value }} s behind"),
      Rule("ArchivingFailing", "dbmedic_pg_archiver_failing", {}, C::kEqual, 1, f, "critical",
           "archive_command of {{ $labels.target }} is failing"),
      Rule("RpoAboveTarget", "dbmedic_pg_rpo_seconds", {}, C::kGreater, Seconds(s.rpo_target),
           std::chrono::milliseconds(0), "critical",
           "WAL of {{ $labels.target }} has waited {{ $value }} s to be archived"),
      Rule("ConnectionsNearMax", "dbmedic_pg_connections_used_ratio", {}, C::kGreater, 0.9, f,
           "warning", "{{ $labels.target }} uses {{ $value }} of its connections"),
      Rule("DiskAlmostFull", "dbmedic_host_filesystem_used_ratio", {}, C::kGreater, 0.9, f,
           "critical", "Filesystem of the {{ $labels.role }} directory of {{ $labels.target }} "
           "({{ $labels.path }}) is {{ $value }} full"),
      Rule("HighIowait", "dbmedic_host_cpu_usage_ratio", {ParseMatcher("mode=iowait")},
           C::kGreater, 0.3, std::chrono::minutes(5), "warning",
           "CPU time waiting on I/O is {{ $value }}"),
      Rule("LongTransaction", "dbmedic_pg_oldest_transaction_age_seconds", {}, C::kGreater,
           Seconds(s.long_transaction), std::chrono::milliseconds(0), "warning",
           "A transaction on {{ $labels.target }} has been open {{ $value }} s"),
      Rule("SessionsBlockedOnLocks", "dbmedic_pg_lock_waiting_sessions", {}, C::kGreater, 0, f,
           "warning", "{{ $value }} sessions on {{ $labels.target }} wait for locks"),
      Rule("WraparoundRisk", "dbmedic_pg_xid_wraparound_ratio", {}, C::kGreater, 0.5, f,
           "critical", "Transaction-ID age of {{ $labels.target }} is {{ $value }} of the "
           "wraparound limit: vacuum (freeze) now"),
      Rule("InactiveSlotRetainingWal", "dbmedic_pg_replication_slot_inactive_retained_bytes", {},
           C::kGreater, kGiB, f, "warning",
           "Inactive slot {{ $labels.slot }} on {{ $labels.target }} retains {{ $value }} bytes "
           "of WAL"),
  };
}

}  // namespace dbmedic::monitor
