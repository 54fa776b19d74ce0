// Copies one chunk of one source file into the repository: read (pread), validate page checksums,
// SHA-256, compress, write the object and commit it. Used by the backup's worker threads; each
// call touches only its own ChunkEntry, so calls for different chunks may run concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "repo/codec.hpp"
#include "repo/manifest.hpp"
#include "storage/storage.hpp"

namespace dbmedic::backup {

struct SourceFile {
  std::filesystem::path path;          // empty: content is inline
  std::optional<std::string> content;  // backup_label / tablespace_map from pg_backup_stop
  bool validate_pages = false;         // data checksums on and a relation file
  std::uint32_t first_block = 0;       // block number of the file's first page
};

struct CopySettings {
  std::string label;
  repo::CodecSettings codec;
  std::uint64_t start_lsn = 0;  // pages newer than this may be torn; WAL replay repairs them
};

// Returns the raw bytes stored (0 and `vanished` set when the file no longer exists).
std::uint64_t CopyChunk(storage::Storage& storage, const CopySettings& settings,
                        const SourceFile& source, repo::FileEntry& file, std::size_t index,
                        std::atomic<bool>& vanished);

}  // namespace dbmedic::backup
