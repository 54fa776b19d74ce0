#include "backup/chunk_copier.hpp"

#include <fcntl.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backup/page_checksum.hpp"
#include "core/error.hpp"
#include "pg/lsn.hpp"
#include "storage/fd.hpp"

namespace dbmedic::backup {

// Checks every page of a chunk read at `offset`. A failing page is read again (the server may
// have been writing it); if it still fails and its LSN predates the backup start, it is corrupt.
// A re-read page that is good replaces the torn copy in `data`.
void ValidatePages(std::string& data, std::uint64_t offset, const SourceFile& source, int fd,
                   const std::string& rel_path, std::uint64_t start_lsn) {
  const std::uint64_t pages = data.size() / kPageSize;  // a partial last page is being extended
  std::string reread;
  for (std::uint64_t i = 0; i < pages; ++i) {
    char* page = data.data() + i * kPageSize;
    const auto block = static_cast<std::uint32_t>(source.first_block + (offset / kPageSize) + i);
    if (IsNewPage(page) || ComputePageChecksum(page, block) == StoredPageChecksum(page)) continue;
    storage::PreadUpTo(fd, reread, kPageSize, offset + i * kPageSize, source.path.string());
    if (reread.size() == kPageSize &&
        (IsNewPage(reread.data()) || ComputePageChecksum(reread.data(), block) == StoredPageChecksum(reread.data()))) {
      std::copy(reread.begin(), reread.end(), page);
      continue;
    }
    const char* current = reread.size() == kPageSize ? reread.data() : page;
    if (PageLsn(current) >= start_lsn) continue;  // torn by a concurrent write; WAL has it
    throw Error(ErrorCode::kCorrupt,
                fmt::format("page checksum failure in file '{}' block {} (stored checksum {:#06x}, "
                            "computed {:#06x}, page LSN {}): the page was damaged before the "
                            "backup started",
                            rel_path, block,
                            StoredPageChecksum(current), ComputePageChecksum(current, block),
                            pg::Lsn{PageLsn(current)}.ToString()),
                "the cluster has a damaged page; find the relation with this file path "
                "(pg_filenode_relation), recover it from an older backup, then back up again");
  }
}

namespace {

// The reference's chunk this one may equal (same offset and size), if any.
const repo::ChunkEntry* PriorChunk(const SourceFile& source, const repo::ChunkEntry& chunk) {
  for (const repo::ChunkEntry& p : source.prior) {
    if (p.offset == chunk.offset && p.size == chunk.size) return &p;
  }
  return nullptr;
}

}  // namespace

// `data` is a per-thread buffer reused across chunks.
void ReadSourceChunk(const SourceFile& source, const repo::ChunkEntry& chunk,
                     const CopySettings& settings, const std::string& rel_path, bool& vanished,
                     std::string& data) {
  if (source.content) {
    data = source.content->substr(static_cast<std::size_t>(chunk.offset),
                                  static_cast<std::size_t>(chunk.size));
    return;
  }
  storage::Fd fd;
  try {
    fd = storage::Fd::Open(source.path.string(), O_RDONLY);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) {
      vanished = true;  // dropped while we copied: WAL replay removes it anyway
      data.clear();
      return;
    }
    throw Error(e.code(), fmt::format("unable to back up '{}': {}", rel_path, e.what()),
                "make every file of the data directory readable by the user running dbmedic "
                "(run it as root or as the cluster's OS user)");
  }
  storage::PreadUpTo(fd.get(), data, static_cast<std::size_t>(chunk.size), chunk.offset,
                     source.path.string());
  if (source.validate_pages) {
    ValidatePages(data, chunk.offset, source, fd.get(), rel_path, settings.start_lsn);
  }
}

std::uint64_t StoreObject(storage::Storage& storage, const repo::CodecSettings& codec,
                          const std::string& path, std::string_view raw) {
  thread_local std::string compressed;
  const std::string_view stored = repo::CompressInto(codec, raw, compressed);
  auto out = storage.OpenWrite(path, storage::Durability::kDeferred);
  out->Write(stored);
  out->Commit();
  return stored.size();
}

std::uint64_t CopyChunk(storage::Storage& storage, const CopySettings& settings,
                        const SourceFile& source, repo::FileEntry& file, std::size_t index,
                        std::atomic<bool>& vanished) {
  repo::ChunkEntry& chunk = file.chunks[index];
  // Per-thread buffers: a backup reads and compresses thousands of chunks of up to chunk_size.
  thread_local std::string raw;
  bool gone = false;
  ReadSourceChunk(source, chunk, settings, file.path, gone, raw);
  if (gone) {
    vanished.store(true);
    return 0;
  }
  chunk.size = raw.size();  // shorter when the file shrank since the plan; replay fixes it
  chunk.sha256 = repo::Sha256Hex(raw);
  // Changed size or mtime, same content (a file rewritten as it was): keep the reference.
  if (const repo::ChunkEntry* prior = PriorChunk(source, chunk);
      prior && prior->sha256 == chunk.sha256) {
    chunk = *prior;
    return 0;
  }
  chunk.stored_size = StoreObject(
      storage, settings.codec,
      repo::ChunkObjectPath(settings.label, file, index, settings.codec.compression), raw);
  return raw.size();
}

}  // namespace dbmedic::backup
