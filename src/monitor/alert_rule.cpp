#include "monitor/alert_rule.hpp"

#include <set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "monitor/exposition.hpp"
#include "monitor/toml_section.hpp"

namespace dbmedic::monitor {
namespace {

Error MatcherError(std::string_view text, std::string_view why) {
  return Error(ErrorCode::kConfig, fmt::format("invalid label matcher '{}': {}", text, why),
               "write matchers as label=value, label!=value, label=~regex or label!~regex");
}

bool IsLabelName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// A double-quoted YAML / PromQL string (JSON escaping is valid in both).
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string PromDuration(std::chrono::milliseconds d) {
  if (d.count() % 1000 != 0) return fmt::format("{}ms", d.count());
  return fmt::format("{}s", d.count() / 1000);
}

}  // namespace

bool LabelMatcher::Matches(const Labels& labels) const {
  auto it = labels.find(label);
  std::string_view actual = it == labels.end() ? std::string_view() : it->second;
  switch (op) {
    case MatchOp::kEqual: return actual == value;
    case MatchOp::kNotEqual: return actual != value;
    case MatchOp::kRegex: return std::regex_match(actual.begin(), actual.end(), regex);
    case MatchOp::kNotRegex: return !std::regex_match(actual.begin(), actual.end(), regex);
  }
  return false;
}

std::string LabelMatcher::ToPromQL() const {
  const char* ops[] = {"=", "!=", "=~", "!~"};
  return label + ops[static_cast<int>(op)] + Quote(value);
}

LabelMatcher ParseMatcher(std::string_view text) {
  auto pos = text.find_first_of("=!");
  if (pos == std::string_view::npos || pos == 0) throw MatcherError(text, "no operator");
  LabelMatcher m;
  m.label = std::string(text.substr(0, pos));
  while (!m.label.empty() && m.label.back() == ' ') m.label.pop_back();
  std::string_view rest = text.substr(pos);
  if (rest.starts_with("=~")) m.op = MatchOp::kRegex;
  else if (rest.starts_with("!~")) m.op = MatchOp::kNotRegex;
  else if (rest.starts_with("!=")) m.op = MatchOp::kNotEqual;
  else if (rest.starts_with("=")) m.op = MatchOp::kEqual;
  else throw MatcherError(text, "unknown operator");
  rest.remove_prefix(m.op == MatchOp::kEqual ? 1 : 2);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.size() >= 2 && rest.front() == '"' && rest.back() == '"') {
    rest = rest.substr(1, rest.size() - 2);
  }
  if (!IsLabelName(m.label)) throw MatcherError(text, fmt::format("'{}' is not a label name",
                                                                  m.label));
  m.value = std::string(rest);
  if (m.op == MatchOp::kRegex || m.op == MatchOp::kNotRegex) {
    try {
      m.regex = std::regex(m.value, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw MatcherError(text, fmt::format("bad regular expression: {}", e.what()));
    }
  }
  return m;
}

Comparison ParseComparison(std::string_view text) {
  if (text == ">") return Comparison::kGreater;
  if (text == ">=") return Comparison::kGreaterEqual;
  if (text == "<") return Comparison::kLess;
  if (text == "<=") return Comparison::kLessEqual;
  if (text == "==") return Comparison::kEqual;
  if (text == "!=") return Comparison::kNotEqual;
  throw Error(ErrorCode::kConfig, fmt::format("'{}' is not a comparison", text),
              "use one of >, >=, <, <=, ==, !=");
}

std::string_view ComparisonText(Comparison op) {
  switch (op) {
    case Comparison::kGreater: return ">";
    case Comparison::kGreaterEqual: return ">=";
    case Comparison::kLess: return "<";
    case Comparison::kLessEqual: return "<=";
    case Comparison::kEqual: return "==";
    case Comparison::kNotEqual: return "!=";
  }
  return "?";
}

bool Compare(double value, Comparison op, double threshold) {
  switch (op) {
    case Comparison::kGreater: return value > threshold;
    case Comparison::kGreaterEqual: return value >= threshold;
    case Comparison::kLess: return value < threshold;
    case Comparison::kLessEqual: return value <= threshold;
    case Comparison::kEqual: return value == threshold;
    case Comparison::kNotEqual: return value != threshold;
  }
  return false;
}

std::string AlertRule::ToPromQL() const {
  std::string selector = metric;
  if (!matchers.empty()) {
    std::vector<std::string> parts;
    for (const auto& m : matchers) parts.push_back(m.ToPromQL());
    selector += fmt::format("{{{}}}", fmt::join(parts, ","));
  }
  return fmt::format("{} {} {}", selector, ComparisonText(op), FormatValue(threshold));
}

std::string RenderTemplate(std::string_view text, const Labels& labels, double value) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    auto open = text.find("{{", i);
    auto close = open == std::string_view::npos ? open : text.find("}}", open);
    if (close == std::string_view::npos) {
      out += text.substr(i);
      break;
    }
    out += text.substr(i, open - i);
    std::string_view expr = text.substr(open + 2, close - open - 2);
    while (!expr.empty() && expr.front() == ' ') expr.remove_prefix(1);
    while (!expr.empty() && expr.back() == ' ') expr.remove_suffix(1);
    if (expr == "$value") {
      out += fmt::format("{:.4g}", value);
    } else if (expr.starts_with("$labels.")) {
      auto it = labels.find(std::string(expr.substr(8)));
      if (it != labels.end()) out += it->second;
    } else {
      out += text.substr(open, close + 2 - open);  // not ours: keep it verbatim
    }
    i = close + 2;
  }
  return out;
}

std::vector<AlertRule> ParseAlertRules(const toml::table& root, const std::string& file) {
  static const std::set<std::string, std::less<>> kKnown = {
      "name", "metric", "labels", "matchers", "op", "threshold", "for", "severity", "summary"};
  std::vector<AlertRule> rules;
  std::set<std::string> names;
  auto tables = SectionTables(root, "alert");
  for (std::size_t i = 0; i < tables.size(); ++i) {
    SectionReader r(*tables[i], "alert", i + 1, file);
    if (auto name = r.String("name")) r.set_display_name(*name);
    r.RejectUnknown(kKnown);
    AlertRule rule;
    rule.name = r.RequireString("name");
    if (!IsLabelName(rule.name)) r.Fail("name", "must be letters, digits and '_'");
    if (!names.insert(rule.name).second) r.Fail("name", "is used by another [[alert]]");
    rule.metric = r.RequireString("metric");
    if (!IsLabelName(rule.metric)) r.Fail("metric", "is not a metric name");
    for (const auto& [label, value] : r.StringTable("labels").value_or(
             std::vector<std::pair<std::string, std::string>>{})) {
      rule.matchers.push_back(LabelMatcher{label, MatchOp::kEqual, value, {}});
    }
    for (const auto& text : r.StringArray("matchers").value_or(std::vector<std::string>{})) {
      try {
        rule.matchers.push_back(ParseMatcher(text));
      } catch (const Error& e) {
        r.Fail("matchers", std::string("has an ") + e.what());
      }
    }
    try {
      rule.op = ParseComparison(r.String("op").value_or(">"));
    } catch (const Error&) {
      r.Fail("op", fmt::format("must be one of >, >=, <, <=, ==, !=; got '{}'", *r.String("op")));
    }
    auto threshold = r.Number("threshold");
    if (!threshold) r.Fail("threshold", "is required");
    rule.threshold = *threshold;
    rule.for_duration = r.Duration("for").value_or(std::chrono::milliseconds(0));
    rule.severity = r.String("severity").value_or("warning");
    static const std::set<std::string> kSeverities = {"info", "warning", "critical"};
    if (!kSeverities.contains(rule.severity)) {
      r.Fail("severity", fmt::format("must be info, warning or critical; got '{}'",
                                     rule.severity));
    }
    rule.summary = r.String("summary").value_or(
        fmt::format("{} on {{{{ $labels.target }}}}: {{{{ $value }}}}", rule.name));
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::vector<AlertRule> LoadAlertRules(const core::Config& config) {
  std::vector<AlertRule> rules;
  if (config.Bool("monitor.default_alerts")) {
    rules = DefaultAlertRules({config.Duration("monitor.alert_for"),
                               config.Duration("monitor.replication_lag_threshold"),
                               config.Duration("monitor.rpo_target"),
                               config.Duration("monitor.long_transaction_threshold")});
  }
  auto custom = ParseAlertRules(config.Raw(), config.file() ? config.file()->string() : "");
  for (auto& rule : custom) {
    auto same = std::find_if(rules.begin(), rules.end(),
                             [&](const AlertRule& r) { return r.name == rule.name; });
    if (same != rules.end()) {
      *same = std::move(rule);
    } else {
      rules.push_back(std::move(rule));
    }
  }
  return rules;
}

std::string ExportPrometheusRules(const std::vector<AlertRule>& rules, std::string_view group) {
  std::string out = fmt::format("# Generated by dbmedic export-rules.\ngroups:\n  - name: {}\n"
                                "    rules:\n", Quote(group));
  for (const auto& rule : rules) {
    out += fmt::format("      - alert: {}\n        expr: {}\n", rule.name,
                       Quote(rule.ToPromQL()));
    if (rule.for_duration.count() > 0) {
      out += fmt::format("        for: {}\n", PromDuration(rule.for_duration));
    }
    out += fmt::format("        labels:\n          severity: {}\n", Quote(rule.severity));
    out += fmt::format("        annotations:\n          summary: {}\n", Quote(rule.summary));
  }
  return out;
}

}  // namespace dbmedic::monitor
