// The two halves of the incident finder (internal to forensics, used by incident_scanner.cpp):
// RunScanner reads records of one stretch of WAL and keeps, per open transaction, what matters
// for incidents; IncidentJoiner receives the transaction ends in LSN order, joins them with what
// earlier stretches saw the same transactions do, and decides the incidents. One reader feeds
// one joiner directly; parallel readers (wal_runs.hpp) feed it run after run, so the result is
// the same whatever the number of readers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "forensics/incident.hpp"
#include "forensics/incident_scanner.hpp"
#include "forensics/run_buffers.hpp"
#include "pg/relation_catalog.hpp"
#include "pg/wal_record.hpp"

namespace dbmedic::forensics {

struct RowCounts {
  std::uint64_t deletes = 0;
  std::uint64_t updates = 0;
};

struct RelRows {
  pg::RelFileNode rel;
  RowCounts counts;
};

// Row counts per relation file of one transaction, in the order it first touched them. A
// transaction usually touches a handful of relations, so the first kInline live inside the list:
// a parallel run hands on thousands of these, and one heap block each was most of its page
// faults. A list that outgrows them moves to the heap whole.
class RelRowsList {
 public:
  RelRowsList() = default;
  RelRowsList(const RelRowsList&) = default;
  RelRowsList& operator=(const RelRowsList&) = default;
  RelRowsList(RelRowsList&& other) noexcept { *this = std::move(other); }
  RelRowsList& operator=(RelRowsList&& other) noexcept;

  // The counts of `rel`, added (zero) when absent.
  RowCounts& For(const pg::RelFileNode& rel);
  const RelRows* begin() const { return heap_.empty() ? inline_.data() : heap_.data(); }
  const RelRows* end() const { return begin() + size_; }

 private:
  static constexpr std::size_t kInline = 4;
  std::array<RelRows, kInline> inline_{};
  std::size_t size_ = 0;
  std::vector<RelRows> heap_;  // every entry, once there are more than kInline
};

// What one transaction (or subtransaction) did, as far as incidents are concerned. Lists, not
// hash maps: a transaction touches few relations, and a run keeps one of these per commit it
// has to hand on, so their size is what bounds a parallel scan's memory.
struct TxnState {
  static constexpr pg::Lsn kNoLsn{UINT64_MAX};
  pg::Lsn first_lsn = kNoLsn;    // first record that gave the transaction state
  RelRowsList rows;
  std::vector<pg::RelFileNode> created;  // smgr CREATE in this transaction
  // Created files that received data in this transaction, and whether that looked like table
  // data (a heap record, or any block past 0: an empty index only writes its metapage).
  std::vector<pg::RelFileNode> written;
  bool wrote_table_data = false;
  std::vector<pg::Oid> dropped_databases;

  RowCounts& Rows(const pg::RelFileNode& rel);
  bool Created(const pg::RelFileNode& rel) const;
  void MarkWritten(const pg::RelFileNode& rel, bool table_data);
  // Folds `other` (a later stretch of the same transaction, or a subtransaction) into this one.
  void Merge(TxnState&& other);
};

// A commit or abort seen by a run, with the run's state of the transaction and of each of its
// subtransactions (in that order; absent ones left out). The top-level state is held inline: most
// commits have no subtransaction, and then hand on no heap block at all.
struct XactEnd {
  bool commit = true;
  pg::TransactionId xid = 0;
  std::int64_t time = 0;
  pg::Oid db = 0;
  pg::Lsn lsn;
  std::vector<pg::TransactionId> subxacts;
  std::vector<pg::RelFileNode> dropped_files;
  std::optional<TxnState> state;  // of `xid`
  std::vector<std::pair<pg::TransactionId, TxnState>> sub_states;
};

using OpenTransactions = std::unordered_map<pg::TransactionId, TxnState>;

// Runs after the first only: a block a transaction wrote in the run (and whether as table data).
// An earlier run may have seen the transaction create that file (TRUNCATE then reload: a
// rewrite, not a TRUNCATE); the join resolves them. One list per run rather than per
// transaction: it is consulted only for the rare transaction that created files in an earlier
// run, so it need not be sorted by transaction, only cheap to append to.
struct BlockWrite {
  pg::TransactionId xid = 0;
  pg::RelFileNode rel;
  bool table_data = false;
  bool operator==(const BlockWrite&) const = default;
};
using BlockWrites = HugeVector<BlockWrite>;
using XactEnds = HugeVector<XactEnd>;

class RunScanner {
 public:
  // `writes`: for a run that does not start where the scan starts (BlockWrite), else null.
  RunScanner(std::function<void(XactEnd&&)> sink, BlockWrites* writes)
      : sink_(std::move(sink)), writes_(writes) {}

  // Throws Error(kCorrupt) when a record's payload cannot be decoded.
  void OnRecord(const pg::WalRecord& record);
  // Transactions still open where the run ended.
  OpenTransactions TakeOpen() { return std::move(open_); }

 private:
  TxnState& State(pg::TransactionId xid, pg::Lsn lsn);

  void Touch(const pg::WalRecord& record);

  std::function<void(XactEnd&&)> sink_;
  BlockWrites* writes_;
  OpenTransactions open_;
};

class IncidentJoiner {
 public:
  // `catalog` may be null or empty (relations unnamed); options.complete_catalog may add to it.
  IncidentJoiner(const pg::RelationCatalog* catalog, const IncidentOptions& options,
                 IncidentReport& report)
      : catalog_(catalog), options_(options), report_(report) {}

  // Before a run's ends: the blocks the run wrote, for transactions earlier runs left open
  // after creating files.
  void ApplyWrites(const BlockWrites& writes);
  void OnXactEnd(XactEnd&& end);
  // Transactions a run left open: later runs continue them.
  void Carry(OpenTransactions&& open);

  // Ends the scan: later_commits of each incident become the commits after it, and
  // report.catalog_used says whether the catalog held a snapshot.
  void Finish();

 private:
  TxnState Continue(pg::TransactionId xid, TxnState&& local);
  void Decide(const XactEnd& end, const TxnState& state);
  void AddDroppedFiles(const XactEnd& end, const TxnState& state, Incident& incident);
  void AddRowChanges(const TxnState& state, pg::Lsn lsn, Incident& incident);
  // Whether `rows` changed rows could pass --min-rows or --min-percent for some table: when not,
  // the relation is not looked up at all (most commits of an ordinary workload).
  bool MayBeMassChange(std::uint64_t rows) const;
  AffectedRelation Describe(const pg::RelFileNode& file, pg::Lsn lsn);
  pg::RelationFate FateAfter(pg::Oid db, pg::Oid oid, pg::Lsn lsn, const pg::CatalogRelation** now);
  std::optional<std::string> DatabaseName(pg::Oid db);
  // Runs options_.complete_catalog the first time a lookup misses; true when the lookup should be
  // tried again.
  bool CompleteCatalog();
  bool Keep(Incident& incident) const;

  const pg::RelationCatalog* catalog_;
  const IncidentOptions& options_;
  IncidentReport& report_;
  OpenTransactions carried_;
  bool catalog_completed_ = false;
};

}  // namespace dbmedic::forensics
