// Turning WAL records into no-ops, in place, for a throwaway cluster that does not need them.
//
// Undo's side cluster replays ~1 GB of WAL to reach the instant before an accident, but it reads
// only one database's catalogs and the tables it brings back; every other relation was restored
// as an all-zero sparse file that nothing reads. Replaying the changes to those relations (most
// of the WAL: full-page images and heap/index changes of the busy tables) is wasted work. A record
// that only changes pages of such relations can be rewritten as an XLOG_NOOP record of the same
// length: PostgreSQL's reader accepts it (same length, same xl_prev chain, a correct CRC), redo
// does nothing for it, and every following record stays at its LSN, so recovery targets (time,
// LSN, xid, name) mean what they meant.
//
// All or nothing per relation: once a relation's full-page images are skipped, a record of it
// that were replayed would meet an all-zero page and PostgreSQL would stop ("WAL contains
// references to invalid pages"). So a record that crosses a segment boundary is rewritten too:
// the rewrite is a pure function of the whole original record, and each segment's copy gets its
// own part of it. That needs the neighbouring segment's original bytes (WalNeighbors); without
// them (the end of the archive) the crossing record is left as it is, which is safe only because
// PostgreSQL cannot replay a record whose end it does not have either.
//
// Anything the walker cannot verify (a bad page header, a CRC mismatch, the end of the written
// WAL) ends the rewriting there, leaving the rest of the segment as it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "pg/lsn.hpp"
#include "pg/wal_record.hpp"

namespace dbmedic::pg {

struct NeutralizeResult {
  std::uint64_t records = 0;      // records walked and verified in the segment
  std::uint64_t neutralized = 0;  // of which rewritten as XLOG_NOOP (wholly or their part here)
  std::uint64_t bytes = 0;        // their total length
};

// The original (not rewritten) content of the segments before and after the one being
// rewritten; each returns nullptr when that segment is not available.
struct WalNeighbors {
  std::function<std::shared_ptr<const std::string>()> previous;
  std::function<std::shared_ptr<const std::string>()> next;
};

// Whether redo of `record` only changes the pages named by its block references: heap, index,
// sequence and generic-WAL records and full-page images; not records without blocks
// (transactions, storage, databases...) nor ones carrying a top-level xid or replication origin.
bool OnlyChangesItsBlocks(const WalRecord& record);

// Rewrites, in `segment` (the whole segment starting at `segment_start`; its size must be a valid
// wal_segment_size, otherwise nothing is done), each record for which `neutralize` returns true as
// an XLOG_NOOP record of the same length. `neutralize` sees the decoded record (blocks included).
NeutralizeResult NeutralizeRecords(std::span<std::byte> segment, Lsn segment_start,
                                   const std::function<bool(const WalRecord&)>& neutralize,
                                   const WalNeighbors& neighbors = {});

}  // namespace dbmedic::pg
