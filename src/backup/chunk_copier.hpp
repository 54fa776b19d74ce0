// Copies one chunk of one source file into the repository: read (pread), validate page checksums,
// SHA-256, compress, write the object and commit it. Used by the backup's worker threads; each
// call touches only its own ChunkEntry, so calls for different chunks may run concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "repo/codec.hpp"
#include "repo/manifest.hpp"
#include "storage/storage.hpp"

namespace dbmedic::backup {

struct SourceFile {
  std::filesystem::path path;          // empty: content is inline
  std::optional<std::string> content;  // backup_label / tablespace_map from pg_backup_stop
  bool validate_pages = false;         // data checksums on and a relation file
  std::uint32_t first_block = 0;       // block number of the file's first page
  // Differential / incremental: the reference backup's chunks of this file, as references. A
  // chunk read with the same offset, size and SHA-256 is stored as the reference (no copy).
  std::vector<repo::ChunkEntry> prior;
};

struct CopySettings {
  std::string label;
  repo::CodecSettings codec;
  std::uint64_t start_lsn = 0;  // pages newer than this may be torn; WAL replay repairs them
};

// Reads chunk `chunk` of `source` into `data`, checking page checksums when asked; sets
// `vanished` (and leaves `data` empty) when the file no longer exists. Throws like CopyChunk.
void ReadSourceChunk(const SourceFile& source, const repo::ChunkEntry& chunk,
                     const CopySettings& settings, const std::string& rel_path, bool& vanished,
                     std::string& data);

// Checks the page checksums of `data`, read from `fd` at `offset`. A failing page is read again
// (the server may have been writing it); if it still fails and its LSN predates `start_lsn`,
// throws Error(kCorrupt) naming the file and block. A good re-read replaces the torn copy.
void ValidatePages(std::string& data, std::uint64_t offset, const SourceFile& source, int fd,
                   const std::string& rel_path, std::uint64_t start_lsn);

// Compresses `raw` and writes it as object `path` (made durable by the backup's final Sync).
// Returns the stored size.
std::uint64_t StoreObject(storage::Storage& storage, const repo::CodecSettings& codec,
                          const std::string& path, std::string_view raw);

// Returns the raw bytes stored (0 and `vanished` set when the file no longer exists).
std::uint64_t CopyChunk(storage::Storage& storage, const CopySettings& settings,
                        const SourceFile& source, repo::FileEntry& file, std::size_t index,
                        std::atomic<bool>& vanished);

}  // namespace dbmedic::backup
