// Remembers when the primary's WAL position passed which LSN, so that a standby's position (or an
// inactive slot's restart_lsn) can be turned into a lag in seconds: the age of the oldest WAL the
// standby has not yet got. Works while a standby is disconnected, when PostgreSQL's own
// write_lag/flush_lag/replay_lag columns are gone with its walsender.
//
// Sized by time, not by collections: it covers `window` (monitor.lsn_timeline_window) in at most
// `capacity` points, one at most every window / capacity, in a ring allocated (and touched) up
// front. So its memory is the same from the first collection on, whatever the collection
// interval, and a lag older than the window is reported as the window's age (a lower bound,
// beyond any sensible alert threshold).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "monitor/metric.hpp"

namespace dbmedic::monitor {

class LsnTimeline {
 public:
  static constexpr std::size_t kDefaultCapacity = 4096;
  static constexpr std::chrono::milliseconds kDefaultWindow = std::chrono::hours(6);

  explicit LsnTimeline(std::chrono::milliseconds window = kDefaultWindow,
                       std::size_t capacity = kDefaultCapacity);

  // Records the insert position at `time`. Positions must not go backwards (ignored if they do).
  // A new position is kept if the newest point is at least window / capacity older; otherwise
  // it is left out (the lag of a position in between then counts from the next kept point:
  // at most that spacing too little).
  void Record(TimePoint time, std::uint64_t lsn);

  // Seconds since the WAL just after `position` was written: 0 if `position` is at or past the
  // newest recorded LSN. When `position` is older than the whole memory, the oldest entry's age
  // (a lower bound).
  double LagSeconds(std::uint64_t position, TimePoint now) const;

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return points_.size(); }

 private:
  struct Point {
    TimePoint time;
    std::uint64_t lsn = 0;
  };
  const Point& At(std::size_t i) const { return points_[(head_ + i) % points_.size()]; }
  const Point& Back() const { return At(size_ - 1); }
  void DropOlderThan(TimePoint cutoff);

  std::chrono::milliseconds window_;
  std::chrono::milliseconds spacing_;
  std::vector<Point> points_;  // the ring; all `capacity` points allocated by the constructor
  std::size_t head_ = 0;       // index of the oldest point
  std::size_t size_ = 0;
};

}  // namespace dbmedic::monitor
