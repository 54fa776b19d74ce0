#include "wal/wal_filter.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <span>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "pg/lsn.hpp"
#include "pg/wal_format.hpp"

namespace dbmedic::wal {

WalFilter WalFilter::Load(const std::filesystem::path& file) {
  WalFilter filter;
  try {
    const nlohmann::json j = nlohmann::json::parse(core::ReadFile(file));
    if (j.at("version").get<int>() != 1) throw std::runtime_error("unknown version");
    filter.database = j.at("database").get<pg::Oid>();
    filter.skipped_relfilenodes = j.at("skipped_relfilenodes").get<std::vector<pg::Oid>>();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kConfig,
                fmt::format("'{}' is not a WAL filter file: {}", file.string(), e.what()),
                "it is written by `dbmedic undo` for its side cluster; do not pass --wal-filter "
                "by hand");
  }
  std::sort(filter.skipped_relfilenodes.begin(), filter.skipped_relfilenodes.end());
  return filter;
}

std::string WalFilter::ToJson() const {
  return nlohmann::json{{"version", 1},
                        {"database", database},
                        {"skipped_relfilenodes", skipped_relfilenodes}}
      .dump();
}

bool WalFilter::Skips(const pg::WalBlockRef& block) const {
  if (block.rnode.db == 0) return false;  // shared catalogs
  if (block.rnode.db != database) return true;
  return std::binary_search(skipped_relfilenodes.begin(), skipped_relfilenodes.end(),
                            block.rnode.rel);
}

pg::NeutralizeResult WalFilter::Apply(std::string_view name, std::string& content,
                                      const pg::WalNeighbors& neighbors) const {
  if (!pg::wal::IsValidSegmentSize(content.size())) return {};
  const std::optional<pg::ParsedWalName> parsed = pg::ParseWalSegmentName(name, content.size());
  if (!parsed) return {};
  const std::span<std::byte> bytes(reinterpret_cast<std::byte*>(content.data()), content.size());
  return pg::NeutralizeRecords(bytes, pg::SegmentStart(parsed->segno, content.size()),
                               [this](const pg::WalRecord& record) {
                                 return std::all_of(record.blocks.begin(), record.blocks.end(),
                                                    [this](const pg::WalBlockRef& b) {
                                                      return Skips(b);
                                                    });
                               },
                               neighbors);
}

namespace {

// Originals kept for the neighbours: the prefetcher's workers take consecutive segments, so a
// segment's neighbours are at most a few segments away from the newest one read.
constexpr std::size_t kRecentSegments = 6;

// Room for an uncompressed object's one extra byte (WalArchive::ReadInto) without a reallocation.
constexpr std::size_t kSlack = 64 * 1024;

// A new buffer whose pages fault in 2 MB at a time: reserved (a large malloc is its own mapping,
// not touched yet), advised, then filled.
std::unique_ptr<std::string> NewBuffer(std::size_t size) {
  auto buffer = std::make_unique<std::string>();
  buffer->reserve(size + kSlack);
  constexpr std::uintptr_t kHuge = 2 * 1024 * 1024;
  const auto begin = reinterpret_cast<std::uintptr_t>(buffer->data());
  const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t last = (begin + size + kSlack) & ~(kHuge - 1);
  // Only advice: without transparent huge pages the buffer faults in 4 kB pages, once.
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  buffer->resize(size);
  return buffer;
}

}  // namespace

std::shared_ptr<std::string> SegmentBufferPool::Take(std::size_t size) {
  std::unique_ptr<std::string> buffer;
  {
    const std::lock_guard lock(mu_);
    if (!free_.empty()) {
      buffer = std::move(free_.back());
      free_.pop_back();
    }
  }
  if (!buffer) {
    buffer = NewBuffer(size);
  } else if (buffer->size() != size) {
    buffer->resize(size);
  }
  return {buffer.release(), [this](std::string* returned) {
            const std::lock_guard lock(mu_);
            free_.emplace_back(returned);
          }};
}

ArchiveWalFilter::ArchiveWalFilter(const WalArchive& archive, WalFilter filter,
                                   std::filesystem::path stats)
    : archive_(archive), filter_(std::move(filter)), stats_(std::move(stats)) {}

bool ArchiveWalFilter::Get(const std::string& name, const std::filesystem::path& dest) {
  using Clock = std::chrono::steady_clock;
  const auto began = Clock::now();
  const std::shared_ptr<const std::string> original = Original(name);
  if (!original) return false;
  const std::optional<pg::ParsedWalName> parsed = pg::ParseWalSegmentName(name, original->size());
  if (!parsed || !pg::wal::IsValidSegmentSize(original->size())) {
    WriteThroughRename(dest, *original);
    return true;
  }
  // The rewrite goes into a copy: the neighbours' rewrites read this segment's original bytes.
  const std::shared_ptr<std::string> content = pool_.Take(original->size());
  std::memcpy(content->data(), original->data(), original->size());
  // Neighbours on the same timeline: across a timeline switch neither side finds the other,
  // so both leave a record crossing that boundary as it is (they must agree).
  auto neighbour = [this, &parsed, size = original->size()](std::int64_t delta) {
    return [this, &parsed, size, delta]() -> std::shared_ptr<const std::string> {
      const auto segno = static_cast<std::uint64_t>(static_cast<std::int64_t>(parsed->segno) +
                                                    delta);
      const std::string neighbour_name = pg::WalSegmentName(parsed->timeline, segno, size);
      try {
        return Original(neighbour_name);
      } catch (const Error& e) {
        // Then that segment is not served either (its own fetch fails the same way).
        spdlog::warn("wal filter: cannot read the neighbouring segment {}: {}", neighbour_name,
                     e.what());
        return nullptr;
      }
    };
  };
  pg::WalNeighbors neighbors;
  if (parsed->segno > 0) neighbors.previous = neighbour(-1);
  neighbors.next = neighbour(+1);
  const auto read = Clock::now();
  const pg::NeutralizeResult r = filter_.Apply(name, *content, neighbors);
  const auto filtered = Clock::now();
  if (!stats_.empty()) {
    try {
      core::AppendLine(stats_, fmt::format("{} {}", r.neutralized, r.bytes));
    } catch (const Error& e) {
      spdlog::warn("wal filter: cannot count what was skipped: {}", e.what());  // not fatal
    }
  }
  WriteThroughRename(dest, *content);
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  spdlog::debug("wal filter: {}: {} of {} records skipped ({} bytes); read {:.1f} ms, filter "
                "{:.1f} ms, write {:.1f} ms",
                name, r.neutralized, r.records, r.bytes, ms(read - began), ms(filtered - read),
                ms(Clock::now() - filtered));
  return true;
}

std::shared_ptr<const std::string> ArchiveWalFilter::Original(const std::string& name) {
  {
    std::unique_lock lock(mu_);
    read_.wait(lock, [&] { return !reading_.contains(name); });
    for (const auto& [n, content] : recent_) {
      if (n == name) return content;
    }
    reading_.insert(name);
  }
  std::shared_ptr<const std::string> content;
  try {
    content = ReadOriginal(name);
  } catch (...) {
    const std::lock_guard lock(mu_);
    reading_.erase(name);
    read_.notify_all();
    throw;
  }
  const std::lock_guard lock(mu_);
  reading_.erase(name);
  if (content) {
    recent_.emplace_back(name, content);
    if (recent_.size() > kRecentSegments) recent_.pop_front();
  }
  read_.notify_all();
  return content;
}

// Decompressed and verified into pooled buffers; nullptr when the archive has no `name`.
std::shared_ptr<const std::string> ArchiveWalFilter::ReadOriginal(const std::string& name) {
  const std::optional<ArchivedFile> file = archive_.Find(name);
  if (!file) return nullptr;
  const std::shared_ptr<std::string> stored = pool_.Take(file->raw_size);
  std::shared_ptr<std::string> raw = pool_.Take(file->raw_size);
  archive_.ReadInto(*file, *stored, *raw);
  return raw;
}

}  // namespace dbmedic::wal
