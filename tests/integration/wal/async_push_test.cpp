// `dbmedic wal push --async` as a real archive_command: while the repository is unwritable,
// PostgreSQL's archiver is not held up (archive_command keeps succeeding into the bounded local
// spool); once the spool is full, the push falls back to synchronous and fails, so PostgreSQL
// keeps its WAL; when the repository recovers, every segment reaches it.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "core/error.hpp"

#include "../pitr/archiving_cluster.hpp"
#include "wal/push_spool.hpp"

namespace dbmedic::testing {
namespace {

using Clock = std::chrono::steady_clock;

class AsyncPushTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new ArchivingCluster();
    cluster_->SwitchAndWait();  // the segment directory exists: it is what becomes unwritable
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void TearDown() override { SetRepositoryWritable(true); }

  static ArchivingCluster& c() { return *cluster_; }
  static fs::path Spool() { return c().cluster().data_dir() / "pg_wal" / "dbmedic-spool"; }

  static void UseAsyncPush(const std::string& spool_max) {
    c().cluster().Sql(fmt::format(
        "ALTER SYSTEM SET archive_command = {}",
        pg::QuoteLiteral(fmt::format("{} wal push --async --wal-spool-max {} --repo {} %p",
                                     DbmedicBinary().string(), spool_max,
                                     c().repo_dir().string()))));
    c().cluster().Sql("SELECT pg_reload_conf()");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the archiver rereads it
  }

  // The archive's directories become read-only for the server's user (tests run as root).
  static void SetRepositoryWritable(bool writable) {
    const fs::path tl = c().repo_dir() / "archive" / "00000001";
    const mode_t mode = writable ? 0755 : 0555;
    ::chmod(tl.c_str(), mode);
    for (const auto& e : fs::directory_iterator(tl)) ::chmod(e.path().c_str(), mode);
  }

  // Writes a little and switches to a new segment; returns the finished segment's name.
  static std::string FillAndSwitch() {
    c().cluster().Sql("CREATE TABLE IF NOT EXISTS t (id int); INSERT INTO t VALUES (1)");
    return c().cluster().Scalar("SELECT pg_walfile_name(pg_switch_wal())");
  }

  // Switches a segment, waits for it in the repository and for the spool to be empty, so that
  // no earlier test's backlog is counted.
  static void SwitchAndDrain() {
    c().SwitchAndWait();
    const wal::PushSpool spool(Spool(), 0);
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (!spool.Queued().empty()) {
      ASSERT_LT(Clock::now(), deadline) << "the push spool never drained";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  static std::int64_t Stat(const std::string& column) {
    return std::stoll(c().cluster().Scalar("SELECT " + column + " FROM pg_stat_archiver"));
  }

  // Waits until pg_stat_archiver's `column` reaches `value` (or fails the test after 60 s).
  static void WaitStat(const std::string& column, std::int64_t value) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Stat(column) < value) {
      ASSERT_LT(Clock::now(), deadline) << column << " never reached " << value;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  static ArchivingCluster* cluster_;
};
ArchivingCluster* AsyncPushTest::cluster_ = nullptr;

TEST_F(AsyncPushTest, UnwritableRepositoryDoesNotStallArchivingAndNothingIsLost) {
  UseAsyncPush("1GiB");
  SwitchAndDrain();  // async works end to end while the repository is writable
  SetRepositoryWritable(false);
  const std::int64_t archived = Stat("archived_count");
  const std::int64_t failed = Stat("failed_count");
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) names.push_back(FillAndSwitch());
  WaitStat("archived_count", archived + 3);  // PostgreSQL moved on: no retries, no stall
  EXPECT_EQ(Stat("failed_count"), failed);
  const wal::PushSpool spool(Spool(), 0);
  EXPECT_EQ(spool.Queued(), names);  // the spool holds them, the repository cannot yet
  for (int i = 0; i < 200 && !spool.LastError(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(spool.LastError()) << "the worker's failure was not recorded";
  EXPECT_NE(spool.LastError()->find("unable to push"), std::string::npos) << *spool.LastError();

  SetRepositoryWritable(true);
  for (const std::string& name : names) c().WaitArchived(name);
  for (int i = 0; i < 200 && !spool.Queued().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(spool.Queued().empty());
}

TEST_F(AsyncPushTest, FullSpoolFallsBackToSynchronousPushWhichFailsWhileUnwritable) {
  UseAsyncPush("20MiB");  // room for one segment
  SwitchAndDrain();
  SetRepositoryWritable(false);
  const std::int64_t archived = Stat("archived_count");
  const std::int64_t failed = Stat("failed_count");
  const std::string queued = FillAndSwitch();
  WaitStat("archived_count", archived + 1);
  const std::string refused = FillAndSwitch();
  WaitStat("failed_count", failed + 1);
  EXPECT_EQ(c().cluster().Scalar("SELECT last_failed_wal FROM pg_stat_archiver"), refused);
  EXPECT_EQ(wal::PushSpool(Spool(), 0).Queued(), std::vector<std::string>{queued});

  SetRepositoryWritable(true);
  c().WaitArchived(queued);
  c().WaitArchived(refused);
}

TEST_F(AsyncPushTest, CheckTimeoutNamesTheSpoolBacklogAndItsFailure) {
  UseAsyncPush("1GiB");
  SwitchAndDrain();
  SetRepositoryWritable(false);
  const std::int64_t archived = Stat("archived_count");
  FillAndSwitch();
  WaitStat("archived_count", archived + 1);
  const wal::PushSpool spool(Spool(), 0);
  for (int i = 0; i < 200 && !spool.LastError(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto r = RunDbmedic({"check", "--repo", c().repo_dir().string(), "--pg-host",
                             c().cluster().socket_dir().string(), "--pg-port",
                             std::to_string(c().cluster().port()), "--wal-check-timeout", "2s"});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kTimeout)) << r.err;
  EXPECT_NE(r.err.find("the asynchronous push spool holds"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("last failure: unable to push"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dbmedic::testing
