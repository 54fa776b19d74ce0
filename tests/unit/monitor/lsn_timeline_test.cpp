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
  LsnTimeline t(seconds(20), 2);
  t.Record(T(0), 100);
  t.Record(T(10), 200);
  t.Record(T(20), 300);
  EXPECT_DOUBLE_EQ(t.LagSeconds(50, T(30)), 20);
}

TEST(LsnTimeline, PointsOlderThanTheWindowAreDropped) {
  LsnTimeline t(std::chrono::minutes(1));
  t.Record(T(0), 100);
  t.Record(T(30), 200);
  t.Record(T(90), 300);  // T(0) is now more than a minute old
  EXPECT_EQ(t.size(), 2u);
  EXPECT_DOUBLE_EQ(t.LagSeconds(50, T(100)), 70);  // a lower bound: the oldest point's age
}

TEST(LsnTimeline, KeepsAtMostOnePointPerSpacing) {
  LsnTimeline t(seconds(400), 4);  // one point at most every 100 s
  t.Record(T(0), 100);
  t.Record(T(50), 200);  // left out
  t.Record(T(100), 300);
  EXPECT_EQ(t.size(), 2u);
  // WAL past 150 was written at T(50), but the timeline knows it from T(100) on.
  EXPECT_DOUBLE_EQ(t.LagSeconds(150, T(110)), 10);
}

TEST(LsnTimeline, HoldsAtMostItsCapacityWhateverTheWindow) {
  LsnTimeline t(std::chrono::hours(1), 8);  // spacing 450 s: 9 points would fit in the window
  for (int i = 0; i < 100; ++i) t.Record(T(i * 450), 100 + i);
  EXPECT_EQ(t.size(), 8u);
  EXPECT_EQ(t.capacity(), 8u);
  EXPECT_DOUBLE_EQ(t.LagSeconds(0, T(99 * 450)), 7 * 450);
}

TEST(LsnTimeline, DefaultCoversSixHoursInFixedMemory) {
  LsnTimeline t;
  EXPECT_EQ(t.capacity(), LsnTimeline::kDefaultCapacity);
  // A collection every second for seven hours: the points kept span the last six.
  for (int i = 0; i < 7 * 3600; ++i) t.Record(T(i), 100 + static_cast<std::uint64_t>(i));
  EXPECT_LE(t.size(), t.capacity());
  double oldest_age = t.LagSeconds(0, T(7 * 3600));
  EXPECT_NEAR(oldest_age, 6 * 3600, 12);  // points ~5.3 s apart, the last one up to 6 s old
}

TEST(LsnTimeline, EmptyTimelineHasNoLag) {
  LsnTimeline t;
  EXPECT_EQ(t.LagSeconds(0, T(0)), 0);
}

}  // namespace
}  // namespace dbmedic::monitor
