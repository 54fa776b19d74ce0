// Timelines after a promote: PITR #1 promotes onto timeline 2 and archives it into the same
// repository (--archive); rows written there are then recovered by PITR #2, which follows the
// archived 00000002.history from the original (timeline 1) backup.
#include <gtest/gtest.h>

#include "archiving_cluster.hpp"
#include "backup/backup.hpp"
#include "pg/local_cluster.hpp"
#include "restore/pitr_restore.hpp"
#include "wal/archive_catalog.hpp"

namespace dbmedic::testing {
namespace {

restore::ArchiveView View(const wal::WalArchive& archive) {
  restore::ArchiveView view;
  for (const auto& [tli, cov] : wal::BuildCatalog(archive.List()).timelines) {
    view.segments[tli] = cov.segnos;
  }
  return view;
}

pg::LocalCluster Running(const restore::PitrResult& r, const fs::path& dir,
                         const std::string& os_user) {
  pg::ClusterSpec spec;
  spec.data_dir = dir;
  spec.socket_dir = r.socket_dir;
  spec.port = r.port;
  spec.os_user = os_user;
  return pg::LocalCluster(spec);
}

TEST(Timelines, SecondPitrFollowsTheNewTimeline) {
  ArchivingCluster primary;
  TestCluster& c = primary.cluster();
  c.Sql("CREATE TABLE marks (id int, label text)");
  backup::RunBackup(primary.config());
  primary.GiveRepositoryToServer();
  c.Sql("INSERT INTO marks VALUES (1, 'before the accident')");
  const std::string lsn = c.Scalar("SELECT pg_current_wal_insert_lsn()::text");
  c.Sql("INSERT INTO marks VALUES (2, 'the accident')");
  primary.SwitchAndWait();
  c.cluster().Stop(pg::StopMode::kFast);

  const repo::Repository repository = repo::OpenRepository(primary.config());
  const wal::WalArchive archive(repository, repository.info().codec);
  restore::PitrOptions first;
  first.restore.target_dir = c.root() / "tl2";
  first.restore.os_user = c.os_user();
  first.target.kind = restore::TargetKind::kLsn;
  first.target.lsn = pg::Lsn::Parse(lsn);
  first.target.text = lsn;
  first.target.inclusive = false;
  first.restore_command = primary.GetCommand();
  first.archive_command = primary.PushCommand();
  first.start = true;
  const restore::PitrResult r1 = restore::RestoreToTarget(repository, View(archive), first);
  EXPECT_EQ(r1.timeline, "00000002");
  {
    pg::LocalCluster tl2 = Running(r1, first.restore.target_dir, c.os_user());
    pg::Connection conn = pg::Connection::Open(tl2.ConnInfo());
    EXPECT_EQ(conn.Scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM marks"), "1");
    conn.Exec("INSERT INTO marks VALUES (3, 'on timeline 2')");
    const std::string seg = conn.Scalar("SELECT pg_walfile_name(pg_switch_wal())");
    primary.WaitArchived(seg);
    primary.WaitArchived("00000002.history");
    tl2.Stop(pg::StopMode::kImmediate);
  }

  restore::PitrOptions second = first;
  second.restore.target_dir = c.root() / "tl3";
  second.target = {};
  second.target.kind = restore::TargetKind::kEnd;
  second.archive_command.clear();
  const restore::PitrResult r2 = restore::RestoreToTarget(repository, View(archive), second);
  pg::LocalCluster tl3 = Running(r2, second.restore.target_dir, c.os_user());
  pg::Connection conn = pg::Connection::Open(tl3.ConnInfo());
  EXPECT_EQ(conn.Scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM marks"), "1,3");
  EXPECT_EQ(r2.timeline, "00000003");
  tl3.Stop(pg::StopMode::kImmediate);
}

}  // namespace
}  // namespace dbmedic::testing
