#include "repo/repository.hpp"

#include <map>

#include <fmt/format.h>

#include "core/error.hpp"
#include "repo/metadata.hpp"

namespace dbmedic::repo {
namespace {

using nlohmann::json;
constexpr std::string_view kRepoInfoPath = "repo.json";

json InfoToJson(const RepoInfo& info) {
  json j = {{"format_version", info.format_version},
            {"system_identifier", info.system_identifier},
            {"pg_version_num", info.pg_version_num},
            {"compression", std::string(CompressionName(info.codec.compression))},
            {"compression_level", info.codec.level},
            {"created", info.created}};
  if (!info.encryption.is_null()) j["encryption"] = info.encryption;
  return j;
}

RepoInfo InfoFromJson(const json& j, const std::string& what) {
  RepoInfo info;
  try {
    info.format_version = j.at("format_version").get<int>();
    if (info.format_version > kFormatVersion) {
      throw Error(ErrorCode::kUnsupported,
                  fmt::format("repository '{}' has format version {}, this dbmedic reads up to {}",
                              what, info.format_version, kFormatVersion),
                  "use a newer dbmedic for this repository");
    }
    info.system_identifier = j.at("system_identifier").get<std::string>();
    info.pg_version_num = j.at("pg_version_num").get<int>();
    auto compression = ParseCompression(j.at("compression").get<std::string>());
    if (!compression) throw std::invalid_argument("unknown compression");
    info.codec = {*compression, j.at("compression_level").get<int>()};
    info.created = j.at("created").get<std::int64_t>();
    if (j.contains("encryption")) info.encryption = j.at("encryption");
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kCorrupt, fmt::format("'{}' is malformed: {}", what, e.what()),
                "restore repo.json from a copy of the repository");
  } catch (const std::invalid_argument& e) {
    throw Error(ErrorCode::kCorrupt, fmt::format("'{}' is malformed: {}", what, e.what()),
                "restore repo.json from a copy of the repository");
  }
  return info;
}

Error OtherCluster(const std::string& where, const std::string& repo_id,
                   const std::string& cluster_id) {
  return Error(ErrorCode::kRepository,
               fmt::format("repository '{}' belongs to the cluster with system identifier {}, not "
                           "to this cluster (system identifier {})",
                           where, repo_id, cluster_id),
               "point repository.path at this cluster's own repository, or run 'dbmedic repo "
               "init' on an empty directory");
}

}  // namespace

Repository Repository::Init(std::unique_ptr<storage::Storage> storage, RepoInfo info) {
  const std::string where = storage->Describe("");
  if (storage->Exists(kRepoInfoPath)) {
    Repository existing = Open(std::move(storage));
    existing.CheckCluster(info.system_identifier);
    throw Error(ErrorCode::kConflict,
                fmt::format("repository '{}' is already initialised for this cluster", where),
                "nothing to do; run 'dbmedic backup'");
  }
  if (!storage->List("").empty()) {
    throw Error(ErrorCode::kConflict,
                fmt::format("directory '{}' is not empty and holds no repository", where),
                "choose an empty directory for the repository");
  }
  info.format_version = kFormatVersion;
  storage->WriteAtomic(kRepoInfoPath, SealMetadata(InfoToJson(info)));
  return Repository(std::move(storage), std::move(info));
}

Repository Repository::Open(std::unique_ptr<storage::Storage> storage) {
  const std::string what = storage->Describe(kRepoInfoPath);
  if (!storage->Exists(kRepoInfoPath)) {
    throw Error(ErrorCode::kRepository,
                fmt::format("no repository at '{}' (repo.json is missing)", storage->Describe("")),
                "run 'dbmedic repo init' first, or fix repository.path");
  }
  RepoInfo info = InfoFromJson(UnsealMetadata(storage->ReadAll(kRepoInfoPath), what), what);
  return Repository(std::move(storage), std::move(info));
}

void Repository::CheckCluster(const std::string& system_identifier) const {
  if (system_identifier != info_.system_identifier) {
    throw OtherCluster(storage_->Describe(""), info_.system_identifier, system_identifier);
  }
}

// One level of the backup directory, each label with whether its manifest is there: listing
// every object below it would read every chunk of every backup (on S3, a request per thousand
// objects).
Repository::Listing Repository::ListBackupDirs() const {
  Listing listing;
  for (storage::DirectoryInfo& dir : storage_->ListDirectories("backup", kManifestName)) {
    (dir.holds_marker ? listing.complete : listing.incomplete).push_back(std::move(dir.name));
  }
  return listing;
}

std::vector<std::string> Repository::ListBackups() const { return ListBackupDirs().complete; }
std::vector<std::string> Repository::ListIncomplete() const { return ListBackupDirs().incomplete; }

std::optional<std::string> Repository::LatestBackup() const {
  std::vector<std::string> labels = ListBackups();
  if (labels.empty()) return std::nullopt;
  return labels.back();
}

Manifest Repository::LoadManifest(const std::string& label) const {
  const std::string path = ManifestPath(label);
  if (label.empty() || label.find('/') != std::string::npos || !storage_->Exists(path)) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("backup '{}' does not exist in repository '{}'", label,
                            storage_->Describe("")),
                "list the backups with 'dbmedic info'");
  }
  const std::string what = storage_->Describe(path);
  Manifest manifest = ManifestFromJson(UnsealMetadata(storage_->ReadAll(path), what), what);
  if (manifest.label != label) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("manifest '{}' describes backup '{}'", what, manifest.label),
                "the backup directory was renamed or copied; remove it");
  }
  return manifest;
}

void Repository::SaveManifest(const Manifest& manifest) {
  storage_->WriteAtomic(ManifestPath(manifest.label), SealMetadata(ManifestToJson(manifest)));
}

void Repository::RemoveBackup(const std::string& label) {
  // The manifest goes first, so a crash half-way leaves an incomplete (unlisted) directory.
  storage_->Remove(ManifestPath(label));
  storage_->RemoveTree(BackupDir(label));
}

}  // namespace dbmedic::repo
