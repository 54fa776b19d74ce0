#include "repo/crypto_key.hpp"

#include <string.h>  // explicit_bzero
#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/config.hpp"
#include "core/error.hpp"

namespace dbmedic::repo {
namespace {

// Overwrites a secret so it does not linger in freed memory: glibc's explicit_bzero, which the
// compiler cannot drop.
void Wipe(void* data, std::size_t size) { explicit_bzero(data, size); }

constexpr std::string_view kMagic = "DBMX";
constexpr unsigned char kObjectVersion = 1;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kMinKeyFileBytes = 32;
constexpr std::size_t kMinPassphrase = 8;
// PBKDF2 rounds: a passphrase is guessable, so make each guess cost; a key file already holds
// 256 bits of entropy, so one round is enough (every `wal push` derives the key again).
constexpr int kPassphraseIterations = 100000;
constexpr int kKeyFileIterations = 1;
constexpr std::string_view kCipher = "aes-256-gcm";
constexpr std::string_view kKdf = "pbkdf2-hmac-sha256";

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

Error Crypto(std::string_view what) {
  return Error(ErrorCode::kInternal, fmt::format("OpenSSL failed to {}", what));
}

std::string Hex(const unsigned char* data, std::size_t size) {
  std::string out;
  for (std::size_t i = 0; i < size; ++i) out += fmt::format("{:02x}", data[i]);
  return out;
}

std::string Unhex(const std::string& hex, std::string_view what) {
  if (hex.size() % 2 != 0) throw Error(ErrorCode::kCorrupt, fmt::format("bad hex in {}", what));
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

std::string RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw Crypto("draw random bytes");
  }
  return out;
}

SecretKey DeriveKey(const KeySecret& secret, const std::string& salt, int iterations) {
  SecretKey key;
  if (PKCS5_PBKDF2_HMAC(secret.material.data(), static_cast<int>(secret.material.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(kKeyBytes), key.data()) != 1) {
    throw Crypto("derive the key (PBKDF2)");
  }
  return key;
}

// Decrypts `sealed` (header, ciphertext, tag); nullopt when the tag does not verify.
std::optional<std::string> TryOpen(const SecretKey& key, std::string_view sealed) {
  if (sealed.size() < kSealOverhead || sealed.substr(0, 4) != kMagic ||
      static_cast<unsigned char>(sealed[4]) != kObjectVersion) {
    return std::nullopt;
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data() + 5);
  const std::string_view body = sealed.substr(5 + kNonceBytes,
                                              sealed.size() - kSealOverhead);
  std::string tag(sealed.substr(sealed.size() - kTagBytes));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) != 1) {
    throw Crypto("start AES-256-GCM decryption");
  }
  std::string plain(body.size(), '\0');
  int n = 0;
  if (!body.empty() &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &n,
                        reinterpret_cast<const unsigned char*>(body.data()),
                        static_cast<int>(body.size())) != 1) {
    return std::nullopt;
  }
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag.data());
  int final_n = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + n,
                          &final_n) != 1) {
    Wipe(plain.data(), plain.size());
    return std::nullopt;
  }
  return plain;
}

std::string ReadKeyFile(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw SystemError(errno, "read key file", path.string());
  if ((st.st_mode & 077) != 0) {
    throw Error(ErrorCode::kConfig,
                fmt::format("key file '{}' is readable by other users (mode {:o})", path.string(),
                            st.st_mode & 0777),
                fmt::format("chmod 600 {}", path.string()));
  }
  std::ifstream in(path, std::ios::binary);
  std::string material((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (material.size() < kMinKeyFileBytes) {
    throw Error(ErrorCode::kConfig,
                fmt::format("key file '{}' holds {} bytes, at least {} are needed", path.string(),
                            material.size(), kMinKeyFileBytes),
                "create one with: head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE");
  }
  return material;
}

}  // namespace

SecretKey::~SecretKey() { Wipe(bytes_.data(), bytes_.size()); }
KeySecret::~KeySecret() { Wipe(material.data(), material.size()); }

std::optional<KeySecret> KeySecretFromConfig(const core::Config& config) {
  const bool has_pass = config.Has("repository.passphrase");
  const bool has_file = config.Has("repository.key_file");
  if (has_pass && has_file) {
    throw Error(ErrorCode::kConfig,
                "both repository.passphrase and repository.key_file are set",
                "set only the one the repository was initialised with");
  }
  KeySecret secret;
  if (has_file) {
    const std::filesystem::path path = config.Path("repository.key_file");
    secret.kind = KeySecret::Kind::kKeyFile;
    secret.material = ReadKeyFile(path);
    secret.origin = fmt::format("key file '{}'", path.string());
    return secret;
  }
  if (!has_pass) return std::nullopt;
  secret.material = config.String("repository.passphrase");
  secret.origin = "passphrase";
  return secret;
}

NewEncryption CreateEncryption(const KeySecret& secret) {
  if (secret.kind == KeySecret::Kind::kPassphrase && secret.material.size() < kMinPassphrase) {
    throw Error(ErrorCode::kConfig,
                fmt::format("the passphrase is shorter than {} characters", kMinPassphrase),
                "choose a longer passphrase, or a key file (repository.key_file)");
  }
  const int iterations = secret.kind == KeySecret::Kind::kKeyFile ? kKeyFileIterations
                                                                   : kPassphraseIterations;
  const std::string salt = RandomBytes(kSaltBytes);
  const SecretKey wrapping = DeriveKey(secret, salt, iterations);
  NewEncryption out;
  std::string data_key = RandomBytes(kKeyBytes);
  std::copy(data_key.begin(), data_key.end(), out.data_key.data());
  const std::string wrapped = SealObject(wrapping, data_key);
  Wipe(data_key.data(), data_key.size());
  out.header = {{"cipher", kCipher},
                {"kdf", kKdf},
                {"iterations", iterations},
                {"key_source", secret.kind == KeySecret::Kind::kKeyFile ? "key_file"
                                                                        : "passphrase"},
                {"salt", Hex(reinterpret_cast<const unsigned char*>(salt.data()), salt.size())},
                {"wrapped_key",
                 Hex(reinterpret_cast<const unsigned char*>(wrapped.data()), wrapped.size())}};
  return out;
}

SecretKey UnlockEncryption(const nlohmann::json& header, const KeySecret& secret,
                           std::string_view where) {
  std::string salt;
  std::string wrapped;
  int iterations = 0;
  std::string source;
  try {
    if (header.at("cipher").get<std::string>() != kCipher ||
        header.at("kdf").get<std::string>() != kKdf) {
      throw Error(ErrorCode::kUnsupported,
                  fmt::format("repository '{}' uses cipher {} / {}, this dbmedic knows {} / {}",
                              where, header.at("cipher").dump(), header.at("kdf").dump(), kCipher,
                              kKdf),
                  "use a newer dbmedic for this repository");
    }
    iterations = header.at("iterations").get<int>();
    source = header.at("key_source").get<std::string>();
    salt = Unhex(header.at("salt").get<std::string>(), "repo.json salt");
    wrapped = Unhex(header.at("wrapped_key").get<std::string>(), "repo.json wrapped_key");
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("encryption settings of repository '{}' are malformed: {}", where,
                            e.what()));
  }
  const SecretKey wrapping = DeriveKey(secret, salt, iterations);
  std::optional<std::string> data_key = TryOpen(wrapping, wrapped);
  if (!data_key || data_key->size() != kKeyBytes) {
    throw Error(ErrorCode::kRepository,
                fmt::format("the {} does not unlock encrypted repository '{}' (key check failed)",
                            secret.origin, where),
                fmt::format("the repository was initialised with a {}; give the same one "
                            "(repository.passphrase or repository.key_file)",
                            source == "key_file" ? "key file" : "passphrase"));
  }
  SecretKey key;
  std::copy(data_key->begin(), data_key->end(), key.data());
  Wipe(data_key->data(), data_key->size());
  return key;
}

struct ObjectSealer::Impl {
  CipherCtx ctx{EVP_CIPHER_CTX_new()};
  SecretKey key;
};

ObjectSealer::ObjectSealer(const SecretKey& key) : impl_(std::make_unique<Impl>()) {
  impl_->key = key;
  if (!impl_->ctx) throw Crypto("allocate a cipher context");
}

ObjectSealer::~ObjectSealer() = default;

std::string ObjectSealer::Begin() {
  const std::string nonce = RandomBytes(kNonceBytes);
  if (EVP_EncryptInit_ex(impl_->ctx.get(), EVP_aes_256_gcm(), nullptr, impl_->key.data(),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1) {
    throw Crypto("start AES-256-GCM encryption");
  }
  std::string header(kMagic);
  header += static_cast<char>(kObjectVersion);
  return header + nonce;
}

std::string ObjectSealer::Update(std::string_view plain) {
  std::string out(plain.size(), '\0');
  int n = 0;
  if (!plain.empty() &&
      EVP_EncryptUpdate(impl_->ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n,
                        reinterpret_cast<const unsigned char*>(plain.data()),
                        static_cast<int>(plain.size())) != 1) {
    throw Crypto("encrypt");
  }
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string ObjectSealer::Finish() {
  unsigned char scratch[16];
  int n = 0;
  if (EVP_EncryptFinal_ex(impl_->ctx.get(), scratch, &n) != 1) throw Crypto("finish encryption");
  std::string tag(kTagBytes, '\0');
  if (EVP_CIPHER_CTX_ctrl(impl_->ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          tag.data()) != 1) {
    throw Crypto("read the GCM tag");
  }
  return tag;
}

std::string SealObject(const SecretKey& key, std::string_view plain) {
  ObjectSealer sealer(key);
  std::string out = sealer.Begin();
  out += sealer.Update(plain);
  out += sealer.Finish();
  return out;
}

std::string OpenObject(const SecretKey& key, std::string_view sealed, std::string_view what) {
  std::optional<std::string> plain = TryOpen(key, sealed);
  if (!plain) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("encrypted object '{}' failed authentication: it was altered or "
                            "truncated after it was written, or encrypted with another key",
                            what),
                "restore the object from another copy of the repository, or run 'dbmedic "
                "verify' to find every damaged object");
  }
  return std::move(*plain);
}

}  // namespace dbmedic::repo
