// Remembers when the primary's WAL position passed which LSN, so that a standby's position (or an
// inactive slot's restart_lsn) can be turned into a lag in seconds: the age of the oldest WAL the
// standby has not yet got. Works while a standby is disconnected, when PostgreSQL's own
// write_lag/flush_lag/replay_lag columns are gone with its walsender.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "monitor/metric.hpp"

namespace dbmedic::monitor {

class LsnTimeline {
 public:
  explicit LsnTimeline(std::size_t capacity = 4096) : capacity_(capacity) {}

  // Records the insert position at `time`. Positions must not go backwards (ignored if they do).
  void Record(TimePoint time, std::uint64_t lsn);

  // Seconds since the WAL just after `position` was written: 0 if `position` is at or past the
  // newest recorded LSN. When `position` is older than the whole memory, the oldest entry's age
  // (a lower bound).
  double LagSeconds(std::uint64_t position, TimePoint now) const;

 private:
  struct Point {
    TimePoint time;
    std::uint64_t lsn;
  };
  std::size_t capacity_;
  std::deque<Point> points_;
};

}  // namespace dbmedic::monitor
