// Every backup-path command on an S3 repository (s3rver), as a user runs them: repo init,
// archive_command = `dbmedic wal push`, backup, info, verify, restore to a restore point with
// `dbmedic wal get` as restore_command, expire; and a backup whose server dies mid-upload.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/error.hpp"
#include "fault_proxy.hpp"
#include "harness/s3_server.hpp"
#include "harness/test_cluster.hpp"
#include "pg/local_cluster.hpp"
#include "repo/cluster.hpp"
#include "wal/archive.hpp"
#include "wal/restore_point.hpp"

namespace dbmedic::testing {
namespace {

class S3ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s3_ = new S3Server();
    TestClusterOptions o;
    o.settings = {{"wal_level", "replica"}, {"archive_mode", "on"}, {"max_wal_size", "256MB"}};
    cluster_ = new TestCluster(o);
    config_ = new fs::path(WriteConfig("main", s3_->endpoint()));
    const auto init = Dbmedic({"repo", "init"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    cluster_->Sql(fmt::format("ALTER SYSTEM SET archive_command = {}",
                              pg::QuoteLiteral(fmt::format("{} --config {} wal push %p",
                                                           DbmedicBinary().string(),
                                                           config_->string()))));
    cluster_->Sql("SELECT pg_reload_conf()");
    cluster_->Sql("CREATE TABLE marks (phase text, n int)");
    cluster_->Sql("INSERT INTO marks SELECT 'before', g FROM generate_series(1, 100) g");
    const auto backup = Dbmedic({"--output", "json", "backup", "--jobs", "2"});
    ASSERT_EQ(backup.exit_code, 0) << backup.err;
    label_ = new std::string(nlohmann::json::parse(backup.out).at("label").get<std::string>());
    cluster_->Sql("INSERT INTO marks SELECT 'after-backup', g FROM generate_series(1, 100) g");
    {
      const core::Config config = core::Config::Load(*config_);
      const repo::Repository repository = repo::OpenRepository(config);
      pg::Connection conn = cluster_->Connect();
      wal::CreateRestorePoint(conn, repository, "marker");
    }
    cluster_->Sql("INSERT INTO marks SELECT 'after-marker', g FROM generate_series(1, 100) g");
    WaitArchived(cluster_->Scalar("SELECT pg_walfile_name(pg_switch_wal())"));
  }
  static void TearDownTestSuite() {
    delete label_;
    delete config_;
    delete cluster_;
    delete s3_;
  }

  // A config file (secrets inside, mode 0600, owned by the server's user for archive_command).
  static fs::path WriteConfig(const std::string& prefix, const std::string& endpoint) {
    const fs::path file = cluster_->root() / ("dbmedic-" + prefix + ".toml");
    std::ofstream(file) << fmt::format(
        "[cluster]\nhost = \"{}\"\nport = {}\nos_user = \"{}\"\n\n"
        "[repository]\ntype = \"s3\"\npath = \"/{}\"\n\n"
        "[s3]\nendpoint = \"{}\"\nbucket = \"{}\"\nuri_style = \"path\"\nkey = \"S3RVER\"\n"
        "key_secret = \"S3RVER\"\nretries = 2\ntimeout = \"5s\"\n",
        cluster_->socket_dir().string(), cluster_->port(), cluster_->os_user(), prefix, endpoint,
        s3_->bucket());
    ::chmod(file.c_str(), 0600);
    cluster_->cluster().GiveToOsUser(file);
    return file;
  }

  static core::ProcessResult Dbmedic(std::vector<std::string> args,
                                     const fs::path& config = {}) {
    args.insert(args.begin(), {"--config", (config.empty() ? *config_ : config).string()});
    return RunDbmedic(args);
  }

  static void WaitArchived(const std::string& name) {
    const core::Config config = core::Config::Load(*config_);
    const repo::Repository repository = repo::OpenRepository(config);
    const wal::WalArchive archive(repository, repository.info().codec);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!archive.Find(name)) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << name << " was never archived";
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  static S3Server* s3_;
  static TestCluster* cluster_;
  static fs::path* config_;
  static std::string* label_;
};

S3Server* S3ClusterTest::s3_ = nullptr;
TestCluster* S3ClusterTest::cluster_ = nullptr;
fs::path* S3ClusterTest::config_ = nullptr;
std::string* S3ClusterTest::label_ = nullptr;

TEST_F(S3ClusterTest, InfoListsTheBackupAndTheArchive) {
  const auto r = Dbmedic({"--output", "json", "info"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("repository"), fmt::format("s3://{}/main", s3_->bucket()));
  ASSERT_EQ(j.at("backups").size(), 1u);
  EXPECT_EQ(j.at("backups")[0].at("label"), *label_);
  EXPECT_GT(j.at("recoverable").at("archive").at("files").get<int>(), 0);
}

TEST_F(S3ClusterTest, VerifyChecksEveryObject) {
  const auto r = Dbmedic({"verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(S3ClusterTest, PointInTimeRestoreFromS3) {
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
    pg::Result res = conn.Exec("SELECT phase, count(*) FROM marks GROUP BY phase");
    for (int i = 0; i < res.rows(); ++i) rows[std::string(res.Get(i, 0))] = res.GetInt(i, 1);
  }
  restored.Stop(pg::StopMode::kImmediate);
  EXPECT_EQ(rows, (std::map<std::string, std::int64_t>{{"after-backup", 100}, {"before", 100}}));
}

TEST_F(S3ClusterTest, WalGetFetchesFromS3) {
  const std::string name = cluster_->Scalar("SELECT pg_walfile_name(pg_current_wal_lsn())");
  const fs::path dest = cluster_->root() / "fetched-segment";
  // The newest segment may still be open; fetch the first archived one instead.
  const core::Config config = core::Config::Load(*config_);
  const repo::Repository repository = repo::OpenRepository(config);
  const auto files = wal::WalArchive(repository, repository.info().codec).List();
  ASSERT_FALSE(files.empty());
  const auto r = Dbmedic({"wal", "get", files.front().name, dest.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(fs::file_size(dest), files.front().raw_size);
  const auto missing = Dbmedic({"wal", "get", "0000000100000099000000FF", dest.string()});
  EXPECT_EQ(missing.exit_code, 1) << name;
}

TEST_F(S3ClusterTest, ExpireOnS3RemovesTheOlderBackupAndItsWal) {
  const fs::path config = WriteConfig("expire", s3_->endpoint());
  ASSERT_EQ(Dbmedic({"repo", "init"}, config).exit_code, 0);
  // Old WAL from the main archive, pushed into this repository before its two backups.
  const fs::path seg = cluster_->root() / "expire-seg";
  {
    const core::Config main = core::Config::Load(*config_);
    const repo::Repository repository = repo::OpenRepository(main);
    const auto files = wal::WalArchive(repository, repository.info().codec).List();
    ASSERT_FALSE(files.empty());
    ASSERT_EQ(Dbmedic({"wal", "get", files.front().name, seg.string()}).exit_code, 0);
    fs::rename(seg, cluster_->root() / files.front().name);
    const auto push = Dbmedic({"wal", "push", (cluster_->root() / files.front().name).string()},
                              config);
    ASSERT_EQ(push.exit_code, 0) << push.err;
  }
  const auto first = Dbmedic({"--output", "json", "backup", "--jobs", "2"}, config);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto second = Dbmedic({"--output", "json", "backup", "--jobs", "2"}, config);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const auto r = Dbmedic({"--output", "json", "expire", "--keep-full", "1"}, config);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("expired_backups"),
            nlohmann::json::array({nlohmann::json::parse(first.out).at("label")}));
  EXPECT_EQ(j.at("expired_wal").at("files").get<int>(), 1);
  const auto info = Dbmedic({"--output", "json", "info"}, config);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const nlohmann::json backups = nlohmann::json::parse(info.out).at("backups");
  ASSERT_EQ(backups.size(), 1u);
  EXPECT_EQ(backups[0].at("label"), nlohmann::json::parse(second.out).at("label"));
}

TEST_F(S3ClusterTest, ABackupWhoseServerDiesFailsAndARerunWorks) {
  FaultProxy proxy(s3_->port());
  const fs::path config = WriteConfig("killed", proxy.endpoint());
  ASSERT_EQ(Dbmedic({"repo", "init"}, config).exit_code, 0);
  proxy.on_upload_at = proxy.uploads.load() + 10;
  proxy.on_upload = [] { s3_->Stop(); };
  const auto failed = Dbmedic({"backup", "--jobs", "2"}, config);
  EXPECT_EQ(failed.exit_code, static_cast<int>(ErrorCode::kNetwork)) << failed.err;
  EXPECT_NE(failed.err.find("failed after 3 attempts"), std::string::npos) << failed.err;
  s3_->Start();
  const auto info = Dbmedic({"--output", "json", "info"}, config);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_TRUE(nlohmann::json::parse(info.out).at("backups").empty());
  EXPECT_EQ(nlohmann::json::parse(info.out).at("incomplete").size(), 1u);
  const auto rerun = Dbmedic({"--output", "json", "backup", "--jobs", "2"}, config);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_EQ(nlohmann::json::parse(rerun.out).at("removed_incomplete").size(), 1u);
  EXPECT_EQ(Dbmedic({"verify"}, config).exit_code, 0);
}

TEST_F(S3ClusterTest, WrongCredentialsAreRefused) {
  const auto r = RunDbmedic({"--config", config_->string(), "info"},
                            {.env = {{"DBMEDIC_S3_KEY", "NOT-A-KEY"}}});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kConfig));
  // The first request is a HEAD of repo.json: S3 sends no error document with it.
  EXPECT_NE(r.err.find(fmt::format("unable to look up 's3://{}/main/repo.json': HTTP 403",
                                   s3_->bucket())),
            std::string::npos)
      << r.err;
}

TEST_F(S3ClusterTest, AMissingBucketIsRefused) {
  const auto r = Dbmedic({"info", "--s3-bucket", "no-such-bucket"});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kRepository));
  EXPECT_NE(r.err.find("no repository at 's3://no-such-bucket/main'"), std::string::npos) << r.err;
}

TEST_F(S3ClusterTest, RepoInitInAMissingBucketNamesIt) {
  const auto r = Dbmedic({"repo", "init", "--s3-bucket", "no-such-bucket"});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kRepository));
  EXPECT_NE(r.err.find("NoSuchBucket"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dbmedic::testing
