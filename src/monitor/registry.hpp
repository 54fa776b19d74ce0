// The metric registry: the last snapshot of every collector plus its health. Collectors' threads
// publish, the HTTP thread, the history writer and the rules engine read a merged copy; nobody
// waits on a collection in progress (they get the last one).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "monitor/metric.hpp"

namespace dbmedic::monitor {

struct CollectorStatus {
  std::string name;
  std::uint64_t runs = 0;
  std::uint64_t errors = 0;
  std::uint64_t timeouts = 0;
  double last_duration_seconds = 0;
  std::optional<TimePoint> last_run;
  std::optional<TimePoint> last_success;
  std::optional<std::string> last_error;
};

class Registry {
 public:
  // Replaces the collector's families with `result`'s and updates its status. Thread-safe.
  void Publish(const std::string& collector, Snapshot families, double duration_seconds,
               const std::optional<std::string>& error, TimePoint time, bool timed_out = false);

  // Adds families that are not tied to one collector (alert and notification counters).
  void PublishExtra(const std::string& key, Snapshot families);

  // All families merged by name (samples of collectors in name order), followed by the
  // collector health families. Thread-safe; returns a copy.
  Snapshot Merged() const;
  std::vector<CollectorStatus> Statuses() const;

 private:
  Snapshot HealthFamilies() const;  // requires mu_

  mutable std::mutex mu_;
  std::map<std::string, Snapshot> snapshots_;        // guarded by mu_
  std::map<std::string, Snapshot> extra_;            // guarded by mu_
  std::map<std::string, CollectorStatus> statuses_;  // guarded by mu_
};

// Merges families with the same name (keeps the first HELP/TYPE), preserving first-seen order.
Snapshot MergeFamilies(std::vector<const Snapshot*> parts);

}  // namespace dbmedic::monitor
