#include "forensics/incident_scanner.hpp"

#include <algorithm>
#include <ctime>
#include <optional>
#include <unordered_set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "forensics/incident_runs.hpp"
#include "forensics/run_buffers.hpp"
#include "forensics/wal_runs.hpp"
#include "pg/wal_format.hpp"

namespace dbmedic::forensics {
namespace {

// What one reader (or one run) saw, before it is joined with the runs before it.
struct ScanOutcome {
  std::uint64_t records = 0;
  pg::Lsn first_lsn;
  pg::Lsn last_lsn;
  pg::Lsn end_lsn;  // end of the last record
  pg::WalStop stop;
  std::optional<int> error_exit_code;
};

bool IsDamage(const Error& e) {
  return e.code() == ErrorCode::kCorrupt || e.code() == ErrorCode::kUnsupported ||
         e.code() == ErrorCode::kRepository;
}

// Reads `reader` to its end, or to damage: a record whose payload cannot be decoded stops the
// scan at that record; damage the reader meets stops it where the reader says.
ScanOutcome ReadRecords(pg::WalReader& reader, RunScanner& scanner) {
  ScanOutcome out;
  try {
    while (const pg::WalRecord* record = reader.Next()) {
      if (out.records++ == 0) out.first_lsn = record->lsn;
      out.last_lsn = record->lsn;
      out.end_lsn = record->end_lsn;
      try {
        scanner.OnRecord(*record);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kCorrupt) throw;
        out.stop = {pg::WalStopReason::kError, record->lsn, e.what()};
        out.error_exit_code = e.exit_code();
        return out;
      }
    }
    out.stop = reader.stop();
  } catch (const Error& e) {
    if (!IsDamage(e)) throw;
    out.stop = reader.stop();
    out.error_exit_code = e.exit_code();
  }
  return out;
}

void AddOutcome(IncidentReport& report, const ScanOutcome& run) {
  if (run.records > 0) {
    if (report.records == 0) report.first_lsn = run.first_lsn;
    report.last_lsn = run.last_lsn;
  }
  report.records += run.records;
  report.stop = run.stop;
  report.error_exit_code = run.error_exit_code;
}

// One run of a parallel scan: its outcome, the transaction ends it saw, in LSN order, and the
// transactions it left open.
struct RunResult {
  ScanOutcome outcome;
  XactEnds ends;
  BlockWrites writes;
  OpenTransactions open;
};

}  // namespace

IncidentReport FindIncidents(pg::WalReader& reader, const pg::RelationCatalog* catalog,
                             const IncidentOptions& options) {
  IncidentReport report;
  IncidentJoiner joiner(catalog, options, report);
  RunScanner scanner([&](XactEnd&& end) { joiner.OnXactEnd(std::move(end)); }, nullptr);
  AddOutcome(report, ReadRecords(reader, scanner));
  report.segments = reader.segments_read();
  joiner.Finish();
  return report;
}

IncidentReport FindIncidentsInParallel(const WalSourceFactory& make_source,
                                       const pg::WalReaderOptions& reader_options,
                                       const pg::RelationCatalog* catalog,
                                       const IncidentOptions& options, int jobs) {
  IncidentReport report;
  IncidentJoiner joiner(catalog, options, report);
  WalRunScan scan(make_source, reader_options, jobs);
  std::vector<std::optional<RunResult>> results(scan.runs());
  // Sized for a run of 8 segments of small transactions; they grow when a run needs more.
  SpareVectors<XactEnd> spare_ends(std::size_t{1} << 14);
  SpareVectors<BlockWrite> spare_writes(std::size_t{1} << 16);
  pg::Lsn end_lsn;
  scan.Run(
      [&](std::size_t k, pg::WalReader& reader) {
        RunResult run;
        run.ends = spare_ends.Take();
        if (k > 0) run.writes = spare_writes.Take();
        RunScanner scanner([&](XactEnd&& end) { run.ends.push_back(std::move(end)); },
                           k > 0 ? &run.writes : nullptr);
        run.outcome = ReadRecords(reader, scanner);
        run.open = scanner.TakeOpen();
        results[k] = std::move(run);
      },
      [&](std::size_t k) {
        RunResult& run = *results[k];
        joiner.ApplyWrites(run.writes);
        for (XactEnd& end : run.ends) joiner.OnXactEnd(std::move(end));
        joiner.Carry(std::move(run.open));
        AddOutcome(report, run.outcome);
        if (run.outcome.records > 0) end_lsn = run.outcome.end_lsn;
        const bool more = run.outcome.stop.reason == pg::WalStopReason::kEndLsn;
        spare_ends.Give(std::move(run.ends));
        if (k > 0) spare_writes.Give(std::move(run.writes));
        results[k].reset();
        return more;
      });
  if (report.records > 0) {
    report.segments = pg::SegmentNumber(pg::Lsn{end_lsn.value - 1}, scan.segment_size()) -
                      pg::SegmentNumber(report.first_lsn, scan.segment_size()) + 1;
  }
  joiner.Finish();
  return report;
}

std::int64_t ParseTimestamp(const std::string& text) {
  std::tm tm{};
  const char* rest = nullptr;
  for (const char* format : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"}) {
    tm = {};
    rest = strptime(text.c_str(), format, &tm);
    if (rest != nullptr) break;
  }
  if (rest == nullptr) {
    throw Error(ErrorCode::kUsage, fmt::format("cannot read '{}' as a time", text),
                "write times like 2026-11-29T14:05:00Z (UTC unless a +HH offset is given)");
  }
  std::int64_t micros = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits++ < 6) micros = micros * 10 + (*rest - '0');
      ++rest;
    }
    for (; digits < 6; ++digits) micros *= 10;
  }
  std::int64_t offset_seconds = 0;
  std::string zone(rest);
  if (zone == "Z" || zone.empty() || zone == " UTC" || zone == "UTC") {
    offset_seconds = 0;
  } else if ((zone[0] == '+' || zone[0] == '-') && zone.size() >= 3) {
    int hours = std::stoi(zone.substr(1, 2));
    int minutes = zone.size() >= 5 ? std::stoi(zone.substr(zone.size() - 2)) : 0;
    offset_seconds = (zone[0] == '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
  } else {
    throw Error(ErrorCode::kUsage, fmt::format("cannot read the time zone in '{}'", text),
                "use Z or an offset like +02 / +02:00");
  }
  std::int64_t unix_seconds = static_cast<std::int64_t>(timegm(&tm)) - offset_seconds;
  return (unix_seconds - pg::wal::kPostgresEpochUnixSeconds) * 1000000 + micros;
}

}  // namespace dbmedic::forensics
