#include "rescue/drill_record.hpp"

#include <ctime>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"

namespace dbmedic::rescue {
namespace {

using nlohmann::json;

template <typename T>
T Field(const json& j, const char* name, std::string_view what) {
  try {
    return j.at(name).get<T>();
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("drill record '{}': field '{}': {}", what, name, e.what()),
                "remove the damaged record; the next drill writes a new one");
  }
}

}  // namespace

std::string CompactUtc(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string CompactUtcMicros(std::int64_t unix_micros) {
  const std::string seconds = CompactUtc(unix_micros / 1000000);  // "...SSZ"
  return fmt::format("{}.{:06}Z", seconds.substr(0, seconds.size() - 1), unix_micros % 1000000);
}

json ToJson(const DrillRecord& r) {
  json checks = json::array();
  for (const RelationCheck& c : r.checks) {
    checks.push_back({{"database", c.database}, {"name", c.name}, {"kind", c.kind},
                      {"rows", c.rows}, {"error", c.error}});
  }
  return {{"id", r.id},
          {"label", r.label},
          {"target", r.target},
          {"passed", r.passed},
          {"error", r.error},
          {"started_at", r.started_at},
          {"duration_seconds", r.duration_seconds},
          {"rto_seconds", r.rto_seconds},
          {"restore_seconds", r.restore_seconds},
          {"replay_seconds", r.replay_seconds},
          {"restored_bytes", r.restored_bytes},
          {"wal_bytes_replayed", r.wal_bytes_replayed},
          {"restore_bytes_per_second", r.restore_bytes_per_second},
          {"replay_bytes_per_second", r.replay_bytes_per_second},
          {"amcheck", r.amcheck},
          {"relations_checked", r.relations_checked},
          {"indexes_checked", r.indexes_checked},
          {"total_rows", r.total_rows},
          {"checks", checks}};
}

DrillRecord DrillRecordFromJson(const json& j, std::string_view what) {
  DrillRecord r;
  r.id = Field<std::string>(j, "id", what);
  r.label = Field<std::string>(j, "label", what);
  r.target = Field<std::string>(j, "target", what);
  r.passed = Field<bool>(j, "passed", what);
  r.error = Field<std::string>(j, "error", what);
  r.started_at = Field<std::int64_t>(j, "started_at", what);
  r.duration_seconds = Field<double>(j, "duration_seconds", what);
  r.rto_seconds = Field<double>(j, "rto_seconds", what);
  r.restore_seconds = Field<double>(j, "restore_seconds", what);
  r.replay_seconds = Field<double>(j, "replay_seconds", what);
  r.restored_bytes = Field<std::uint64_t>(j, "restored_bytes", what);
  r.wal_bytes_replayed = Field<std::uint64_t>(j, "wal_bytes_replayed", what);
  r.restore_bytes_per_second = Field<double>(j, "restore_bytes_per_second", what);
  r.replay_bytes_per_second = Field<double>(j, "replay_bytes_per_second", what);
  r.amcheck = Field<bool>(j, "amcheck", what);
  r.relations_checked = Field<std::uint64_t>(j, "relations_checked", what);
  r.indexes_checked = Field<std::uint64_t>(j, "indexes_checked", what);
  r.total_rows = Field<std::int64_t>(j, "total_rows", what);
  for (const json& c : Field<json>(j, "checks", what)) {
    r.checks.push_back({Field<std::string>(c, "database", what), Field<std::string>(c, "name", what),
                        Field<std::string>(c, "kind", what), Field<std::int64_t>(c, "rows", what),
                        Field<std::string>(c, "error", what)});
  }
  return r;
}

void SaveDrillRecord(repo::Repository& repository, const DrillRecord& record) {
  repository.storage().WriteAtomic(fmt::format("{}/{}.json", kDrillDir, record.id),
                                   ToJson(record).dump(1));
}

std::vector<DrillRecord> LoadDrillRecords(const repo::Repository& repository) {
  std::vector<DrillRecord> out;
  for (const storage::ObjectInfo& o : repository.storage().List(kDrillDir)) {
    if (!o.path.ends_with(".json")) continue;
    const std::string path = fmt::format("{}/{}", kDrillDir, o.path);
    try {
      out.push_back(
          DrillRecordFromJson(json::parse(repository.storage().ReadAll(path)), path));
    } catch (const std::exception& e) {
      spdlog::warn("skipping drill record {}: {}", repository.storage().Describe(path), e.what());
    }
  }
  return out;  // List() sorts by path; ids sort by time
}

}  // namespace dbmedic::rescue
