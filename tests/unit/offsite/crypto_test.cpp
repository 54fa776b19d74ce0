// Encryption at rest: the object format, the wrapped data key, the encrypting storage and the
// repository open path (wrong or missing passphrase refused before anything is written).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "repo/crypto_key.hpp"
#include "repo/crypto_storage.hpp"
#include "repo/repository.hpp"
#include "storage/memory_storage.hpp"

namespace dbmedic::repo {
namespace {

KeySecret Passphrase(std::string text) {
  KeySecret s;
  s.material = std::move(text);
  s.origin = "passphrase";
  return s;
}

template <typename F>
Error Catch(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an Error";
  return Error(ErrorCode::kInternal, "none");
}

TEST(CryptoObjectTest, SealThenOpenRoundTrips) {
  const NewEncryption enc = CreateEncryption(Passphrase("correct horse battery"));
  const std::string plain(100000, 'x');
  const std::string sealed = SealObject(enc.data_key, plain);
  EXPECT_EQ(sealed.size(), plain.size() + kSealOverhead);
  EXPECT_EQ(sealed.find("xxxxxxxx"), std::string::npos);
  EXPECT_EQ(OpenObject(enc.data_key, sealed, "obj"), plain);
}

TEST(CryptoObjectTest, SameContentTwiceGivesDifferentCiphertext) {
  const NewEncryption enc = CreateEncryption(Passphrase("correct horse battery"));
  EXPECT_NE(SealObject(enc.data_key, "same"), SealObject(enc.data_key, "same"));
}

TEST(CryptoObjectTest, AFlippedBitIsDetected) {
  const NewEncryption enc = CreateEncryption(Passphrase("correct horse battery"));
  std::string sealed = SealObject(enc.data_key, std::string(1000, 'a'));
  sealed[500] ^= 0x01;
  const Error e = Catch([&] { OpenObject(enc.data_key, sealed, "backup/L/data/base/1/1259"); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
  EXPECT_STREQ(e.what(),
               "encrypted object 'backup/L/data/base/1/1259' failed authentication: it was "
               "altered or truncated after it was written, or encrypted with another key");
}

TEST(CryptoObjectTest, ATruncatedObjectIsDetected) {
  const NewEncryption enc = CreateEncryption(Passphrase("correct horse battery"));
  const std::string sealed = SealObject(enc.data_key, std::string(1000, 'a'));
  const Error e = Catch([&] { OpenObject(enc.data_key, sealed.substr(0, 600), "o"); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
}

TEST(CryptoObjectTest, AnotherKeyIsDetected) {
  const NewEncryption a = CreateEncryption(Passphrase("correct horse battery"));
  const NewEncryption b = CreateEncryption(Passphrase("correct horse battery"));
  const Error e = Catch([&] { OpenObject(b.data_key, SealObject(a.data_key, "data"), "o"); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
}

TEST(CryptoKeyTest, TheRightPassphraseUnlocksTheDataKey) {
  const NewEncryption enc = CreateEncryption(Passphrase("correct horse battery"));
  const SecretKey key = UnlockEncryption(enc.header, Passphrase("correct horse battery"), "/r");
  EXPECT_EQ(OpenObject(key, SealObject(enc.data_key, "data"), "o"), "data");
}

TEST(CryptoKeyTest, AWrongPassphraseIsRefused) {
  const NewEncryption enc = CreateEncryption(Passphrase("correct horse battery"));
  const Error e = Catch([&] { UnlockEncryption(enc.header, Passphrase("wrong horse"), "/r"); });
  EXPECT_EQ(e.code(), ErrorCode::kRepository);
  EXPECT_STREQ(e.what(),
               "the passphrase does not unlock encrypted repository '/r' (key check failed)");
}

TEST(CryptoKeyTest, TheHeaderHoldsNoSecretInClear) {
  const NewEncryption enc = CreateEncryption(Passphrase("correct horse battery"));
  const std::string text = enc.header.dump();
  EXPECT_EQ(text.find("correct horse"), std::string::npos);
  std::string key_hex;
  for (std::size_t i = 0; i < kKeyBytes; ++i) key_hex += fmt::format("{:02x}", enc.data_key.data()[i]);
  EXPECT_EQ(text.find(key_hex), std::string::npos);
  EXPECT_EQ(enc.header.at("cipher"), "aes-256-gcm");
  EXPECT_EQ(enc.header.at("kdf"), "pbkdf2-hmac-sha256");
}

TEST(CryptoKeyTest, AShortPassphraseIsRefused) {
  const Error e = Catch([&] { CreateEncryption(Passphrase("short")); });
  EXPECT_EQ(e.code(), ErrorCode::kConfig);
  EXPECT_STREQ(e.what(), "the passphrase is shorter than 8 characters");
}

TEST(CryptoKeyTest, AMalformedHeaderIsCorrupt) {
  nlohmann::json header = CreateEncryption(Passphrase("correct horse battery")).header;
  header.erase("salt");
  const Error e = Catch([&] { UnlockEncryption(header, Passphrase("correct horse battery"), "/r"); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
}

TEST(EncryptedStorageTest, StoresCiphertextAndReadsPlaintext) {
  auto inner = std::make_unique<storage::MemoryStorage>();
  storage::MemoryStorage* raw = inner.get();
  const NewEncryption enc = CreateEncryption(Passphrase("correct horse battery"));
  EncryptedStorage storage(std::move(inner), enc.data_key);
  {
    auto out = storage.OpenWrite("backup/L/data/PG_VERSION");
    out->Write("15\n");
    out->Write(std::string(5000, 'p'));
    out->Commit();
  }
  EXPECT_EQ(storage.ReadAll("backup/L/data/PG_VERSION"), "15\n" + std::string(5000, 'p'));
  EXPECT_EQ(raw->ReadAll("backup/L/data/PG_VERSION").find("ppppp"), std::string::npos);
}

TEST(EncryptedStorageTest, RepoJsonStaysInClear) {
  auto inner = std::make_unique<storage::MemoryStorage>();
  storage::MemoryStorage* raw = inner.get();
  EncryptedStorage storage(std::move(inner),
                           CreateEncryption(Passphrase("correct horse battery")).data_key);
  storage.WriteAtomic("repo.json", "{\"clear\": true}");
  EXPECT_EQ(raw->ReadAll("repo.json"), "{\"clear\": true}");
}

TEST(EncryptedStorageTest, ATamperedObjectIsCorruptNamingIt) {
  auto inner = std::make_unique<storage::MemoryStorage>();
  storage::MemoryStorage* raw = inner.get();
  EncryptedStorage storage(std::move(inner),
                           CreateEncryption(Passphrase("correct horse battery")).data_key);
  storage.WriteAtomic("archive/x", std::string(100, 'w'));
  std::string bytes = raw->ReadAll("archive/x");
  bytes[30] ^= 0x40;
  raw->Put("archive/x", bytes);
  const Error e = Catch([&] { storage.ReadAll("archive/x"); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
  EXPECT_NE(std::string(e.what()).find("'" + raw->Describe("archive/x") + "' failed authentication"),
            std::string::npos)
      << e.what();
}

// The repository open path through the configuration (posix storage in a temp directory).
class EncryptedRepositoryTest : public ::testing::Test {
 protected:
  core::Config ConfigWith(std::map<std::string, std::string> extra,
                          std::map<std::string, std::string> env = {}) {
    std::map<std::string, std::string> o = {{"repository.path", dir_.path().string()}};
    for (auto& [k, v] : extra) o[k] = v;
    return core::Config::Load(std::nullopt, o, env);
  }
  Repository Init() {
    InitStorage init = OpenStorageForInit(
        ConfigWith({{"repository.cipher", "aes-256-gcm"}},
                   {{"DBMEDIC_REPOSITORY_PASSPHRASE", "correct horse battery"}}));
    RepoInfo info;
    info.system_identifier = "7";
    info.pg_version_num = 150000;
    info.encryption = init.encryption;
    return Repository::Init(std::move(init.storage), info);
  }
  std::size_t ObjectCount() {
    return storage::OpenStorage(ConfigWith({}))->List("").size();
  }
  core::TempDir dir_{"dbmedic-crypto"};
};

TEST_F(EncryptedRepositoryTest, RepoJsonRecordsTheEncryptionButNoSecret) {
  Init();
  const std::string text = storage::OpenStorage(ConfigWith({}))->ReadAll("repo.json");
  EXPECT_NE(text.find("\"wrapped_key\""), std::string::npos);
  EXPECT_EQ(text.find("correct horse"), std::string::npos);
}

TEST_F(EncryptedRepositoryTest, TheRightPassphraseOpensIt) {
  Init();
  auto storage = OpenRepositoryStorage(
      ConfigWith({}, {{"DBMEDIC_REPOSITORY_PASSPHRASE", "correct horse battery"}}));
  storage->WriteAtomic("backup/L/x", "hello");
  EXPECT_EQ(storage->ReadAll("backup/L/x"), "hello");
}

TEST_F(EncryptedRepositoryTest, AWrongPassphraseIsRefusedBeforeAnythingIsWritten) {
  Init();
  const std::size_t before = ObjectCount();
  const Error e = Catch([&] {
    OpenRepositoryStorage(ConfigWith({}, {{"DBMEDIC_REPOSITORY_PASSPHRASE", "not the one"}}));
  });
  EXPECT_EQ(e.code(), ErrorCode::kRepository);
  EXPECT_NE(std::string(e.what()).find("the passphrase does not unlock encrypted repository"),
            std::string::npos);
  EXPECT_EQ(ObjectCount(), before);
}

TEST_F(EncryptedRepositoryTest, NoPassphraseIsRefused) {
  Init();
  const Error e = Catch([&] { OpenRepositoryStorage(ConfigWith({})); });
  EXPECT_EQ(e.code(), ErrorCode::kRepository);
  EXPECT_NE(std::string(e.what()).find("is encrypted and no passphrase or key file is configured"),
            std::string::npos);
}

TEST_F(EncryptedRepositoryTest, ACipherWithoutASecretIsAConfigError) {
  const Error e =
      Catch([&] { OpenStorageForInit(ConfigWith({{"repository.cipher", "aes-256-gcm"}})); });
  EXPECT_EQ(e.code(), ErrorCode::kConfig);
  EXPECT_STREQ(e.what(),
               "repository.cipher is aes-256-gcm but no passphrase or key file is configured");
}

TEST_F(EncryptedRepositoryTest, ASecretWithoutACipherIsAConfigError) {
  const Error e = Catch([&] {
    OpenStorageForInit(ConfigWith({}, {{"DBMEDIC_REPOSITORY_PASSPHRASE", "correct horse"}}));
  });
  EXPECT_EQ(e.code(), ErrorCode::kConfig);
  EXPECT_STREQ(e.what(), "a passphrase is configured but repository.cipher is none");
}

TEST_F(EncryptedRepositoryTest, AKeyFileReadableByOthersIsRefused) {
  const auto key = dir_.path() / "key";
  std::ofstream(key) << std::string(40, 'k');
  ::chmod(key.c_str(), 0644);
  const Error e = Catch([&] {
    KeySecretFromConfig(ConfigWith({{"repository.key_file", key.string()}}));
  });
  EXPECT_EQ(e.code(), ErrorCode::kConfig);
  EXPECT_NE(std::string(e.what()).find("is readable by other users (mode 644)"),
            std::string::npos)
      << e.what();
}

TEST_F(EncryptedRepositoryTest, AShortKeyFileIsRefused) {
  const auto key = dir_.path() / "key";
  std::ofstream(key) << "short";
  ::chmod(key.c_str(), 0600);
  const Error e = Catch([&] {
    KeySecretFromConfig(ConfigWith({{"repository.key_file", key.string()}}));
  });
  EXPECT_EQ(e.code(), ErrorCode::kConfig);
  EXPECT_NE(std::string(e.what()).find("holds 5 bytes, at least 32 are needed"),
            std::string::npos)
      << e.what();
}

}  // namespace
}  // namespace dbmedic::repo
