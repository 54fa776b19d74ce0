#include "wal/wal_filter.hpp"

#include <algorithm>
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
constexpr std::size_t kRecentSegments = 4;  // 64 MB of 16 MB segments
}  // namespace

ArchiveWalFilter::ArchiveWalFilter(const WalArchive& archive, WalFilter filter,
                                   std::filesystem::path stats)
    : archive_(archive), filter_(std::move(filter)), stats_(std::move(stats)) {}

bool ArchiveWalFilter::Get(const std::string& name, const std::filesystem::path& dest) {
  const std::shared_ptr<const std::string> original = Original(name);
  if (!original) return false;
  std::string content = *original;
  const std::optional<pg::ParsedWalName> parsed = pg::ParseWalSegmentName(name, content.size());
  if (parsed && pg::wal::IsValidSegmentSize(content.size())) {
    // Neighbours on the same timeline: across a timeline switch neither side finds the other,
    // so both leave a record crossing that boundary as it is (they must agree).
    auto neighbour = [this, &parsed, size = content.size()](std::int64_t delta) {
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
    const pg::NeutralizeResult r = filter_.Apply(name, content, neighbors);
    spdlog::debug("wal filter: {}: {} of {} records skipped ({} bytes)", name, r.neutralized,
                  r.records, r.bytes);
    if (!stats_.empty()) {
      try {
        core::AppendLine(stats_, fmt::format("{} {}", r.neutralized, r.bytes));
      } catch (const Error& e) {
        spdlog::warn("wal filter: cannot count what was skipped: {}", e.what());  // not fatal
      }
    }
  }
  WriteThroughRename(dest, content);
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
    if (const std::optional<ArchivedFile> file = archive_.Find(name)) {
      content = std::make_shared<const std::string>(archive_.Read(*file));
    }
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

}  // namespace dbmedic::wal
