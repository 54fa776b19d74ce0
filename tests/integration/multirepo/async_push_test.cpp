// `wal push --async` as archive_command with two repositories: each repository has its own spool
// (pg_wal/dbmedic-spool, pg_wal/dbmedic-spool-repo2) and worker. Both repositories receive every
// segment; while repository 2 is unwritable its spool keeps the segments and archive_command keeps
// succeeding only while that spool has room; then it fails (PostgreSQL keeps the WAL) naming
// repository 2; once repository 2 is writable again its worker delivers the backlog. At every
// step, a segment PostgreSQL counts as archived is in each repository or in that repository's
// spool.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "core/config.hpp"
#include "harness/test_cluster.hpp"
#include "repo/cluster.hpp"
#include "repo/repository_set.hpp"
#include "wal/archive.hpp"
#include "wal/push_spool.hpp"

namespace dbmedic::testing {
namespace {

using Clock = std::chrono::steady_clock;

class AsyncMultiRepo : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestClusterOptions o;
    o.settings = {{"wal_level", "replica"}, {"archive_mode", "on"}};
    cluster_ = new TestCluster(o);
    repo_dirs_ = new std::vector<fs::path>{cluster_->MakeOwnedDir("async-repo1"),
                                           cluster_->MakeOwnedDir("async-repo2")};
    config_ = new fs::path(WriteConfig());
    const auto init = RunDbmedic({"--config", config_->string(), "repo", "init"},
                                 {.as_user = cluster_->os_user()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    // 40 MiB: room for two 16 MiB segments per spool.
    cluster_->Sql(fmt::format(
        "ALTER SYSTEM SET archive_command = {}",
        pg::QuoteLiteral(fmt::format("{} --config {} wal push --async --wal-spool-max 40MiB %p",
                                     DbmedicBinary().string(), config_->string()))));
    cluster_->Sql("SELECT pg_reload_conf()");
    cluster_->Sql("CREATE TABLE t (id int)");
  }
  static void TearDownTestSuite() {
    delete config_;
    delete repo_dirs_;
    delete cluster_;
  }
  void TearDown() override { SetRepositoryWritable(2, true); }

  static fs::path WriteConfig() {
    const fs::path file = cluster_->root() / "dbmedic-async.toml";
    std::ofstream out(file);
    out << fmt::format(
        "[repository]\npath = \"{}\"\n\n[cluster]\nhost = \"{}\"\nport = {}\nos_user = \"{}\"\n\n"
        "[[repositories]]\nrepository.path = \"{}\"\n",
        (*repo_dirs_)[0].string(), cluster_->socket_dir().string(), cluster_->port(),
        cluster_->os_user(), (*repo_dirs_)[1].string());
    out.close();
    ::chmod(file.c_str(), 0600);
    cluster_->cluster().GiveToOsUser(file);
    return file;
  }

  static wal::PushSpool Spool(int repository) {
    const fs::path base = cluster_->data_dir() / "pg_wal" / "dbmedic-spool";
    return wal::PushSpool(repository == 1 ? base : fs::path(base.string() + "-repo2"), 0);
  }

  static bool Archived(int repository, const std::string& name) {
    const repo::Repository r = repo::OpenRepository(
        repo::ConfiguredRepositories(core::Config::Load(*config_))[repository - 1].config);
    return wal::WalArchive(r, r.info().codec).Find(name).has_value();
  }

  static void WaitArchived(int repository, const std::string& name) {
    const auto deadline = Clock::now() + std::chrono::seconds(90);
    while (!Archived(repository, name)) {
      ASSERT_LT(Clock::now(), deadline) << name << " never reached repository " << repository;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  static void WaitSpoolEmpty(int repository) {
    const wal::PushSpool spool = Spool(repository);
    const auto deadline = Clock::now() + std::chrono::seconds(90);
    while (!spool.Queued().empty()) {
      ASSERT_LT(Clock::now(), deadline) << "the spool of repository " << repository
                                        << " never drained";
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // The archive's directories become read-only for the server's user (tests run as root).
  static void SetRepositoryWritable(int repository, bool writable) {
    const fs::path tl = (*repo_dirs_)[repository - 1] / "archive" / "00000001";
    if (!fs::exists(tl)) return;
    const mode_t mode = writable ? 0755 : 0555;
    ::chmod(tl.c_str(), mode);
    for (const auto& e : fs::directory_iterator(tl)) ::chmod(e.path().c_str(), mode);
  }

  static std::string FillAndSwitch() {
    cluster_->Sql("INSERT INTO t VALUES (1)");
    return cluster_->Scalar("SELECT pg_walfile_name(pg_switch_wal())");
  }

  static std::int64_t Stat(const std::string& column) {
    return std::stoll(cluster_->Scalar("SELECT " + column + " FROM pg_stat_archiver"));
  }

  static void WaitStat(const std::string& column, std::int64_t value) {
    const auto deadline = Clock::now() + std::chrono::seconds(90);
    while (Stat(column) < value) {
      ASSERT_LT(Clock::now(), deadline) << column << " never reached " << value;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  static bool Done(const std::string& name) {
    return fs::exists(cluster_->data_dir() / "pg_wal" / "archive_status" / (name + ".done"));
  }

  // Until PostgreSQL counts the segment as archived (archive_command returned 0 for it).
  static void WaitDone(const std::string& name) {
    const auto deadline = Clock::now() + std::chrono::seconds(90);
    while (!Done(name)) {
      ASSERT_LT(Clock::now(), deadline) << name << " was never marked archived";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // What PostgreSQL counts as archived must be, for each repository, in it or in its spool.
  static void ExpectHeldByEveryRepository(const std::string& name) {
    for (int r = 1; r <= 2; ++r) {
      const std::vector<std::string> queued = Spool(r).Queued();
      const bool spooled = std::find(queued.begin(), queued.end(), name) != queued.end();
      EXPECT_TRUE(spooled || Archived(r, name))
          << name << " is marked archived but repository " << r << " has it nowhere";
    }
  }

  static std::string LogTail() {
    std::ifstream in(cluster_->cluster().spec().log_file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > 6000 ? text.substr(text.size() - 6000) : text;
  }

  static TestCluster* cluster_;
  static std::vector<fs::path>* repo_dirs_;
  static fs::path* config_;
};
TestCluster* AsyncMultiRepo::cluster_ = nullptr;
std::vector<fs::path>* AsyncMultiRepo::repo_dirs_ = nullptr;
fs::path* AsyncMultiRepo::config_ = nullptr;

TEST_F(AsyncMultiRepo, EveryRepositoryReceivesEverySegment) {
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) names.push_back(FillAndSwitch());
  for (const std::string& name : names) {
    WaitArchived(1, name);
    WaitArchived(2, name);
  }
  WaitSpoolEmpty(1);
  WaitSpoolEmpty(2);
  EXPECT_TRUE(fs::exists(Spool(2).dir())) << "repository 2 has no spool of its own";
}

TEST_F(AsyncMultiRepo, AnUnwritableRepositoryFillsOnlyItsSpoolThenArchivingWaitsForIt) {
  // Its archive directory exists: it is what becomes read-only. A worker may push a segment
  // ahead of archive_command, so "in repository 2" comes before PostgreSQL counts it archived:
  // wait for both, or the counter read below would still be missing this segment.
  const std::string first = FillAndSwitch();
  WaitArchived(2, first);
  WaitDone(first);
  WaitSpoolEmpty(2);
  SetRepositoryWritable(2, false);
  const std::int64_t archived = Stat("archived_count");
  const std::int64_t failed = Stat("failed_count");

  // Room in repository 2's spool: archive_command succeeds, repository 1 gets the segments.
  std::vector<std::string> spooled = {FillAndSwitch(), FillAndSwitch()};
  for (const std::string& name : spooled) WaitDone(name);
  EXPECT_EQ(Stat("archived_count"), archived + 2);
  EXPECT_EQ(Stat("failed_count"), failed);
  EXPECT_EQ(Spool(2).Queued(), spooled);
  for (const std::string& name : spooled) {
    WaitArchived(1, name);
    EXPECT_FALSE(Archived(2, name));
    ExpectHeldByEveryRepository(name);
  }
  for (int i = 0; i < 200 && !Spool(2).LastError(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(Spool(2).LastError()) << "repository 2's worker did not record its failure";
  EXPECT_NE(Spool(2).LastError()->find((*repo_dirs_)[1].string()), std::string::npos)
      << *Spool(2).LastError();
  EXPECT_FALSE(Spool(1).LastError()) << *Spool(1).LastError();

  // Repository 2's spool is full: the synchronous fallback fails, PostgreSQL keeps the segment.
  const std::string refused = FillAndSwitch();
  WaitStat("failed_count", failed + 1);
  EXPECT_EQ(cluster_->Scalar("SELECT last_failed_wal FROM pg_stat_archiver"), refused);
  EXPECT_FALSE(Done(refused));
  EXPECT_EQ(Spool(2).Queued(), spooled);
  const std::string log = LogTail();
  EXPECT_NE(log.find(fmt::format("WAL file '{}' is not archived: the push to repository 2 ({})",
                                 refused, (*repo_dirs_)[1].string())),
            std::string::npos)
      << log;

  // Writable again: the backlog and the refused segment reach repository 2, nothing stays.
  SetRepositoryWritable(2, true);
  FillAndSwitch();  // wakes the archiver, which retries the refused segment first
  for (const std::string& name : spooled) WaitArchived(2, name);
  WaitArchived(2, refused);
  WaitArchived(1, refused);
  WaitDone(refused);
  ExpectHeldByEveryRepository(refused);
  WaitSpoolEmpty(2);
  EXPECT_FALSE(Spool(2).LastError()) << *Spool(2).LastError();
}

}  // namespace
}  // namespace dbmedic::testing
