#include "diagnose/log_entry.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>

namespace dbmedic::diagnose {
namespace {

constexpr std::array<std::pair<std::string_view, Severity>, 20> kSeverities = {{
    {"LOG", Severity::kLog},         {"ERROR", Severity::kError},
    {"STATEMENT", Severity::kStatement}, {"DETAIL", Severity::kDetail},
    {"HINT", Severity::kHint},       {"CONTEXT", Severity::kContext},
    {"WARNING", Severity::kWarning}, {"FATAL", Severity::kFatal},
    {"PANIC", Severity::kPanic},     {"NOTICE", Severity::kNotice},
    {"INFO", Severity::kInfo},       {"QUERY", Severity::kQuery},
    {"LOCATION", Severity::kLocation}, {"DEBUG", Severity::kDebug},
    {"DEBUG1", Severity::kDebug},    {"DEBUG2", Severity::kDebug},
    {"DEBUG3", Severity::kDebug},    {"DEBUG4", Severity::kDebug},
    {"DEBUG5", Severity::kDebug},    {"UNKNOWN", Severity::kUnknown},
}};

bool Digits(std::string_view t, std::size_t pos, std::size_t n, int& value) {
  if (pos + n > t.size()) return false;
  value = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    char c = t[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

void CivilFromDays(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  auto doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

}  // namespace

Severity ParseSeverity(std::string_view word) {
  for (const auto& [name, severity] : kSeverities) {
    if (name == word) return severity;
  }
  return Severity::kUnknown;
}

std::string_view SeverityName(Severity severity) {
  for (const auto& [name, s] : kSeverities) {
    if (s == severity) return name;
  }
  return "UNKNOWN";
}

void LogEntry::Clear() {
  time = 0;
  pid = 0;
  severity = Severity::kUnknown;
  user.clear();
  database.clear();
  application.clear();
  client.clear();
  message.clear();
  detail.clear();
  hint.clear();
  context.clear();
  statement.clear();
}

std::string* LogEntry::Part(Severity part) {
  switch (part) {
    case Severity::kDetail: return &detail;
    case Severity::kHint: return &hint;
    case Severity::kContext: return &context;
    case Severity::kStatement: return &statement;
    case Severity::kQuery: return &context;  // internal query: context of the error
    case Severity::kLocation: return &context;
    default: return nullptr;
  }
}

std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  auto yoe = static_cast<unsigned>(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool ParseLogTimestamp(std::string_view t, std::int64_t& seconds, std::size_t& consumed) {
  int year, month, day, hour, minute, second;
  if (t.size() < 19 || t[4] != '-' || t[7] != '-' || t[10] != ' ' || t[13] != ':' ||
      t[16] != ':') {
    return false;
  }
  if (!Digits(t, 0, 4, year) || !Digits(t, 5, 2, month) || !Digits(t, 8, 2, day) ||
      !Digits(t, 11, 2, hour) || !Digits(t, 14, 2, minute) || !Digits(t, 17, 2, second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  seconds = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
            hour * 3600 + minute * 60 + second;
  consumed = 19;
  if (consumed < t.size() && t[consumed] == '.') {
    ++consumed;
    while (consumed < t.size() && t[consumed] >= '0' && t[consumed] <= '9') ++consumed;
  }
  return true;
}

std::string FormatTime(std::int64_t seconds) {
  std::int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
  std::int64_t rest = seconds - days * 86400;
  std::int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", y, m, d, rest / 3600,
                     (rest / 60) % 60, rest % 60);
}

std::string FormatHour(std::int64_t seconds) { return FormatTime(seconds).substr(0, 16); }

}  // namespace dbmedic::diagnose
