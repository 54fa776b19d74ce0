#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "monitor/alert_rule.hpp"

namespace dbmedic::monitor {
namespace {

std::vector<AlertRule> Parse(std::string_view text) {
  return ParseAlertRules(toml::parse(text), "/etc/dbmedic/dbmedic.toml");
}

// Runs `fn`, expects Error(kConfig) with exactly `message`.
template <typename Fn>
void ExpectConfigError(Fn fn, std::string_view message) {
  try {
    fn();
    FAIL() << "no exception; expected: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TEST(AlertRule, ParsesACompleteRule) {
  auto rules = Parse(R"(
[[alert]]
name = "TooManyTempFiles"
metric = "dbmedic_pg_temp_files_total"
labels = { target = "main" }
matchers = ["datname!=template1", "datname=~app.*"]
op = ">="
threshold = 100
for = "5m"
severity = "critical"
summary = "{{ $labels.datname }}: {{ $value }} temp files"
)");
  ASSERT_EQ(rules.size(), 1u);
  const auto& r = rules[0];
  EXPECT_EQ(r.name, "TooManyTempFiles");
  EXPECT_EQ(r.op, Comparison::kGreaterEqual);
  EXPECT_EQ(r.threshold, 100);
  EXPECT_EQ(r.for_duration, std::chrono::minutes(5));
  EXPECT_EQ(r.severity, "critical");
  EXPECT_EQ(r.ToPromQL(),
            "dbmedic_pg_temp_files_total{target=\"main\",datname!=\"template1\","
            "datname=~\"app.*\"} >= 100");
}

TEST(AlertRule, DefaultsToGreaterWithoutForAndWarning) {
  auto rules = Parse("[[alert]]\nname = \"X\"\nmetric = \"m\"\nthreshold = 1.5\n");
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].op, Comparison::kGreater);
  EXPECT_EQ(rules[0].for_duration.count(), 0);
  EXPECT_EQ(rules[0].severity, "warning");
}

TEST(AlertRule, UnknownKeyIsRejectedByName) {
  ExpectConfigError([] { Parse("[[alert]]\nname = \"X\"\nmetric = \"m\"\nthreshold = 1\n"
                               "treshold = 2\n"); },
                    "[[alert]] #1 ('X'): key 'treshold' is not known; known keys: for, labels, "
                    "matchers, metric, name, op, severity, summary, threshold");
}

TEST(AlertRule, BadComparisonNamesTheKey) {
  ExpectConfigError([] { Parse("[[alert]]\nname = \"X\"\nmetric = \"m\"\nop = \"=>\"\n"
                               "threshold = 1\n"); },
                    "[[alert]] #1 ('X'): key 'op' must be one of >, >=, <, <=, ==, !=; got '=>'");
}

TEST(AlertRule, MissingThresholdIsAnError) {
  ExpectConfigError([] { Parse("[[alert]]\nname = \"X\"\nmetric = \"m\"\n"); },
                    "[[alert]] #1 ('X'): key 'threshold' is required");
}

TEST(AlertRule, MissingNameIsAnError) {
  ExpectConfigError([] { Parse("[[alert]]\nmetric = \"m\"\nthreshold = 1\n"); },
                    "[[alert]] #1: key 'name' is required");
}

TEST(AlertRule, BadSeverityIsAnError) {
  ExpectConfigError([] { Parse("[[alert]]\nname = \"X\"\nmetric = \"m\"\nthreshold = 1\n"
                               "severity = \"page\"\n"); },
                    "[[alert]] #1 ('X'): key 'severity' must be info, warning or critical; got "
                    "'page'");
}

TEST(AlertRule, BadDurationIsAnError) {
  ExpectConfigError([] { Parse("[[alert]]\nname = \"X\"\nmetric = \"m\"\nthreshold = 1\n"
                               "for = \"soon\"\n"); },
                    "[[alert]] #1 ('X'): key 'for' must be a duration like 30s, 5m or 2h; got "
                    "'soon'");
}

TEST(AlertRule, DuplicateNamesAreRejected) {
  ExpectConfigError([] { Parse("[[alert]]\nname = \"X\"\nmetric = \"m\"\nthreshold = 1\n"
                               "[[alert]]\nname = \"X\"\nmetric = \"n\"\nthreshold = 2\n"); },
                    "[[alert]] #2 ('X'): key 'name' is used by another [[alert]]");
}

TEST(AlertRule, BadMatcherIsRejected) {
  ExpectConfigError([] { Parse("[[alert]]\nname = \"X\"\nmetric = \"m\"\nthreshold = 1\n"
                               "matchers = [\"=oops\"]\n"); },
                    "[[alert]] #1 ('X'): key 'matchers' has an invalid label matcher '=oops': no "
                    "operator");
}

TEST(AlertRule, ErrorHintNamesTheFileAndLine) {
  try {
    Parse("[[alert]]\nname = \"X\"\nmetric = \"m\"\nthreshold = \"high\"\n");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "[[alert]] #1 ('X'): key 'threshold' must be a number");
    EXPECT_EQ(e.hint(), "fix the [[alert]] section in '/etc/dbmedic/dbmedic.toml' line 4 (see "
                        "docs/monitoring.md)");
  }
}

TEST(AlertRule, MatchersCompareLabels) {
  Labels l{{"state", "idle in transaction"}, {"device", "sda"}};
  EXPECT_TRUE(ParseMatcher("device=sda").Matches(l));
  EXPECT_FALSE(ParseMatcher("device!=sda").Matches(l));
  EXPECT_TRUE(ParseMatcher("state=~idle.*").Matches(l));
  EXPECT_FALSE(ParseMatcher("state=~idle").Matches(l));  // anchored, as in PromQL
  EXPECT_TRUE(ParseMatcher("state!~active").Matches(l));
  EXPECT_TRUE(ParseMatcher("missing=").Matches(l));       // absent label equals ""
  EXPECT_TRUE(ParseMatcher("device=\"sda\"").Matches(l));
}

TEST(AlertRule, BadRegexIsAConfigError) {
  try {
    ParseMatcher("a=~(");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_TRUE(std::string(e.what()).starts_with("invalid label matcher 'a=~(': bad regular "
                                                  "expression"));
  }
}

TEST(AlertRule, RendersTemplates) {
  Labels l{{"standby", "s1"}, {"target", "main"}};
  EXPECT_EQ(RenderTemplate("{{ $labels.standby }} of {{$labels.target}} lags {{ $value }} s", l,
                           12.5),
            "s1 of main lags 12.5 s");
  EXPECT_EQ(RenderTemplate("{{ $labels.nope }}|{{ other }}|{{ unclosed", l, 1),
            "|{{ other }}|{{ unclosed");
}

TEST(AlertRule, DefaultSetCoversTheIssueList) {
  auto rules = DefaultAlertRules({});
  std::vector<std::string> names;
  for (const auto& r : rules) names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "PostgresDown", "ReplicationLagHigh", "StandbyReplayLagHigh",
                       "ArchivingFailing", "RpoAboveTarget", "ConnectionsNearMax",
                       "DiskAlmostFull", "HighIowait", "LongTransaction",
                       "SessionsBlockedOnLocks", "WraparoundRisk", "InactiveSlotRetainingWal"}));
  EXPECT_EQ(rules[1].ToPromQL(), "dbmedic_pg_replication_lag_seconds{kind=\"replay\"} > 60");
}

TEST(AlertRule, ExportsAPrometheusRulesFile) {
  AlertRule r{"X", "m", {ParseMatcher("a=b")}, Comparison::kGreater, 2,
              std::chrono::milliseconds(90000), "critical", "say \"{{ $value }}\""};
  EXPECT_EQ(ExportPrometheusRules({r}),
            "# Generated by dbmedic export-rules.\n"
            "groups:\n"
            "  - name: \"dbmedic\"\n"
            "    rules:\n"
            "      - alert: X\n"
            "        expr: \"m{a=\\\"b\\\"} > 2\"\n"
            "        for: 90s\n"
            "        labels:\n"
            "          severity: \"critical\"\n"
            "        annotations:\n"
            "          summary: \"say \\\"{{ $value }}\\\"\"\n");
}

TEST(AlertRule, ExportedDefaultsPassPromtoolCheckRules) {
  core::TempDir dir("monitor-rules");
  auto rules = DefaultAlertRules({});
  rules.push_back(AlertRule{"Custom", "m", {ParseMatcher("state=~idle.*")}, Comparison::kNotEqual,
                            0.5, std::chrono::milliseconds(1500), "info", "{{ $labels.state }}"});
  auto file = dir.path() / "rules.yml";
  core::AtomicWriteFile(file, ExportPrometheusRules(rules));
  auto check = core::RunProcess({"promtool", "check", "rules", file.string()});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("SUCCESS: 13 rules found"), std::string::npos) << check.out;
}

}  // namespace
}  // namespace dbmedic::monitor
