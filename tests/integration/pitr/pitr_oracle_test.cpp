// The PITR checker: concurrent transactions with an oracle (commit time, WAL positions bracketing
// the commit record, xid, rows), archived by `dbmedic wal push` with segment switches under load;
// then restores to targets inside the window, started and replayed by PostgreSQL with
// `dbmedic wal get`, compared with the oracle: every transaction committed before the target is
// there with all its rows, none after it is. Commit records' exact LSNs are unknown to SQL, so a
// transaction whose bracket straddles the stop point is "either", and checked only for atomicity.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "archiving_cluster.hpp"
#include "backup/backup.hpp"
#include "core/error.hpp"
#include "pg/local_cluster.hpp"
#include "restore/pitr_restore.hpp"
#include "wal/archive_catalog.hpp"
#include "wal/restore_point.hpp"

namespace dbmedic::testing {
namespace {

struct Tx {
  std::int64_t id = 0;
  std::int64_t xid = 0;
  std::int64_t commit_micros = 0;
  pg::Lsn before;  // insert position inside the transaction, before its commit record
  pg::Lsn after;   // insert position after COMMIT returned
  int rows = 0;
};

enum class Expect { kPresent, kAbsent, kEither };

constexpr int kWriters = 2;
constexpr int kTxPerWriter = 150;

std::atomic<int> g_committed{0};

void Writer(const TestCluster& c, int writer, std::vector<Tx>& out) {
  pg::Connection conn = c.Connect();
  for (int i = 0; i < kTxPerWriter; ++i) {
    Tx tx;
    tx.id = writer * 100000 + i;
    tx.rows = 1 + i % 4;
    conn.Exec("BEGIN");
    pg::Result r = conn.Exec("SELECT pg_current_wal_insert_lsn()::text, txid_current()");
    tx.before = pg::Lsn::Parse(r.Get(0, 0));
    tx.xid = r.GetInt(0, 1);
    conn.Exec(fmt::format("INSERT INTO ledger SELECT {}, g, md5(g::text) FROM "
                          "generate_series(1, {}) g",
                          tx.id, tx.rows));
    conn.Exec("COMMIT");
    pg::Result a = conn.Exec(fmt::format(
        "SELECT pg_current_wal_insert_lsn()::text, (extract(epoch FROM "
        "pg_xact_commit_timestamp(xmin)) * 1000000)::bigint FROM ledger WHERE tx = {} LIMIT 1",
        tx.id));
    tx.after = pg::Lsn::Parse(a.Get(0, 0));
    tx.commit_micros = a.GetInt(0, 1);
    out.push_back(tx);
    ++g_committed;
  }
}

// A restored cluster left running by RestoreToTarget(start), stopped at the end of the test.
class Restored {
 public:
  explicit Restored(const restore::PitrResult& r, const fs::path& data_dir, std::string os_user)
      : cluster_(Spec(r, data_dir, std::move(os_user))) {}
  ~Restored() {
    try {
      cluster_.Stop(pg::StopMode::kImmediate);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not stop restored cluster: " << e.what();
    }
  }
  std::map<std::int64_t, int> LedgerRows() const {
    pg::Connection conn = pg::Connection::Open(cluster_.ConnInfo());
    pg::Result r = conn.Exec("SELECT tx, count(*) FROM ledger GROUP BY tx");
    std::map<std::int64_t, int> out;
    for (int i = 0; i < r.rows(); ++i) out[r.GetInt(i, 0)] = static_cast<int>(r.GetInt(i, 1));
    return out;
  }
  pg::Connection Connect() const { return pg::Connection::Open(cluster_.ConnInfo()); }

 private:
  static pg::ClusterSpec Spec(const restore::PitrResult& r, const fs::path& data_dir,
                              std::string os_user) {
    pg::ClusterSpec spec;
    spec.data_dir = data_dir;
    spec.socket_dir = r.socket_dir;
    spec.port = r.port;
    spec.os_user = std::move(os_user);
    return spec;
  }
  pg::LocalCluster cluster_;
};

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
        Writer(primary_->cluster(), w, per[w]);
        ++done;
      });
    }
    pg::Connection conn = primary_->cluster().Connect();
    const repo::Repository repository = repo::OpenRepository(primary_->config());
    int ticks = 0;
    while (done < kWriters) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (++ticks % 10 == 0) conn.Exec("SELECT pg_switch_wal()");  // switches under load
      if (!point_ && g_committed >= kWriters * kTxPerWriter / 2) {
        point_ = wal::CreateRestorePoint(conn, repository, "halfway");
      }
    }
    for (auto& t : threads) t.join();
    for (auto& v : per) txs_->insert(txs_->end(), v.begin(), v.end());
    ASSERT_TRUE(point_) << "the workload ended before the restore point was made";
  }

  static restore::PitrResult Restore(const std::string& dir, restore::RecoveryTarget target) {
    restore::PitrOptions o;
    o.restore.target_dir = primary_->cluster().root() / dir;
    o.restore.os_user = primary_->cluster().os_user();
    o.restore.jobs = 2;
    o.target = std::move(target);
    o.restore_command = primary_->GetCommand();
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

  // Compares the restored ledger with the oracle; returns how many transactions were decided.
  static int Compare(const std::map<std::int64_t, int>& rows,
                     const std::function<Expect(const Tx&)>& expect) {
    int decided = 0;
    for (const Tx& tx : *txs_) {
      const auto it = rows.find(tx.id);
      const int found = it == rows.end() ? 0 : it->second;
      EXPECT_TRUE(found == 0 || found == tx.rows) << "transaction " << tx.id << " is torn";
      switch (expect(tx)) {
        case Expect::kPresent:
          EXPECT_EQ(found, tx.rows) << "transaction " << tx.id << " committed before the target";
          ++decided;
          break;
        case Expect::kAbsent:
          EXPECT_EQ(found, 0) << "transaction " << tx.id << " committed after the target";
          ++decided;
          break;
        case Expect::kEither:
          break;
      }
    }
    return decided;
  }

  static ArchivingCluster* primary_;
  static std::vector<Tx>* txs_;
  static std::optional<wal::RestorePoint> point_;
};
ArchivingCluster* PitrOracleTest::primary_ = nullptr;
std::vector<Tx>* PitrOracleTest::txs_ = nullptr;
std::optional<wal::RestorePoint> PitrOracleTest::point_;

// Recovery stops before the first commit record (in WAL order) whose time is after the target:
// a transaction with an earlier time is present when its commit precedes every later-timed
// commit's bracket, absent when it follows one, else either.
std::function<Expect(const Tx&)> TimeOracle(const std::vector<Tx>& txs, std::int64_t target) {
  pg::Lsn min_before{~0ull}, min_after{~0ull};
  for (const Tx& b : txs) {
    if (b.commit_micros <= target) continue;
    min_before = std::min(min_before, b.before);
    min_after = std::min(min_after, b.after);
  }
  return [=](const Tx& a) {
    if (a.commit_micros > target) return Expect::kAbsent;
    if (a.after <= min_before) return Expect::kPresent;
    if (a.before >= min_after) return Expect::kAbsent;
    return Expect::kEither;
  };
}

// Exclusive LSN target: records starting before it are replayed, none from it on.
std::function<Expect(const Tx&)> LsnOracle(pg::Lsn target) {
  return [=](const Tx& a) {
    if (a.after <= target) return Expect::kPresent;
    if (a.before >= target) return Expect::kAbsent;
    return Expect::kEither;
  };
}

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
