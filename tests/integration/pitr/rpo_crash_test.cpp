// RPO measured in archive_command mode: concurrent writers record every transaction whose COMMIT
// returned (the oracle); at a random moment of the workload the primary is killed (immediate
// shutdown) and its data directory thrown away; the repository alone (backup + archived WAL) is
// restored to the end of the archive and started. What is lost must be a suffix of the committed
// transactions (no hole, nothing torn); how many is the RPO, bounded by archive_timeout (the
// segment in progress is never archived). The same with `wal stream` named in
// synchronous_standby_names (archive_mode off): nothing committed may be lost. The figures are
// recorded as test properties (lost_transactions, lost_seconds) and printed; bench/rpo.sh
// repeats them (env DBMEDIC_RPO_ARCHIVE_TIMEOUT, default 1s; DBMEDIC_RPO_SEED).
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <thread>

#include "archiving_cluster.hpp"
#include "backup/backup.hpp"
#include "oracle.hpp"
#include "streamer.hpp"
#include "restore/pitr_restore.hpp"
#include "wal/archive_catalog.hpp"

namespace dbmedic::testing {
namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

enum class Mode { kArchiveCommand, kSynchronousStream };

// Runs the workload, crashes the primary at a random moment, restores from the repository alone;
// returns the committed transactions lost (recorded and printed).
int CrashAndCountLost(Mode mode) {
  const std::string archive_timeout = EnvOr("DBMEDIC_RPO_ARCHIVE_TIMEOUT", "1s");
  std::mt19937_64 rng(std::stoull(EnvOr("DBMEDIC_RPO_SEED", "42")));
  std::map<std::string, std::string> settings = {{"archive_timeout", archive_timeout},
                                                 {"autovacuum", "off"}};
  if (mode == Mode::kSynchronousStream) {
    settings = {{"archive_mode", "off"}, {"synchronous_standby_names", "rpo_sync"},
                {"autovacuum", "off"}};
  }
  ArchivingCluster primary(settings);
  TestCluster& c = primary.cluster();
  // With synchronous_standby_names, every COMMIT from here on waits for the receiver.
  std::optional<Streamer> streamer;
  if (mode == Mode::kSynchronousStream) streamer.emplace(primary, "rpo_sync");
  c.Sql("CREATE TABLE ledger (tx bigint, n int, payload text)");
  backup::RunBackup(primary.config());
  primary.GiveRepositoryToServer();

  constexpr int kWriters = 2;
  std::vector<std::vector<Tx>> per(kWriters);
  std::atomic<int> committed{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Writer(c, WriterOptions{w, 1000000, true}, per[w], committed);
    });
  }
  // Crash between 2 and 5 s into the workload.
  const auto crash_after = std::chrono::milliseconds(2000 + rng() % 3000);
  std::this_thread::sleep_for(crash_after);
  c.cluster().Stop(pg::StopMode::kImmediate);
  const auto crashed_at = std::chrono::system_clock::now();
  for (auto& t : writers) t.join();
  streamer.reset();
  fs::remove_all(c.data_dir());  // the primary's data directory is gone for good
  primary.GiveRepositoryToServer();

  std::vector<Tx> txs;
  for (auto& v : per) txs.insert(txs.end(), v.begin(), v.end());
  EXPECT_GT(txs.size(), 20u) << "the workload committed too little to measure";

  restore::PitrOptions o;
  o.restore.target_dir = c.root() / "restored";
  o.restore.os_user = c.os_user();
  o.target.kind = restore::TargetKind::kEnd;
  o.restore_command = primary.GetCommand();
  o.recovery_end_command = primary.RecoveryEndCommand();
  o.start = true;
  const repo::Repository repository = repo::OpenRepository(primary.config());
  const wal::WalArchive archive(repository, repository.info().codec);
  restore::ArchiveView view;
  for (const auto& [tli, cov] : wal::BuildCatalog(archive.List()).timelines) {
    view.segments[tli] = cov.segnos;
  }
  const restore::PitrResult r = restore::RestoreToTarget(repository, view, o);
  Restored restored(r, o.restore.target_dir, c.os_user());
  const std::map<std::int64_t, int> rows = restored.LedgerRows();
  const int lost = LostSuffix(txs, rows);

  // Seconds of committed work lost: from the newest transaction restored to the crash.
  std::int64_t newest_kept = 0;
  for (const Tx& tx : txs) {
    if (rows.contains(tx.id)) newest_kept = std::max(newest_kept, tx.commit_micros);
  }
  const double crash_micros = static_cast<double>(
      std::chrono::duration_cast<std::chrono::microseconds>(crashed_at.time_since_epoch()).count());
  const double lost_seconds =
      newest_kept == 0 ? -1 : (crash_micros - static_cast<double>(newest_kept)) / 1e6;
  const std::string what = mode == Mode::kArchiveCommand
                               ? "archive_command mode: archive_timeout=" + archive_timeout
                               : std::string("streaming + synchronous mode:");
  ::testing::Test::RecordProperty("committed_transactions", static_cast<int>(txs.size()));
  ::testing::Test::RecordProperty("lost_transactions", lost);
  ::testing::Test::RecordProperty("lost_seconds", fmt::format("{:.2f}", lost_seconds));
  std::printf("RPO %s crash after %lld ms: %zu committed, %d lost (newest restored commit %.2f s "
              "before the crash)\n",
              what.c_str(), static_cast<long long>(crash_after.count()), txs.size(), lost,
              lost_seconds);
  std::fflush(stdout);
  EXPECT_LT(lost, static_cast<int>(txs.size())) << "nothing came back";
  return lost;
}

TEST(RpoCrash, ArchiveCommandModeLosesOnlyASuffix) { CrashAndCountLost(Mode::kArchiveCommand); }

TEST(RpoCrash, SynchronousStreamingModeLosesNothing) {
  EXPECT_EQ(CrashAndCountLost(Mode::kSynchronousStream), 0);
}

}  // namespace
}  // namespace dbmedic::testing
