// Reading a stored chunk back: fetch the object, decompress, compare size and SHA-256 with the
// manifest. Verify reports what it finds; restore refuses to write anything that fails.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "repo/manifest.hpp"
#include "storage/storage.hpp"

namespace dbmedic::repo {

enum class ChunkFault { kMissing, kTruncated, kAltered };
std::string_view ChunkFaultName(ChunkFault fault);  // "missing", "truncated", "altered"

struct FetchedChunk {
  std::string raw;                  // the verified content when !fault
  std::optional<ChunkFault> fault;  // what is wrong with the stored object
  std::string object;               // the object's location, for messages
  std::string detail;               // why (sizes, checksums, decoder message)
};

// Never throws for damaged data (I/O errors of the storage still throw).
FetchedChunk FetchChunk(const storage::Storage& storage, const Manifest& manifest,
                        const FileEntry& file, std::size_t index);
// The same for any stored chunk (an inherited one, or a page overlay's). The content is decoded
// into `reuse`'s memory: restore workers hand back the previous chunk's buffer, so 8 MiB are not
// allocated, zero-filled and faulted in again for every chunk (6 % of a restore's CPU).
FetchedChunk FetchObject(const storage::Storage& storage, const ChunkEntry& chunk,
                         const ChunkLocation& location, std::string reuse = {});

// Same, but throws Error(kCorrupt) naming the backup, the file and the object on any fault.
std::string FetchChunkOrThrow(const storage::Storage& storage, const Manifest& manifest,
                              const FileEntry& file, std::size_t index, std::string reuse = {});
std::string FetchOverlayOrThrow(const storage::Storage& storage, const Manifest& manifest,
                                const FileEntry& file, const PageOverlay& overlay);

}  // namespace dbmedic::repo
