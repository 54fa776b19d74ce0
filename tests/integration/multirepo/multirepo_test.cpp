// More than one repository per cluster, as a user runs them: a local posix repository 1, a
// second posix repository and an S3 one (s3rver), in one config file; archive_command is
// `dbmedic wal push` and pushes into all three. Backups go to each, restore falls back from a
// corrupt or unreachable repository 1 to the next, wal push fails (and PostgreSQL keeps the WAL)
// while one repository is down and succeeds once it is back.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/error.hpp"
#include "harness/s3_server.hpp"
#include "harness/test_cluster.hpp"
#include "integration/offsite/fault_proxy.hpp"
#include "pg/local_cluster.hpp"
#include "repo/cluster.hpp"
#include "repo/repository_set.hpp"
#include "wal/archive.hpp"

namespace dbmedic::testing {
namespace {

using nlohmann::json;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class MultiRepo : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s3_ = new S3Server();
    TestClusterOptions o;
    o.settings = {{"wal_level", "replica"}, {"archive_mode", "on"}};
    cluster_ = new TestCluster(o);
    repo1_ = new fs::path(cluster_->MakeOwnedDir("repo1"));
    repo2_ = new fs::path(cluster_->MakeOwnedDir("repo2"));
    config_ = new fs::path(WriteConfig("main", Posix(*repo1_), {Posix(*repo2_), S3("/third")}));
    // As the server's user: archive_command (run by it) writes into these repositories.
    const auto init = RunDbmedic({"--config", config_->string(), "--output", "json", "repo", "init"},
                                 {.as_user = cluster_->os_user()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    ASSERT_EQ(json::parse(init.out).at("repositories").size(), 3u);
    cluster_->Sql(fmt::format(
        "ALTER SYSTEM SET archive_command = {}",
        pg::QuoteLiteral(fmt::format("{} --config {} wal push %p", DbmedicBinary().string(),
                                     config_->string()))));
    cluster_->Sql("SELECT pg_reload_conf()");
    cluster_->Sql("CREATE TABLE items AS SELECT g AS id, md5(g::text) AS v "
                  "FROM generate_series(1, 20000) g");
    {
      pg::Connection conn = cluster_->Connect();
      fingerprint_ = new std::map<std::string, std::string>(DatabaseFingerprint(conn));
    }
    const auto backup = Dbmedic({"--output", "json", "backup", "--jobs", "2"});
    ASSERT_EQ(backup.exit_code, 0) << backup.err;
    backup_ = new json(json::parse(backup.out));
    switched_ = new std::string(cluster_->Scalar("SELECT pg_walfile_name(pg_switch_wal())"));
    for (const repo::RepositoryConfig& r : Repositories(*config_)) WaitArchived(r, *switched_);
  }
  static void TearDownTestSuite() {
    delete switched_;
    delete backup_;
    delete fingerprint_;
    delete config_;
    delete repo2_;
    delete repo1_;
    delete cluster_;
    delete s3_;
  }

  // TOML of one repository's sections, as dotted keys (valid in [repository]-less entries).
  static std::string Posix(const fs::path& dir) {
    return fmt::format("repository.path = \"{}\"\n", dir.string());
  }
  static std::string S3(const std::string& prefix, const std::string& endpoint = {}) {
    return fmt::format(
        "repository.type = \"s3\"\nrepository.path = \"{}\"\ns3.endpoint = \"{}\"\n"
        "s3.bucket = \"{}\"\ns3.uri_style = \"path\"\ns3.key = \"S3RVER\"\n"
        "s3.key_secret = \"S3RVER\"\ns3.retries = 1\ns3.timeout = \"5s\"\n",
        prefix, endpoint.empty() ? s3_->endpoint() : endpoint, s3_->bucket());
  }

  // Repository 1 from `first` (top-level dotted keys), the others as [[repositories]] entries.
  static fs::path WriteConfig(const std::string& name, const std::string& first,
                              const std::vector<std::string>& others) {
    const fs::path file = cluster_->root() / ("dbmedic-" + name + ".toml");
    std::ofstream out(file);
    out << fmt::format("{}\n[cluster]\nhost = \"{}\"\nport = {}\nos_user = \"{}\"\n\n", first,
                       cluster_->socket_dir().string(), cluster_->port(), cluster_->os_user());
    for (const std::string& entry : others) out << "[[repositories]]\n" << entry << "\n";
    out.close();
    ::chmod(file.c_str(), 0600);
    cluster_->cluster().GiveToOsUser(file);
    return file;
  }

  static std::vector<repo::RepositoryConfig> Repositories(const fs::path& config) {
    return repo::ConfiguredRepositories(core::Config::Load(config));
  }

  static core::ProcessResult Dbmedic(std::vector<std::string> args,
                                     const fs::path& config = {}) {
    args.insert(args.begin(), {"--config", (config.empty() ? *config_ : config).string()});
    return RunDbmedic(args);
  }

  static bool Archived(const repo::RepositoryConfig& r, const std::string& name) {
    const repo::Repository repository = repo::OpenRepository(r.config);
    return wal::WalArchive(repository, repository.info().codec).Find(name).has_value();
  }

  static void WaitArchived(const repo::RepositoryConfig& r, const std::string& name) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!Archived(r, name)) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << name << " never reached " << r.Describe() << "; server log:\n" << LogTail();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // The end of the server's log (archive_command failures are there).
  static std::string LogTail() {
    std::ifstream in(cluster_->cluster().spec().log_file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
  }

  // Starts a restored data directory (no archiving: it must not push into the repositories),
  // returns its fingerprint and stops it.
  static std::map<std::string, std::string> RestoredFingerprint(const fs::path& data_dir) {
    pg::ClusterSpec spec;
    spec.data_dir = data_dir;
    spec.socket_dir = cluster_->root() / (data_dir.filename().string() + "-sock");
    core::MakeDirs(spec.socket_dir, 0755);
    pg::LocalCluster restored(spec);
    restored.GiveToOsUser(spec.socket_dir);
    restored.WriteSettings({{"archive_mode", "off"}, {"fsync", "off"}});
    restored.Start();
    std::map<std::string, std::string> fp;
    {
      pg::Connection conn = pg::Connection::Open(restored.ConnInfo());
      fp = DatabaseFingerprint(conn);
    }
    restored.Stop(pg::StopMode::kImmediate);
    return fp;
  }

  static S3Server* s3_;
  static TestCluster* cluster_;
  static fs::path* repo1_;
  static fs::path* repo2_;
  static fs::path* config_;
  static std::map<std::string, std::string>* fingerprint_;
  static json* backup_;
  static std::string* switched_;
};

S3Server* MultiRepo::s3_ = nullptr;
TestCluster* MultiRepo::cluster_ = nullptr;
fs::path* MultiRepo::repo1_ = nullptr;
fs::path* MultiRepo::repo2_ = nullptr;
fs::path* MultiRepo::config_ = nullptr;
std::map<std::string, std::string>* MultiRepo::fingerprint_ = nullptr;
json* MultiRepo::backup_ = nullptr;
std::string* MultiRepo::switched_ = nullptr;

TEST_F(MultiRepo, ConfigDescribesEveryRepositoryInOrder) {
  const std::vector<repo::RepositoryConfig> repos = Repositories(*config_);
  ASSERT_EQ(repos.size(), 3u);
  EXPECT_EQ(repos[0].Describe(), fmt::format("repository 1 ({})", repo1_->string()));
  EXPECT_EQ(repos[1].Describe(), fmt::format("repository 2 ({})", repo2_->string()));
  EXPECT_EQ(repos[2].Describe(),
            fmt::format("repository 3 (s3://{}/third at {})", s3_->bucket(), s3_->endpoint()));
  // Nothing is inherited from repository 1: entry 1 sets no type, so it is posix.
  EXPECT_EQ(repos[1].config.String("repository.type"), "posix");
  EXPECT_EQ(repos[2].config.String("s3.bucket"), s3_->bucket());
  EXPECT_FALSE(repos[0].config.Has("s3.bucket"));
}

TEST_F(MultiRepo, AnEntryTakesItsSecretFromItsOwnEnvironmentVariable) {
  ::setenv("DBMEDIC_REPO3_S3_KEY_SECRET", "from-env", 1);
  const std::vector<repo::RepositoryConfig> repos = Repositories(*config_);
  ::unsetenv("DBMEDIC_REPO3_S3_KEY_SECRET");
  EXPECT_EQ(repos[2].config.String("s3.key_secret"), "from-env");
  EXPECT_EQ(repos[2].config.Source("s3.key_secret"), "environment DBMEDIC_REPO3_S3_KEY_SECRET");
}

TEST_F(MultiRepo, AMisspelledKeyInAnEntryNamesTheEntry) {
  const fs::path config = WriteConfig("typo", Posix(*repo1_), {"repository.pth = \"/x\"\n"});
  const auto r = Dbmedic({"info"}, config);
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kConfig));
  EXPECT_TRUE(Contains(r.err, "[[repositories]] entry 1 (repository 2): unknown key "
                              "'repository.pth'"))
      << r.err;
}

TEST_F(MultiRepo, BackupGoesToEveryRepository) {
  const json& repos = backup_->at("repositories");
  ASSERT_EQ(repos.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(repos[i].at("repository"), i + 1);
    EXPECT_TRUE(repos[i].at("ok").get<bool>()) << repos[i];
  }
  const auto info = Dbmedic({"--output", "json", "info"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const json listed = json::parse(info.out).at("repositories");
  ASSERT_EQ(listed.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(listed[i].at("healthy").get<bool>()) << listed[i];
    const json& backups = listed[i].at("backups");
    ASSERT_FALSE(backups.empty()) << listed[i];
    EXPECT_EQ(backups[0].at("label"), repos[i].at("backup").at("label"));
  }
  EXPECT_EQ(listed[2].at("repository"), fmt::format("s3://{}/third", s3_->bucket()));
}

TEST_F(MultiRepo, ArchivedWalIsInEveryRepository) {
  for (const repo::RepositoryConfig& r : Repositories(*config_)) {
    EXPECT_TRUE(Archived(r, *switched_)) << r.Describe();
  }
}

TEST_F(MultiRepo, RepoNumberPicksOneRepository) {
  const auto r = Dbmedic({"--output", "json", "info", "--repo", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j.at("repository"), fmt::format("s3://{}/third", s3_->bucket()));
  EXPECT_FALSE(j.contains("repositories"));
}

TEST_F(MultiRepo, ARepoNumberBeyondTheConfiguredOnesIsAUsageError) {
  const auto r = Dbmedic({"info", "--repo", "4"});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kUsage));
  EXPECT_TRUE(Contains(r.err, "there is no repository 4: repositories 1..3 are configured"))
      << r.err;
}

TEST_F(MultiRepo, RestoreFallsBackWhenRepositoryOneIsCorrupt) {
  // A copy of repository 1 whose biggest stored file of the backup is damaged.
  const fs::path broken = cluster_->root() / "repo1-corrupt";
  fs::copy(*repo1_, broken, fs::copy_options::recursive);
  fs::path biggest;
  for (const auto& e : fs::recursive_directory_iterator(broken / "backup")) {
    if (e.is_regular_file() && (biggest.empty() || e.file_size() > fs::file_size(biggest))) {
      biggest = e.path();
    }
  }
  ASSERT_FALSE(biggest.empty());
  {
    std::fstream f(biggest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(biggest) / 2));
    f.write("garbage-garbage-garbage", 23);
  }
  const fs::path config = WriteConfig("corrupt", Posix(broken), {Posix(*repo2_)});
  const fs::path target = cluster_->root() / "restored-corrupt";
  const auto r = Dbmedic({"restore", "--target-dir", target.string(), "--jobs", "2"}, config);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, fmt::format("restore from repository 1 ({}) failed", broken.string())))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "falling back to the next repository")) << r.err;
  EXPECT_EQ(RestoredFingerprint(target), *fingerprint_);
}

TEST_F(MultiRepo, RestoreFallsBackWhenRepositoryOneIsUnreachable) {
  const std::string dead = fmt::format("http://127.0.0.1:{}", FreePort());
  const fs::path config = WriteConfig("unreachable", S3("/main", dead), {Posix(*repo2_)});
  const fs::path target = cluster_->root() / "restored-unreachable";
  const auto r = Dbmedic({"restore", "--target-dir", target.string(), "--jobs", "2"}, config);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, fmt::format("restore from repository 1 (s3://{}/main at {}) failed",
                                          s3_->bucket(), dead)))
      << r.err;
  EXPECT_EQ(RestoredFingerprint(target), *fingerprint_);
}

TEST_F(MultiRepo, RestoreFailsNamingEveryRepositoryWhenNoneCanServe) {
  const fs::path config = WriteConfig("none", Posix(cluster_->root() / "no-repo-a"),
                                      {Posix(cluster_->root() / "no-repo-b")});
  const auto r = Dbmedic(
      {"restore", "--target-dir", (cluster_->root() / "restored-none").string()}, config);
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kNotFound)) << r.err;
  EXPECT_TRUE(Contains(r.err, "repository 2 (" + (cluster_->root() / "no-repo-b").string()))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "after skipping: repository 1 (" +
                                  (cluster_->root() / "no-repo-a").string()))
      << r.err;
}

TEST_F(MultiRepo, WalGetFallsBackToTheNextRepository) {
  const fs::path config =
      WriteConfig("get", Posix(cluster_->root() / "no-repo-get"), {Posix(*repo2_)});
  const fs::path dest = cluster_->root() / "fetched";
  const auto r = Dbmedic({"wal", "get", *switched_, dest.string(), "--wal-prefetch", "0"},
                         config);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(fs::file_size(dest), 16u << 20);
  EXPECT_TRUE(Contains(r.err, "trying the next repository")) << r.err;
}

TEST_F(MultiRepo, WalGetOfASegmentNoRepositoryHasExitsOne) {
  const auto r = Dbmedic({"wal", "get", "0000000100000099000000FF",
                          (cluster_->root() / "never").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

TEST_F(MultiRepo, WalPushFailsWhileARepositoryIsDownAndSucceedsOnceItIsBack) {
  s3_->Stop();
  cluster_->Sql("INSERT INTO items SELECT g, 'while-down' FROM generate_series(1, 10) g");
  const std::string name = cluster_->Scalar("SELECT pg_walfile_name(pg_switch_wal())");
  // PostgreSQL's archiver: the push fails, so the segment stays .ready (not archived).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (cluster_->Scalar("SELECT coalesce(last_failed_wal, '') FROM pg_stat_archiver") != name) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the push of " << name << " never failed";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const fs::path status = cluster_->data_dir() / "pg_wal" / "archive_status";
  EXPECT_TRUE(fs::exists(status / (name + ".ready")));
  EXPECT_FALSE(fs::exists(status / (name + ".done")));
  // The same push by hand: it names the repository that is down; the others got the file.
  const fs::path copy_dir = cluster_->root() / "push-copy";
  core::MakeDirs(copy_dir, 0700);
  fs::copy_file(cluster_->data_dir() / "pg_wal" / name, copy_dir / name,
                fs::copy_options::overwrite_existing);
  const auto r = Dbmedic({"wal", "push", (copy_dir / name).string()});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kNetwork)) << r.err;
  EXPECT_TRUE(Contains(r.err, fmt::format("WAL file '{}' is not archived: the push to "
                                          "repository 3 (s3://{}/third",
                                          name, s3_->bucket())))
      << r.err;
  const std::vector<repo::RepositoryConfig> repos = Repositories(*config_);
  EXPECT_TRUE(Archived(repos[0], name));
  EXPECT_TRUE(Archived(repos[1], name));
  // Back up: the archiver's next attempt (woken by the next segment) reaches every repository.
  s3_->Start();
  cluster_->Sql("INSERT INTO items SELECT g, 'after' FROM generate_series(1, 10) g");
  const std::string next = cluster_->Scalar("SELECT pg_walfile_name(pg_switch_wal())");
  WaitArchived(repos[2], name);
  WaitArchived(repos[2], next);
  while (!fs::exists(status / (name + ".done"))) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline + std::chrono::seconds(120));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

TEST_F(MultiRepo, ABackupThatFailsInOneRepositoryStillLandsInTheOthers) {
  FaultProxy proxy(s3_->port());
  const fs::path config =
      WriteConfig("partial", Posix(*repo1_), {S3("/partial", proxy.endpoint())});
  ASSERT_EQ(Dbmedic({"repo", "init", "--repo", "2"}, config).exit_code, 0);
  const std::size_t before = repo::OpenRepository(Repositories(config)[0].config).ListBackups().size();
  proxy.on_upload_at = proxy.uploads.load() + 5;
  proxy.on_upload = [] { s3_->Stop(); };
  const auto failed = Dbmedic({"backup", "--jobs", "2"}, config);
  s3_->Start();
  EXPECT_EQ(failed.exit_code, static_cast<int>(ErrorCode::kNetwork)) << failed.err;
  EXPECT_TRUE(Contains(failed.err, "backup failed in repository 2 (s3://")) << failed.err;
  EXPECT_TRUE(Contains(failed.err, "; repository 1 succeeded")) << failed.err;
  EXPECT_EQ(repo::OpenRepository(Repositories(config)[0].config).ListBackups().size(),
            before + 1);
  // Never listed as good where it is partial; a rerun for that repository works.
  const auto info = Dbmedic({"--output", "json", "info", "--repo", "2"}, config);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_TRUE(json::parse(info.out).at("backups").empty());
  EXPECT_EQ(json::parse(info.out).at("incomplete").size(), 1u);
  const auto rerun = Dbmedic({"--output", "json", "backup", "--repo", "2"}, config);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_EQ(json::parse(rerun.out).at("removed_incomplete").size(), 1u);
}

// A copy of `repo` whose biggest stored file of the backups has garbage in its middle; returns
// the copy and the damaged file.
std::pair<fs::path, fs::path> DamagedCopy(const fs::path& repo, const fs::path& copy) {
  fs::copy(repo, copy, fs::copy_options::recursive);
  fs::path biggest;
  for (const auto& e : fs::recursive_directory_iterator(copy / "backup")) {
    if (e.is_regular_file() && (biggest.empty() || e.file_size() > fs::file_size(biggest))) {
      biggest = e.path();
    }
  }
  std::fstream f(biggest, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(fs::file_size(biggest) / 2));
  f.write("garbage-garbage-garbage", 23);
  return {copy, biggest};
}

TEST_F(MultiRepo, VerifyChecksEveryRepository) {
  const auto r = Dbmedic({"--output", "json", "verify"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json repos = json::parse(r.out).at("repositories");
  ASSERT_EQ(repos.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(repos[i].at("repository"), i + 1);
    EXPECT_TRUE(repos[i].at("verify").at("ok").get<bool>()) << repos[i];
    EXPECT_FALSE(repos[i].at("verify").at("backups").empty()) << repos[i];
    EXPECT_GT(repos[i].at("verify").at("files_checked").get<int>(), 0) << repos[i];
  }
}

TEST_F(MultiRepo, VerifyNamesTheRepositoryAndTheFileThatIsDamaged) {
  const auto [copy, damaged] = DamagedCopy(*repo2_, cluster_->root() / "repo2-damaged");
  const fs::path config = WriteConfig("verify-damaged", Posix(*repo1_), {Posix(copy)});
  const auto j = Dbmedic({"--output", "json", "verify"}, config);
  EXPECT_EQ(j.exit_code, static_cast<int>(ErrorCode::kCorrupt)) << j.err;
  const json repos = json::parse(j.out).at("repositories");
  ASSERT_EQ(repos.size(), 2u);
  EXPECT_TRUE(repos[0].at("verify").at("ok").get<bool>()) << repos[0];
  const json& problems = repos[1].at("verify").at("problems");
  ASSERT_EQ(problems.size(), 1u) << repos[1];
  EXPECT_EQ(problems[0].at("kind"), "altered");
  // The repository object named is the file that was damaged.
  EXPECT_TRUE(damaged.string().ends_with(problems[0].at("object").get<std::string>()))
      << damaged << " vs " << problems[0];
  const std::string file = problems[0].at("file").get<std::string>();

  const auto text = Dbmedic({"verify"}, config);
  EXPECT_EQ(text.exit_code, static_cast<int>(ErrorCode::kCorrupt)) << text.err;
  EXPECT_TRUE(Contains(text.err, fmt::format("repository 2 ({}): verify found 1 damaged file(s)",
                                             copy.string())))
      << text.err;
  EXPECT_TRUE(Contains(text.err, fmt::format("first: '{}' of backup", file))) << text.err;
  EXPECT_FALSE(Contains(text.err, "repository 1 (")) << text.err;
  EXPECT_TRUE(Contains(text.out, "no problem")) << text.out;  // repository 1 was verified too
}

TEST_F(MultiRepo, VerifyWithARepoNumberChecksOnlyThatRepository) {
  const auto [copy, damaged] = DamagedCopy(*repo2_, cluster_->root() / "repo2-damaged-one");
  const fs::path config = WriteConfig("verify-one", Posix(*repo1_), {Posix(copy)});
  const auto one = Dbmedic({"--output", "json", "verify", "--repo", "1"}, config);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_TRUE(json::parse(one.out).at("ok").get<bool>());
  EXPECT_FALSE(json::parse(one.out).contains("repositories"));
  const auto two = Dbmedic({"--output", "json", "verify", "--repo", "2"}, config);
  EXPECT_EQ(two.exit_code, static_cast<int>(ErrorCode::kCorrupt)) << two.err;
  EXPECT_EQ(json::parse(two.out).at("problems").size(), 1u);
}

TEST_F(MultiRepo, VerifyOfALabelChecksTheRepositoriesThatHoldIt) {
  const std::string label = backup_->at("repositories")[2].at("backup").at("label");
  const auto r = Dbmedic({"--output", "json", "verify", label});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json repos = json::parse(r.out).at("repositories");
  ASSERT_EQ(repos.size(), 3u);
  int verified = 0;
  for (const json& one : repos) {
    if (one.at("verify").contains("skipped")) continue;
    ++verified;
    EXPECT_EQ(one.at("verify").at("backups"), json::array({label})) << one;
  }
  EXPECT_GE(verified, 1);
}

TEST_F(MultiRepo, VerifyOfALabelNoRepositoryHoldsIsNotFound) {
  const auto r = Dbmedic({"verify", "19990101-000000F"});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kNotFound)) << r.err;
  EXPECT_TRUE(Contains(r.err, "backup '19990101-000000F' does not exist in any repository"))
      << r.err;
}

TEST_F(MultiRepo, VerifyNamesARepositoryThatCannotBeReached) {
  const std::string dead = fmt::format("http://127.0.0.1:{}", FreePort());
  const fs::path config = WriteConfig("verify-dead", Posix(*repo1_), {S3("/third", dead)});
  const auto r = Dbmedic({"verify"}, config);
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kNetwork)) << r.err;
  EXPECT_TRUE(Contains(r.err, fmt::format("ERROR: repository 2 (s3://{}/third at {})",
                                          s3_->bucket(), dead)))
      << r.err;
  EXPECT_TRUE(Contains(r.out, "no problem")) << r.out;
}

TEST_F(MultiRepo, CheckReportsEveryRepository) {
  const auto r = Dbmedic({"--output", "json", "check"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json repos = json::parse(r.out).at("repositories");
  ASSERT_EQ(repos.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(repos[i].at("repository"), i + 1);
    EXPECT_TRUE(repos[i].at("check").at("ok").get<bool>()) << repos[i];
  }
}

}  // namespace
}  // namespace dbmedic::testing
