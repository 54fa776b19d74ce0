#include <gtest/gtest.h>

#include "monitor/registry.hpp"

namespace dbmedic::monitor {
namespace {

Snapshot One(const std::string& name, const std::string& target, double value) {
  FamilyBuilder b(FromMillis(1'700'000'000'000));
  b.Gauge(name, "help of " + target, {{"target", target}}, value);
  return b.Take();
}

const MetricFamily* Find(const Snapshot& s, const std::string& name) {
  for (const auto& f : s) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

TEST(Registry, MergesFamiliesOfSeveralCollectorsByName) {
  Registry r;
  r.Publish("postgres:a", One("dbmedic_pg_up", "a", 1), 0.01, std::nullopt, TimePoint{});
  r.Publish("postgres:b", One("dbmedic_pg_up", "b", 0), 0.02, std::string("down"), TimePoint{});
  auto merged = r.Merged();
  const MetricFamily* up = Find(merged, "dbmedic_pg_up");
  ASSERT_NE(up, nullptr);
  ASSERT_EQ(up->samples.size(), 2u);
  EXPECT_EQ(up->help, "help of a");  // the first HELP wins
  EXPECT_EQ(up->samples[1].labels.at("target"), "b");
}

TEST(Registry, ExposesCollectorHealth) {
  Registry r;
  r.Publish("host", {}, 0.5, std::nullopt, TimePoint{});
  r.Publish("host", {}, 0.25, std::string("disks: no /proc/diskstats"), TimePoint{});
  auto merged = r.Merged();
  EXPECT_EQ(Find(merged, "dbmedic_collector_runs_total")->samples[0].value, 2);
  EXPECT_EQ(Find(merged, "dbmedic_collector_errors_total")->samples[0].value, 1);
  EXPECT_EQ(Find(merged, "dbmedic_collector_success")->samples[0].value, 0);
  EXPECT_EQ(Find(merged, "dbmedic_collector_duration_seconds")->samples[0].value, 0.25);
  EXPECT_EQ(Find(merged, "dbmedic_collector_duration_seconds")->samples[0].labels,
            (Labels{{"collector", "host"}}));
  auto statuses = r.Statuses();
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].last_error, "disks: no /proc/diskstats");
}

TEST(Registry, ANewPublishReplacesTheCollectorsPreviousFamilies) {
  Registry r;
  r.Publish("postgres:a", One("dbmedic_pg_rpo_seconds", "a", 5), 0, std::nullopt, TimePoint{});
  r.Publish("postgres:a", One("dbmedic_pg_up", "a", 0), 0, std::string("down"), TimePoint{});
  auto merged = r.Merged();
  EXPECT_EQ(Find(merged, "dbmedic_pg_rpo_seconds"), nullptr);
  EXPECT_EQ(Find(merged, "dbmedic_pg_up")->samples[0].value, 0);
}

}  // namespace
}  // namespace dbmedic::monitor
