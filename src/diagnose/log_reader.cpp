#include "diagnose/log_reader.hpp"

#include <charconv>
#include <utility>

namespace dbmedic::diagnose {
namespace {

// csvlog columns (PostgreSQL 13-15).
enum CsvColumn : std::size_t {
  kLogTime = 0, kUserName = 1, kDatabaseName = 2, kProcessId = 3, kConnectionFrom = 4,
  kErrorSeverity = 11, kMessage = 13, kDetail = 14, kHint = 15, kInternalQuery = 16,
  kContext = 18, kQuery = 19, kApplicationName = 22, kMinColumns = 23,
};

// Splits one physical line into CSV fields, continuing an open quoted field across lines.
class CsvRecordBuilder {
 public:
  // Returns true when the record is complete after `line`.
  bool Feed(std::string_view line) {
    if (fields_.empty()) fields_.emplace_back();
    if (in_quotes_) fields_.back().push_back('\n');
    for (std::size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (in_quotes_) {
        if (c == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            fields_.back().push_back('"');
            ++i;
          } else {
            in_quotes_ = false;
          }
        } else {
          fields_.back().push_back(c);
        }
      } else if (c == '"') {
        in_quotes_ = true;
      } else if (c == ',') {
        fields_.emplace_back();
      } else {
        fields_.back().push_back(c);
      }
    }
    return !in_quotes_;
  }
  std::vector<std::string>& fields() { return fields_; }
  void Reset() {
    fields_.clear();
    in_quotes_ = false;
  }

 private:
  std::vector<std::string> fields_;
  bool in_quotes_ = false;
};

}  // namespace

bool StartsStderrMessage(std::string_view line, const LogLinePrefix& prefix) {
  if (line.empty() || line[0] == '\t') return false;
  LogEntry scratch;
  auto used = prefix.Match(line, scratch);
  if (!used) return false;
  std::string_view text;
  Severity s = ParseSeverityAndText(line.substr(*used), text);
  return s != Severity::kUnknown && !IsAttachedPart(s);
}

bool StartsCsvRecord(std::string_view line) {
  std::int64_t seconds = 0;
  std::size_t used = 0;
  if (!ParseLogTimestamp(line, seconds, used)) return false;
  std::size_t comma = line.find(',', used);
  return comma != std::string_view::npos && comma <= used + 8;  // " UTC" or " +0530"
}

void ReadStderrLog(LineReader& lines, const LogLinePrefix& prefix, const EntryCallback& on_entry,
                   ReadCounters& counters) {
  LogEntry entry;
  LogEntry header;  // prefix fields of the current line
  bool open = false;
  std::string* part = nullptr;  // field that continuation lines extend
  std::string_view line;
  auto flush = [&] {
    if (!open) return;
    ++counters.entries;
    on_entry(entry);
    open = false;
    part = nullptr;
  };
  while (lines.Next(line)) {
    ++counters.lines;
    if (!line.empty() && line[0] == '\t') {
      if (part != nullptr) {
        part->push_back('\n');
        part->append(line.substr(1));
      } else {
        ++counters.unparsed_lines;
      }
      continue;
    }
    header.time = 0;
    header.pid = 0;
    header.user.clear();
    header.database.clear();
    header.application.clear();
    header.client.clear();
    auto used = prefix.Match(line, header);
    std::string_view text;
    Severity severity = used ? ParseSeverityAndText(line.substr(*used), text) : Severity::kUnknown;
    if (severity == Severity::kUnknown) {
      ++counters.unparsed_lines;
      if (part != nullptr && !line.empty()) {  // an untabbed continuation (foreign writer)
        part->push_back('\n');
        part->append(line);
      }
      continue;
    }
    if (IsAttachedPart(severity) && open && (header.pid == 0 || header.pid == entry.pid)) {
      part = entry.Part(severity);
      part->assign(text);
      continue;
    }
    flush();
    if (IsAttachedPart(severity)) {  // an orphan part (its message was in another chunk)
      ++counters.unparsed_lines;
      continue;
    }
    std::swap(entry, header);  // the prefix fields were parsed into header already
    entry.detail.clear();
    entry.hint.clear();
    entry.context.clear();
    entry.statement.clear();
    entry.severity = severity;
    entry.message.assign(text);
    part = &entry.message;
    open = true;
  }
  flush();
}

bool EntryFromCsvFields(const std::vector<std::string>& f, LogEntry& entry) {
  if (f.size() < kMinColumns) return false;
  entry.Clear();
  std::size_t used = 0;
  ParseLogTimestamp(f[kLogTime], entry.time, used);
  entry.user = f[kUserName];
  entry.database = f[kDatabaseName];
  const std::string& pid = f[kProcessId];
  std::from_chars(pid.data(), pid.data() + pid.size(), entry.pid);
  entry.client = f[kConnectionFrom];
  entry.severity = ParseSeverity(f[kErrorSeverity]);
  entry.message = f[kMessage];
  entry.detail = f[kDetail];
  entry.hint = f[kHint];
  entry.context = f[kContext].empty() ? f[kInternalQuery] : f[kContext];
  entry.statement = f[kQuery];
  entry.application = f[kApplicationName];
  return true;
}

void ReadCsvLog(LineReader& lines, const EntryCallback& on_entry, ReadCounters& counters) {
  CsvRecordBuilder record;
  LogEntry entry;
  std::string_view line;
  bool started = false;
  while (lines.Next(line)) {
    ++counters.lines;
    if (!started && !StartsCsvRecord(line)) {  // the tail of a record from the previous chunk
      ++counters.unparsed_lines;
      continue;
    }
    started = true;
    if (!record.Feed(line)) continue;
    if (EntryFromCsvFields(record.fields(), entry)) {
      ++counters.entries;
      on_entry(entry);
    } else {
      ++counters.unparsed_lines;
    }
    record.Reset();
  }
}

}  // namespace dbmedic::diagnose
