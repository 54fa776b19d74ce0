#include "forensics/incident_runs.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "core/error.hpp"
#include "pg/wal_decoders.hpp"
#include "pg/wal_format.hpp"

namespace dbmedic::forensics {

using pg::Lsn;
using pg::Oid;
using pg::RelFileNode;
using pg::TransactionId;

namespace {

constexpr Oid kFirstNormalObjectId = 16384;  // FirstNormalObjectId (access/transam.h)

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

bool IsHeap(const pg::WalRecord& record) {
  return record.rmid == static_cast<std::uint8_t>(pg::wal::Rmgr::kHeap) ||
         record.rmid == static_cast<std::uint8_t>(pg::wal::Rmgr::kHeap2);
}

bool MatchesTable(const std::string& wanted, const AffectedRelation& r) {
  if (r.name == wanted) return true;
  auto dot = r.name.find('.');
  return dot != std::string::npos && wanted.find('.') == std::string::npos &&
         r.name.substr(dot + 1) == wanted;
}

}  // namespace

RelRowsList& RelRowsList::operator=(RelRowsList&& other) noexcept {
  inline_ = other.inline_;
  size_ = std::exchange(other.size_, 0);
  heap_ = std::move(other.heap_);
  other.heap_.clear();
  return *this;
}

RowCounts& RelRowsList::For(const RelFileNode& rel) {
  RelRows* first = heap_.empty() ? inline_.data() : heap_.data();
  // From the back: a transaction usually keeps hitting the relation it touched last.
  for (RelRows* it = first + size_; it != first;) {
    --it;
    if (it->rel == rel) return it->counts;
  }
  if (heap_.empty() && size_ < kInline) {
    inline_[size_] = RelRows{rel, {}};
    return inline_[size_++].counts;
  }
  if (heap_.empty()) heap_.assign(inline_.begin(), inline_.end());
  heap_.push_back(RelRows{rel, {}});
  size_ = heap_.size();
  return heap_.back().counts;
}

RowCounts& TxnState::Rows(const RelFileNode& rel) { return rows.For(rel); }

bool TxnState::Created(const RelFileNode& rel) const {
  return std::find(created.begin(), created.end(), rel) != created.end();
}

void TxnState::MarkWritten(const RelFileNode& rel, bool table_data) {
  if (std::find(written.begin(), written.end(), rel) == written.end()) written.push_back(rel);
  wrote_table_data = wrote_table_data || table_data;
}

void TxnState::Merge(TxnState&& other) {
  first_lsn = std::min(first_lsn, other.first_lsn);
  for (const RelRows& r : other.rows) {
    RowCounts& c = Rows(r.rel);
    c.deletes += r.counts.deletes;
    c.updates += r.counts.updates;
  }
  for (const RelFileNode& rel : other.created) {
    if (!Created(rel)) created.push_back(rel);
  }
  for (const RelFileNode& rel : other.written) MarkWritten(rel, false);
  wrote_table_data = wrote_table_data || other.wrote_table_data;
  dropped_databases.insert(dropped_databases.end(), other.dropped_databases.begin(),
                           other.dropped_databases.end());
}

TxnState& RunScanner::State(TransactionId xid, Lsn lsn) {
  TxnState& state = open_[xid];
  if (state.first_lsn == TxnState::kNoLsn) state.first_lsn = lsn;  // Touch() leaves it unset
  return state;
}

void RunScanner::OnRecord(const pg::WalRecord& record) {
  if (auto change = pg::DecodeHeapChange(record)) {
    if (record.xid == 0) return;
    if (change->op == pg::HeapOp::kDelete) {
      State(record.xid, record.lsn).Rows(change->rel).deletes += change->rows;
    } else if (change->op == pg::HeapOp::kUpdate || change->op == pg::HeapOp::kHotUpdate) {
      State(record.xid, record.lsn).Rows(change->rel).updates += change->rows;
    }
  } else if (auto create = pg::DecodeSmgrCreate(record)) {
    if (record.xid != 0) {
      TxnState& state = State(record.xid, record.lsn);
      if (!state.Created(create->rel)) state.created.push_back(create->rel);
    }
  } else if (auto drop = pg::DecodeDatabaseDrop(record)) {
    if (record.xid != 0) State(record.xid, record.lsn).dropped_databases.push_back(drop->db);
  } else if (auto xact = pg::DecodeXact(record)) {
    const bool commit =
        xact->kind == pg::XactKind::kCommit || xact->kind == pg::XactKind::kCommitPrepared;
    const bool abort =
        xact->kind == pg::XactKind::kAbort || xact->kind == pg::XactKind::kAbortPrepared;
    if (!commit && !abort) return;
    XactEnd end;
    end.commit = commit;
    end.xid = xact->xid;
    end.time = xact->time;
    end.db = xact->db;
    end.lsn = record.lsn;
    end.subxacts = std::move(xact->subxacts);
    end.dropped_files = std::move(xact->dropped_files);
    if (auto it = open_.find(end.xid); it != open_.end()) {
      if (commit) end.state = std::move(it->second);
      open_.erase(it);
    }
    for (TransactionId sub : end.subxacts) {
      auto it = open_.find(sub);
      if (it == open_.end()) continue;
      if (commit) end.sub_states.emplace_back(sub, std::move(it->second));
      open_.erase(it);
    }
    sink_(std::move(end));
    return;
  }
  // Data written into a file created by the same transaction means a rewrite (VACUUM FULL,
  // CLUSTER, ALTER TABLE), not a TRUNCATE.
  if (record.xid != 0 && !record.blocks.empty()) {
    if (writes_ != nullptr) Touch(record);
    auto it = open_.find(record.xid);
    if (it == open_.end() || it->second.created.empty()) return;
    TxnState& state = it->second;
    const bool heap = IsHeap(record);
    for (const auto& block : record.blocks) {
      if (state.Created(block.rnode)) state.MarkWritten(block.rnode, heap || block.block > 0);
    }
  }
}

void RunScanner::Touch(const pg::WalRecord& record) {
  const bool heap = IsHeap(record);
  for (const auto& block : record.blocks) {
    BlockWrite write{record.xid, block.rnode, heap || block.block > 0};
    // Consecutive records of a transaction often hit the same file: keep the list short.
    if (writes_->empty() || !(writes_->back() == write)) writes_->push_back(write);
  }
}

TxnState IncidentJoiner::Continue(TransactionId xid, TxnState&& local) {
  TxnState state;
  if (auto it = carried_.find(xid); it != carried_.end()) {
    state = std::move(it->second);
    carried_.erase(it);
  }
  state.Merge(std::move(local));
  return state;
}

void IncidentJoiner::ApplyWrites(const BlockWrites& writes) {
  // Writes of this run into files created in earlier runs; files created in this run were
  // resolved by the run itself, in record order.
  for (auto& [xid, state] : carried_) {
    if (state.created.empty()) continue;
    for (const BlockWrite& write : writes) {
      if (write.xid == xid && state.Created(write.rel)) state.MarkWritten(write.rel, write.table_data);
    }
  }
}

void IncidentJoiner::Carry(OpenTransactions&& open) {
  for (auto& [xid, local] : open) {
    TxnState state = Continue(xid, std::move(local));
    carried_.insert_or_assign(xid, std::move(state));
  }
}

void IncidentJoiner::OnXactEnd(XactEnd&& end) {
  if (!end.commit) {
    carried_.erase(end.xid);
    for (TransactionId sub : end.subxacts) carried_.erase(sub);
    return;
  }
  ++report_.commits;
  report_.last_commit_time = end.time;
  TxnState state;
  state.first_lsn = end.lsn;
  state.Merge(Continue(end.xid, end.state ? std::move(*end.state) : TxnState{}));
  std::size_t next_local = 0;
  for (TransactionId sub : end.subxacts) {
    TxnState local;
    if (next_local < end.sub_states.size() && end.sub_states[next_local].first == sub) {
      local = std::move(end.sub_states[next_local++].second);
    }
    state.Merge(Continue(sub, std::move(local)));
  }
  Decide(end, state);
}

void IncidentJoiner::Decide(const XactEnd& end, const TxnState& state) {
  if (options_.since && end.time < *options_.since) return;
  if (options_.until && end.time > *options_.until) return;

  Incident incident;
  incident.xid = end.xid;
  incident.subxacts = end.subxacts;
  incident.commit_time = end.time;
  incident.commit_lsn = end.lsn;
  incident.first_lsn = state.first_lsn;
  incident.database = end.db;
  for (Oid db : state.dropped_databases) {
    AffectedRelation r;
    r.action = IncidentKind::kDropDatabase;
    r.relkind = "database";
    r.oid = db;
    r.file.db = db;
    auto name = DatabaseName(db);
    r.name = name ? *name : fmt::format("database {} (not in the catalog)", db);
    r.rows_known = false;
    r.basis = "DROP DATABASE record";
    incident.relations.push_back(std::move(r));
  }
  AddDroppedFiles(end, state, incident);
  AddRowChanges(state, end.lsn, incident);
  if (!Keep(incident)) return;
  if (incident.database == 0 && !incident.relations.empty()) {
    incident.database = incident.relations.front().file.db;
  }
  if (auto name = DatabaseName(incident.database)) incident.database_name = *name;
  incident.actor_note =
      "not recorded in the WAL: PostgreSQL writes no role, client or statement into it. "
      "Search the server log near the commit time (log_statement = 'ddl' or 'mod', "
      "log_line_prefix with %u %h %x) or pgaudit";
  incident.later_commits = report_.commits;  // the commit's ordinal until Finish()
  report_.incidents.push_back(std::move(incident));
}

void IncidentJoiner::Finish() {
  for (Incident& incident : report_.incidents) {
    incident.later_commits = report_.commits - incident.later_commits;
  }
  report_.catalog_used = catalog_ != nullptr && !catalog_->empty();
}

bool IncidentJoiner::CompleteCatalog() {
  if (catalog_completed_ || catalog_ == nullptr || !options_.complete_catalog) return false;
  catalog_completed_ = true;
  const std::size_t before = catalog_->snapshots().size();
  options_.complete_catalog();
  return catalog_->snapshots().size() != before;
}

std::optional<std::string> IncidentJoiner::DatabaseName(Oid db) {
  if (catalog_ == nullptr) return std::nullopt;
  auto name = catalog_->DatabaseName(db);
  if (!name && CompleteCatalog()) name = catalog_->DatabaseName(db);
  return name;
}

pg::RelationFate IncidentJoiner::FateAfter(Oid db, Oid oid, Lsn lsn,
                                           const pg::CatalogRelation** now) {
  pg::RelationFate fate = catalog_->FateAfter(db, oid, lsn, now);
  if (fate == pg::RelationFate::kUnknown && CompleteCatalog()) {
    fate = catalog_->FateAfter(db, oid, lsn, now);
  }
  return fate;
}

AffectedRelation IncidentJoiner::Describe(const RelFileNode& file, Lsn lsn) {
  AffectedRelation r;
  r.file = file;
  const pg::CatalogRelation* rel = catalog_ ? catalog_->Find(file, lsn) : nullptr;
  if (rel == nullptr && CompleteCatalog()) rel = catalog_->Find(file, lsn);
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

void IncidentJoiner::AddDroppedFiles(const XactEnd& end, const TxnState& state,
                                     Incident& incident) {
  std::vector<AffectedRelation> found;
  std::unordered_set<Oid> oids;
  for (const RelFileNode& file : end.dropped_files) {
    if (state.Created(file)) continue;  // created and dropped by the same transaction
    AffectedRelation r = Describe(file, end.lsn);
    pg::RelationFate fate = pg::RelationFate::kUnknown;
    const pg::CatalogRelation* now = nullptr;
    if (r.oid) fate = FateAfter(file.db, *r.oid, end.lsn, &now);
    if (fate == pg::RelationFate::kRewritten) {
      RelFileNode new_file{now->tablespace, file.db, now->relfilenode};
      const bool filled = std::find(state.written.begin(), state.written.end(), new_file) !=
                          state.written.end();
      if (filled) continue;  // VACUUM FULL, CLUSTER, ALTER TABLE
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

bool IncidentJoiner::MayBeMassChange(std::uint64_t rows) const {
  // The percent rule needs a table of >= kMinRowsForPercent rows, so it never takes fewer than
  // min_percent% of that many.
  return rows > 0 && (rows >= options_.min_rows ||
                      static_cast<double>(rows) * 100.0 >=
                          std::max(options_.min_percent, 0) * kMinRowsForPercent);
}

void IncidentJoiner::AddRowChanges(const TxnState& state, Lsn lsn, Incident& incident) {
  for (const auto& [file, counts] : state.rows) {
    if (state.Created(file)) continue;  // rows of a table made in this transaction
    if (!MayBeMassChange(counts.deletes) && !MayBeMassChange(counts.updates)) continue;
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

bool IncidentJoiner::Keep(Incident& incident) const {
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

}  // namespace dbmedic::forensics
