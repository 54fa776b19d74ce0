// `dbmedic expire` on a real archiving cluster: two full backups with archived WAL between and
// after them, a restore point after the second. Each test works on its own copy of the
// repository, so tests do not depend on each other's removals.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "backup/backup.hpp"
#include "core/error.hpp"
#include "integration/pitr/archiving_cluster.hpp"
#include "pg/local_cluster.hpp"
#include "wal/archive.hpp"
#include "wal/restore_point.hpp"

namespace dbmedic::testing {
namespace {

class ExpireTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    primary_ = new ArchivingCluster();
    TestCluster& c = primary_->cluster();
    c.Sql("CREATE TABLE marks (phase text, n int)");
    c.Sql("INSERT INTO marks SELECT 'before-a', g FROM generate_series(1, 100) g");
    const repo::Manifest first = backup::RunBackup(primary_->config()).manifest;
    first_ = new std::string(first.label);
    first_start_ = new pg::Lsn(pg::Lsn::Parse(first.start_lsn));
    for (int i = 0; i < 3; ++i) {
      c.Sql("INSERT INTO marks SELECT 'between', g FROM generate_series(1, 100) g");
      primary_->SwitchAndWait();
    }
    const repo::Manifest second = backup::RunBackup(primary_->config()).manifest;
    second_ = new std::string(second.label);
    second_start_ = new pg::Lsn(pg::Lsn::Parse(second.start_lsn));
    primary_->GiveRepositoryToServer();
    c.Sql("INSERT INTO marks SELECT 'after-b', g FROM generate_series(1, 100) g");
    pg::Connection conn = c.Connect();
    wal::CreateRestorePoint(conn, repo::OpenRepository(primary_->config()), "marker");
    c.Sql("INSERT INTO marks SELECT 'after-marker', g FROM generate_series(1, 100) g");
    primary_->SwitchAndWait();
  }
  static void TearDownTestSuite() {
    delete second_start_;
    delete second_;
    delete first_start_;
    delete first_;
    delete primary_;
  }

  // A copy of the repository owned by the server's user (restore_command runs as that user).
  fs::path CopyRepository(const std::string& name) {
    const fs::path dir = primary_->cluster().MakeOwnedDir(name);
    fs::copy(primary_->repo_dir(), dir, fs::copy_options::recursive);
    primary_->cluster().cluster().GiveToOsUser(dir);
    return dir;
  }

  static std::vector<std::string> Backups(const fs::path& repo_dir) {
    return repo::OpenRepository(primary_->ConfigFor(repo_dir)).ListBackups();
  }

  static std::vector<wal::ArchivedFile> Wal(const fs::path& repo_dir) {
    const repo::Repository repository = repo::OpenRepository(primary_->ConfigFor(repo_dir));
    return wal::WalArchive(repository, repository.info().codec).List();
  }

  static ArchivingCluster* primary_;
  static std::string* first_;
  static std::string* second_;
  static pg::Lsn* second_start_;
  static pg::Lsn* first_start_;
};

ArchivingCluster* ExpireTest::primary_ = nullptr;
std::string* ExpireTest::first_ = nullptr;
std::string* ExpireTest::second_ = nullptr;
pg::Lsn* ExpireTest::second_start_ = nullptr;
pg::Lsn* ExpireTest::first_start_ = nullptr;

TEST_F(ExpireTest, KeepFullOneRemovesTheOlderBackup) {
  const fs::path dir = CopyRepository("keep-full");
  const auto r = RunDbmedic({"--output", "json", "expire", "--repo", dir.string(), "--keep-full",
                             "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("expired_backups"), nlohmann::json::array({*first_}));
  EXPECT_FALSE(j.at("dry_run").get<bool>());
  EXPECT_EQ(Backups(dir), std::vector<std::string>{*second_});
  EXPECT_FALSE(fs::exists(dir / "backup" / *first_));
}

TEST_F(ExpireTest, KeepFullOneRemovesOnlyWalBeforeTheRetainedBackup) {
  const fs::path dir = CopyRepository("keep-full-wal");
  const std::size_t before = Wal(dir).size();
  const auto r = RunDbmedic({"expire", "--repo", dir.string(), "--keep-full", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::uint64_t keep_from = pg::SegmentNumber(*second_start_);
  bool start_segment_kept = false;
  for (const wal::ArchivedFile& f : Wal(dir)) {
    const auto seg = pg::ParseWalSegmentName(f.name.substr(0, 24));
    ASSERT_TRUE(seg) << f.name;
    EXPECT_GE(seg->segno, keep_from) << f.name << " should have been expired";
    if (seg->segno == keep_from && pg::IsWalSegmentName(f.name)) start_segment_kept = true;
  }
  EXPECT_TRUE(start_segment_kept);
  EXPECT_LT(Wal(dir).size(), before);
  EXPECT_NE(r.out.find("WAL: expired "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("; kept from " + pg::WalSegmentName(1, keep_from) + " on"),
            std::string::npos)
      << r.out;
}

TEST_F(ExpireTest, PointInTimeRecoveryWorksAfterExpire) {
  const fs::path dir = CopyRepository("pitr");
  ASSERT_EQ(RunDbmedic({"expire", "--repo", dir.string(), "--keep-full", "1"}).exit_code, 0);
  const fs::path target = primary_->cluster().root() / "pitr-restored";
  const auto r = RunDbmedic({"--output", "json", "restore", "--repo", dir.string(),
                             "--target-dir", target.string(), "--to-name", "marker", "--start",
                             "--jobs", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  pg::ClusterSpec spec;
  spec.data_dir = target;
  spec.socket_dir = j.at("socket_dir").get<std::string>();
  spec.port = j.at("port").get<int>();
  spec.os_user = primary_->cluster().os_user();
  pg::LocalCluster restored(spec);
  std::map<std::string, std::int64_t> rows;
  {
    pg::Connection conn = pg::Connection::Open(restored.ConnInfo());
    pg::Result res = conn.Exec("SELECT phase, count(*) FROM marks GROUP BY phase");
    for (int i = 0; i < res.rows(); ++i) rows[std::string(res.Get(i, 0))] = res.GetInt(i, 1);
  }
  restored.Stop(pg::StopMode::kImmediate);
  EXPECT_EQ(rows, (std::map<std::string, std::int64_t>{
                      {"after-b", 100}, {"before-a", 100}, {"between", 300}}));
}

TEST_F(ExpireTest, DryRunListsWhatWouldGoAndRemovesNothing) {
  const fs::path dir = CopyRepository("dry-run");
  const std::size_t wal_before = Wal(dir).size();
  const auto r = RunDbmedic({"--output", "json", "expire", "--repo", dir.string(), "--keep-full",
                             "1", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.at("dry_run").get<bool>());
  EXPECT_EQ(j.at("expired_backups"), nlohmann::json::array({*first_}));
  EXPECT_GT(j.at("expired_wal").at("files").get<int>(), 0);
  EXPECT_EQ(Backups(dir), (std::vector<std::string>{*first_, *second_}));
  EXPECT_EQ(Wal(dir).size(), wal_before);
}

TEST_F(ExpireTest, KeepFullTwoKeepsBothBackupsAndTheWalFromTheFirst) {
  const fs::path dir = CopyRepository("keep-two");
  const auto r = RunDbmedic({"--output", "json", "expire", "--repo", dir.string(), "--keep-full",
                             "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("expired_backups"), nlohmann::json::array());
  EXPECT_EQ(j.at("wal_kept_from"), pg::WalSegmentName(1, pg::SegmentNumber(*first_start_)));
  EXPECT_EQ(Backups(dir).size(), 2u);
  for (const wal::ArchivedFile& f : Wal(dir)) {
    EXPECT_GE(pg::ParseWalSegmentName(f.name.substr(0, 24))->segno,
              pg::SegmentNumber(*first_start_))
        << f.name;
  }
}

TEST_F(ExpireTest, WithoutAPolicyIsAUsageError) {
  const fs::path dir = CopyRepository("no-policy");
  const auto r = RunDbmedic({"expire", "--repo", dir.string()});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kUsage));
  EXPECT_NE(r.err.find("no retention policy"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--keep-full"), std::string::npos) << r.err;
  EXPECT_EQ(Backups(dir).size(), 2u);
}

TEST_F(ExpireTest, BackupExpiresAfterwardsWhenConfigured) {
  const fs::path dir = CopyRepository("after-backup");
  const TestCluster& c = primary_->cluster();
  const auto r = RunDbmedic({"--output", "json", "backup", "--repo", dir.string(), "--pg-host",
                             c.socket_dir().string(), "--pg-port", std::to_string(c.port()),
                             "--jobs", "2", "--expire-after-backup", "true", "--keep-full", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("expired").at("backups"), nlohmann::json::array({*first_, *second_}));
  EXPECT_EQ(Backups(dir), std::vector<std::string>{j.at("label").get<std::string>()});
}

}  // namespace
}  // namespace dbmedic::testing
