// Encryption at rest: the repository's data key and how it is protected.
//
// `repo init` with repository.cipher = aes-256-gcm draws a random 256-bit data key and stores it
// in repo.json only wrapped (AES-256-GCM) under a key-encryption key derived from the
// passphrase (repository.passphrase) or key file (repository.key_file) with PBKDF2-HMAC-SHA256
// and a random salt. Opening the repository unwraps the data key; the GCM tag of the wrapped key
// is the key check: a wrong passphrase is refused there, before anything is read or written.
// Neither the passphrase nor any key is ever logged or stored in clear.
// See docs/formats/encryption.md.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace dbmedic::core {
class Config;
}

namespace dbmedic::repo {

inline constexpr std::size_t kKeyBytes = 32;

// A 256-bit key, wiped when destroyed.
class SecretKey {
 public:
  SecretKey() = default;
  ~SecretKey();
  SecretKey(const SecretKey& other) = default;
  SecretKey& operator=(const SecretKey& other) = default;
  const unsigned char* data() const { return bytes_.data(); }
  unsigned char* data() { return bytes_.data(); }

 private:
  std::array<unsigned char, kKeyBytes> bytes_{};
};

// The secret the user gives: passphrase text, or the content of a key file.
struct KeySecret {
  enum class Kind { kPassphrase, kKeyFile };
  Kind kind = Kind::kPassphrase;
  std::string material;
  std::string origin;  // where it came from, for messages ("key file /etc/k", "passphrase")
  ~KeySecret();
};

// The secret configured by repository.passphrase or repository.key_file; nullopt when neither
// is set. Throws Error(kConfig) when both are set, the key file cannot be read, is group- or
// world-readable, or holds fewer than 32 bytes; Error(kConfig) for an empty passphrase.
std::optional<KeySecret> KeySecretFromConfig(const core::Config& config);

// The "encryption" object of repo.json for a new repository, and its data key.
struct NewEncryption {
  nlohmann::json header;
  SecretKey data_key;
};
// Throws Error(kConfig) for a passphrase shorter than 8 characters.
NewEncryption CreateEncryption(const KeySecret& secret);

// Unwraps the data key. Throws Error(kRepository) "wrong passphrase / key file" when the key
// check fails, Error(kCorrupt) for a malformed header, Error(kUnsupported) for an unknown cipher.
SecretKey UnlockEncryption(const nlohmann::json& header, const KeySecret& secret,
                           std::string_view where);

// AES-256-GCM of one whole object: magic "DBMX", version 1, 12-byte random nonce, ciphertext,
// 16-byte tag. Open throws Error(kCorrupt) naming `what` when the tag does not verify (altered,
// truncated, or encrypted with another key) or the header is not ours.
inline constexpr std::size_t kSealOverhead = 4 + 1 + 12 + 16;
std::string SealObject(const SecretKey& key, std::string_view plain);

// The same format, produced piece by piece (large objects are never held in memory on write):
// Begin() returns the header, Update() ciphertext, Finish() the tag.
class ObjectSealer {
 public:
  explicit ObjectSealer(const SecretKey& key);
  ~ObjectSealer();
  ObjectSealer(const ObjectSealer&) = delete;
  ObjectSealer& operator=(const ObjectSealer&) = delete;
  std::string Begin();
  std::string Update(std::string_view plain);
  std::string Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
std::string OpenObject(const SecretKey& key, std::string_view sealed, std::string_view what);

}  // namespace dbmedic::repo
