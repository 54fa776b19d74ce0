// A point-in-time recovery target as the user gives it (--to-time, --to-lsn, --to-xid,
// --to-name, --immediate) and the recovery settings PostgreSQL 15 reads for it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pg/lsn.hpp"

namespace dbmedic::restore {

// kEnd: no target, replay all the archived WAL.
enum class TargetKind { kTime, kLsn, kXid, kName, kImmediate, kEnd };
enum class TargetAction { kPromote, kPause };

std::string_view TargetKindName(TargetKind kind);  // "time", "lsn", "xid", "name", "immediate", "end"

struct RecoveryTarget {
  TargetKind kind = TargetKind::kImmediate;
  std::string text;                    // as PostgreSQL gets it (time normalised to UTC)
  std::optional<std::int64_t> unix_micros;  // kTime
  std::optional<pg::Lsn> lsn;          // kLsn; kName when the restore point is recorded
  bool inclusive = true;
  std::optional<std::string> timeline;  // "latest", "current" or a number; nullopt: latest
  TargetAction action = TargetAction::kPromote;

  std::string Describe() const;  // "time 2026-11-29 13:04:05.000000+00 (inclusive)"
};

// Parses "YYYY-MM-DD HH:MM:SS[.ffffff]" followed by a zone: "Z", "+HH", "+HH:MM", "+HHMM" (or
// '-'); 'T' may separate date and time. Throws Error(kUsage) for anything else, in particular a
// time without a zone (ambiguous: the server's zone may differ from the user's).
std::int64_t ParseTargetTime(std::string_view text);

// Throws Error(kUsage) when `timeline` is not latest/current/a positive number.
void ValidateTimeline(std::string_view timeline);

}  // namespace dbmedic::restore
