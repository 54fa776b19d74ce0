// Page checksums during backup: a heap page damaged on disk before the backup (old page LSN)
// makes the backup fail naming the file and the block; nothing is listed.
#include <fstream>

#include "backup/backup.hpp"
#include "backup/page_checksum.hpp"
#include "backup_fixture.hpp"

namespace dbmedic::testing {
namespace {

TEST(PageChecksum, MatchesEveryPageOfARealCluster) {
  TestCluster cluster;
  cluster.Sql("CREATE TABLE t (id int, v text)");
  cluster.Sql("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
  cluster.Sql("CHECKPOINT");
  const std::string rel = cluster.Scalar("SELECT pg_relation_filepath('t')");
  std::ifstream in(cluster.data_dir() / rel, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(data.size(), 10 * backup::kPageSize);
  for (std::size_t i = 0; i < data.size() / backup::kPageSize; ++i) {
    const char* page = data.data() + i * backup::kPageSize;
    EXPECT_EQ(backup::ComputePageChecksum(page, static_cast<std::uint32_t>(i)),
              backup::StoredPageChecksum(page))
        << "block " << i;
  }
  EXPECT_EQ(backup::RelationSegment(rel), 0u);
  EXPECT_EQ(backup::RelationSegment("base/5/16384.3"), 3u);
  EXPECT_EQ(backup::RelationSegment("base/5/16384_vm"), 0u);
  EXPECT_EQ(backup::RelationSegment("base/5/pg_filenode.map"), std::nullopt);
  EXPECT_EQ(backup::RelationSegment("pg_tblspc/1/PG_15_1/5/77_fsm.1"), 1u);
}

TEST(CorruptPage, BackupFailsNamingFileAndBlock) {
  TestCluster cluster;
  cluster.Sql("CREATE TABLE victim (id int, v text)");
  cluster.Sql("INSERT INTO victim SELECT g, md5(g::text) FROM generate_series(1, 2000) g");
  cluster.Sql("CHECKPOINT");
  const std::string rel = cluster.Scalar("SELECT pg_relation_filepath('victim')");
  const fs::path repo_dir = cluster.MakeOwnedDir("repo");
  repo::InitRepository(ConfigFor(cluster, repo_dir));

  cluster.cluster().Stop();
  {
    // Block 2, in the tuple area (past the 24-byte header and the line pointers).
    std::fstream f(cluster.data_dir() / rel, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2 * 8192 + 4000);
    f.write("\xde\xad\xbe\xef", 4);
  }
  cluster.cluster().Start();

  const Error e = CatchError([&] { backup::RunBackup(ConfigFor(cluster, repo_dir)); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(Contains(e.what(), "page checksum failure in file '" + rel + "' block 2")) << e.what();
  const repo::Repository repository = repo::OpenRepository(ConfigFor(cluster, repo_dir));
  EXPECT_TRUE(repository.ListBackups().empty());
}

}  // namespace
}  // namespace dbmedic::testing
