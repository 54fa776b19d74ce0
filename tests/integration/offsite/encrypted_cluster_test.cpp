// An encrypted repository (AES-256-GCM, key file) on a real archiving cluster, as a user runs
// it: repo init, archive_command = `dbmedic wal push --repo-key-file`, backup, PITR restore with
// the key file passed on to restore_command, verify; a tampered object, a wrong key and a
// missing key.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/error.hpp"
#include "harness/test_cluster.hpp"
#include "pg/local_cluster.hpp"
#include "repo/cluster.hpp"
#include "wal/archive.hpp"
#include "wal/restore_point.hpp"

namespace dbmedic::testing {
namespace {

class EncryptedClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestClusterOptions o;
    o.settings = {{"wal_level", "replica"}, {"archive_mode", "on"}};
    cluster_ = new TestCluster(o);
    repo_ = new fs::path(cluster_->MakeOwnedDir("repo"));
    key_ = new fs::path(WriteKey("key", std::string(44, 'K')));
    const auto init = Dbmedic({"repo", "init", "--pg-host", cluster_->socket_dir().string(),
                               "--pg-port", std::to_string(cluster_->port()),
                               "--repository-cipher", "aes-256-gcm"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    cluster_->cluster().GiveToOsUser(*repo_);
    cluster_->Sql(fmt::format(
        "ALTER SYSTEM SET archive_command = {}",
        pg::QuoteLiteral(fmt::format("{} wal push --repo {} --repo-key-file {} %p",
                                     DbmedicBinary().string(), repo_->string(),
                                     key_->string()))));
    cluster_->Sql("SELECT pg_reload_conf()");
    cluster_->Sql("CREATE TABLE secrets (phase text, payload text)");
    cluster_->Sql("INSERT INTO secrets SELECT 'before', 'plaintext-marker-' || g "
                  "FROM generate_series(1, 1000) g");
    const auto backup = Dbmedic({"--output", "json", "backup", "--pg-host",
                                 cluster_->socket_dir().string(), "--pg-port",
                                 std::to_string(cluster_->port()), "--jobs", "2"});
    ASSERT_EQ(backup.exit_code, 0) << backup.err;
    cluster_->cluster().GiveToOsUser(*repo_);
    cluster_->Sql("INSERT INTO secrets SELECT 'after-backup', 'x' FROM generate_series(1, 10)");
    {
      const repo::Repository repository = repo::OpenRepository(Config());
      pg::Connection conn = cluster_->Connect();
      wal::CreateRestorePoint(conn, repository, "marker");
    }
    cluster_->Sql("INSERT INTO secrets SELECT 'after-marker', 'x' FROM generate_series(1, 10)");
    WaitArchived(cluster_->Scalar("SELECT pg_walfile_name(pg_switch_wal())"));
  }
  static void TearDownTestSuite() {
    delete key_;
    delete repo_;
    delete cluster_;
  }

  static fs::path WriteKey(const std::string& name, const std::string& content) {
    const fs::path file = cluster_->root() / name;
    std::ofstream(file) << content;
    ::chmod(file.c_str(), 0600);
    cluster_->cluster().GiveToOsUser(file);
    return file;
  }

  static core::Config Config() {
    return core::Config::Load(std::nullopt, {{"repository.path", repo_->string()},
                                             {"repository.key_file", key_->string()}});
  }

  static core::ProcessResult Dbmedic(std::vector<std::string> args) {
    // Options after the subcommand: --repo and the key file.
    std::size_t at = 0;
    while (at < args.size() && args[at].starts_with("--")) at += 2;  // global options
    std::vector<std::string> full(args.begin(), args.begin() + static_cast<long>(at));
    full.push_back(args[at]);
    std::size_t next = at + 1;
    if (args[at] == "repo" || args[at] == "wal") full.push_back(args[next++]);
    full.insert(full.end(), {"--repo", repo_->string(), "--repo-key-file", key_->string()});
    full.insert(full.end(), args.begin() + static_cast<long>(next), args.end());
    return RunDbmedic(full);
  }

  static void WaitArchived(const std::string& name) {
    const repo::Repository repository = repo::OpenRepository(Config());
    const wal::WalArchive archive(repository, repository.info().codec);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!archive.Find(name)) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << name << " was never archived";
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // Every object of the repository but repo.json.
  static std::vector<fs::path> Objects() {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(*repo_)) {
      // repo.json holds the wrapped key; repo.lock is the lock primitive (flock), whose only
      // content is who holds it (pid, host, command): neither holds data.
      const auto name = e.path().filename();
      if (e.is_regular_file() && name != "repo.json" && name != "repo.lock") {
        out.push_back(e.path());
      }
    }
    return out;
  }

  static TestCluster* cluster_;
  static fs::path* repo_;
  static fs::path* key_;
};

TestCluster* EncryptedClusterTest::cluster_ = nullptr;
fs::path* EncryptedClusterTest::repo_ = nullptr;
fs::path* EncryptedClusterTest::key_ = nullptr;

TEST_F(EncryptedClusterTest, NothingIsStoredInClear) {
  ASSERT_FALSE(Objects().empty());
  for (const fs::path& object : Objects()) {
    std::ifstream in(object, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.substr(0, 4), "DBMX") << object;
    EXPECT_EQ(bytes.find("plaintext-marker"), std::string::npos) << object;
  }
}

TEST_F(EncryptedClusterTest, VerifyPassesAndPitrRestoreWorks) {
  ASSERT_EQ(Dbmedic({"verify"}).exit_code, 0);
  const fs::path target = cluster_->root() / "restored";
  const auto r = Dbmedic({"--output", "json", "restore", "--target-dir", target.string(),
                          "--to-name", "marker", "--start", "--jobs", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  pg::ClusterSpec spec;
  spec.data_dir = target;
  spec.socket_dir = j.at("socket_dir").get<std::string>();
  spec.port = j.at("port").get<int>();
  spec.os_user = cluster_->os_user();
  pg::LocalCluster restored(spec);
  std::map<std::string, std::int64_t> rows;
  {
    pg::Connection conn = pg::Connection::Open(restored.ConnInfo());
    pg::Result res = conn.Exec("SELECT phase, count(*) FROM secrets GROUP BY phase");
    for (int i = 0; i < res.rows(); ++i) rows[std::string(res.Get(i, 0))] = res.GetInt(i, 1);
  }
  restored.Stop(pg::StopMode::kImmediate);
  EXPECT_EQ(rows, (std::map<std::string, std::int64_t>{{"after-backup", 10}, {"before", 1000}}));
}

TEST_F(EncryptedClusterTest, AWrongKeyIsRefusedBeforeAnythingIsWritten) {
  const fs::path wrong = WriteKey("wrong-key", std::string(44, 'W'));
  const std::size_t before = Objects().size();
  const auto r = RunDbmedic({"backup", "--repo", repo_->string(), "--repo-key-file",
                             wrong.string(), "--pg-host", cluster_->socket_dir().string(),
                             "--pg-port", std::to_string(cluster_->port())});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kRepository));
  EXPECT_NE(r.err.find(fmt::format("the key file '{}' does not unlock encrypted repository",
                                   wrong.string())),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Objects().size(), before);
}

TEST_F(EncryptedClusterTest, NoKeyIsRefused) {
  const auto r = RunDbmedic({"info", "--repo", repo_->string()});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kRepository));
  EXPECT_NE(r.err.find("is encrypted and no passphrase or key file is configured"),
            std::string::npos)
      << r.err;
}

TEST_F(EncryptedClusterTest, ATamperedWalSegmentIsDetectedNamingIt) {
  // Tamper with a copy of the repository, so the other tests keep a good one.
  const fs::path copy = cluster_->MakeOwnedDir("tampered");
  fs::copy(*repo_, copy, fs::copy_options::recursive);
  fs::path segment;
  for (const auto& e : fs::recursive_directory_iterator(copy / "archive")) {
    const std::string file = e.path().filename().string();
    if (e.is_regular_file() && file.size() > 24 && file[24] == '-') {  // a segment
      segment = e.path();
      break;
    }
  }
  ASSERT_FALSE(segment.empty());
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  const std::string name = segment.filename().string().substr(0, 24);
  const auto r = RunDbmedic({"wal", "get", "--repo", copy.string(), "--repo-key-file",
                             key_->string(), name, (cluster_->root() / "got").string()});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kCorrupt));
  EXPECT_NE(r.err.find(fmt::format("encrypted object '{}' failed authentication", segment.string())),
            std::string::npos)
      << r.err;
}

TEST_F(EncryptedClusterTest, ATamperedBackupChunkFailsVerify) {
  const fs::path copy = cluster_->MakeOwnedDir("tampered-backup");
  fs::copy(*repo_, copy, fs::copy_options::recursive);
  fs::path chunk;
  for (const auto& e : fs::recursive_directory_iterator(copy / "backup")) {
    if (e.is_regular_file() && e.path().string().find("/data/base/") != std::string::npos) {
      chunk = e.path();
      break;
    }
  }
  ASSERT_FALSE(chunk.empty());
  {
    std::fstream f(chunk, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x01');
  }
  const auto r = RunDbmedic({"verify", "--repo", copy.string(), "--repo-key-file",
                             key_->string()});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kCorrupt)) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("failed authentication"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace dbmedic::testing
