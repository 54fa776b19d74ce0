// Incremental copy of a relation main fork driven by a WAL block summary (pg/wal_block_summary):
// of a file the reference backup holds, only the blocks that WAL records between the
// reference's start and this backup's start named are read (pread), plus every block beyond the
// reference's copy of the file. They are stored as the same page overlays the page-LSN scan
// (page_delta.hpp) stores, so restore and verify do not know which of the two produced them.
//
// Which rule a main fork gets (docs/backup-restore.md, "Incremental backups"):
//  - kWhole: its relfilenode was created or dropped in the range, or its database was created
//    or dropped (CREATE DATABASE ... FILE_COPY writes files without block records): a new file
//    under an old name, copied whole with no reference to the old one;
//  - kPageScan: it was truncated in the range (a truncated and re-extended block may be a zero
//    page no record names): every page read and judged by its LSN, as without a summary;
//  - kSummarised: only the named blocks and those past the reference's size.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "backup/chunk_copier.hpp"
#include "backup/page_delta.hpp"
#include "pg/wal_block_summary.hpp"
#include "repo/manifest.hpp"
#include "storage/storage.hpp"

namespace dbmedic::backup {

// The relation file node and segment number of a main fork path ("base/5/16384.2" ->
// 1663/5/16384, segment 2; "global/1262" -> 1664/0/1262; "pg_tblspc/T/PG_15_X/5/16384" ->
// T/5/16384). nullopt for other files.
struct RelationFile {
  pg::RelFileNode rnode;
  std::uint32_t segment = 0;
};
std::optional<RelationFile> RelationFileOf(std::string_view path);

enum class WalRule { kSummarised, kPageScan, kWhole };

struct WalPlan {
  WalRule rule = WalRule::kPageScan;
  // kSummarised: blocks of this segment file (0 = its first page) that the WAL named, sorted.
  std::vector<std::uint32_t> blocks;
};

// Whether summarising `wal_bytes` of WAL (the LSN distance from the reference's start) is
// cheaper than reading `relation_bytes` (the main forks the reference holds) page by page.
// Reading a byte of WAL (from the archive: decompress, verify, decode) costs more than reading a
// page from the data directory and checking its LSN, so past a quarter of the relation data the
// summary is skipped; a range of up to 64 MiB (four segments) is always summarised.
bool SummaryWorthReading(std::uint64_t wal_bytes, std::uint64_t relation_bytes);

// The rule for main fork `path` given the summary.
WalPlan PlanFromSummary(const pg::BlockSummary& summary, std::string_view path);

// Reads, of chunk `index` of `file`, the blocks of `blocks` (sorted, file-relative) that fall in
// the chunk plus every block past `base.reference_size`, and stores them as one overlay (like
// CopyChangedPages). Sets `file.chunks[index].size` to the bytes the file now has in the chunk.
// Returns the raw bytes stored; `pages_read` counts the pages read.
std::uint64_t CopySummarisedPages(storage::Storage& storage, const CopySettings& settings,
                                  const SourceFile& source, const PageBase& base,
                                  const std::vector<std::uint32_t>& blocks, repo::FileEntry& file,
                                  std::size_t index, std::optional<repo::PageOverlay>& overlay,
                                  std::atomic<bool>& vanished, std::uint64_t& pages_read);

}  // namespace dbmedic::backup
