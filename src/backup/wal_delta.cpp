#include "backup/wal_delta.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "backup/page_checksum.hpp"
#include "backup/page_delta.hpp"
#include "core/error.hpp"
#include "core/huge_buffer.hpp"
#include "storage/fd.hpp"

namespace dbmedic::backup {
namespace {

constexpr pg::Oid kDefaultTablespace = 1663;  // pg_default (base/)
constexpr pg::Oid kGlobalTablespace = 1664;   // pg_global (global/)

std::optional<pg::Oid> ParseOid(std::string_view text) {
  pg::Oid value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == path.npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

std::optional<RelationFile> RelationFileOf(std::string_view path) {
  if (!IsRelationMainFork(path)) return std::nullopt;
  const std::vector<std::string_view> p = SplitPath(path);
  RelationFile out;
  std::optional<pg::Oid> db;
  if (p.size() == 2 && p[0] == "global") {
    out.rnode.spc = kGlobalTablespace;
    db = 0;
  } else if (p.size() == 3 && p[0] == "base") {
    out.rnode.spc = kDefaultTablespace;
    db = ParseOid(p[1]);
  } else if (p.size() == 5 && p[0] == "pg_tblspc") {
    const auto spc = ParseOid(p[1]);
    if (!spc) return std::nullopt;
    out.rnode.spc = *spc;
    db = ParseOid(p[3]);
  }
  if (!db) return std::nullopt;
  out.rnode.db = *db;
  const std::string_view name = p.back();
  const std::size_t dot = name.find('.');
  const auto rel = ParseOid(name.substr(0, dot));
  const auto segment = dot == name.npos ? std::optional<pg::Oid>(0) : ParseOid(name.substr(dot + 1));
  if (!rel || !segment) return std::nullopt;
  out.rnode.rel = *rel;
  out.segment = *segment;
  return out;
}

bool SummaryWorthReading(std::uint64_t wal_bytes, std::uint64_t relation_bytes) {
  constexpr std::uint64_t kAlwaysSummarised = 64ull << 20;
  return wal_bytes <= std::max(kAlwaysSummarised, relation_bytes / 4);
}

WalPlan PlanFromSummary(const pg::BlockSummary& summary, std::string_view path) {
  WalPlan plan;
  const std::optional<RelationFile> file = RelationFileOf(path);
  if (!file) return plan;  // kPageScan: not a file the summary can speak for
  if (summary.recreated.contains(file->rnode) ||
      summary.recreated_databases.contains(file->rnode.db)) {
    plan.rule = WalRule::kWhole;
    return plan;
  }
  if (summary.truncated.contains(file->rnode)) return plan;
  plan.rule = WalRule::kSummarised;
  auto it = summary.changed.find(file->rnode);
  if (it == summary.changed.end()) return plan;
  const std::vector<std::uint32_t>& all = it->second.blocks();
  const std::uint64_t first = std::uint64_t{file->segment} * kPagesPerSegment;
  const std::uint64_t end = first + kPagesPerSegment;
  auto lo = std::lower_bound(all.begin(), all.end(), first);
  auto hi = std::lower_bound(lo, all.end(), end);
  plan.blocks.reserve(static_cast<std::size_t>(hi - lo));
  for (auto b = lo; b != hi; ++b) plan.blocks.push_back(static_cast<std::uint32_t>(*b - first));
  return plan;
}

namespace {

// The pages of [first, end) to read: the named ones, then every page from `beyond` on.
std::vector<std::pair<std::uint64_t, std::uint64_t>> RunsToRead(
    const std::vector<std::uint32_t>& blocks, std::uint64_t first, std::uint64_t end,
    std::uint64_t beyond) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> runs;  // (first block, count)
  auto add = [&](std::uint64_t block) {
    if (!runs.empty() && runs.back().first + runs.back().second == block) {
      ++runs.back().second;
    } else if (runs.empty() || runs.back().first + runs.back().second < block) {
      runs.emplace_back(block, 1);
    }
  };
  for (auto it = std::lower_bound(blocks.begin(), blocks.end(), first);
       it != blocks.end() && *it < end && *it < beyond; ++it) {
    add(*it);
  }
  for (std::uint64_t b = std::max(first, beyond); b < end; ++b) add(b);
  return runs;
}

}  // namespace

std::uint64_t CopySummarisedPages(storage::Storage& storage, const CopySettings& settings,
                                  const SourceFile& source, const PageBase& base,
                                  const std::vector<std::uint32_t>& blocks, repo::FileEntry& file,
                                  std::size_t index, std::optional<repo::PageOverlay>& overlay,
                                  std::atomic<bool>& vanished, std::uint64_t& pages_read) {
  repo::ChunkEntry& slot = file.chunks[index];
  overlay.reset();
  storage::Fd fd;
  try {
    fd = storage::Fd::Open(source.path.string(), O_RDONLY);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
    vanished.store(true);  // dropped while we copied: WAL replay removes it anyway
    return 0;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    throw Error(ErrorCode::kIo, fmt::format("unable to stat '{}'", source.path.string()));
  }
  const auto now_size = static_cast<std::uint64_t>(st.st_size);
  // The file may have shrunk since the plan; WAL replay from this backup's start fixes that.
  const std::uint64_t chunk_end = std::min(slot.offset + slot.size, std::max(now_size, slot.offset));
  slot.size = chunk_end - slot.offset;
  const std::uint64_t first = slot.offset / kPageSize;
  const std::uint64_t end = (chunk_end + kPageSize - 1) / kPageSize;
  // Past the reference's copy (its partial last page included), and a partial last page now
  // (a file being extended), are read whatever the WAL says.
  std::uint64_t beyond = base.reference_size / kPageSize;
  if (now_size % kPageSize != 0) beyond = std::min(beyond, now_size / kPageSize);
  thread_local std::string changed;
  thread_local std::string run_data;
  const auto runs = RunsToRead(blocks, first, end, beyond);
  std::uint64_t pages = 0;
  for (const auto& run : runs) pages += run.second;
  changed.clear();
  core::ReserveWithHugePages(changed, static_cast<std::size_t>(pages * kPageSize));
  repo::PageOverlay out;
  for (auto [block, count] : runs) {
    storage::PreadUpTo(fd.get(), run_data, static_cast<std::size_t>(count * kPageSize),
                       block * kPageSize, source.path.string());
    run_data.resize(std::min<std::size_t>(run_data.size(), chunk_end - block * kPageSize));
    if (run_data.empty()) break;
    if (source.validate_pages) {
      ValidatePages(run_data, block * kPageSize, source, fd.get(), file.path, settings.start_lsn);
    }
    const std::uint64_t got = (run_data.size() + kPageSize - 1) / kPageSize;
    out.runs.emplace_back(static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(got));
    changed += run_data;
    pages_read += got;
    if (got < count) break;  // end of the file
  }
  return StoreOverlay(storage, settings, file, index, changed, std::move(out), overlay);
}

}  // namespace dbmedic::backup
