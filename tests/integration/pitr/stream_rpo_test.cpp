// RPO 0 with `wal stream` named in synchronous_standby_names: every transaction whose COMMIT
// returned is in the repository. The primary is killed (immediate shutdown) right after the last
// COMMIT, its data directory is never used again, and a restore from the repository alone (backup
// + archive + the stream's partial segment) must contain every committed transaction.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "archiving_cluster.hpp"
#include "backup/backup.hpp"
#include "pg/local_cluster.hpp"
#include "restore/pitr_restore.hpp"
#include "wal/archive_catalog.hpp"
#include "wal/stream_receiver.hpp"

namespace dbmedic::testing {
namespace {

TEST(StreamRpo, SynchronousStreamingLosesNoCommittedTransaction) {
  ArchivingCluster primary(std::map<std::string, std::string>{{"synchronous_standby_names", "dbmedic_sync"}});
  TestCluster& c = primary.cluster();
  const repo::Repository repository = repo::OpenRepository(primary.config());
  wal::WalArchive archive(repository, repository.info().codec);

  std::atomic<bool> stop{false};
  wal::StreamOptions options;
  options.conninfo = fmt::format("host={} port={} user=postgres dbname=postgres",
                                 c.socket_dir().string(), c.port());
  options.slot = "dbmedic_sync";
  options.partial_dir = primary.repo_dir() / "stream";
  options.reconnect_delay = std::chrono::milliseconds(200);
  wal::StreamReceiver receiver(archive, options);
  std::thread streamer([&] { receiver.Run(stop); });

  // COMMIT waits for the streamer from here on (synchronous_commit = on).
  c.Sql("CREATE TABLE ledger (id int PRIMARY KEY)");
  backup::RunBackup(primary.config());
  int committed = 0;
  pg::Connection conn = c.Connect();
  for (int i = 1; i <= 300; ++i) {
    conn.Exec(fmt::format("INSERT INTO ledger VALUES ({})", i));
    committed = i;
    if (i == 150) conn.Exec("SELECT pg_switch_wal()");
  }
  EXPECT_EQ(c.Scalar("SELECT sync_state FROM pg_stat_replication WHERE application_name = "
                     "'dbmedic_sync'"),
            "sync");
  c.cluster().Stop(pg::StopMode::kImmediate);  // crash: nothing more reaches the archive
  stop = true;
  streamer.join();
  primary.GiveRepositoryToServer();

  restore::PitrOptions o;
  o.restore.target_dir = c.root() / "restored";
  o.restore.os_user = c.os_user();
  o.target.kind = restore::TargetKind::kEnd;
  o.restore_command = primary.GetCommand();
  o.start = true;
  restore::ArchiveView view;
  for (const auto& [tli, cov] : wal::BuildCatalog(archive.List()).timelines) {
    view.segments[tli] = cov.segnos;
  }
  const restore::PitrResult r = restore::RestoreToTarget(repository, view, o);
  pg::ClusterSpec spec;
  spec.data_dir = o.restore.target_dir;
  spec.socket_dir = r.socket_dir;
  spec.port = r.port;
  spec.os_user = c.os_user();
  pg::LocalCluster restored(spec);
  pg::Connection rc = pg::Connection::Open(restored.ConnInfo());
  const int lost = committed - std::stoi(rc.Scalar("SELECT count(*) FROM ledger"));
  restored.Stop(pg::StopMode::kImmediate);
  EXPECT_EQ(lost, 0) << "committed transactions lost with synchronous streaming";
}

}  // namespace
}  // namespace dbmedic::testing
