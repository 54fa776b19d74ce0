#include <gtest/gtest.h>

#include "monitor/lsn_timeline.hpp"

namespace dbmedic::monitor {
namespace {

using std::chrono::seconds;

TimePoint T(int s) { return FromMillis(1'700'000'000'000 + s * 1000LL); }

TEST(LsnTimeline, CaughtUpPositionHasNoLag) {
  LsnTimeline t;
  t.Record(T(0), 100);
  t.Record(T(10), 200);
  EXPECT_EQ(t.LagSeconds(200, T(20)), 0);
  EXPECT_EQ(t.LagSeconds(300, T(20)), 0);
}

TEST(LsnTimeline, LagCountsFromWhenNewerWalAppeared) {
  LsnTimeline t;
  t.Record(T(0), 100);
  t.Record(T(10), 200);
  t.Record(T(20), 300);
  // Position 150: WAL beyond it existed from T(10) on.
  EXPECT_DOUBLE_EQ(t.LagSeconds(150, T(25)), 15);
  EXPECT_DOUBLE_EQ(t.LagSeconds(200, T(25)), 5);
}

TEST(LsnTimeline, PositionOlderThanMemoryGivesTheOldestAge) {
  LsnTimeline t;
  t.Record(T(0), 100);
  t.Record(T(10), 200);
  EXPECT_DOUBLE_EQ(t.LagSeconds(50, T(30)), 30);
}

TEST(LsnTimeline, RepeatedPositionKeepsTheFirstTime) {
  LsnTimeline t;
  t.Record(T(0), 100);
  t.Record(T(10), 200);
  t.Record(T(20), 200);  // idle: no new WAL
  EXPECT_DOUBLE_EQ(t.LagSeconds(150, T(30)), 20);
}

TEST(LsnTimeline, CapacityDropsTheOldest) {
  LsnTimeline t(2);
  t.Record(T(0), 100);
  t.Record(T(10), 200);
  t.Record(T(20), 300);
  EXPECT_DOUBLE_EQ(t.LagSeconds(50, T(30)), 20);
}

TEST(LsnTimeline, EmptyTimelineHasNoLag) {
  LsnTimeline t;
  EXPECT_EQ(t.LagSeconds(0, T(0)), 0);
}

}  // namespace
}  // namespace dbmedic::monitor
