#include "monitor/metric.hpp"

#include <utility>

#include "monitor/exposition.hpp"

namespace dbmedic::monitor {

void FamilyBuilder::Add(std::string_view name, MetricType type, std::string_view help,
                        const Labels& labels, double value) {
  auto it = index_.find(name);
  if (it == index_.end()) {
    it = index_.emplace(std::string(name), families_.size()).first;
    families_.push_back(MetricFamily{std::string(name), std::string(help), type, {}});
  }
  families_[it->second].samples.push_back(Sample{labels, value, time_});
}

Snapshot FamilyBuilder::Take() {
  index_.clear();
  return std::exchange(families_, {});
}

std::string LabelsToString(const Labels& labels) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += key;
    out += "=\"";
    out += EscapeLabelValue(value);
    out += '"';
  }
  out += '}';
  return out;
}

std::int64_t ToMillis(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

TimePoint FromMillis(std::int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

}  // namespace dbmedic::monitor
