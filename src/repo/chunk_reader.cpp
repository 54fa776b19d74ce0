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

namespace {

// FetchChunk's work, decoding into `raw` (out.raw is left alone).
void Fetch(const storage::Storage& storage, const Manifest& manifest, const FileEntry& file,
           std::size_t index, FetchedChunk& out, std::string& raw) {
  const ChunkEntry& chunk = file.chunks.at(index);
  const std::string path = ChunkObjectPath(manifest.label, file, index, manifest.compression);
  out.object = storage.Describe(path);
  std::string stored;
  try {
    stored = storage.ReadAll(path);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kCorrupt) {  // an encrypted object that fails authentication
      out.fault = ChunkFault::kAltered;
      out.detail = e.what();
      return;
    }
    if (e.code() != ErrorCode::kNotFound) throw;
    out.fault = ChunkFault::kMissing;
    out.detail = "the object does not exist";
    return;
  }
  if (stored.size() != chunk.stored_size) {
    out.fault = stored.size() < chunk.stored_size ? ChunkFault::kTruncated : ChunkFault::kAltered;
    out.detail = fmt::format("{} bytes stored, {} expected", stored.size(), chunk.stored_size);
    return;
  }
  try {
    DecompressInto(manifest.compression, stored, chunk.size, out.object, raw);
  } catch (const Error& e) {
    out.fault = ChunkFault::kAltered;
    out.detail = e.what();
    return;
  }
  if (const std::string sha = Sha256Hex(raw); sha != chunk.sha256) {
    out.fault = ChunkFault::kAltered;
    out.detail = fmt::format("SHA-256 {} expected, {} found", chunk.sha256, sha);
    raw.clear();
  }
}

[[noreturn]] void ThrowFault(const Manifest& manifest, const FileEntry& file,
                             const FetchedChunk& chunk) {
  throw Error(ErrorCode::kCorrupt,
              fmt::format("backup {}: file '{}' is {} in the repository ('{}': {})", manifest.label,
                          file.path, ChunkFaultName(*chunk.fault), chunk.object, chunk.detail),
              "this backup cannot be restored as is; restore another backup (dbmedic info) and "
              "run 'dbmedic verify' to see every damaged file");
}

}  // namespace

FetchedChunk FetchChunk(const storage::Storage& storage, const Manifest& manifest,
                        const FileEntry& file, std::size_t index) {
  FetchedChunk out;
  Fetch(storage, manifest, file, index, out, out.raw);
  return out;
}

std::string FetchChunkOrThrow(const storage::Storage& storage, const Manifest& manifest,
                              const FileEntry& file, std::size_t index) {
  std::string raw;
  FetchChunkOrThrowInto(storage, manifest, file, index, raw);
  return raw;
}

void FetchChunkOrThrowInto(const storage::Storage& storage, const Manifest& manifest,
                           const FileEntry& file, std::size_t index, std::string& raw) {
  FetchedChunk chunk;
  Fetch(storage, manifest, file, index, chunk, raw);
  if (chunk.fault) ThrowFault(manifest, file, chunk);
}

}  // namespace dbmedic::repo
