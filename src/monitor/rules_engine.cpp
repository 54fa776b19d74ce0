#include "monitor/rules_engine.hpp"

#include <set>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::monitor {

std::string_view AlertStateName(AlertState state) {
  switch (state) {
    case AlertState::kPending: return "pending";
    case AlertState::kFiring: return "firing";
    case AlertState::kResolved: return "resolved";
  }
  return "?";
}

AlertState ParseAlertState(std::string_view text) {
  if (text == "pending") return AlertState::kPending;
  if (text == "firing") return AlertState::kFiring;
  if (text == "resolved") return AlertState::kResolved;
  throw Error(ErrorCode::kCorrupt, fmt::format("unknown alert state '{}'", text),
              "the history store was written by another version; remove its alerts table");
}

std::string AlertInstance::Fingerprint() const { return rule + LabelsToString(labels); }

RulesEngine::RulesEngine(std::vector<AlertRule> rules, const Clock& clock,
                         std::chrono::milliseconds repeat_interval,
                         std::chrono::milliseconds keep_resolved)
    : rules_(std::move(rules)),
      clock_(clock),
      repeat_interval_(repeat_interval),
      keep_resolved_(keep_resolved) {}

std::vector<AlertEvent> RulesEngine::Evaluate(const Snapshot& snapshot) {
  TimePoint now = clock_.Now();
  std::vector<AlertEvent> events;
  for (const auto& rule : rules_) EvaluateRule(rule, snapshot, now, events);
  return events;
}

void RulesEngine::EvaluateRule(const AlertRule& rule, const Snapshot& snapshot, TimePoint now,
                               std::vector<AlertEvent>& events) {
  std::set<std::string> active;
  for (const auto& family : snapshot) {
    if (family.name != rule.metric) continue;
    for (const auto& sample : family.samples) {
      bool matches = std::all_of(rule.matchers.begin(), rule.matchers.end(),
                                 [&](const LabelMatcher& m) { return m.Matches(sample.labels); });
      if (!matches || !Compare(sample.value, rule.op, rule.threshold)) continue;
      Labels labels = sample.labels;
      labels["alertname"] = rule.name;
      labels["severity"] = rule.severity;
      std::string key = rule.name + LabelsToString(labels);
      active.insert(key);
      auto [it, inserted] = instances_.try_emplace(key);
      AlertInstance& a = it->second;
      if (inserted || a.state == AlertState::kResolved) {
        a = AlertInstance{rule.name, labels, AlertState::kPending, 0, {}, now, {}, {}, {}};
      }
      a.value = sample.value;
      a.summary = RenderTemplate(rule.summary, sample.labels, sample.value);
      if (a.state == AlertState::kPending && now - a.active_since >= rule.for_duration) {
        a.state = AlertState::kFiring;
        a.fired_at = now;
        a.last_notified = now;
        events.push_back({a, false});
      } else if (a.state == AlertState::kFiring && now - a.last_notified >= repeat_interval_) {
        a.last_notified = now;
        events.push_back({a, true});
      }
    }
  }
  for (auto it = instances_.begin(); it != instances_.end();) {
    AlertInstance& a = it->second;
    if (a.rule != rule.name || active.contains(it->first)) {
      ++it;
      continue;
    }
    if (a.state == AlertState::kPending ||
        (a.state == AlertState::kResolved && now - a.resolved_at >= keep_resolved_)) {
      it = instances_.erase(it);
      continue;
    }
    if (a.state == AlertState::kFiring) {
      a.state = AlertState::kResolved;
      a.resolved_at = now;
      events.push_back({a, false});
    }
    ++it;
  }
}

std::vector<AlertInstance> RulesEngine::Instances() const {
  std::vector<AlertInstance> out;
  for (const auto& [key, instance] : instances_) out.push_back(instance);
  return out;
}

void RulesEngine::Restore(const std::vector<AlertInstance>& instances) {
  for (const auto& instance : instances) {
    bool known = std::any_of(rules_.begin(), rules_.end(),
                             [&](const AlertRule& r) { return r.name == instance.rule; });
    if (known) instances_[instance.Fingerprint()] = instance;
  }
}

}  // namespace dbmedic::monitor
