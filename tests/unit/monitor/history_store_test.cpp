#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "monitor/history_store.hpp"

namespace dbmedic::monitor {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TimePoint T0() { return FromMillis(1'700'000'000'000); }

Snapshot Gauge(std::string name, Labels labels, double value, TimePoint time) {
  FamilyBuilder b(time);
  b.Gauge(name, "help", labels, value);
  return b.Take();
}

class HistoryStoreTest : public ::testing::Test {
 protected:
  core::TempDir dir_{"monitor-history"};
  HistoryStore store_ = HistoryStore::Open(dir_.path() / "sub" / "monitor.db");
};

TEST_F(HistoryStoreTest, WritesAndQueriesPointsInOrder) {
  for (int i = 0; i < 5; ++i) {
    store_.Write(Gauge("tps", {{"target", "main"}}, i * 10, T0() + seconds(i * 15)));
  }
  auto series = store_.Query("tps", T0() + seconds(15), T0() + seconds(45));
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].labels, (Labels{{"target", "main"}}));
  ASSERT_EQ(series[0].points.size(), 3u);
  EXPECT_EQ(series[0].points[0], std::make_pair(ToMillis(T0() + seconds(15)), 10.0));
  EXPECT_EQ(series[0].points[2], std::make_pair(ToMillis(T0() + seconds(45)), 30.0));
}

TEST_F(HistoryStoreTest, TheSameSampleWrittenTwiceIsStoredOnce) {
  auto snapshot = Gauge("tps", {}, 1, T0());
  store_.Write(snapshot);
  store_.Write(snapshot);
  EXPECT_EQ(store_.Query("tps", T0(), T0())[0].points.size(), 1u);
}

TEST_F(HistoryStoreTest, MatchersSelectSeries) {
  store_.Write(Gauge("lag", {{"standby", "a"}}, 1, T0()));
  store_.Write(Gauge("lag", {{"standby", "b"}}, 2, T0()));
  auto series = store_.Query("lag", T0(), T0(), {ParseMatcher("standby=b")});
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].points[0].second, 2);
  EXPECT_EQ(store_.Query("lag", T0(), T0()).size(), 2u);
  EXPECT_EQ(store_.MetricNames(), std::vector<std::string>{"lag"});
}

TEST_F(HistoryStoreTest, DownsamplingAveragesOldRawSamplesIntoBuckets) {
  const TimePoint t0 = FromMillis(1'700'000'100'000);  // a multiple of 5 minutes
  // 10 samples, one a minute, values 0..9; buckets of 5 minutes.
  for (int i = 0; i < 10; ++i) store_.Write(Gauge("g", {}, i, t0 + minutes(i)));
  HistoryPolicy policy{std::chrono::hours(24 * 30), std::chrono::hours(1), minutes(5)};
  auto result = store_.Maintain(t0 + std::chrono::hours(3), policy);
  EXPECT_EQ(result.downsampled_rows, 10);
  EXPECT_EQ(result.expired_rows, 0);
  auto points = store_.Query("g", t0 - std::chrono::hours(1), t0 + std::chrono::hours(1))[0]
                    .points;
  // Buckets [t0, t0+5m) and [t0+5m, t0+10m) hold the averages of 0..4 and 5..9.
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0], std::make_pair(ToMillis(t0), 2.0));
  EXPECT_EQ(points[1], std::make_pair(ToMillis(t0 + minutes(5)), 7.0));
}

TEST_F(HistoryStoreTest, DownsamplingKeepsRecentRawSamples) {
  for (int i = 0; i < 3; ++i) store_.Write(Gauge("g", {}, i, T0() + minutes(i)));
  HistoryPolicy policy{std::chrono::hours(24), std::chrono::hours(1), minutes(5)};
  EXPECT_EQ(store_.Maintain(T0() + minutes(10), policy).downsampled_rows, 0);
  EXPECT_EQ(store_.Query("g", T0(), T0() + minutes(10))[0].points.size(), 3u);
}

TEST_F(HistoryStoreTest, RetentionRemovesOldSamplesAndEmptySeries) {
  store_.Write(Gauge("old", {}, 1, T0()));
  store_.Write(Gauge("new", {}, 2, T0() + std::chrono::hours(48)));
  HistoryPolicy policy{std::chrono::hours(24), std::chrono::hours(24), minutes(5)};
  auto result = store_.Maintain(T0() + std::chrono::hours(49), policy);
  EXPECT_EQ(result.expired_rows, 1);
  EXPECT_EQ(store_.MetricNames(), std::vector<std::string>{"new"});
  // A series removed by retention can be written again afterwards.
  store_.Write(Gauge("old", {}, 3, T0() + std::chrono::hours(49)));
  EXPECT_EQ(store_.Query("old", T0(), T0() + std::chrono::hours(50))[0].points.size(), 1u);
}

TEST_F(HistoryStoreTest, AlertsRoundTrip) {
  AlertInstance a;
  a.rule = "PostgresDown";
  a.labels = {{"alertname", "PostgresDown"}, {"severity", "critical"}, {"target", "main"}};
  a.state = AlertState::kFiring;
  a.value = 0;
  a.summary = "down";
  a.active_since = T0();
  a.fired_at = T0() + minutes(2);
  a.last_notified = a.fired_at;
  store_.SaveAlerts({a});
  auto loaded = store_.LoadAlerts();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].Fingerprint(), a.Fingerprint());
  EXPECT_EQ(loaded[0].state, AlertState::kFiring);
  EXPECT_EQ(loaded[0].fired_at, a.fired_at);
  store_.SaveAlerts({});
  EXPECT_TRUE(store_.LoadAlerts().empty());
}

TEST_F(HistoryStoreTest, ReadOnlyOpenSeesTheWritersData) {
  store_.Write(Gauge("g", {}, 5, T0()));
  auto reader = HistoryStore::Open(store_.path(), HistoryStore::Mode::kReadOnly);
  EXPECT_EQ(reader.Query("g", T0(), T0())[0].points[0].second, 5);
}

TEST(HistoryStore, ReadOnlyOpenOfAMissingFileIsNotFound) {
  try {
    HistoryStore::Open("/nonexistent/monitor.db", HistoryStore::Mode::kReadOnly);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_STREQ(e.what(), "history store '/nonexistent/monitor.db' does not exist");
    EXPECT_NE(e.hint().find("dbmedic monitor"), std::string::npos);
  }
}

TEST(HistoryStore, UnwritableLocationIsAnIoError) {
  core::TempDir dir("monitor-history");
  core::AtomicWriteFile(dir.path() / "file", "x");
  try {
    HistoryStore::Open(dir.path() / "file" / "monitor.db");
    FAIL();
  } catch (const Error& e) {
    EXPECT_TRUE(e.code() == ErrorCode::kIo) << e.what();
  }
}

}  // namespace
}  // namespace dbmedic::monitor
