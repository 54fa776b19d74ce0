// PITR on top of an incremental chain: full backup, workload, `backup --type incr`, more
// workload with known commit times and a restore point, then `dbmedic restore --start` to a time
// or a restore point after the incr (the chain full + incr is assembled and archived WAL is
// replayed on top) and to a time between the full and the incr (the full is the backup that can
// reach it: the incr ends after the target). Each restored cluster is compared with a
// fingerprint of the database taken at the target.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "archiving_cluster.hpp"
#include "backup/backup.hpp"
#include "core/error.hpp"
#include "oracle.hpp"
#include "restore/pitr_restore.hpp"
#include "wal/restore_point.hpp"

namespace dbmedic::testing {
namespace {

using Fingerprint = std::map<std::string, std::string>;

class IncrPitr : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    primary_ = new ArchivingCluster(std::map<std::string, std::string>{{"autovacuum", "off"}});
    TestCluster& c = primary_->cluster();
    c.Sql("CREATE TABLE accounts AS SELECT g AS id, 0 AS balance, md5(g::text) AS note "
          "FROM generate_series(1, 50000) g");
    full_ = new repo::Manifest(Backup("full"));

    c.Sql("UPDATE accounts SET balance = balance + 1 WHERE id % 100 = 0");
    c.Sql("CREATE TABLE audit AS SELECT g AS id, 'before incr' AS what FROM generate_series(1, 500) g");
    before_incr_ = new Snapshot(Take());

    incr_ = new repo::Manifest(Backup("incr"));

    c.Sql("UPDATE accounts SET balance = balance + 10 WHERE id <= 700");
    c.Sql("DELETE FROM audit WHERE id > 400");
    c.Sql("INSERT INTO audit SELECT g, 'after incr' FROM generate_series(1001, 1200) g");
    after_incr_ = new Snapshot(Take());
    {
      pg::Connection conn = c.Connect();
      wal::CreateRestorePoint(conn, repo::OpenRepository(primary_->config()), "after-incr");
    }
    primary_->GiveRepositoryToServer();

    // Later work the targets must not include.
    c.Sql("UPDATE accounts SET balance = -1 WHERE id % 7 = 0");
    c.Sql("TRUNCATE audit");
    primary_->SwitchAndWait();
  }
  static void TearDownTestSuite() {
    delete after_incr_;
    delete before_incr_;
    delete incr_;
    delete full_;
    delete primary_;
  }

  struct Snapshot {
    Fingerprint fingerprint;
    std::string time;  // the server's clock after the last commit, before any later commit
  };

  static repo::Manifest Backup(const std::string& type) {
    repo::Manifest m = backup::RunBackup(primary_->ConfigFor(primary_->repo_dir(),
                                                             {{"backup.type", type}}))
                           .manifest;
    primary_->GiveRepositoryToServer();
    return m;
  }

  static Snapshot Take() {
    pg::Connection conn = primary_->cluster().Connect();
    Snapshot s{DatabaseFingerprint(conn), conn.Scalar(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")};
    conn.Exec("SELECT pg_sleep(0.05)");  // the next commit is stamped strictly later
    return s;
  }

  struct Outcome {
    nlohmann::json report;
    Fingerprint fingerprint;
  };

  // `dbmedic restore --start` to `target_args`; the restored cluster's fingerprint, then stopped.
  static Outcome RestoreWithCli(const std::string& dir, std::vector<std::string> target_args) {
    const fs::path data = primary_->cluster().root() / dir;
    std::vector<std::string> args = {"--output", "json", "restore", "--repo",
                                     primary_->repo_dir().string(), "--target-dir",
                                     data.string(), "--start", "--jobs", "2"};
    args.insert(args.end(), target_args.begin(), target_args.end());
    const auto r = RunDbmedic(args);
    if (r.exit_code != 0) {
      ADD_FAILURE() << "restore " << target_args.front() << " failed: " << r.err;
      return {};
    }
    Outcome out{nlohmann::json::parse(r.out), {}};
    restore::PitrResult started;
    started.port = out.report.at("port").get<int>();
    started.socket_dir = out.report.at("socket_dir").get<std::string>();
    Restored restored(started, data, primary_->cluster().os_user());
    pg::Connection conn = restored.Connect();
    out.fingerprint = DatabaseFingerprint(conn);
    return out;
  }

  static ArchivingCluster* primary_;
  static repo::Manifest* full_;
  static repo::Manifest* incr_;
  static Snapshot* before_incr_;
  static Snapshot* after_incr_;
};
ArchivingCluster* IncrPitr::primary_ = nullptr;
repo::Manifest* IncrPitr::full_ = nullptr;
repo::Manifest* IncrPitr::incr_ = nullptr;
IncrPitr::Snapshot* IncrPitr::before_incr_ = nullptr;
IncrPitr::Snapshot* IncrPitr::after_incr_ = nullptr;

TEST_F(IncrPitr, TheChainIsAFullAndAnIncrOnIt) {
  EXPECT_EQ(full_->type, "full");
  EXPECT_EQ(incr_->type, "incr");
  EXPECT_EQ(incr_->reference, full_->label);
  // The targets below differ from each other and from the end of the WAL.
  EXPECT_NE(before_incr_->fingerprint, after_incr_->fingerprint);
  pg::Connection conn = primary_->cluster().Connect();
  EXPECT_NE(DatabaseFingerprint(conn), after_incr_->fingerprint);
}

TEST_F(IncrPitr, ATimeAfterTheIncrRestoresTheChainAndReplaysTheArchivedWal) {
  const Outcome o = RestoreWithCli("to-time-after-incr", {"--to-time", after_incr_->time});
  ASSERT_FALSE(o.report.is_null());
  EXPECT_EQ(o.report.at("label"), incr_->label);
  EXPECT_TRUE(o.report.at("promoted").get<bool>());
  EXPECT_EQ(o.fingerprint, after_incr_->fingerprint);
}

TEST_F(IncrPitr, ARestorePointAfterTheIncrRestoresTheChainAndReplaysTheArchivedWal) {
  const Outcome o = RestoreWithCli("to-name-after-incr", {"--to-name", "after-incr"});
  ASSERT_FALSE(o.report.is_null());
  EXPECT_EQ(o.report.at("label"), incr_->label);
  EXPECT_EQ(o.fingerprint, after_incr_->fingerprint);
}

TEST_F(IncrPitr, ATimeBetweenTheFullAndTheIncrRestoresTheFull) {
  const Outcome o = RestoreWithCli("to-time-before-incr", {"--to-time", before_incr_->time});
  ASSERT_FALSE(o.report.is_null());
  EXPECT_EQ(o.report.at("label"), full_->label);
  EXPECT_EQ(o.fingerprint, before_incr_->fingerprint);
}

TEST_F(IncrPitr, NamingTheIncrForATimeBeforeItsEndIsRefused) {
  const auto r = RunDbmedic({"restore", "--repo", primary_->repo_dir().string(), "--target-dir",
                             (primary_->cluster().root() / "incr-too-late").string(), "--backup",
                             incr_->label, "--to-time", before_incr_->time});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kTarget)) << r.err;
  EXPECT_NE(r.err.find("is before the end of backup " + incr_->label), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(primary_->cluster().root() / "incr-too-late"));
}

}  // namespace
}  // namespace dbmedic::testing
