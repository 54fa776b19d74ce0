// Turns the lines of a server log into LogEntry messages. stderr format: a line that starts with
// the prefix and a severity begins a message; DETAIL/HINT/CONTEXT/STATEMENT lines of the same
// process attach to it; lines starting with a tab continue the previous line (multi-line SQL).
// csvlog: one CSV record per message (quoted fields may span lines). One reader per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "diagnose/log_entry.hpp"
#include "diagnose/log_prefix.hpp"
#include "diagnose/log_source.hpp"

namespace dbmedic::diagnose {

enum class LogFormat { kStderr, kCsv };

struct ReadCounters {
  std::uint64_t lines = 0;
  std::uint64_t entries = 0;
  std::uint64_t unparsed_lines = 0;  // neither a message start nor a continuation
};

using EntryCallback = std::function<void(const LogEntry&)>;

// Reads every line of `lines` and calls `on_entry` for each complete message, in file order.
void ReadStderrLog(LineReader& lines, const LogLinePrefix& prefix, const EntryCallback& on_entry,
                   ReadCounters& counters);
void ReadCsvLog(LineReader& lines, const EntryCallback& on_entry, ReadCounters& counters);

// Whether `line` begins a new message (used to split a file into chunks at safe places).
bool StartsStderrMessage(std::string_view line, const LogLinePrefix& prefix);
bool StartsCsvRecord(std::string_view line);

// Fills `entry` from the fields of one csvlog record (PostgreSQL 13+ layout). False if the
// record has too few fields to be a csvlog line.
bool EntryFromCsvFields(const std::vector<std::string>& fields, LogEntry& entry);

}  // namespace dbmedic::diagnose
