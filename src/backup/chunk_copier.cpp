#include "backup/chunk_copier.hpp"

#include <fcntl.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backup/page_checksum.hpp"
#include "core/error.hpp"
#include "pg/lsn.hpp"
#include "storage/fd.hpp"

namespace dbmedic::backup {
namespace {

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

std::string ReadChunk(const SourceFile& source, const repo::ChunkEntry& chunk,
                      const CopySettings& settings, const std::string& rel_path, bool& vanished) {
  if (source.content) {
    return source.content->substr(static_cast<std::size_t>(chunk.offset),
                                  static_cast<std::size_t>(chunk.size));
  }
  storage::Fd fd;
  try {
    fd = storage::Fd::Open(source.path.string(), O_RDONLY);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) {
      vanished = true;  // dropped while we copied: WAL replay removes it anyway
      return {};
    }
    throw Error(e.code(), fmt::format("unable to back up '{}': {}", rel_path, e.what()),
                "make every file of the data directory readable by the user running dbmedic "
                "(run it as root or as the cluster's OS user)");
  }
  std::string data;
  storage::PreadUpTo(fd.get(), data, static_cast<std::size_t>(chunk.size), chunk.offset,
                     source.path.string());
  if (source.validate_pages) {
    ValidatePages(data, chunk.offset, source, fd.get(), rel_path, settings.start_lsn);
  }
  return data;
}

}  // namespace

std::uint64_t CopyChunk(storage::Storage& storage, const CopySettings& settings,
                        const SourceFile& source, repo::FileEntry& file, std::size_t index,
                        std::atomic<bool>& vanished) {
  repo::ChunkEntry& chunk = file.chunks[index];
  bool gone = false;
  const std::string raw = ReadChunk(source, chunk, settings, file.path, gone);
  if (gone) {
    vanished.store(true);
    return 0;
  }
  chunk.size = raw.size();  // shorter when the file shrank since the plan; replay fixes it
  chunk.sha256 = repo::Sha256Hex(raw);
  const std::string stored = repo::Compress(settings.codec, raw);
  chunk.stored_size = stored.size();
  auto out = storage.OpenWrite(
      repo::ChunkObjectPath(settings.label, file, index, settings.codec.compression),
      storage::Durability::kDeferred);  // made durable by one Sync() before the manifest
  out->Write(stored);
  out->Commit();
  return raw.size();
}

}  // namespace dbmedic::backup
