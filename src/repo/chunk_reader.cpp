#include "repo/chunk_reader.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::repo {

std::string_view ChunkFaultName(ChunkFault fault) {
  switch (fault) {
    case ChunkFault::kMissing: return "missing";
    case ChunkFault::kTruncated: return "truncated";
    case ChunkFault::kAltered: return "altered";
  }
  return "altered";
}

FetchedChunk FetchChunk(const storage::Storage& storage, const Manifest& manifest,
                        const FileEntry& file, std::size_t index) {
  return FetchObject(storage, file.chunks.at(index), LocateChunk(manifest, file, index));
}

FetchedChunk FetchObject(const storage::Storage& storage, const ChunkEntry& chunk,
                         const ChunkLocation& location, std::string reuse) {
  const std::string& path = location.object;
  FetchedChunk out;
  out.object = storage.Describe(path);
  std::string stored;
  try {
    stored = storage.ReadAll(path);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kCorrupt) {  // an encrypted object that fails authentication
      out.fault = ChunkFault::kAltered;
      out.detail = e.what();
      return out;
    }
    if (e.code() != ErrorCode::kNotFound) throw;
    out.fault = ChunkFault::kMissing;
    out.detail = "the object does not exist";
    return out;
  }
  if (stored.size() != chunk.stored_size) {
    out.fault = stored.size() < chunk.stored_size ? ChunkFault::kTruncated : ChunkFault::kAltered;
    out.detail = fmt::format("{} bytes stored, {} expected", stored.size(), chunk.stored_size);
    return out;
  }
  try {
    out.raw = std::move(reuse);
    DecompressInto(location.compression, stored, chunk.size, out.object, out.raw);
  } catch (const Error& e) {
    out.fault = ChunkFault::kAltered;
    out.detail = e.what();
    return out;
  }
  if (const std::string sha = Sha256Hex(out.raw); sha != chunk.sha256) {
    out.fault = ChunkFault::kAltered;
    out.detail = fmt::format("SHA-256 {} expected, {} found", chunk.sha256, sha);
    out.raw.clear();
  }
  return out;
}

namespace {

std::string OrThrow(FetchedChunk chunk, const Manifest& manifest, const FileEntry& file,
                    const ChunkLocation& location) {
  if (!chunk.fault) return std::move(chunk.raw);
  const std::string held_by =
      location.backup == manifest.label ? "" : fmt::format(" (stored by backup {})", location.backup);
  throw Error(ErrorCode::kCorrupt,
              fmt::format("backup {}: file '{}' is {} in the repository{} ('{}': {})",
                          manifest.label, file.path, ChunkFaultName(*chunk.fault), held_by,
                          chunk.object, chunk.detail),
              "this backup cannot be restored as is; restore another backup (dbmedic info) and "
              "run 'dbmedic verify' to see every damaged file");
}

}  // namespace

std::string FetchChunkOrThrow(const storage::Storage& storage, const Manifest& manifest,
                              const FileEntry& file, std::size_t index, std::string reuse) {
  const ChunkLocation location = LocateChunk(manifest, file, index);
  return OrThrow(FetchObject(storage, file.chunks.at(index), location, std::move(reuse)),
                 manifest, file, location);
}

std::string FetchOverlayOrThrow(const storage::Storage& storage, const Manifest& manifest,
                                const FileEntry& file, const PageOverlay& overlay) {
  const ChunkLocation location = LocateOverlay(manifest, overlay);
  return OrThrow(FetchObject(storage, overlay.chunk, location), manifest, file, location);
}

}  // namespace dbmedic::repo
