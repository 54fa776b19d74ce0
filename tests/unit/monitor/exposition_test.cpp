#include <gtest/gtest.h>

#include <filesystem>

#include "core/subprocess.hpp"
#include "monitor/exposition.hpp"
#include "monitor/host_collector.hpp"

namespace dbmedic::monitor {
namespace {

TimePoint T0() { return FromMillis(1'700'000'000'000); }

TEST(Exposition, RendersHelpTypeAndSamples) {
  FamilyBuilder b(T0());
  b.Gauge("dbmedic_pg_up", "1 if up.", {{"target", "main"}}, 1);
  b.Counter("dbmedic_pg_xact_commits_total", "Commits.", {{"datname", "app"}, {"target", "main"}},
            42);
  EXPECT_EQ(RenderExposition(b.Take()),
            "# HELP dbmedic_pg_up 1 if up.\n"
            "# TYPE dbmedic_pg_up gauge\n"
            "dbmedic_pg_up{target=\"main\"} 1\n"
            "# HELP dbmedic_pg_xact_commits_total Commits.\n"
            "# TYPE dbmedic_pg_xact_commits_total counter\n"
            "dbmedic_pg_xact_commits_total{datname=\"app\",target=\"main\"} 42\n");
}

TEST(Exposition, EscapesLabelValuesAndHelp) {
  FamilyBuilder b(T0());
  b.Gauge("m", "line1\nback\\slash", {{"path", "a\"b\\c\nd"}}, 0.5);
  EXPECT_EQ(RenderExposition(b.Take()),
            "# HELP m line1\\nback\\\\slash\n# TYPE m gauge\nm{path=\"a\\\"b\\\\c\\nd\"} 0.5\n");
}

TEST(Exposition, AppendsTimestampsInMillisecondsWhenAsked) {
  FamilyBuilder b(T0());
  b.Gauge("m", "h", {}, 3);
  EXPECT_EQ(RenderExposition(b.Take(), true), "# HELP m h\n# TYPE m gauge\nm 3 1700000000000\n");
}

TEST(Exposition, FormatsSpecialValues) {
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
  EXPECT_EQ(FormatValue(-7), "-7");
  EXPECT_EQ(FormatValue(0.25), "0.25");
}

TEST(Exposition, SkipsFamiliesWithoutSamples) {
  Snapshot s{MetricFamily{"empty", "nothing", MetricType::kGauge, {}}};
  EXPECT_EQ(RenderExposition(s), "");
}

// The host collector's real output, twice (so the rate gauges exist), must pass promtool's lint.
TEST(Exposition, HostMetricsPassPromtoolCheckMetrics) {
  HostCollector host({std::chrono::seconds(1), "/proc", "/sys",
                      {{"main", "data", std::filesystem::temp_directory_path()}}});
  host.Collect();
  auto result = host.Collect();
  ASSERT_FALSE(result.error) << *result.error;
  std::string text = RenderExposition(result.families);
  core::RunOptions options;
  options.stdin_data = text;
  auto check = core::RunProcess({"promtool", "check", "metrics"}, options);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "");
}

}  // namespace
}  // namespace dbmedic::monitor
