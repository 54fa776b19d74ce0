// Incremental copy of a relation file's main fork by page LSN: of one chunk of the file, only the
// pages that may differ from the reference backup's copy are stored, as one page overlay.
//
// The rule (docs/backup-restore.md, "Incremental backups"): a page is stored when
//  - its LSN is >= the reference backup's START LSN. Every WAL-logged change stamps the page
//    with the LSN of its record, so a page with an older LSN has not changed since the reference
//    began. The start (not the stop) matters: the reference may hold a torn copy of a page
//    written while it ran, which its own WAL repaired; such a page carries an LSN >= its start.
//  - or it lies beyond the reference's copy of the file (the file grew),
//  - or it is all zeros (never initialised: it carries no LSN, and the reference may hold an
//    older, initialised page at that block if the file was truncated and extended since),
//  - or it is the partial last page of a file being extended.
// A page torn by a write during this backup is repaired by WAL replay from this backup's start
// (full_page_writes), exactly as in a full backup. Only main forks of heap and index relations
// qualify: their pages all carry LSNs. Free space maps and visibility maps are not WAL-logged
// the same way and are copied whole when they changed.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "backup/chunk_copier.hpp"
#include "repo/manifest.hpp"
#include "storage/storage.hpp"

namespace dbmedic::backup {

// What the reference backup holds of the file.
struct PageBase {
  std::uint64_t reference_start_lsn = 0;
  std::uint64_t reference_size = 0;  // bytes of the file in the reference
};

// Whether `path` (relative to the data directory) is the main fork of a relation (any segment):
// "base/5/16384", "base/5/16384.3", "global/1262", "pg_tblspc/T/PG_15_X/5/16384".
bool IsRelationMainFork(std::string_view path);

// Whether page `block` (of the file, 0-based) of `page` (kPageSize bytes, or fewer for the last
// page of a file being extended) must be stored.
bool PageChanged(const char* page, std::size_t bytes, std::uint64_t block, const PageBase& base);

// Reads chunk `index` of `file` (its offset and size as planned) and stores its changed pages
// as object OverlayObjectPath(label, file, index). Sets `file.chunks[index].size` to the bytes
// read (the file may have shrunk) and `overlay` to what was stored (nullopt: no page changed).
// Returns the raw bytes stored. Throws like CopyChunk.
std::uint64_t CopyChangedPages(storage::Storage& storage, const CopySettings& settings,
                               const SourceFile& source, const PageBase& base,
                               repo::FileEntry& file, std::size_t index,
                               std::optional<repo::PageOverlay>& overlay,
                               std::atomic<bool>& vanished);

// Stores `changed` (the pages `out.runs` name, in order) as chunk `index`'s overlay object and
// sets `overlay` to `out` completed; nothing is stored when `out.runs` is empty. Returns the
// raw bytes stored. Shared by the page-LSN scan and the WAL summary (wal_delta.hpp).
std::uint64_t StoreOverlay(storage::Storage& storage, const CopySettings& settings,
                           const repo::FileEntry& file, std::size_t index,
                           const std::string& changed, repo::PageOverlay out,
                           std::optional<repo::PageOverlay>& overlay);

}  // namespace dbmedic::backup
