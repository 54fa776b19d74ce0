// `wal stream` as the only WAL source of a repository (archive_mode = off), named in
// synchronous_standby_names:
//   - RPO 0: every transaction whose COMMIT returned is in the repository, across a server
//     restart and a dropped replication connection in the middle of the workload; the primary is
//     then killed (immediate shutdown) and a restore from the repository alone (backup + streamed
//     segments + the stream's partial segment) holds every committed transaction;
//   - the PITR checker in streaming mode: a restore to a time inside the streamed WAL matches the
//     oracle;
//   - a gap the slot can no longer fill (slot dropped while the receiver was down, WAL recycled)
//     is reported by the receiver and listed by `dbmedic check`.
#include <gtest/gtest.h>

#include <algorithm>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "archiving_cluster.hpp"
#include "backup/backup.hpp"
#include "oracle.hpp"
#include "pg/local_cluster.hpp"
#include "restore/pitr_restore.hpp"
#include "wal/archive_catalog.hpp"
#include "streamer.hpp"
#include "wal/stream_receiver.hpp"

namespace dbmedic::testing {
namespace {

restore::ArchiveView ViewOf(const wal::WalArchive& archive) {
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

class StreamRpoTest : public ::testing::Test {
 protected:
  // Streaming only: nothing reaches the repository through archive_command.
  static void SetUpTestSuite() {
    primary_ = new ArchivingCluster(std::map<std::string, std::string>{
        {"archive_mode", "off"}, {"synchronous_standby_names", "dbmedic_sync"},
        {"autovacuum", "off"}});
    TestCluster& c = primary_->cluster();
    // With synchronous_standby_names, every COMMIT from here on waits for the receiver.
    streamer_ = new Streamer(*primary_, "dbmedic_sync");
    c.Sql("CREATE TABLE ledger (tx bigint, n int, payload text)");
    backup::RunBackup(primary_->config());
    primary_->GiveRepositoryToServer();
    txs_ = new std::vector<Tx>();
    RunWorkloadWithInterruptions();
    primary_->cluster().cluster().Stop(pg::StopMode::kImmediate);  // crash
    delete streamer_;
    streamer_ = nullptr;
    primary_->GiveRepositoryToServer();
  }
  static void TearDownTestSuite() {
    delete streamer_;
    delete txs_;
    delete primary_;
  }

  // Two writers; the server is restarted after a third of the transactions and the receiver's
  // connection is terminated after two thirds. Synchronous commit waits for the receiver.
  static void RunWorkloadWithInterruptions() {
    constexpr int kWriters = 2, kEach = 120;
    std::vector<std::vector<Tx>> per(kWriters);
    std::atomic<int> committed{0};
    auto run = [&](int first, int count) {
      std::vector<std::thread> threads;
      for (int w = 0; w < kWriters; ++w) {
        threads.emplace_back([&, w] {
          std::vector<Tx> out;
          Writer(primary_->cluster(), WriterOptions{w + first, count, false}, out, committed);
          per[w].insert(per[w].end(), out.begin(), out.end());
        });
      }
      for (auto& t : threads) t.join();
    };
    TestCluster& c = primary_->cluster();
    run(0, kEach / 3);
    c.cluster().Stop(pg::StopMode::kFast);
    c.cluster().Start();
    run(10, kEach / 3);
    c.Sql("SELECT pg_switch_wal()");
    c.Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = "
          "'dbmedic_sync'");
    run(20, kEach / 3);
    EXPECT_EQ(c.Scalar("SELECT sync_state FROM pg_stat_replication WHERE application_name = "
                       "'dbmedic_sync'"),
              "sync");
    for (auto& v : per) txs_->insert(txs_->end(), v.begin(), v.end());
  }

  static restore::PitrResult Restore(const std::string& dir, restore::RecoveryTarget target) {
    restore::PitrOptions o;
    o.restore.target_dir = primary_->cluster().root() / dir;
    o.restore.os_user = primary_->cluster().os_user();
    o.target = std::move(target);
    o.restore_command = primary_->GetCommand();
    o.recovery_end_command = primary_->RecoveryEndCommand();
    o.start = true;
    const repo::Repository repository = repo::OpenRepository(primary_->config());
    const wal::WalArchive archive(repository, repository.info().codec);
    return restore::RestoreToTarget(repository, ViewOf(archive), o);
  }

  static ArchivingCluster* primary_;
  static Streamer* streamer_;
  static std::vector<Tx>* txs_;
};
ArchivingCluster* StreamRpoTest::primary_ = nullptr;
Streamer* StreamRpoTest::streamer_ = nullptr;
std::vector<Tx>* StreamRpoTest::txs_ = nullptr;

TEST_F(StreamRpoTest, StreamedArchiveHasNoGapAcrossRestartAndDroppedConnection) {
  const repo::Repository repository = repo::OpenRepository(primary_->config());
  const wal::WalArchive archive(repository, repository.info().codec);
  const wal::ArchiveCatalog catalog = wal::BuildCatalog(archive.List());
  ASSERT_EQ(catalog.timelines.count(1), 1u);
  EXPECT_TRUE(catalog.timelines.at(1).gaps.empty());
  EXPECT_GE(catalog.timelines.at(1).segnos.size(), 3u);
}

TEST_F(StreamRpoTest, SynchronousStreamingLosesNoCommittedTransaction) {
  restore::RecoveryTarget target;
  target.kind = restore::TargetKind::kEnd;
  const restore::PitrResult r = Restore("restored-end", target);
  Restored restored(r, primary_->cluster().root() / "restored-end", primary_->cluster().os_user());
  const int lost = LostSuffix(*txs_, restored.LedgerRows());
  RecordProperty("committed_transactions", static_cast<int>(txs_->size()));
  RecordProperty("lost_transactions", lost);
  EXPECT_EQ(lost, 0) << "committed transactions lost with synchronous streaming";
}

TEST_F(StreamRpoTest, RandomTimeInsideTheStreamedWalMatchesTheOracle) {
  // A time in the first two thirds: inside segments the receiver completed and archived.
  std::vector<std::int64_t> times;
  for (const Tx& tx : *txs_) times.push_back(tx.commit_micros);
  std::sort(times.begin(), times.end());
  std::mt19937_64 rng(31);
  // Every commit is after the backup's end (recorded to the microsecond by the server's clock).
  const std::size_t lo = times.size() / 6;
  const std::size_t hi = std::max(lo + 1, times.size() * 2 / 3);
  const std::int64_t t = times[std::min(lo + rng() % (hi - lo), times.size() - 1)];
  restore::RecoveryTarget target;
  target.kind = restore::TargetKind::kTime;
  target.unix_micros = t;
  target.text = wal::FormatUnixMicros(t);
  const restore::PitrResult r = Restore("restored-time", target);
  Restored restored(r, primary_->cluster().root() / "restored-time",
                    primary_->cluster().os_user());
  EXPECT_TRUE(r.promoted);
  const int decided = Compare(*txs_, restored.LedgerRows(), TimeOracle(*txs_, t));
  EXPECT_GT(decided, static_cast<int>(txs_->size()) / 2) << "the oracle decided too little";
}

// Its own cluster: the receiver stops, its slot is dropped and the server recycles the WAL it
// had not received; when the receiver comes back, that WAL is gone for good.
TEST(StreamGap, UnfillableGapIsReportedAndListedByCheck) {
  ArchivingCluster primary(std::map<std::string, std::string>{
      {"archive_mode", "off"}, {"min_wal_size", "32MB"}, {"max_wal_size", "32MB"}});
  TestCluster& c = primary.cluster();
  c.Sql("CREATE TABLE t (id int)");
  std::string stale;
  {
    Streamer streamer(primary, "gap_slot");
    c.Sql("INSERT INTO t VALUES (1)");
    c.Sql("SELECT pg_switch_wal()");
    c.Sql("INSERT INTO t VALUES (2)");
    streamer.WaitFlushed(pg::Lsn::Parse(c.Scalar("SELECT pg_current_wal_flush_lsn()::text")));
    stale = c.Scalar("SELECT pg_walfile_name(pg_current_wal_flush_lsn())");
  }
  c.Sql("SELECT pg_drop_replication_slot('gap_slot')");
  for (int i = 0; i < 4; ++i) c.Sql("INSERT INTO t VALUES (3); SELECT pg_switch_wal()");
  c.Sql("CHECKPOINT");
  c.Sql("CHECKPOINT");

  std::optional<std::pair<pg::Lsn, pg::Lsn>> gap;
  std::mutex mu;
  Streamer streamer(primary, "gap_slot", [&](pg::Lsn from, pg::Lsn to) {
    std::lock_guard lock(mu);
    gap = {from, to};
  });
  c.Sql("INSERT INTO t VALUES (4)");
  streamer.WaitFlushed(pg::Lsn::Parse(c.Scalar("SELECT pg_current_wal_flush_lsn()::text")));
  {
    std::lock_guard lock(mu);
    ASSERT_TRUE(gap) << "the receiver did not report the gap";
    EXPECT_EQ(pg::WalSegmentName(1, pg::SegmentNumber(gap->first)), stale);
    EXPECT_GT(pg::SegmentNumber(gap->second), pg::SegmentNumber(gap->first) + 1);
  }

  const auto r = RunDbmedic({"--output", "json", "check", "--repo", primary.repo_dir().string(),
                             "--pg-host", c.socket_dir().string(), "--pg-port",
                             std::to_string(c.port())});
  ASSERT_EQ(r.exit_code, static_cast<int>(ErrorCode::kCorrupt)) << r.out << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "stdout: " << r.out << "\nstderr: " << r.err;
  EXPECT_FALSE(j.at("ok").get<bool>());
  ASSERT_EQ(j.at("missing").size(), 1u) << r.out;
  const auto stale_seg = pg::ParseWalSegmentName(stale);
  ASSERT_TRUE(stale_seg);
  EXPECT_EQ(j.at("missing")[0].at("first"), pg::WalSegmentName(1, stale_seg->segno + 1));
  std::lock_guard lock(mu);
  EXPECT_EQ(j.at("missing")[0].at("last"),
            pg::WalSegmentName(1, pg::SegmentNumber(gap->second) - 1));
}

}  // namespace
}  // namespace dbmedic::testing
