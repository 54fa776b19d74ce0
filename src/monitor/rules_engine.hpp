// Evaluates alert rules against snapshots: for each rule and each matching label set an alert
// instance moves pending -> firing (after `for`) -> resolved. Events (what to notify) are
// produced on firing, on resolving, and again every repeat interval while firing; nothing else,
// so a condition that stays true is not re-notified at every evaluation (de-duplication).
// Time comes from the Clock seam. Not thread-safe: one evaluator thread; others read copies.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "monitor/alert_rule.hpp"
#include "monitor/clock.hpp"
#include "monitor/metric.hpp"

namespace dbmedic::monitor {

enum class AlertState { kPending, kFiring, kResolved };
std::string_view AlertStateName(AlertState state);
AlertState ParseAlertState(std::string_view text);  // throws Error(kCorrupt)

struct AlertInstance {
  std::string rule;         // alertname
  Labels labels;            // the sample's labels + alertname + severity
  AlertState state = AlertState::kPending;
  double value = 0;
  std::string summary;
  TimePoint active_since;   // condition first true (start of the `for` window)
  TimePoint fired_at;       // entered firing (startsAt)
  TimePoint resolved_at;    // entered resolved (endsAt)
  TimePoint last_notified;  // last firing notification
  std::string Fingerprint() const;  // stable id: alertname + labels
};

struct AlertEvent {
  AlertInstance alert;  // copy at the time of the event
  bool repeat = false;  // a reminder of an alert already notified
};

class RulesEngine {
 public:
  RulesEngine(std::vector<AlertRule> rules, const Clock& clock,
              std::chrono::milliseconds repeat_interval,
              std::chrono::milliseconds keep_resolved = std::chrono::hours(1));

  // Evaluates every rule against `snapshot` at clock.Now(); returns the events to notify.
  std::vector<AlertEvent> Evaluate(const Snapshot& snapshot);

  // Current instances (pending, firing, recently resolved), sorted by rule and labels.
  std::vector<AlertInstance> Instances() const;
  // Restores instances saved by a previous run, so a firing alert is not notified again.
  void Restore(const std::vector<AlertInstance>& instances);

  const std::vector<AlertRule>& rules() const { return rules_; }

 private:
  void EvaluateRule(const AlertRule& rule, const Snapshot& snapshot, TimePoint now,
                    std::vector<AlertEvent>& events);

  std::vector<AlertRule> rules_;
  const Clock& clock_;
  std::chrono::milliseconds repeat_interval_;
  std::chrono::milliseconds keep_resolved_;
  std::map<std::string, AlertInstance> instances_;  // by fingerprint
};

}  // namespace dbmedic::monitor
