#include "wal/wal_filter.hpp"

#include <algorithm>
#include <span>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

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

pg::NeutralizeResult WalFilter::Apply(std::string_view name, std::string& content) const {
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
                               });
}

}  // namespace dbmedic::wal
