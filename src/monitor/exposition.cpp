#include "monitor/exposition.hpp"

#include <cmath>

#include <fmt/format.h>

namespace dbmedic::monitor {

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<long long>(value));
  }
  return fmt::format("{}", value);
}

std::string RenderExposition(const Snapshot& families, bool with_timestamps) {
  std::string out;
  out.reserve(families.size() * 256);
  for (const auto& family : families) {
    if (family.samples.empty()) continue;
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", family.name,
                   EscapeHelp(family.help), family.name,
                   family.type == MetricType::kCounter ? "counter" : "gauge");
    for (const auto& sample : family.samples) {
      out += family.name;
      if (!sample.labels.empty()) out += LabelsToString(sample.labels);
      out += ' ';
      out += FormatValue(sample.value);
      if (with_timestamps) fmt::format_to(std::back_inserter(out), " {}", ToMillis(sample.time));
      out += '\n';
    }
  }
  return out;
}

}  // namespace dbmedic::monitor
