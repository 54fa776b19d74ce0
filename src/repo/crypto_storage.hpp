// A Storage that encrypts every object (AES-256-GCM, crypto_key.hpp) on its way to the inner
// storage and authenticates it on the way back, except repo.json, which must stay readable to
// find the wrapped key. Callers above (backup, WAL archive, restore, verify) are unchanged.
//
// Reads: an object is read whole and authenticated before the first byte is handed out, so
// nothing unauthenticated is ever used (objects are chunks of backup.chunk_size, WAL segments,
// metadata: bounded). Writes stream through the cipher. Listed sizes are stored (encrypted) sizes.
// Thread safety: as Storage.
#pragma once

#include <memory>

#include "repo/crypto_key.hpp"
#include "storage/storage.hpp"

namespace dbmedic::repo {

class EncryptedStorage : public storage::Storage {
 public:
  EncryptedStorage(std::unique_ptr<storage::Storage> inner, const SecretKey& key)
      : inner_(std::move(inner)), key_(key) {}

  std::vector<storage::ObjectInfo> List(std::string_view dir) const override {
    return inner_->List(dir);
  }
  std::vector<storage::DirectoryInfo> ListDirectories(std::string_view dir,
                                                      std::string_view marker = {}) const override {
    return inner_->ListDirectories(dir, marker);
  }
  bool Exists(std::string_view path) const override { return inner_->Exists(path); }
  // Throws Error(kCorrupt) naming the object when it fails authentication.
  std::unique_ptr<storage::ReadStream> OpenRead(std::string_view path) const override;
  std::unique_ptr<storage::WriteStream> OpenWrite(
      std::string_view path,
      storage::Durability durability = storage::Durability::kImmediate) override;
  void Sync(std::string_view dir) override { inner_->Sync(dir); }
  void Remove(std::string_view path) override { inner_->Remove(path); }
  void RemoveTree(std::string_view dir) override { inner_->RemoveTree(dir); }
  std::string Describe(std::string_view path) const override { return inner_->Describe(path); }
  // The lock lives in the storage underneath (flock on a local repository), so two processes
  // on an encrypted repository exclude each other too.
  std::unique_ptr<storage::ObjectLock> TryLock(std::string_view path,
                                               std::string_view holder) override {
    return inner_->TryLock(path, holder);
  }

  // Objects that stay in clear (repo.json).
  static bool IsClear(std::string_view path);

 private:
  std::unique_ptr<storage::Storage> inner_;
  SecretKey key_;
};

// The configured storage, wrapped for encryption when the repository is encrypted (its repo.json
// carries encryption settings), unlocked with the configured secret. Throws Error(kRepository)
// when the repository is encrypted and no secret is configured or the secret is wrong; nothing
// is written before that check.
std::unique_ptr<storage::Storage> OpenRepositoryStorage(const core::Config& config);

// For `repo init`: the storage (wrapped when repository.cipher is aes-256-gcm) and the encryption
// settings to record in repo.json (null when not encrypted). Throws Error(kConfig) for a cipher
// without a secret, or a secret without a cipher.
struct InitStorage {
  std::unique_ptr<storage::Storage> storage;
  nlohmann::json encryption;
};
InitStorage OpenStorageForInit(const core::Config& config);

}  // namespace dbmedic::repo
