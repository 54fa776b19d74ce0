#include "repo/manifest.hpp"

#include <set>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::repo {
namespace {

using nlohmann::json;

json ChunkToJson(const ChunkEntry& c) {
  json j = {{"offset", c.offset}, {"size", c.size}, {"stored_size", c.stored_size},
            {"sha256", c.sha256}};
  // Only references carry these: full backups' manifests keep their earlier shape.
  if (!c.backup.empty()) j["backup"] = c.backup;
  if (!c.object.empty()) j["object"] = c.object;
  if (c.compression) j["compression"] = std::string(CompressionName(*c.compression));
  return j;
}

json OverlayToJson(const PageOverlay& o) {
  json runs = json::array();
  for (const auto& [first, count] : o.runs) runs.push_back({first, count});
  return {{"chunk", ChunkToJson(o.chunk)}, {"runs", std::move(runs)}};
}

json FileToJson(const FileEntry& f) {
  json chunks = json::array();
  for (const ChunkEntry& c : f.chunks) chunks.push_back(ChunkToJson(c));
  json j = {{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}, {"mode", f.mode},
            {"mtime", f.mtime}, {"chunks", std::move(chunks)}};
  if (!f.pages.empty()) {
    json pages = json::array();
    for (const PageOverlay& o : f.pages) pages.push_back(OverlayToJson(o));
    j["pages"] = std::move(pages);
  }
  return j;
}

ChunkEntry ChunkFromJson(const json& j) {
  ChunkEntry c;
  c.offset = j.at("offset").get<std::uint64_t>();
  c.size = j.at("size").get<std::uint64_t>();
  c.stored_size = j.at("stored_size").get<std::uint64_t>();
  c.sha256 = j.at("sha256").get<std::string>();
  c.backup = j.value("backup", std::string());
  c.object = j.value("object", std::string());
  if (j.contains("compression")) {
    c.compression = ParseCompression(j.at("compression").get<std::string>());
    if (!c.compression) throw std::invalid_argument("unknown compression of a chunk");
  }
  if (!c.backup.empty() && (c.object.empty() || !c.compression)) {
    throw std::invalid_argument("incomplete chunk reference");
  }
  return c;
}

PageOverlay OverlayFromJson(const json& j) {
  PageOverlay o;
  o.chunk = ChunkFromJson(j.at("chunk"));
  for (const json& r : j.at("runs")) {
    o.runs.emplace_back(r.at(0).get<std::uint32_t>(), r.at(1).get<std::uint32_t>());
  }
  if (o.chunk.object.empty()) throw std::invalid_argument("page overlay without object");
  return o;
}

FileEntry FileFromJson(const json& j) {
  FileEntry f;
  f.path = j.at("path").get<std::string>();
  f.size = j.at("size").get<std::uint64_t>();
  f.sha256 = j.at("sha256").get<std::string>();
  f.mode = j.at("mode").get<std::uint32_t>();
  f.mtime = j.at("mtime").get<std::int64_t>();
  for (const json& c : j.at("chunks")) f.chunks.push_back(ChunkFromJson(c));
  if (j.contains("pages")) {
    for (const json& o : j.at("pages")) f.pages.push_back(OverlayFromJson(o));
  }
  if (f.chunks.empty()) throw std::invalid_argument("file without chunks: " + f.path);
  return f;
}

Manifest FromJsonUnchecked(const json& j) {
  Manifest m;
  m.label = j.at("label").get<std::string>();
  m.type = j.at("type").get<std::string>();
  // Manifests written before differential / incremental backups existed are full backups.
  m.requested_type = j.value("requested_type", m.type);
  m.reference = j.value("reference", std::string());
  m.chain = j.value("chain", std::vector<std::string>{});
  if (m.type != "full" && m.reference.empty()) {
    throw std::invalid_argument("a " + m.type + " backup without a reference");
  }
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
  return {{"label", m.label}, {"type", m.type}, {"requested_type", m.requested_type},
          {"reference", m.reference}, {"chain", m.chain}, {"start_lsn", m.start_lsn},
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

std::string OverlayObjectPath(const std::string& label, const FileEntry& file, std::size_t index,
                              Compression compression) {
  // ".pages" never ends a relation file's name, so it cannot meet ChunkObjectPath's names.
  return fmt::format("backup/{}/data/{}.pages{}{}", label, file.path, index,
                     CompressionExtension(compression));
}

ChunkLocation LocateChunk(const Manifest& manifest, const FileEntry& file, std::size_t index) {
  const ChunkEntry& c = file.chunks.at(index);
  if (!c.backup.empty()) return {c.backup, c.object, *c.compression};
  return {manifest.label, ChunkObjectPath(manifest.label, file, index, manifest.compression),
          manifest.compression};
}

ChunkLocation LocateOverlay(const Manifest& manifest, const PageOverlay& overlay) {
  const ChunkEntry& c = overlay.chunk;
  if (!c.backup.empty()) return {c.backup, c.object, *c.compression};
  return {manifest.label, c.object, manifest.compression};
}

ChunkEntry AsReference(const ChunkEntry& chunk, const ChunkLocation& location) {
  ChunkEntry ref = chunk;
  ref.backup = location.backup;
  ref.object = location.object;
  ref.compression = location.compression;
  return ref;
}

std::vector<std::string> ReferencedBackups(const Manifest& manifest) {
  std::set<std::string> labels;
  for (const FileEntry& f : manifest.files) {
    for (const ChunkEntry& c : f.chunks) {
      if (!c.backup.empty()) labels.insert(c.backup);
    }
    for (const PageOverlay& o : f.pages) {
      if (!o.chunk.backup.empty()) labels.insert(o.chunk.backup);
    }
  }
  labels.erase(manifest.label);
  return {labels.begin(), labels.end()};
}

}  // namespace dbmedic::repo
