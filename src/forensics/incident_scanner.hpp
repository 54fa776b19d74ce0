// Finds destructive transactions in WAL (dbmedic incidents). Reads records once, in order, and
// keeps per open transaction only counters per relation file, so memory depends on the number of
// concurrently open transactions and relations they touch, not on the size of the WAL.
//
// How each action is recognised at wal_level=replica (docs/forensics.md has the details):
// - DROP: the COMMIT record lists the relation files it removes; the catalog names them, and a
//   catalog snapshot taken after the commit no longer has the relation.
// - TRUNCATE: the COMMIT removes the old files of a relation that keeps its OID (a later
//   snapshot has it with a new relfilenode) while the new files got no data in the transaction
//   (VACUUM FULL / CLUSTER / rewriting ALTER TABLE fill them, and are not reported).
// - DELETE / UPDATE: one heap record per row, counted per relation file per transaction
//   (subtransactions folded into their top-level transaction at commit; aborted ones dropped).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "forensics/incident.hpp"
#include "forensics/wal_runs.hpp"
#include "pg/relation_catalog.hpp"
#include "pg/wal_reader.hpp"

namespace dbmedic::forensics {

struct IncidentOptions {
  std::optional<std::int64_t> since;  // TimestampTz bounds on the commit time (inclusive)
  std::optional<std::int64_t> until;
  std::optional<std::string> table;   // "schema.table" or "table": only incidents touching it
  std::uint64_t min_rows = 1000;
  int min_percent = 50;               // of reltuples, for tables of >= kMinRowsForPercent rows
  // Called at most once, on the thread that decides the incidents, the first time a decision
  // needs what the catalog passed to the scan lacks (a relation or database it does not name, or
  // the fate of a relation after a commit newer than its last snapshot); it may Add() a snapshot
  // to that catalog (cli/incident_scan.cpp adds the running cluster's). Decisions the catalog
  // already answers never call it, so a scan that needs nothing more costs no connection.
  std::function<void()> complete_catalog;
};

inline constexpr double kMinRowsForPercent = 100;

// Scans `reader` to its end. A damaged WAL does not throw: the report keeps what was found
// before the damage, and report.stop / error_exit_code say where and why reading stopped.
// Errors other than damaged WAL (I/O) are thrown. `catalog` may be null (relations unnamed);
// report.catalog_used says whether it held a snapshot by the end of the scan.
IncidentReport FindIncidents(pg::WalReader& reader, const pg::RelationCatalog* catalog,
                             const IncidentOptions& options);

// The same report read by `jobs` readers at once, each over its own source from `make_source`
// (runs of segments, wal_runs.hpp): identical to FindIncidents over one reader with
// `reader_options`, also when a transaction's records span runs, and ending where one reader
// would stop on damaged WAL. `segments` counts the segments holding the records read.
IncidentReport FindIncidentsInParallel(const WalSourceFactory& make_source,
                                       const pg::WalReaderOptions& reader_options,
                                       const pg::RelationCatalog* catalog,
                                       const IncidentOptions& options, int jobs);

// Parses "2026-11-29T12:34:56Z", "2026-11-29 12:34:56.5+00", "2026-11-29" (UTC when no zone is
// given) into a TimestampTz. Throws Error(kUsage) naming the text.
std::int64_t ParseTimestamp(const std::string& text);

}  // namespace dbmedic::forensics
