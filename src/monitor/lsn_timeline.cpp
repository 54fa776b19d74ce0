#include "monitor/lsn_timeline.hpp"

#include <algorithm>

namespace dbmedic::monitor {

LsnTimeline::LsnTimeline(std::chrono::milliseconds window, std::size_t capacity)
    : window_(window),
      spacing_(window / static_cast<std::int64_t>(std::max<std::size_t>(capacity, 1))),
      // Value-initialised: the pages are written now, so RSS does not creep as the ring fills.
      points_(std::max<std::size_t>(capacity, 1)) {}

void LsnTimeline::Record(TimePoint time, std::uint64_t lsn) {
  if (size_ > 0) {
    // Keep only the first time each position was seen: that is when the WAL was written.
    if (lsn <= Back().lsn) return;
    if (time - Back().time < spacing_) return;
  }
  DropOlderThan(time - window_);
  if (size_ == points_.size()) {
    head_ = (head_ + 1) % points_.size();
    --size_;
  }
  points_[(head_ + size_) % points_.size()] = {time, lsn};
  ++size_;
}

void LsnTimeline::DropOlderThan(TimePoint cutoff) {
  while (size_ > 0 && At(0).time < cutoff) {
    head_ = (head_ + 1) % points_.size();
    --size_;
  }
}

double LsnTimeline::LagSeconds(std::uint64_t position, TimePoint now) const {
  if (size_ == 0 || position >= Back().lsn) return 0;
  // The first point whose LSN is past the position: WAL beyond `position` existed from then on
  // (the previous point, lsn <= position, was the last moment the standby had everything).
  std::size_t lo = 0;
  std::size_t hi = size_;
  while (lo < hi) {
    std::size_t mid = lo + (hi - lo) / 2;
    if (At(mid).lsn <= position) lo = mid + 1;
    else hi = mid;
  }
  // lo < size_ since position < Back().lsn; lo == 0: older than the whole memory.
  TimePoint since = At(lo).time;
  return std::max(0.0, std::chrono::duration<double>(now - since).count());
}

}  // namespace dbmedic::monitor
