#include "wal/restore_point.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "repo/metadata.hpp"

namespace dbmedic::wal {
namespace {

constexpr std::string_view kDir = "restore-point";

std::string PathOf(const std::string& name) { return fmt::format("{}/{}.json", kDir, name); }

void ValidateName(const std::string& name) {
  const bool safe = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
  if (name.empty() || name.size() > 63 || !safe || name.front() == '.') {
    throw Error(ErrorCode::kUsage, fmt::format("invalid restore point name '{}'", name),
                "use 1 to 63 letters, digits, '_', '-' or '.' (not starting with '.')");
  }
}

RestorePoint FromJson(const nlohmann::json& j) {
  return {j.at("name").get<std::string>(), j.at("lsn").get<std::string>(),
          j.at("unix_micros").get<std::int64_t>(), j.at("timeline").get<std::uint32_t>()};
}

}  // namespace

RestorePoint CreateRestorePoint(pg::Connection& conn, const repo::Repository& repository,
                                const std::string& name) {
  ValidateName(name);
  if (repository.storage().Exists(PathOf(name))) {
    throw Error(ErrorCode::kConflict,
                fmt::format("restore point '{}' already exists in repository '{}'", name,
                            repository.storage().Describe("")),
                "pick another name: recovery stops at the first point of a name");
  }
  pg::Result r = conn.ExecParams(
      "SELECT pg_create_restore_point($1)::text, "
      "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint, "
      "('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int",
      {name});
  RestorePoint point{name, r.GetString(0, 0), r.GetInt(0, 1),
                     static_cast<std::uint32_t>(r.GetInt(0, 2))};
  conn.Exec("SELECT pg_switch_wal()");
  const nlohmann::json content = {{"name", point.name}, {"lsn", point.lsn},
                                  {"unix_micros", point.unix_micros},
                                  {"timeline", point.timeline}};
  repository.storage().WriteAtomic(PathOf(name), repo::SealMetadata(content));
  return point;
}

std::optional<RestorePoint> FindRestorePoint(const repo::Repository& repository,
                                             const std::string& name) {
  ValidateName(name);
  const std::string path = PathOf(name);
  if (!repository.storage().Exists(path)) return std::nullopt;
  return FromJson(repo::UnsealMetadata(repository.storage().ReadAll(path),
                                       repository.storage().Describe(path)));
}

std::vector<RestorePoint> ListRestorePoints(const repo::Repository& repository) {
  std::vector<RestorePoint> out;
  for (const storage::ObjectInfo& info : repository.storage().List(kDir)) {
    if (!info.path.ends_with(".json")) continue;
    const std::string path = fmt::format("{}/{}", kDir, info.path);
    out.push_back(FromJson(repo::UnsealMetadata(repository.storage().ReadAll(path),
                                                repository.storage().Describe(path))));
  }
  std::sort(out.begin(), out.end(),
            [](const RestorePoint& a, const RestorePoint& b) { return a.unix_micros < b.unix_micros; });
  return out;
}

}  // namespace dbmedic::wal
