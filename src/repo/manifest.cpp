#include "repo/manifest.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::repo {
namespace {

using nlohmann::json;

json ChunkToJson(const ChunkEntry& c) {
  return {{"offset", c.offset}, {"size", c.size}, {"stored_size", c.stored_size},
          {"sha256", c.sha256}};
}

json FileToJson(const FileEntry& f) {
  json chunks = json::array();
  for (const ChunkEntry& c : f.chunks) chunks.push_back(ChunkToJson(c));
  return {{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}, {"mode", f.mode},
          {"mtime", f.mtime}, {"chunks", std::move(chunks)}};
}

ChunkEntry ChunkFromJson(const json& j) {
  return {j.at("offset").get<std::uint64_t>(), j.at("size").get<std::uint64_t>(),
          j.at("stored_size").get<std::uint64_t>(), j.at("sha256").get<std::string>()};
}

FileEntry FileFromJson(const json& j) {
  FileEntry f;
  f.path = j.at("path").get<std::string>();
  f.size = j.at("size").get<std::uint64_t>();
  f.sha256 = j.at("sha256").get<std::string>();
  f.mode = j.at("mode").get<std::uint32_t>();
  f.mtime = j.at("mtime").get<std::int64_t>();
  for (const json& c : j.at("chunks")) f.chunks.push_back(ChunkFromJson(c));
  if (f.chunks.empty()) throw std::invalid_argument("file without chunks: " + f.path);
  return f;
}

Manifest FromJsonUnchecked(const json& j) {
  Manifest m;
  m.label = j.at("label").get<std::string>();
  m.type = j.at("type").get<std::string>();
  m.start_lsn = j.at("start_lsn").get<std::string>();
  m.stop_lsn = j.at("stop_lsn").get<std::string>();
  m.start_time = j.at("start_time").get<std::int64_t>();
  m.stop_time = j.at("stop_time").get<std::int64_t>();
  m.stop_time_micros = j.value("stop_time_micros", std::int64_t{0});
  m.timeline = j.at("timeline").get<std::uint32_t>();
  m.system_identifier = j.at("system_identifier").get<std::string>();
  m.pg_version_num = j.at("pg_version_num").get<int>();
  m.tool_version = j.at("tool_version").get<std::string>();
  m.data_checksums = j.at("data_checksums").get<bool>();
  auto compression = ParseCompression(j.at("compression").get<std::string>());
  if (!compression) throw std::invalid_argument("unknown compression");
  m.compression = *compression;
  m.compression_level = j.at("compression_level").get<int>();
  m.chunk_size = j.at("chunk_size").get<std::uint64_t>();
  m.database_size = j.at("database_size").get<std::uint64_t>();
  m.repository_size = j.at("repository_size").get<std::uint64_t>();
  m.duration_seconds = j.at("duration_seconds").get<double>();
  for (const json& d : j.at("directories")) {
    m.directories.push_back({d.at("path").get<std::string>(), d.at("mode").get<std::uint32_t>()});
  }
  for (const json& t : j.at("tablespaces")) {
    m.tablespaces.push_back({t.at("oid").get<std::string>(), t.at("location").get<std::string>()});
  }
  for (const json& f : j.at("files")) m.files.push_back(FileFromJson(f));
  return m;
}

}  // namespace

json ManifestToJson(const Manifest& m) {
  json dirs = json::array();
  for (const DirectoryEntry& d : m.directories) dirs.push_back({{"path", d.path}, {"mode", d.mode}});
  json spcs = json::array();
  for (const TablespaceEntry& t : m.tablespaces) {
    spcs.push_back({{"oid", t.oid}, {"location", t.location}});
  }
  json files = json::array();
  for (const FileEntry& f : m.files) files.push_back(FileToJson(f));
  return {{"label", m.label}, {"type", m.type}, {"start_lsn", m.start_lsn},
          {"stop_lsn", m.stop_lsn}, {"start_time", m.start_time}, {"stop_time", m.stop_time},
          {"stop_time_micros", m.stop_time_micros},
          {"timeline", m.timeline}, {"system_identifier", m.system_identifier},
          {"pg_version_num", m.pg_version_num}, {"tool_version", m.tool_version},
          {"data_checksums", m.data_checksums},
          {"compression", std::string(CompressionName(m.compression))},
          {"compression_level", m.compression_level}, {"chunk_size", m.chunk_size},
          {"database_size", m.database_size}, {"repository_size", m.repository_size},
          {"duration_seconds", m.duration_seconds}, {"directories", std::move(dirs)},
          {"tablespaces", std::move(spcs)}, {"files", std::move(files)}};
}

Manifest ManifestFromJson(const json& j, std::string_view what) {
  try {
    return FromJsonUnchecked(j);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("manifest '{}' is malformed: {}", what, e.what()),
                "the backup cannot be trusted; remove it and take a new backup");
  }
}

std::string CombineChunkChecksums(const std::vector<ChunkEntry>& chunks) {
  if (chunks.size() == 1) return chunks.front().sha256;
  Sha256 sha;
  for (const ChunkEntry& c : chunks) sha.Update(c.sha256);
  return sha.Finish();
}

std::string ChunkObjectPath(const std::string& label, const FileEntry& file, std::size_t index,
                            Compression compression) {
  const std::string_view ext = CompressionExtension(compression);
  if (file.chunks.size() <= 1) return fmt::format("backup/{}/data/{}{}", label, file.path, ext);
  return fmt::format("backup/{}/data/{}.part{}{}", label, file.path, index, ext);
}

}  // namespace dbmedic::repo
