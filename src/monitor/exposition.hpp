// Prometheus text exposition format (version 0.0.4): HELP and TYPE lines, one line per sample,
// label values escaped, sample timestamps in milliseconds.
#pragma once

#include <string>
#include <string_view>

#include "monitor/metric.hpp"

namespace dbmedic::monitor {

inline constexpr std::string_view kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

// Renders the families in order. Families with the same name must not repeat (the registry
// merges them). `with_timestamps` appends each sample's collection time.
std::string RenderExposition(const Snapshot& families, bool with_timestamps = false);

// Label value escaping: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);
// HELP text escaping: backslash and newline.
std::string EscapeHelp(std::string_view help);
// Prometheus float text: integers without exponent, NaN, +Inf, -Inf.
std::string FormatValue(double value);

}  // namespace dbmedic::monitor
