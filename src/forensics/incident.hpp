// A destructive transaction found in the WAL: DROP, TRUNCATE, or a DELETE/UPDATE over many rows,
// with what can be known about it (xid, commit time and LSN, database, relations, rows).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pg/lsn.hpp"
#include "pg/wal_reader.hpp"
#include "pg/wal_record.hpp"

namespace dbmedic::forensics {

// In order of severity: an incident's kind is the most severe action among its relations.
enum class IncidentKind { kDropDatabase, kDrop, kTruncate, kDelete, kUpdate };
std::string_view IncidentKindName(IncidentKind kind);  // "DROP", "TRUNCATE", ...

struct AffectedRelation {
  IncidentKind action = IncidentKind::kDelete;
  std::string name;  // "public.users", or "relation 1663/5/16384 (not in the catalog)"
  std::string relkind;  // "table", "index", "sequence", "materialized view", "TOAST", "unknown"
  pg::RelFileNode file;
  std::optional<pg::Oid> oid;
  std::uint64_t rows = 0;      // rows counted in the WAL (DELETE/UPDATE), or the estimate below
  bool rows_estimated = false; // DROP/TRUNCATE: pg_class.reltuples from the catalog
  bool rows_known = true;      // false: DROP/TRUNCATE of a relation the catalog does not know
  std::optional<double> table_rows;  // reltuples before the incident, when known
  std::string basis;  // how the action was recognised ("catalog: gone in a later snapshot"...)
};

struct Incident {
  IncidentKind kind = IncidentKind::kDelete;
  pg::TransactionId xid = 0;
  std::vector<pg::TransactionId> subxacts;
  std::int64_t commit_time = 0;  // TimestampTz
  pg::Lsn commit_lsn;
  pg::Lsn first_lsn;             // first record of the transaction in the scanned WAL
  pg::Oid database = 0;
  std::string database_name;     // "" when the catalog does not know it
  std::vector<AffectedRelation> relations;
  // Transactions committed after this one in the scanned WAL: what a whole-cluster restore to
  // just before it would discard with it.
  std::uint64_t later_commits = 0;
  // Who ran it is not in the WAL; this says so, and what would have recorded it.
  std::optional<std::string> actor;
  std::string actor_note;
};

struct IncidentReport {
  std::vector<Incident> incidents;
  std::uint64_t records = 0;
  std::uint64_t commits = 0;
  std::int64_t last_commit_time = 0;  // TimestampTz of the newest commit scanned (0: none)
  std::uint64_t segments = 0;
  pg::Lsn first_lsn;
  pg::Lsn last_lsn;
  pg::WalStop stop;                 // where and why the scan ended
  std::optional<int> error_exit_code;  // set when the scan stopped on damaged WAL
  bool catalog_used = false;
};

nlohmann::json ToJson(const Incident& incident);
nlohmann::json ToJson(const IncidentReport& report);

}  // namespace dbmedic::forensics
