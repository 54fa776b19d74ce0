// Which relation blocks the WAL between two LSNs changed (what PostgreSQL 17's walsummarizer
// computes): incremental backups read only these blocks of a relation instead of every page.
//
// With wal_level >= replica every change to a relation page is WAL-logged with a reference to
// its block, so the blocks named by the records in [start, end) are all the blocks whose content
// may differ from what they held at `start`. Some records change files without naming blocks;
// the summary records them so that the caller reads those files whole:
//  - XLOG_SMGR_CREATE: a new file under a relfilenode (maybe one that existed before);
//  - XLOG_SMGR_TRUNCATE: blocks cut off (and possibly re-added as zero pages, which no record
//    names);
//  - transaction commit / abort dropping relfilenodes (a later file under the number is new);
//  - database create / drop (CREATE DATABASE ... STRATEGY FILE_COPY copies a whole directory
//    without one block record): every file of that database.
// And some make a summary unusable altogether (`unusable` says why): tablespace create / drop,
// an end of recovery (timeline switch), wal_level lowered to minimal (changes were not logged),
// a WAL range that does not end exactly at `end` (a gap, the end of the WAL, damage), more
// than 64 Mi distinct changed blocks (the memory bound: 4 bytes per block, 256 MiB at most;
// past it most of the cluster changed and reading every page costs about the same).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pg/lsn.hpp"
#include "pg/wal_record.hpp"
#include "pg/wal_source.hpp"

namespace dbmedic::pg {

// Block numbers of one relation fork, kept sorted and unique in memory proportional to the
// distinct blocks (plus a bounded unsorted tail that Compact() folds in).
class BlockSet {
 public:
  void Add(std::uint32_t block);
  // Sorts and removes duplicates; called before reading, and by Add() when the tail grows.
  void Compact();
  // The sorted, unique blocks (Compact() first).
  const std::vector<std::uint32_t>& blocks() const { return blocks_; }

 private:
  std::vector<std::uint32_t> blocks_;
  std::size_t sorted_ = 0;  // blocks_[0, sorted_) is sorted and unique
};

struct BlockSummary {
  // Main-fork blocks named by records, per relation file node. Other forks are not tracked:
  // the free space map is not WAL-logged, so backups judge those forks otherwise.
  std::unordered_map<RelFileNode, BlockSet, RelFileNodeHash> changed;
  // Relations created, or dropped (their number may be reused), in the range: read whole.
  std::set<RelFileNode> recreated;
  // Relations truncated in the range: read whole (by page LSN).
  std::set<RelFileNode> truncated;
  // Databases created or dropped in the range (every tablespace): read every file whole.
  std::set<Oid> recreated_databases;
  std::uint64_t records = 0;
  std::uint64_t block_references = 0;
  std::uint64_t segments = 0;
  // Set when the summary must not be used; says why (LSN, record, segment).
  std::optional<std::string> unusable;
};

struct BlockSummaryRange {
  Lsn start;  // first record: the first that starts at or after this LSN
  Lsn end;    // records starting at or after this LSN are not read; the WAL must reach it
  TimelineId timeline = 0;  // every segment in the range must be of this timeline
  std::optional<std::uint64_t> system_identifier;
};

// Reads `source` over `range` into a summary. Never throws for WAL problems (a gap, damage, a
// timeline switch): the summary comes back with `unusable` set. Throws only for programming
// errors and memory exhaustion.
BlockSummary SummarizeChangedBlocks(WalSource& source, const BlockSummaryRange& range);

// The same read by up to `jobs` threads, each over its own source from `make_source` and a
// contiguous run of the range's segments (the block sets are merged; any part that is unusable
// makes the whole unusable). Errors of `make_source` for a part make the summary unusable.
BlockSummary SummarizeChangedBlocks(const std::function<std::unique_ptr<WalSource>()>& make_source,
                                    const BlockSummaryRange& range, int jobs);

// Adds one record to `summary` (exposed for tests on hand-built records).
void AddRecordToSummary(const WalRecord& record, BlockSummary& summary);

// Segments from several sources: for each segment number, the first source (in the given order)
// that has it, or the next one that does if reading it there fails. Used to read the WAL kept in
// pg_wal and, where it was recycled, the archive.
class CombinedWalSource final : public WalSource {
 public:
  // `sources` must not be empty and must share one segment size (Error(kUsage) otherwise).
  explicit CombinedWalSource(std::vector<std::unique_ptr<WalSource>> sources);

  std::uint64_t segment_size() const override { return segment_size_; }
  std::vector<WalSegmentRef> Segments() const override;
  void Read(const WalSegmentRef& ref, std::vector<std::byte>& out) override;
  std::span<const std::byte> Load(const WalSegmentRef& ref) override;
  std::string Describe() const override;

 private:
  // Indexes in sources_ of the sources listing the segment, in order (throws kNotFound if none).
  const std::vector<std::size_t>& Owners(const WalSegmentRef& ref) const;
  template <typename Access>
  auto FromFirstThatReads(const WalSegmentRef& ref, Access access);

  std::vector<std::unique_ptr<WalSource>> sources_;
  std::uint64_t segment_size_ = kDefaultWalSegmentSize;
  std::map<std::uint64_t, std::vector<std::size_t>> owners_;  // segno -> indexes in sources_
};

}  // namespace dbmedic::pg
