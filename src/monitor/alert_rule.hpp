// Alert rules: a metric with label matchers, a comparison with a threshold, a `for` window, a
// severity and a summary template ({{ $labels.NAME }}, {{ $value }}: Prometheus' syntax, so the
// same text works in an exported rules file). Rules come from [[alert]] sections and a shipped
// default set.
#pragma once

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "monitor/metric.hpp"

namespace dbmedic::monitor {

enum class MatchOp { kEqual, kNotEqual, kRegex, kNotRegex };

struct LabelMatcher {
  std::string label;
  MatchOp op = MatchOp::kEqual;
  std::string value;
  std::regex regex;  // anchored, for kRegex / kNotRegex

  bool Matches(const Labels& labels) const;
  std::string ToPromQL() const;  // label="value", label=~"re"...
};

// "target=main", "state!=idle", "device=~sd.*": throws Error(kConfig) on bad text.
LabelMatcher ParseMatcher(std::string_view text);

enum class Comparison { kGreater, kGreaterEqual, kLess, kLessEqual, kEqual, kNotEqual };

Comparison ParseComparison(std::string_view text);  // throws Error(kConfig)
std::string_view ComparisonText(Comparison op);
bool Compare(double value, Comparison op, double threshold);

struct AlertRule {
  std::string name;  // alertname, e.g. "ReplicationLagHigh"
  std::string metric;
  std::vector<LabelMatcher> matchers;
  Comparison op = Comparison::kGreater;
  double threshold = 0;
  std::chrono::milliseconds for_duration{0};
  std::string severity = "warning";
  std::string summary;

  std::string ToPromQL() const;  // metric{matchers} > threshold
};

// Replaces {{ $labels.NAME }} and {{ $value }} in `text`.
std::string RenderTemplate(std::string_view text, const Labels& labels, double value);

// Thresholds of the shipped default rules (from the monitor.* options).
struct DefaultRuleSettings {
  std::chrono::milliseconds for_duration{std::chrono::minutes(2)};
  std::chrono::milliseconds replication_lag{std::chrono::seconds(60)};
  std::chrono::milliseconds rpo_target{std::chrono::minutes(5)};
  std::chrono::milliseconds long_transaction{std::chrono::hours(1)};
};
std::vector<AlertRule> DefaultAlertRules(const DefaultRuleSettings& settings);

// Reads [[alert]] sections (keys: name, metric, labels, matchers, op, threshold, for, severity,
// summary). Throws Error(kConfig) naming the section number, rule and key.
std::vector<AlertRule> ParseAlertRules(const toml::table& root, const std::string& file);

// The defaults (if monitor.default_alerts) with [[alert]] rules added; an [[alert]] with a
// default's name replaces it.
std::vector<AlertRule> LoadAlertRules(const core::Config& config);

// The rules as a Prometheus rules file (YAML) that `promtool check rules` accepts.
std::string ExportPrometheusRules(const std::vector<AlertRule>& rules,
                                  std::string_view group = "dbmedic");

}  // namespace dbmedic::monitor
