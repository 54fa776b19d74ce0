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

ArchiveWalFilter::ArchiveWalFilter(const WalArchive& archive, WalFilter filter)
    : archive_(archive), filter_(std::move(filter)) {}

pg::NeutralizeResult ArchiveWalFilter::Apply(std::string_view name, std::string& content) {
  const std::optional<pg::ParsedWalName> parsed = pg::ParseWalSegmentName(name, content.size());
  if (!parsed || !pg::wal::IsValidSegmentSize(content.size())) return {};
  Remember(std::string(name), std::make_shared<const std::string>(content));
  // Neighbours on the same timeline: across a timeline switch neither side finds the other, so
  // both leave a record crossing that boundary as it is (they must agree).
  auto neighbour = [&](std::int64_t delta) {
    return [this, parsed, delta, size = content.size()] {
      return Original(pg::WalSegmentName(parsed->timeline,
                                         static_cast<std::uint64_t>(
                                             static_cast<std::int64_t>(parsed->segno) + delta),
                                         size));
    };
  };
  pg::WalNeighbors neighbors;
  if (parsed->segno > 0) neighbors.previous = neighbour(-1);
  neighbors.next = neighbour(+1);
  return filter_.Apply(name, content, neighbors);
}

std::shared_ptr<const std::string> ArchiveWalFilter::Original(const std::string& name) {
  {
    const std::lock_guard lock(mu_);
    for (const auto& [n, content] : recent_) {
      if (n == name) return content;
    }
  }
  try {
    const std::optional<ArchivedFile> file = archive_.Find(name);
    if (!file) return nullptr;
    auto content = std::make_shared<const std::string>(archive_.Read(*file));
    Remember(name, content);
    return content;
  } catch (const Error& e) {
    // Then this segment is not served either (its own fetch fails the same way).
    spdlog::warn("wal filter: cannot read the neighbouring segment {}: {}", name, e.what());
    return nullptr;
  }
}

void ArchiveWalFilter::Remember(const std::string& name,
                                std::shared_ptr<const std::string> content) {
  const std::lock_guard lock(mu_);
  for (const auto& entry : recent_) {
    if (entry.first == name) return;
  }
  recent_.emplace_back(name, std::move(content));
  if (recent_.size() > kRecentSegments) recent_.pop_front();
}

}  // namespace dbmedic::wal
