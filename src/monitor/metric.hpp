// The metric model shared by collectors, the registry, the exposition, the history store and the
// rules engine: families of samples, each sample with its labels, value and timestamp.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dbmedic::monitor {

using Labels = std::map<std::string, std::string>;
using TimePoint = std::chrono::system_clock::time_point;

enum class MetricType { kGauge, kCounter };

struct Sample {
  Labels labels;
  double value = 0;
  TimePoint time;  // when the collector read the value
};

// One metric name with its HELP, TYPE and samples (one per label set).
struct MetricFamily {
  std::string name;  // Prometheus conventions: dbmedic_<area>_<what>_<unit>[_total]
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<Sample> samples;
};

using Snapshot = std::vector<MetricFamily>;

// Helper for collectors: families by name, created on first use, in insertion order.
class FamilyBuilder {
 public:
  explicit FamilyBuilder(TimePoint time) : time_(time) {}

  void Add(std::string_view name, MetricType type, std::string_view help, const Labels& labels,
           double value);
  void Gauge(std::string_view name, std::string_view help, const Labels& labels, double value) {
    Add(name, MetricType::kGauge, help, labels, value);
  }
  void Counter(std::string_view name, std::string_view help, const Labels& labels, double value) {
    Add(name, MetricType::kCounter, help, labels, value);
  }
  // Moves the families out; the builder is empty afterwards.
  Snapshot Take();
  TimePoint time() const { return time_; }

 private:
  TimePoint time_;
  Snapshot families_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

// Stable text form of a label set: {a="1",b="x"} (also the history store's series key).
std::string LabelsToString(const Labels& labels);
// Milliseconds since the epoch.
std::int64_t ToMillis(TimePoint time);
TimePoint FromMillis(std::int64_t ms);

}  // namespace dbmedic::monitor
