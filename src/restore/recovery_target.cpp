#include "restore/recovery_target.hpp"

#include <algorithm>
#include <ctime>
#include <regex>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::restore {

std::string_view TargetKindName(TargetKind kind) {
  switch (kind) {
    case TargetKind::kTime: return "time";
    case TargetKind::kLsn: return "lsn";
    case TargetKind::kXid: return "xid";
    case TargetKind::kName: return "name";
    case TargetKind::kImmediate: return "immediate";
    case TargetKind::kEnd: return "end";
  }
  return "?";
}

std::string RecoveryTarget::Describe() const {
  if (kind == TargetKind::kImmediate) return "immediate (end of the backup)";
  if (kind == TargetKind::kEnd) return "end of the WAL archive";
  return fmt::format("{} {} ({})", TargetKindName(kind), text,
                     inclusive ? "inclusive" : "exclusive");
}

std::int64_t ParseTargetTime(std::string_view text) {
  static const std::regex kPattern(
      R"(^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.(\d{1,6}))?\s*(Z|[+-]\d{2}(:?\d{2})?)$)");
  const std::string s(text);
  std::smatch m;
  if (!std::regex_match(s, m, kPattern)) {
    throw Error(ErrorCode::kUsage, fmt::format("invalid recovery target time '{}'", text),
                "write it with a time zone, e.g. '2026-11-29 13:04:05+00' or "
                "'2026-11-29T13:04:05.250Z'");
  }
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    throw Error(ErrorCode::kUsage, fmt::format("invalid recovery target time '{}'", text),
                "check the date and the clock time");
  }
  std::int64_t micros = 0;
  if (m[8].matched) {
    std::string frac = m[8];
    frac.resize(6, '0');
    micros = std::stoll(frac);
  }
  std::int64_t offset_seconds = 0;
  const std::string zone = m[9];
  if (zone != "Z") {
    std::string digits;
    for (char c : zone.substr(1)) {
      if (c != ':') digits += c;
    }
    const int hours = std::stoi(digits.substr(0, 2));
    const int minutes = digits.size() > 2 ? std::stoi(digits.substr(2, 2)) : 0;
    offset_seconds = (hours * 3600 + minutes * 60) * (zone[0] == '-' ? -1 : 1);
  }
  const std::int64_t utc = static_cast<std::int64_t>(timegm(&tm)) - offset_seconds;
  return utc * 1000000 + micros;
}

void ValidateTimeline(std::string_view timeline) {
  if (timeline == "latest" || timeline == "current") return;
  const bool digits = !timeline.empty() && timeline.size() < 10 &&
                      std::all_of(timeline.begin(), timeline.end(),
                                  [](char c) { return c >= '0' && c <= '9'; });
  if (digits && std::stoul(std::string(timeline)) > 0) return;
  throw Error(ErrorCode::kUsage, fmt::format("invalid --timeline '{}'", timeline),
              "use 'latest', 'current' or a timeline number such as 2 (see dbmedic info)");
}

}  // namespace dbmedic::restore
