#include "forensics/incident_scanner.hpp"

#include <algorithm>
#include <ctime>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "pg/wal_decoders.hpp"
#include "pg/wal_format.hpp"

namespace dbmedic::forensics {

using pg::Lsn;
using pg::Oid;
using pg::RelFileNode;
using pg::RelFileNodeHash;
using pg::TransactionId;

namespace {

constexpr Oid kFirstNormalObjectId = 16384;  // FirstNormalObjectId (access/transam.h)

struct RowCounts {
  std::uint64_t deletes = 0;
  std::uint64_t updates = 0;
};

// What one transaction (or subtransaction) did, as far as incidents are concerned.
struct TxnState {
  Lsn first_lsn;
  std::unordered_map<RelFileNode, RowCounts, RelFileNodeHash> rows;
  std::unordered_set<RelFileNode, RelFileNodeHash> created;  // smgr CREATE in this transaction
  // Created files that received data in this transaction, and whether that looked like table
  // data (a heap record, or any block past 0: an empty index only writes its metapage).
  std::unordered_set<RelFileNode, RelFileNodeHash> written;
  bool wrote_table_data = false;
  std::vector<Oid> dropped_databases;

  void Merge(TxnState&& other) {
    first_lsn = std::min(first_lsn, other.first_lsn);
    for (auto& [rel, c] : other.rows) {
      rows[rel].deletes += c.deletes;
      rows[rel].updates += c.updates;
    }
    created.merge(other.created);
    written.merge(other.written);
    wrote_table_data = wrote_table_data || other.wrote_table_data;
    dropped_databases.insert(dropped_databases.end(), other.dropped_databases.begin(),
                             other.dropped_databases.end());
  }
};

std::string RelkindName(char kind) {
  switch (kind) {
    case 'r': return "table";
    case 'p': return "partitioned table";
    case 'i': case 'I': return "index";
    case 'S': return "sequence";
    case 't': return "TOAST";
    case 'm': return "materialized view";
    default: return "relation";
  }
}

class Scanner {
 public:
  Scanner(const pg::RelationCatalog* catalog, const IncidentOptions& options)
      : catalog_(catalog), options_(options) {}

  void OnRecord(const pg::WalRecord& record, IncidentReport& report);

 private:
  TxnState& State(TransactionId xid, Lsn lsn) {
    auto [it, inserted] = open_.try_emplace(xid);
    if (inserted) it->second.first_lsn = lsn;
    return it->second;
  }
  void OnCommit(const pg::XactRecord& xact, const pg::WalRecord& record, IncidentReport& report);
  void OnAbort(const pg::XactRecord& xact);
  void AddDroppedFiles(const pg::XactRecord& xact, const TxnState& state, Lsn lsn,
                       Incident& incident) const;
  void AddRowChanges(const TxnState& state, Lsn lsn, Incident& incident) const;
  AffectedRelation Describe(const RelFileNode& file, Lsn lsn) const;
  bool Keep(Incident& incident) const;

  const pg::RelationCatalog* catalog_;
  const IncidentOptions& options_;
  std::unordered_map<TransactionId, TxnState> open_;
};

void Scanner::OnRecord(const pg::WalRecord& record, IncidentReport& report) {
  if (auto change = pg::DecodeHeapChange(record)) {
    if (record.xid == 0) return;
    if (change->op == pg::HeapOp::kDelete) {
      State(record.xid, record.lsn).rows[change->rel].deletes += change->rows;
    } else if (change->op == pg::HeapOp::kUpdate || change->op == pg::HeapOp::kHotUpdate) {
      State(record.xid, record.lsn).rows[change->rel].updates += change->rows;
    }
  } else if (auto create = pg::DecodeSmgrCreate(record)) {
    if (record.xid != 0) State(record.xid, record.lsn).created.insert(create->rel);
  } else if (auto drop = pg::DecodeDatabaseDrop(record)) {
    if (record.xid != 0) State(record.xid, record.lsn).dropped_databases.push_back(drop->db);
  } else if (auto xact = pg::DecodeXact(record)) {
    if (xact->kind == pg::XactKind::kCommit || xact->kind == pg::XactKind::kCommitPrepared) {
      OnCommit(*xact, record, report);
    } else if (xact->kind == pg::XactKind::kAbort || xact->kind == pg::XactKind::kAbortPrepared) {
      OnAbort(*xact);
    }
    return;
  }
  // Data written into a file created by the same transaction means a rewrite (VACUUM FULL,
  // CLUSTER, ALTER TABLE), not a TRUNCATE.
  if (record.xid != 0 && !record.blocks.empty()) {
    auto it = open_.find(record.xid);
    if (it == open_.end() || it->second.created.empty()) return;
    TxnState& state = it->second;
    bool heap = record.rmid == static_cast<std::uint8_t>(pg::wal::Rmgr::kHeap) ||
                record.rmid == static_cast<std::uint8_t>(pg::wal::Rmgr::kHeap2);
    for (const auto& block : record.blocks) {
      if (!state.created.contains(block.rnode)) continue;
      state.written.insert(block.rnode);
      if (heap || block.block > 0) state.wrote_table_data = true;
    }
  }
}

void Scanner::OnAbort(const pg::XactRecord& xact) {
  open_.erase(xact.xid);
  for (TransactionId sub : xact.subxacts) open_.erase(sub);
}

void Scanner::OnCommit(const pg::XactRecord& xact, const pg::WalRecord& record,
                       IncidentReport& report) {
  ++report.commits;
  report.last_commit_time = xact.time;
  TxnState state;
  state.first_lsn = record.lsn;
  auto take = [&](TransactionId xid) {
    auto it = open_.find(xid);
    if (it == open_.end()) return;
    state.Merge(std::move(it->second));
    open_.erase(it);
  };
  take(xact.xid);
  for (TransactionId sub : xact.subxacts) take(sub);
  if (options_.since && xact.time < *options_.since) return;
  if (options_.until && xact.time > *options_.until) return;

  Incident incident;
  incident.xid = xact.xid;
  incident.subxacts = xact.subxacts;
  incident.commit_time = xact.time;
  incident.commit_lsn = record.lsn;
  incident.first_lsn = state.first_lsn;
  incident.database = xact.db;
  for (Oid db : state.dropped_databases) {
    AffectedRelation r;
    r.action = IncidentKind::kDropDatabase;
    r.relkind = "database";
    r.oid = db;
    r.file.db = db;
    auto name = catalog_ ? catalog_->DatabaseName(db) : std::nullopt;
    r.name = name ? *name : fmt::format("database {} (not in the catalog)", db);
    r.rows_known = false;
    r.basis = "DROP DATABASE record";
    incident.relations.push_back(std::move(r));
  }
  AddDroppedFiles(xact, state, record.lsn, incident);
  AddRowChanges(state, record.lsn, incident);
  if (!Keep(incident)) return;
  if (incident.database == 0 && !incident.relations.empty()) {
    incident.database = incident.relations.front().file.db;
  }
  if (catalog_) {
    if (auto name = catalog_->DatabaseName(incident.database)) incident.database_name = *name;
  }
  incident.actor_note =
      "not recorded in the WAL: PostgreSQL writes no role, client or statement into it. "
      "Search the server log near the commit time (log_statement = 'ddl' or 'mod', "
      "log_line_prefix with %u %h %x) or pgaudit";
  incident.later_commits = report.commits;  // the commit's ordinal until the scan ends
  report.incidents.push_back(std::move(incident));
}

AffectedRelation Scanner::Describe(const RelFileNode& file, Lsn lsn) const {
  AffectedRelation r;
  r.file = file;
  const pg::CatalogRelation* rel = catalog_ ? catalog_->Find(file, lsn) : nullptr;
  if (rel == nullptr) {
    r.name = fmt::format("relation {} (not in the catalog)", file.ToString());
    r.relkind = "unknown";
    return r;
  }
  r.name = rel->QualifiedName();
  r.relkind = RelkindName(rel->kind);
  r.oid = rel->oid;
  if (rel->reltuples >= 0) r.table_rows = rel->reltuples;
  return r;
}

void Scanner::AddDroppedFiles(const pg::XactRecord& xact, const TxnState& state, Lsn lsn,
                              Incident& incident) const {
  std::vector<AffectedRelation> found;
  std::unordered_set<Oid> oids;
  for (const RelFileNode& file : xact.dropped_files) {
    if (state.created.contains(file)) continue;  // created and dropped by the same transaction
    AffectedRelation r = Describe(file, lsn);
    pg::RelationFate fate = pg::RelationFate::kUnknown;
    const pg::CatalogRelation* now = nullptr;
    if (r.oid && catalog_) fate = catalog_->FateAfter(file.db, *r.oid, lsn, &now);
    if (fate == pg::RelationFate::kRewritten) {
      RelFileNode new_file{now->tablespace, file.db, now->relfilenode};
      if (state.written.contains(new_file)) continue;  // VACUUM FULL, CLUSTER, ALTER TABLE
      r.action = IncidentKind::kTruncate;
      r.basis = "catalog: the relation keeps its OID with a new relfilenode, left empty";
    } else if (fate == pg::RelationFate::kDropped) {
      r.action = IncidentKind::kDrop;
      r.basis = "catalog: the relation is gone in a later snapshot";
    } else if (!state.created.empty()) {
      if (state.wrote_table_data) continue;
      r.action = IncidentKind::kTruncate;
      r.basis = "probable: new empty files were created in the same transaction (no catalog "
                "snapshot after the commit to confirm)";
    } else {
      r.action = IncidentKind::kDrop;
      r.basis = "files removed at commit and none created (no catalog snapshot after the "
                "commit to confirm)";
    }
    if (r.table_rows) {
      r.rows = static_cast<std::uint64_t>(*r.table_rows);
      r.rows_estimated = true;
    } else {
      r.rows_known = false;
    }
    if (r.oid) oids.insert(*r.oid);
    found.push_back(std::move(r));
  }
  // An index or TOAST table goes with its table: list it only when its table is not listed.
  for (auto& r : found) {
    const pg::CatalogRelation* rel = r.oid ? catalog_->FindByOid(r.file.db, *r.oid) : nullptr;
    if (rel && rel->parent != 0 && oids.contains(rel->parent)) continue;
    incident.relations.push_back(std::move(r));
  }
}

void Scanner::AddRowChanges(const TxnState& state, Lsn lsn, Incident& incident) const {
  for (const auto& [file, counts] : state.rows) {
    if (state.created.contains(file)) continue;  // rows of a table made in this transaction
    AffectedRelation base = Describe(file, lsn);
    bool system = base.oid ? *base.oid < kFirstNormalObjectId : file.rel < kFirstNormalObjectId;
    if (system || base.relkind == "TOAST") continue;
    for (auto [action, rows] : {std::pair{IncidentKind::kDelete, counts.deletes},
                                std::pair{IncidentKind::kUpdate, counts.updates}}) {
      bool by_rows = rows >= options_.min_rows;
      bool by_percent = base.table_rows && *base.table_rows >= kMinRowsForPercent &&
                        static_cast<double>(rows) * 100.0 >=
                            options_.min_percent * *base.table_rows;
      if (rows == 0 || (!by_rows && !by_percent)) continue;
      AffectedRelation r = base;
      r.action = action;
      r.rows = rows;
      r.basis = by_rows ? fmt::format("{} rows >= --min-rows {}", rows, options_.min_rows)
                        : fmt::format("{} rows >= {}% of ~{:.0f}", rows, options_.min_percent,
                                      *base.table_rows);
      incident.relations.push_back(std::move(r));
    }
  }
}

bool MatchesTable(const std::string& wanted, const AffectedRelation& r) {
  if (r.name == wanted) return true;
  auto dot = r.name.find('.');
  return dot != std::string::npos && wanted.find('.') == std::string::npos &&
         r.name.substr(dot + 1) == wanted;
}

bool Scanner::Keep(Incident& incident) const {
  if (options_.table) {
    std::erase_if(incident.relations,
                  [&](const AffectedRelation& r) { return !MatchesTable(*options_.table, r); });
  }
  if (incident.relations.empty()) return false;
  std::stable_sort(incident.relations.begin(), incident.relations.end(),
                   [](const AffectedRelation& a, const AffectedRelation& b) {
                     return a.action < b.action;
                   });
  incident.kind = incident.relations.front().action;
  return true;
}

}  // namespace

IncidentReport FindIncidents(pg::WalReader& reader, const pg::RelationCatalog* catalog,
                             const IncidentOptions& options) {
  IncidentReport report;
  report.catalog_used = catalog != nullptr && !catalog->empty();
  Scanner scanner(report.catalog_used ? catalog : nullptr, options);
  try {
    while (const pg::WalRecord* record = reader.Next()) {
      if (report.records++ == 0) report.first_lsn = record->lsn;
      report.last_lsn = record->lsn;
      try {
        scanner.OnRecord(*record, report);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kCorrupt) throw;
        report.stop = {pg::WalStopReason::kError, record->lsn, e.what()};
        report.error_exit_code = e.exit_code();
        break;
      }
    }
    if (!report.error_exit_code) report.stop = reader.stop();
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorrupt && e.code() != ErrorCode::kUnsupported &&
        e.code() != ErrorCode::kRepository) {
      throw;
    }
    report.stop = reader.stop();
    report.error_exit_code = e.exit_code();
  }
  report.segments = reader.segments_read();
  for (Incident& incident : report.incidents) {
    incident.later_commits = report.commits - incident.later_commits;
  }
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
