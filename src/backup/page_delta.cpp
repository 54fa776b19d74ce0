#include "backup/page_delta.hpp"

#include <algorithm>
#include <cctype>

#include "backup/page_checksum.hpp"
#include "core/huge_buffer.hpp"

namespace dbmedic::backup {

bool IsRelationMainFork(std::string_view path) {
  if (!RelationSegment(path)) return false;
  std::string_view name = path.substr(path.rfind('/') + 1);
  name = name.substr(0, name.find('.'));
  return !name.empty() && std::all_of(name.begin(), name.end(),
                                      [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

bool PageChanged(const char* page, std::size_t bytes, std::uint64_t block, const PageBase& base) {
  if (bytes < kPageSize) return true;
  if ((block + 1) * kPageSize > base.reference_size) return true;
  return IsNewPage(page) || PageLsn(page) >= base.reference_start_lsn;
}

namespace {

// Appends `block` to the runs, extending the last run when it continues it.
void AddToRuns(std::vector<std::pair<std::uint32_t, std::uint32_t>>& runs, std::uint32_t block) {
  if (!runs.empty() && runs.back().first + runs.back().second == block) {
    ++runs.back().second;
    return;
  }
  runs.emplace_back(block, 1);
}

}  // namespace

std::uint64_t CopyChangedPages(storage::Storage& storage, const CopySettings& settings,
                               const SourceFile& source, const PageBase& base,
                               repo::FileEntry& file, std::size_t index,
                               std::optional<repo::PageOverlay>& overlay,
                               std::atomic<bool>& vanished) {
  repo::ChunkEntry& slot = file.chunks[index];
  thread_local std::string raw;
  thread_local std::string changed;
  bool gone = false;
  ReadSourceChunk(source, slot, settings, file.path, gone, raw);
  if (gone) {
    vanished.store(true);
    return 0;
  }
  slot.size = raw.size();
  changed.clear();
  core::ReserveWithHugePages(changed, raw.size());  // at most every page changed
  repo::PageOverlay out;
  const std::uint64_t first = slot.offset / kPageSize;
  for (std::size_t pos = 0; pos < raw.size(); pos += kPageSize) {
    const std::size_t bytes = std::min(kPageSize, raw.size() - pos);
    const std::uint64_t block = first + pos / kPageSize;
    if (!PageChanged(raw.data() + pos, bytes, block, base)) continue;
    AddToRuns(out.runs, static_cast<std::uint32_t>(block));
    changed.append(raw, pos, bytes);
  }
  overlay.reset();
  return StoreOverlay(storage, settings, file, index, changed, std::move(out), overlay);
}

std::uint64_t StoreOverlay(storage::Storage& storage, const CopySettings& settings,
                           const repo::FileEntry& file, std::size_t index,
                           const std::string& changed, repo::PageOverlay out,
                           std::optional<repo::PageOverlay>& overlay) {
  if (out.runs.empty()) return 0;
  out.chunk.offset = std::uint64_t{out.runs.front().first} * kPageSize;
  out.chunk.size = changed.size();
  out.chunk.sha256 = repo::Sha256Hex(changed);
  out.chunk.object = repo::OverlayObjectPath(settings.label, file, index, settings.codec.compression);
  out.chunk.stored_size = StoreObject(storage, settings.codec, out.chunk.object, changed);
  overlay = std::move(out);
  return changed.size();
}

}  // namespace dbmedic::backup
