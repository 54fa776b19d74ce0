#include "repo/cluster.hpp"

#include <chrono>

#include <fmt/format.h>

#include "core/error.hpp"
#include "repo/crypto_storage.hpp"
#include "storage/storage.hpp"

namespace dbmedic::repo {
namespace {

// libpq conninfo value quoting: single quotes, backslash-escaped.
std::string Quote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

pg::Connection ConnectCluster(const core::Config& config) {
  std::string conninfo = fmt::format("port={} user={} dbname={} application_name=dbmedic",
                                     config.Int("cluster.port"),
                                     Quote(config.String("cluster.user")),
                                     Quote(config.String("cluster.dbname")));
  if (auto host = config.Optional("cluster.host"); host && !host->empty()) {
    conninfo += " host=" + Quote(*host);
  }
  return pg::Connection::Open(conninfo);
}

ClusterIdentity ReadClusterIdentity(pg::Connection& conn) {
  ClusterIdentity id;
  id.system_identifier = conn.Scalar("SELECT system_identifier FROM pg_control_system()");
  id.pg_version_num = conn.ServerVersionNum();
  id.data_checksums = conn.Scalar("SHOW data_checksums") == "on";
  return id;
}

CodecSettings CodecFromConfig(const core::Config& config) {
  const std::string name = config.String("repository.compression");
  auto compression = ParseCompression(name);
  if (!compression) {
    throw Error(ErrorCode::kConfig, fmt::format("unknown compression '{}'", name),
                "set repository.compression to zstd, lz4 or none");
  }
  return {*compression, static_cast<int>(config.Int("repository.compression_level"))};
}

Repository InitRepository(const core::Config& config) {
  pg::Connection conn = ConnectCluster(config);
  const ClusterIdentity id = ReadClusterIdentity(conn);
  RepoInfo info;
  info.system_identifier = id.system_identifier;
  info.pg_version_num = id.pg_version_num;
  info.codec = CodecFromConfig(config);
  info.created = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  InitStorage init = OpenStorageForInit(config);
  info.encryption = std::move(init.encryption);
  return Repository::Init(std::move(init.storage), std::move(info));
}

Repository OpenRepository(const core::Config& config) {
  return Repository::Open(OpenRepositoryStorage(config));
}

}  // namespace dbmedic::repo
