// The agent's active-session history: time window, sample cap, pooled strings.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "diagnose/string_pool.hpp"
#include "diagnose/wait_sampler.hpp"

namespace dbmedic::diagnose {
namespace {

using std::chrono::minutes;

constexpr std::int64_t kT0 = 1'700'000'000'000;  // ms
constexpr std::int64_t kMinute = 60'000;

WaitSample At(std::int64_t ms, std::string query, std::string user = "app") {
  WaitSample s;
  s.time_ms = ms;
  s.pid = 42;
  s.database = "shop";
  s.user = std::move(user);
  s.wait_event_type = "CPU";
  s.wait_event = "CPU";
  s.query = std::move(query);
  return s;
}

TEST(StringPool, HoldsEachValueOnce) {
  StringPool pool;
  const std::string* a = pool.Acquire("select 1");
  const std::string* b = pool.Acquire(std::string("select 1"));
  EXPECT_EQ(a, b);
  EXPECT_EQ(*a, "select 1");
  EXPECT_EQ(pool.size(), 1u);
}

TEST(StringPool, ReleasesAValueWhenItsLastHolderIsDone) {
  StringPool pool;
  const std::string* a = pool.Acquire("select 1");
  pool.Acquire("select 1");
  pool.Release(a);
  EXPECT_EQ(pool.size(), 1u);  // one holder left
  pool.Release(a);
  EXPECT_EQ(pool.size(), 0u);
}

TEST(ActiveSessionHistory, DropsSamplesOlderThanTheWindow) {
  ActiveSessionHistory h(10000, minutes(15));
  h.Add({At(kT0, "old")}, kT0);
  h.Add({At(kT0 + 10 * kMinute, "middle")}, kT0 + 10 * kMinute);
  h.Add({At(kT0 + 16 * kMinute, "new")}, kT0 + 16 * kMinute);
  SamplingRun run = h.Since(0);
  ASSERT_EQ(run.samples.size(), 2u);
  EXPECT_EQ(run.samples[0].query, "middle");
  EXPECT_EQ(run.samples[1].query, "new");
  EXPECT_EQ(run.snapshots, 2u);
}

TEST(ActiveSessionHistory, QuietRoundsOlderThanTheWindowAreDropped) {
  ActiveSessionHistory h(10000, minutes(15));
  // One round a second for an hour, no active session: the window holds 15 minutes of rounds.
  for (std::int64_t s = 0; s <= 3600; ++s) h.Add({}, kT0 + s * 1000);
  EXPECT_EQ(h.rounds(), 15u * 60 + 1);
  EXPECT_EQ(h.size(), 0u);
}

TEST(ActiveSessionHistory, StopsGrowingAfterTheWindowUnderSteadyLoad) {
  ActiveSessionHistory h(10000, minutes(15));
  auto round = [](std::int64_t ms) { return std::vector{At(ms, "select 1"), At(ms, "update t")}; };
  std::int64_t s = 0;
  for (; s < 20 * 60; ++s) h.Add(round(kT0 + s * 1000), kT0 + s * 1000);
  std::size_t after_window = h.size();
  std::size_t strings = h.distinct_strings();
  for (; s < 80 * 60; ++s) h.Add(round(kT0 + s * 1000), kT0 + s * 1000);
  EXPECT_EQ(h.size(), after_window);
  EXPECT_EQ(h.size(), 2u * (15 * 60 + 1));  // the rounds of the last 15 minutes, both ends in
  EXPECT_EQ(h.distinct_strings(), strings);
}

TEST(ActiveSessionHistory, TheSampleCapHoldsWithinTheWindow) {
  ActiveSessionHistory h(100, minutes(15));
  for (std::int64_t s = 0; s < 60; ++s) {
    std::vector<WaitSample> round(5, At(kT0 + s * 1000, "select 1"));
    h.Add(round, kT0 + s * 1000);
  }
  EXPECT_EQ(h.size(), 100u);
  // The rounds counted are those whose samples are all still held (the newest 20).
  EXPECT_EQ(h.Since(0).snapshots, 20u);
}

TEST(ActiveSessionHistory, PoolsRepeatedStrings) {
  ActiveSessionHistory h(10000, minutes(15));
  for (std::int64_t s = 0; s < 100; ++s) h.Add({At(kT0 + s * 1000, "select 1")}, kT0 + s * 1000);
  EXPECT_EQ(h.size(), 100u);
  // "shop", "app", "CPU" (type and event), "select 1", "" (no relation).
  EXPECT_EQ(h.distinct_strings(), 5u);
}

TEST(ActiveSessionHistory, ReleasesStringsNoSampleUsesAnyMore) {
  ActiveSessionHistory h(10000, minutes(15));
  for (int i = 0; i < 50; ++i) {
    h.Add({At(kT0 + i, "query " + std::to_string(i), "user" + std::to_string(i))}, kT0 + i);
  }
  EXPECT_EQ(h.distinct_strings(), 100u + 3);  // 50 queries, 50 users, "shop", "CPU", ""
  // Twenty minutes later the old samples are out of the window: their strings go with them.
  h.Add({At(kT0 + 20 * kMinute, "select 1")}, kT0 + 20 * kMinute);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.distinct_strings(), 5u);
}

TEST(ActiveSessionHistory, ReturnsTheSamplesAsTaken) {
  ActiveSessionHistory h(10000, minutes(15));
  WaitSample s = At(kT0, "update t set v = 1");
  s.wait_event_type = "Lock";
  s.wait_event = "relation";
  s.relation = "public.t";
  s.query_id = 77;
  h.Add({s}, kT0);
  SamplingRun run = h.Since(kT0);
  ASSERT_EQ(run.samples.size(), 1u);
  const WaitSample& got = run.samples[0];
  EXPECT_EQ(got.time_ms, kT0);
  EXPECT_EQ(got.pid, 42);
  EXPECT_EQ(got.database, "shop");
  EXPECT_EQ(got.user, "app");
  EXPECT_EQ(got.wait_event_type, "Lock");
  EXPECT_EQ(got.wait_event, "relation");
  EXPECT_EQ(got.query_id, 77);
  EXPECT_EQ(got.query, "update t set v = 1");
  EXPECT_EQ(got.relation, "public.t");
}

}  // namespace
}  // namespace dbmedic::diagnose
