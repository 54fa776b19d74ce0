// The PITR checker: concurrent transactions with an oracle (commit time, WAL positions bracketing
// the commit record, xid, rows), archived by `dbmedic wal push` with segment switches under load;
// then restores to targets inside the window, started and replayed by PostgreSQL with
// `dbmedic wal get`, compared with the oracle: every transaction committed before the target is
// there with all its rows, none after it is. Commit records' exact LSNs are unknown to SQL, so a
// transaction whose bracket straddles the stop point is "either", and checked only for atomicity.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "archiving_cluster.hpp"
#include "oracle.hpp"
#include "backup/backup.hpp"
#include "core/error.hpp"
#include "pg/local_cluster.hpp"
#include "restore/pitr_restore.hpp"
#include "wal/archive_catalog.hpp"
#include "wal/restore_point.hpp"

namespace dbmedic::testing {
namespace {

constexpr int kWriters = 2;
constexpr int kTxPerWriter = 150;

std::atomic<int> g_committed{0};

class PitrOracleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // autovacuum off: its ANALYZE commits would be extra stop points the oracle does not know.
    primary_ = new ArchivingCluster(std::map<std::string, std::string>{{"autovacuum", "off"}});
    TestCluster& c = primary_->cluster();
    c.Sql("CREATE TABLE ledger (tx bigint, n int, payload text)");
    backup::RunBackup(primary_->config());
    primary_->GiveRepositoryToServer();
    txs_ = new std::vector<Tx>();
    RunWorkload();
    primary_->SwitchAndWait();
  }
  static void TearDownTestSuite() {
    delete txs_;
    delete primary_;
  }

  static void RunWorkload() {
    std::vector<std::vector<Tx>> per(kWriters);
    std::atomic<int> done{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([w, &per, &done] {
        Writer(primary_->cluster(), WriterOptions{w, kTxPerWriter, false}, per[w], g_committed);
        ++done;
      });
    }
    pg::Connection conn = primary_->cluster().Connect();
    const repo::Repository repository = repo::OpenRepository(primary_->config());
    int ticks = 0;
    bool failing = false;
    while (done < kWriters) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (++ticks % 10 == 0) conn.Exec("SELECT pg_switch_wal()");  // switches under load
      // The repository is unwritable for the middle third of the workload: `wal push` fails,
      // PostgreSQL keeps the WAL and retries; the restores below prove nothing was lost.
      const int n = g_committed;
      if (!failing && n >= kWriters * kTxPerWriter / 3 && n < kWriters * kTxPerWriter * 2 / 3) {
        failing = true;
        SetArchiveWritable(false);
      } else if (failing && n >= kWriters * kTxPerWriter * 2 / 3) {
        // On a fast machine the middle third can pass before any push was tried: switch the
        // segment and wait (bounded) until a push has met the unwritable repository.
        auto failed = [&] {
          return std::stoll(primary_->cluster().Scalar(
                     "SELECT failed_count FROM pg_stat_archiver")) > 0;
        };
        conn.Exec("SELECT pg_switch_wal()");
        for (int i = 0; i < 600 && !failed(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        failing = false;
        archive_failed_ = failed();
        SetArchiveWritable(true);
      }
      if (!point_ && g_committed >= kWriters * kTxPerWriter / 2) {
        point_ = wal::CreateRestorePoint(conn, repository, "halfway");
      }
    }
    for (auto& t : threads) t.join();
    if (failing) SetArchiveWritable(true);
    for (auto& v : per) txs_->insert(txs_->end(), v.begin(), v.end());
    ASSERT_TRUE(point_) << "the workload ended before the restore point was made";
  }

  static void SetArchiveWritable(bool writable) {
    const fs::path tl = primary_->repo_dir() / "archive" / "00000001";
    const mode_t mode = writable ? 0755 : 0555;
    ::chmod(tl.c_str(), mode);
    for (const auto& e : fs::directory_iterator(tl)) ::chmod(e.path().c_str(), mode);
  }

  static restore::PitrResult Restore(const std::string& dir, restore::RecoveryTarget target) {
    restore::PitrOptions o;
    o.restore.target_dir = primary_->cluster().root() / dir;
    o.restore.os_user = primary_->cluster().os_user();
    o.restore.jobs = 2;
    o.target = std::move(target);
    o.restore_command = primary_->GetCommand();
    o.recovery_end_command = primary_->RecoveryEndCommand();
    o.start = true;
    const repo::Repository repository = repo::OpenRepository(primary_->config());
    return restore::RestoreToTarget(repository, View(repository), o);
  }

  static restore::ArchiveView View(const repo::Repository& repository) {
    const wal::WalArchive archive(repository, repository.info().codec);
    restore::ArchiveView view;
    for (const auto& [tli, cov] : wal::BuildCatalog(archive.List()).timelines) {
      view.segments[tli] = cov.segnos;
      if (auto newest = wal::NewestSegment(archive, tli)) {
        if (auto last = wal::FindLastTransaction(archive, *newest)) {
          view.last_transaction_micros[tli] = last->unix_micros;
        }
      }
    }
    return view;
  }

  static int Compare(const std::map<std::int64_t, int>& rows,
                     const std::function<Expect(const Tx&)>& expect) {
    return testing::Compare(*txs_, rows, expect);
  }

  static ArchivingCluster* primary_;
  static std::vector<Tx>* txs_;
  static std::optional<wal::RestorePoint> point_;
  static bool archive_failed_;
};
ArchivingCluster* PitrOracleTest::primary_ = nullptr;
std::vector<Tx>* PitrOracleTest::txs_ = nullptr;
std::optional<wal::RestorePoint> PitrOracleTest::point_;
bool PitrOracleTest::archive_failed_ = false;

TEST_F(PitrOracleTest, RandomTimesInsideTheWindowMatchTheOracle) {
  std::mt19937_64 rng(20261129);
  std::int64_t lo = INT64_MAX, hi = 0;
  for (const Tx& tx : *txs_) {
    lo = std::min(lo, tx.commit_micros);
    hi = std::max(hi, tx.commit_micros);
  }
  for (int i = 0; i < 2; ++i) {
    const std::int64_t t = lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo));
    restore::RecoveryTarget target;
    target.kind = restore::TargetKind::kTime;
    target.unix_micros = t;
    target.text = wal::FormatUnixMicros(t);
    const std::string dir = fmt::format("pitr-time-{}", i);
    const restore::PitrResult r = Restore(dir, target);
    Restored restored(r, primary_->cluster().root() / dir, primary_->cluster().os_user());
    EXPECT_TRUE(r.promoted);
    EXPECT_GT(r.rto_seconds, 0);
    const int decided = Compare(restored.LedgerRows(), TimeOracle(*txs_, t));
    EXPECT_GT(decided, static_cast<int>(txs_->size()) / 2) << "the oracle decided too little";
  }
}

// The workload's middle third ran with an unwritable repository: PostgreSQL's retries of the
// failed pushes got every segment there, and replay through `wal get` (with prefetch) brings back
// every committed transaction. recovery_end_command then removes the prefetch spool.
TEST_F(PitrOracleTest, EndOfArchiveHasEveryCommittedTransactionDespiteFailedPushes) {
  EXPECT_TRUE(archive_failed_) << "no push failed while the repository was unwritable";
  restore::RecoveryTarget target;
  target.kind = restore::TargetKind::kEnd;
  const restore::PitrResult r = Restore("pitr-end", target);
  Restored restored(r, primary_->cluster().root() / "pitr-end", primary_->cluster().os_user());
  Compare(restored.LedgerRows(), [](const Tx&) { return Expect::kPresent; });
  // Prefetch served the replay, and its spool is gone once recovery ended.
  const std::string log = core::ReadFile(r.log_file);
  const std::size_t at = log.find("dbmedic: recovery ended; ");
  ASSERT_NE(at, std::string::npos) << log;
  EXPECT_EQ(log.find("dbmedic: recovery ended; 0 WAL segments"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(primary_->cluster().root() / "pitr-end" / "pg_wal" / "dbmedic-prefetch"));
}

TEST_F(PitrOracleTest, RandomLsnExclusiveMatchesTheOracle) {
  std::mt19937_64 rng(7);
  const pg::Lsn lo = std::min_element(txs_->begin(), txs_->end(), [](auto& a, auto& b) {
                       return a.before < b.before;
                     })->before;
  const pg::Lsn hi = std::max_element(txs_->begin(), txs_->end(), [](auto& a, auto& b) {
                       return a.after < b.after;
                     })->after;
  const pg::Lsn t{lo.value + rng() % (hi.value - lo.value)};
  restore::RecoveryTarget target;
  target.kind = restore::TargetKind::kLsn;
  target.lsn = t;
  target.text = t.ToString();
  target.inclusive = false;
  const restore::PitrResult r = Restore("pitr-lsn", target);
  Restored restored(r, primary_->cluster().root() / "pitr-lsn", primary_->cluster().os_user());
  const int decided = Compare(restored.LedgerRows(), LsnOracle(t));
  EXPECT_GT(decided, static_cast<int>(txs_->size()) / 2);
  EXPECT_GE(pg::Lsn::Parse(r.replay_lsn), pg::Lsn{t.value - 8192});
}

TEST_F(PitrOracleTest, RestorePointNameMatchesTheOracle) {
  restore::RecoveryTarget target;
  target.kind = restore::TargetKind::kName;
  target.text = "halfway";
  target.lsn = pg::Lsn::Parse(point_->lsn);
  const restore::PitrResult r = Restore("pitr-name", target);
  Restored restored(r, primary_->cluster().root() / "pitr-name", primary_->cluster().os_user());
  Compare(restored.LedgerRows(), LsnOracle(*target.lsn));
}

TEST_F(PitrOracleTest, XidInclusiveKeepsThatTransaction) {
  const Tx& pick = (*txs_)[txs_->size() / 3];
  restore::RecoveryTarget target;
  target.kind = restore::TargetKind::kXid;
  target.text = std::to_string(pick.xid);
  const restore::PitrResult r = Restore("pitr-xid", target);
  Restored restored(r, primary_->cluster().root() / "pitr-xid", primary_->cluster().os_user());
  Compare(restored.LedgerRows(), [&](const Tx& a) {
    if (a.id == pick.id) return Expect::kPresent;
    if (a.after <= pick.before) return Expect::kPresent;
    if (a.before >= pick.after) return Expect::kAbsent;
    return Expect::kEither;
  });
}

TEST_F(PitrOracleTest, PauseStopsAtTheTargetWithoutPromoting) {
  restore::RecoveryTarget target;
  target.kind = restore::TargetKind::kImmediate;
  target.action = restore::TargetAction::kPause;
  const restore::PitrResult r = Restore("pitr-pause", target);
  Restored restored(r, primary_->cluster().root() / "pitr-pause", primary_->cluster().os_user());
  EXPECT_FALSE(r.promoted);
  pg::Connection conn = restored.Connect();
  EXPECT_EQ(conn.Scalar("SELECT pg_is_in_recovery()::text"), "true");
  EXPECT_EQ(conn.Scalar("SELECT pg_get_wal_replay_pause_state()"), "paused");
  // The backup was taken before the workload: none of it is there.
  EXPECT_EQ(conn.Scalar("SELECT count(*) FROM ledger"), "0");
}

TEST_F(PitrOracleTest, TargetBeyondTheArchiveIsRefusedBeforeRestoring) {
  restore::RecoveryTarget target;
  target.kind = restore::TargetKind::kLsn;
  target.lsn = pg::Lsn::Parse("FF/0");
  target.text = "FF/0";
  try {
    Restore("pitr-beyond", target);
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTarget);
    EXPECT_NE(std::string(e.what()).find("beyond the end of the WAL archive; recoverable "
                                         "window:\n  timeline 1: "),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(primary_->cluster().root() / "pitr-beyond"));
}

TEST_F(PitrOracleTest, CliRestoreToNameStartsAndReportsRto) {
  const fs::path dir = primary_->cluster().root() / "pitr-cli";
  const auto r = RunDbmedic({"--output", "json", "restore", "--repo",
                             primary_->repo_dir().string(), "--target-dir", dir.string(),
                             "--to-name", "halfway", "--start", "--jobs", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  restore::PitrResult result;
  result.port = j.at("port").get<int>();
  result.socket_dir = j.at("socket_dir").get<std::string>();
  Restored restored(result, dir, primary_->cluster().os_user());
  EXPECT_TRUE(j.at("promoted").get<bool>());
  EXPECT_GT(j.at("rto_seconds").get<double>(), j.at("restore_seconds").get<double>());
  EXPECT_EQ(j.at("timeline").get<std::string>(), "00000002");
  EXPECT_FALSE(j.at("last_transaction_time").get<std::string>().empty());
  Compare(restored.LedgerRows(), LsnOracle(pg::Lsn::Parse(point_->lsn)));
}

TEST_F(PitrOracleTest, CliRefusesATimeBeforeTheOldestBackup) {
  const auto r = RunDbmedic({"restore", "--repo", primary_->repo_dir().string(), "--target-dir",
                             (primary_->cluster().root() / "pitr-early").string(), "--to-time",
                             "2001-01-01 00:00:00+00"});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kTarget));
  EXPECT_NE(r.err.find("is before the end of the oldest backup; recoverable window:"),
            std::string::npos)
      << r.err;
}

TEST_F(PitrOracleTest, CliInfoShowsTheRecoverableWindow) {
  const auto r = RunDbmedic({"--output", "json", "info", "--repo", primary_->repo_dir().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out).at("recoverable");
  ASSERT_EQ(j.at("windows").size(), 1u);
  EXPECT_EQ(j.at("windows")[0].at("timeline"), 1);
  EXPECT_TRUE(j.at("windows")[0].contains("to_time"));
  EXPECT_TRUE(j.at("archive").at("healthy").get<bool>());
}

}  // namespace
}  // namespace dbmedic::testing
