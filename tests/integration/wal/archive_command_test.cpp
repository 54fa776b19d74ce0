// `dbmedic wal push` as a real archive_command and `dbmedic wal get` as restore_command would
// call it, on a real PostgreSQL 15 cluster; plus `dbmedic check` and a failing push that
// PostgreSQL retries.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "../pitr/archiving_cluster.hpp"
#include "core/error.hpp"
#include "repo/codec.hpp"

namespace dbmedic::testing {
namespace {

class ArchiveCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new ArchivingCluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static ArchivingCluster& c() { return *cluster_; }
  static std::vector<std::string> Repo() { return {"--repo", c().repo_dir().string()}; }

  static ArchivingCluster* cluster_;
};
ArchivingCluster* ArchiveCommandTest::cluster_ = nullptr;

std::vector<std::string> Args(std::initializer_list<std::string> head,
                              const std::vector<std::string>& tail) {
  std::vector<std::string> out(head);
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

TEST_F(ArchiveCommandTest, SwitchedSegmentReachesTheRepository) {
  c().cluster().Sql("CREATE TABLE IF NOT EXISTS t (id int); INSERT INTO t VALUES (1)");
  const std::string name = c().SwitchAndWait();
  const repo::Repository repository = repo::OpenRepository(c().config());
  const wal::WalArchive archive(repository, repository.info().codec);
  const std::optional<wal::ArchivedFile> file = archive.Find(name);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->raw_size, 16u * 1024 * 1024);
  EXPECT_LT(file->stored_size, file->raw_size);  // compressed
}

TEST_F(ArchiveCommandTest, GetFetchesTheExactArchivedBytes) {
  const std::string name = c().SwitchAndWait();
  core::TempDir dir("wal-get");
  const auto r =
      RunDbmedic(Args({"wal", "get", name, (dir.path() / "RECOVERYXLOG").string()}, Repo()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string fetched = core::ReadFile(dir.path() / "RECOVERYXLOG");
  const repo::Repository repository = repo::OpenRepository(c().config());
  const wal::WalArchive archive(repository, repository.info().codec);
  EXPECT_EQ(repo::Sha256Hex(fetched), archive.Find(name)->sha256);
}

TEST_F(ArchiveCommandTest, GetOfAMissingSegmentExitsOneSilently) {
  core::TempDir dir("wal-get");
  const auto r = RunDbmedic(
      Args({"wal", "get", "0000000100000FFF000000FF", (dir.path() / "RECOVERYXLOG").string()},
           Repo()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "RECOVERYXLOG"));
}

TEST_F(ArchiveCommandTest, PushOfTheSameSegmentAgainIsADuplicate) {
  const std::string name = c().SwitchAndWait();
  core::TempDir dir("wal-push");
  ASSERT_EQ(RunDbmedic(Args({"wal", "get", name, (dir.path() / name).string()}, Repo())).exit_code,
            0);
  const auto r = RunDbmedic(
      Args({"--output", "json", "wal", "push", (dir.path() / name).string()}, Repo()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("outcome"), "duplicate");
}

TEST_F(ArchiveCommandTest, PushOfDifferentContentUnderAnArchivedNameIsRefused) {
  const std::string name = c().SwitchAndWait();
  core::TempDir dir("wal-push");
  const fs::path copy = dir.path() / name;
  ASSERT_EQ(RunDbmedic(Args({"wal", "get", name, copy.string()}, Repo())).exit_code, 0);
  std::string content = core::ReadFile(copy);
  content[content.size() - 1] ^= 0x5A;
  core::AtomicWriteFile(copy, content);
  const auto r = RunDbmedic(Args({"wal", "push", copy.string()}, Repo()));
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kConflict));
  EXPECT_NE(r.err.find(fmt::format("WAL file '{}' is already archived", name)), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("HINT:"), std::string::npos);
}

TEST_F(ArchiveCommandTest, CheckSeesTheSegmentArriveAndNoGap) {
  const auto r = RunDbmedic(Args({"--output", "json", "check", "--pg-host",
                                  c().cluster().socket_dir().string(), "--pg-port",
                                  std::to_string(c().cluster().port())},
                                 Repo()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.at("ok").get<bool>());
  EXPECT_TRUE(j.at("missing").empty());
  EXPECT_EQ(j.at("archive_mode"), "on");
  EXPECT_EQ(j.at("switched_segment").get<std::string>().size(), 24u);
}

TEST_F(ArchiveCommandTest, FailingPushIsRetriedAndNothingIsLost) {
  // The repository's archive directory becomes unwritable for the server's user.
  const fs::path tl = c().repo_dir() / "archive" / "00000001";
  c().SwitchAndWait();
  ::chmod(tl.c_str(), 0555);
  for (const auto& e : fs::directory_iterator(tl)) ::chmod(e.path().c_str(), 0555);
  const std::int64_t failed_before =
      std::stoll(c().cluster().Scalar("SELECT failed_count FROM pg_stat_archiver"));
  c().cluster().Sql("CREATE TABLE IF NOT EXISTS t (id int); INSERT INTO t SELECT generate_series(1, 1000)");
  const std::string name = c().cluster().Scalar("SELECT pg_walfile_name(pg_switch_wal())");
  for (int i = 0; i < 600; ++i) {
    if (std::stoll(c().cluster().Scalar("SELECT failed_count FROM pg_stat_archiver")) >
        failed_before) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GT(std::stoll(c().cluster().Scalar("SELECT failed_count FROM pg_stat_archiver")),
            failed_before);
  ::chmod(tl.c_str(), 0755);
  for (const auto& e : fs::directory_iterator(tl)) ::chmod(e.path().c_str(), 0755);
  c().WaitArchived(name);
  EXPECT_EQ(c().cluster().Scalar("SELECT last_failed_wal FROM pg_stat_archiver"), name);
}

}  // namespace
}  // namespace dbmedic::testing
