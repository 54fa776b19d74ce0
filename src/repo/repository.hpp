// A backup repository: self-describing (repo.json: format version, the cluster's system
// identifier, PostgreSQL version, default compression), bound to exactly one cluster. Layout:
//   repo.json                         sealed metadata (see metadata.hpp)
//   backup/<label>/manifest.json      written last; its presence makes the backup exist
//   backup/<label>/data/<path>[.partN][.zst|.lz4]
//   archive/<timeline>/...            reserved for the WAL archive
// See docs/formats/repository.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "repo/codec.hpp"
#include "repo/manifest.hpp"
#include "storage/storage.hpp"

namespace dbmedic::repo {

inline constexpr int kFormatVersion = 1;
inline constexpr std::string_view kToolVersion = "0.1.0";

struct RepoInfo {
  int format_version = kFormatVersion;
  std::string system_identifier;  // decimal, as pg_control_system() prints it
  int pg_version_num = 0;         // e.g. 150020
  CodecSettings codec;
  std::int64_t created = 0;  // seconds since the epoch
  // Encryption settings (crypto_key.hpp: cipher, KDF, salt, wrapped data key); null when the
  // repository is not encrypted. Never holds a key in clear.
  nlohmann::json encryption;
};

class Repository {
 public:
  // Writes repo.json. Throws Error(kConflict) if the storage already holds a repository (of this
  // cluster: "already initialised"; of another: kRepository naming both identifiers).
  static Repository Init(std::unique_ptr<storage::Storage> storage, RepoInfo info);
  // Reads repo.json. Throws Error(kRepository) when there is none (hint: repo init),
  // Error(kUnsupported) for a newer format, Error(kCorrupt) for a damaged one.
  static Repository Open(std::unique_ptr<storage::Storage> storage);

  const RepoInfo& info() const { return info_; }
  storage::Storage& storage() const { return *storage_; }

  // Throws Error(kRepository) naming both identifiers if `system_identifier` is not the one the
  // repository was initialised for.
  void CheckCluster(const std::string& system_identifier) const;

  // Labels of backups whose manifest is committed, oldest first (labels sort by time).
  std::vector<std::string> ListBackups() const;
  // Labels of backup directories without a committed manifest (interrupted backups).
  std::vector<std::string> ListIncomplete() const;
  // Throws Error(kNotFound) naming the label (hint: dbmedic info) when there is no such backup.
  Manifest LoadManifest(const std::string& label) const;
  // The newest backup, or nullopt for an empty repository.
  std::optional<std::string> LatestBackup() const;
  void SaveManifest(const Manifest& manifest);
  void RemoveBackup(const std::string& label);

  static std::string BackupDir(const std::string& label) { return "backup/" + label; }
  static constexpr std::string_view kManifestName = "manifest.json";
  static std::string ManifestPath(const std::string& label) {
    return BackupDir(label) + "/" + std::string(kManifestName);
  }

 private:
  Repository(std::unique_ptr<storage::Storage> storage, RepoInfo info)
      : storage_(std::move(storage)), info_(std::move(info)) {}
  struct Listing {
    std::vector<std::string> complete;
    std::vector<std::string> incomplete;
  };
  Listing ListBackupDirs() const;

  std::unique_ptr<storage::Storage> storage_;
  RepoInfo info_;
};

}  // namespace dbmedic::repo
