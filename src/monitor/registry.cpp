#include "monitor/registry.hpp"

#include <unordered_map>

namespace dbmedic::monitor {

Snapshot MergeFamilies(std::vector<const Snapshot*> parts) {
  Snapshot out;
  std::unordered_map<std::string, std::size_t> index;
  for (const Snapshot* part : parts) {
    for (const auto& family : *part) {
      auto [it, inserted] = index.emplace(family.name, out.size());
      if (inserted) {
        out.push_back(family);
        continue;
      }
      auto& samples = out[it->second].samples;
      samples.insert(samples.end(), family.samples.begin(), family.samples.end());
    }
  }
  return out;
}

void Registry::Publish(const std::string& collector, Snapshot families, double duration_seconds,
                       const std::optional<std::string>& error, TimePoint time,
                       bool timed_out) {
  std::lock_guard lock(mu_);
  snapshots_[collector] = std::move(families);
  auto& status = statuses_[collector];
  status.name = collector;
  ++status.runs;
  status.last_duration_seconds = duration_seconds;
  status.last_run = time;
  status.last_error = error;
  if (timed_out) ++status.timeouts;
  if (error) {
    ++status.errors;
  } else {
    status.last_success = time;
  }
}

void Registry::PublishExtra(const std::string& key, Snapshot families) {
  std::lock_guard lock(mu_);
  extra_[key] = std::move(families);
}

Snapshot Registry::HealthFamilies() const {
  FamilyBuilder b(std::chrono::system_clock::now());
  for (const auto& [name, s] : statuses_) {
    Labels l{{"collector", name}};
    b.Gauge("dbmedic_collector_duration_seconds", "Duration of the collector's last run.", l,
            s.last_duration_seconds);
    b.Counter("dbmedic_collector_runs_total", "Runs of the collector.", l,
              static_cast<double>(s.runs));
    b.Counter("dbmedic_collector_errors_total", "Failed runs of the collector.", l,
              static_cast<double>(s.errors));
    b.Counter("dbmedic_collector_timeouts_total",
              "Runs of the collector that hit its timeout (also counted as errors).", l,
              static_cast<double>(s.timeouts));
    b.Gauge("dbmedic_collector_success", "1 if the collector's last run succeeded.", l,
            s.last_error ? 0 : 1);
    if (s.last_success) {
      b.Gauge("dbmedic_collector_last_success_timestamp_seconds",
              "Unix time of the collector's last successful run.", l,
              static_cast<double>(ToMillis(*s.last_success)) / 1000.0);
    }
  }
  return b.Take();
}

Snapshot Registry::Merged() const {
  std::lock_guard lock(mu_);
  std::vector<const Snapshot*> parts;
  for (const auto& [name, snapshot] : snapshots_) parts.push_back(&snapshot);
  for (const auto& [name, snapshot] : extra_) parts.push_back(&snapshot);
  Snapshot health = HealthFamilies();
  parts.push_back(&health);
  return MergeFamilies(parts);
}

std::vector<CollectorStatus> Registry::Statuses() const {
  std::lock_guard lock(mu_);
  std::vector<CollectorStatus> out;
  for (const auto& [name, status] : statuses_) out.push_back(status);
  return out;
}

}  // namespace dbmedic::monitor
