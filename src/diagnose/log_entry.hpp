// One message of a PostgreSQL server log with the lines attached to it (DETAIL, HINT, CONTEXT,
// STATEMENT), whatever the file format it came from.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dbmedic::diagnose {

enum class Severity {
  kUnknown, kDebug, kInfo, kNotice, kWarning, kLog, kError, kFatal, kPanic,
  // Parts of the previous message, never messages of their own.
  kDetail, kHint, kContext, kStatement, kQuery, kLocation,
};

// "LOG" -> kLog ...; kUnknown for anything else.
Severity ParseSeverity(std::string_view word);
std::string_view SeverityName(Severity severity);
inline bool IsAttachedPart(Severity s) { return s >= Severity::kDetail; }

struct LogEntry {
  std::int64_t time = 0;  // seconds since 1970 as printed (in the log's time zone); 0: unknown
  std::int64_t pid = 0;
  Severity severity = Severity::kUnknown;
  std::string user;
  std::string database;
  std::string application;
  std::string client;
  std::string message;  // continuation lines joined with '\n' (their leading tab removed)
  std::string detail;
  std::string hint;
  std::string context;
  std::string statement;  // STATEMENT: (stderr) or the query field (csvlog)

  void Clear();
  // The field an attached part fills (DETAIL -> detail, ...); nullptr for other severities.
  std::string* Part(Severity part);
};

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d);

// Parses "YYYY-MM-DD HH:MM:SS" at the start of `text` (optionally followed by ".fff"); the
// number of characters consumed goes to `consumed`. False if it is not a timestamp.
bool ParseLogTimestamp(std::string_view text, std::int64_t& seconds, std::size_t& consumed);

// "2026-11-29 14:00" for an hour bucket (seconds since 1970, as printed).
std::string FormatHour(std::int64_t seconds);
std::string FormatTime(std::int64_t seconds);

}  // namespace dbmedic::diagnose
