#include "monitor/lsn_timeline.hpp"

#include <algorithm>

namespace dbmedic::monitor {

void LsnTimeline::Record(TimePoint time, std::uint64_t lsn) {
  if (!points_.empty() && lsn < points_.back().lsn) return;
  // Keep only the first time each position was seen: that is when the WAL was written.
  if (!points_.empty() && lsn == points_.back().lsn) return;
  points_.push_back({time, lsn});
  if (points_.size() > capacity_) points_.pop_front();
}

double LsnTimeline::LagSeconds(std::uint64_t position, TimePoint now) const {
  if (points_.empty() || position >= points_.back().lsn) return 0;
  // The first sample whose LSN is past the position: WAL beyond `position` existed from then on.
  auto it = std::upper_bound(points_.begin(), points_.end(), position,
                             [](std::uint64_t pos, const Point& p) { return pos < p.lsn; });
  // upper_bound gives the first point with lsn > position; the previous point (lsn <= position)
  // was the last moment the standby had everything, so the lag counts from the first newer one.
  TimePoint since = it == points_.end() ? points_.back().time : it->time;
  if (it == points_.begin()) since = points_.front().time;
  return std::max(0.0, std::chrono::duration<double>(now - since).count());
}

}  // namespace dbmedic::monitor
