#include "repo/crypto_storage.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/config.hpp"
#include "core/error.hpp"
#include "repo/metadata.hpp"

namespace dbmedic::repo {
namespace {

class SealingWriteStream : public storage::WriteStream {
 public:
  SealingWriteStream(std::unique_ptr<storage::WriteStream> inner, const SecretKey& key)
      : inner_(std::move(inner)), sealer_(key) {
    inner_->Write(sealer_.Begin());
  }
  void Write(std::string_view data) override { inner_->Write(sealer_.Update(data)); }
  void Commit() override {
    inner_->Write(sealer_.Finish());
    inner_->Commit();
  }

 private:
  std::unique_ptr<storage::WriteStream> inner_;
  ObjectSealer sealer_;
};

}  // namespace

bool EncryptedStorage::IsClear(std::string_view path) { return path == "repo.json"; }

std::unique_ptr<storage::ReadStream> EncryptedStorage::OpenRead(std::string_view path) const {
  if (IsClear(path)) return inner_->OpenRead(path);
  const std::string sealed = inner_->ReadAll(path);
  return std::make_unique<storage::StringReadStream>(
      OpenObject(key_, sealed, inner_->Describe(path)));
}

std::unique_ptr<storage::WriteStream> EncryptedStorage::OpenWrite(std::string_view path,
                                                                  storage::Durability durability) {
  if (IsClear(path)) return inner_->OpenWrite(path, durability);
  return std::make_unique<SealingWriteStream>(inner_->OpenWrite(path, durability), key_);
}

}  // namespace dbmedic::repo

namespace dbmedic::repo {
namespace {

// The encryption settings of the repository in `storage`, null when there are none (or no
// repository yet: Repository::Open reports that).
nlohmann::json PeekEncryption(const storage::Storage& storage) {
  constexpr std::string_view kInfo = "repo.json";
  if (!storage.Exists(kInfo)) return nullptr;
  const nlohmann::json content =
      UnsealMetadata(storage.ReadAll(kInfo), storage.Describe(kInfo));
  if (!content.is_object() || !content.contains("encryption")) return nullptr;
  return content.at("encryption");
}

}  // namespace

std::unique_ptr<storage::Storage> OpenRepositoryStorage(const core::Config& config) {
  std::unique_ptr<storage::Storage> inner = storage::OpenStorage(config);
  const nlohmann::json header = PeekEncryption(*inner);
  const std::optional<KeySecret> secret = KeySecretFromConfig(config);
  if (header.is_null()) {
    if (secret) spdlog::warn("repository '{}' is not encrypted; the {} is not used",
                             inner->Describe(""), secret->origin);
    return inner;
  }
  const std::string where = inner->Describe("");
  if (!secret) {
    throw Error(ErrorCode::kRepository,
                fmt::format("repository '{}' is encrypted and no passphrase or key file is "
                            "configured",
                            where),
                "set repository.passphrase (config file or DBMEDIC_REPOSITORY_PASSPHRASE) or "
                "repository.key_file");
  }
  const SecretKey key = UnlockEncryption(header, *secret, where);
  return std::make_unique<EncryptedStorage>(std::move(inner), key);
}

InitStorage OpenStorageForInit(const core::Config& config) {
  InitStorage out;
  out.storage = storage::OpenStorage(config);
  const std::string cipher = config.String("repository.cipher");
  const std::optional<KeySecret> secret = KeySecretFromConfig(config);
  if (cipher == "none") {
    if (secret) {
      throw Error(ErrorCode::kConfig,
                  fmt::format("a {} is configured but repository.cipher is none", secret->origin),
                  "set repository.cipher = \"aes-256-gcm\" to encrypt the repository, or remove "
                  "the passphrase / key file");
    }
    out.encryption = nullptr;
    return out;
  }
  if (!secret) {
    throw Error(ErrorCode::kConfig,
                fmt::format("repository.cipher is {} but no passphrase or key file is configured",
                            cipher),
                "set repository.passphrase (config file or DBMEDIC_REPOSITORY_PASSPHRASE) or "
                "repository.key_file");
  }
  NewEncryption created = CreateEncryption(*secret);
  out.encryption = std::move(created.header);
  out.storage = std::make_unique<EncryptedStorage>(std::move(out.storage), created.data_key);
  return out;
}

}  // namespace dbmedic::repo
