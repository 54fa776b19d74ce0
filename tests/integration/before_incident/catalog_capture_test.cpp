// The relation catalog that names what the WAL shows is kept current by long-running commands:
// `wal stream` adds a snapshot every --catalog-interval, so a table created after the last backup
// is named too.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "core/subprocess.hpp"
#include "forensics/catalog_store.hpp"
#include "harness/test_cluster.hpp"
#include "integration/pitr/archiving_cluster.hpp"
#include "repo/cluster.hpp"

namespace dbmedic::testing {
namespace {

bool CatalogNames(const pg::RelationCatalog& catalog, const std::string& table) {
  for (const auto& snapshot : catalog.snapshots()) {
    for (const auto& r : snapshot.relations) {
      if (r.QualifiedName() == table) return true;
    }
  }
  return false;
}

TEST(CatalogCapture, WalStreamAddsSnapshotsThatNameNewTables) {
  ArchivingCluster primary;
  TestCluster& c = primary.cluster();
  std::thread create_later([&] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    c.Sql("CREATE TABLE created_while_streaming (id int)");
  });
  core::RunOptions options;
  options.timeout = std::chrono::seconds(60);
  auto r = core::RunProcess(
      {"timeout", "-s", "TERM", "6", DbmedicBinary().string(), "wal", "stream", "--repo",
       primary.repo_dir().string(), "--pg-host", c.socket_dir().string(), "--pg-port",
       std::to_string(c.port()), "--pg-user", "postgres", "--slot", "catalog_test",
       "--catalog-interval", "1s"},
      options);
  create_later.join();
  EXPECT_EQ(r.exit_code, 124) << "stopped by timeout's SIGTERM, not failed: " << r.err;

  const repo::Repository repository = repo::OpenRepository(primary.config());
  const pg::RelationCatalog catalog = forensics::LoadRepositoryCatalog(repository);
  EXPECT_GE(catalog.snapshots().size(), 2u);
  EXPECT_TRUE(CatalogNames(catalog, "public.created_while_streaming"));
  c.Sql("SELECT pg_drop_replication_slot('catalog_test')");
}

TEST(CatalogCapture, UnchangedPeriodsDoNotGrowTheCatalog) {
  ArchivingCluster primary;
  repo::Repository repository = repo::OpenRepository(primary.config());
  const std::string conninfo = primary.cluster().ConnInfo();
  for (int i = 0; i < 5; ++i) forensics::CaptureIntoRepository(repository, conninfo);
  EXPECT_EQ(forensics::LoadRepositoryCatalog(repository).snapshots().size(), 2u)
      << "the first and the newest of identical snapshots are enough";
  primary.cluster().Sql("CREATE TABLE t (id int)");
  forensics::CaptureIntoRepository(repository, conninfo);
  EXPECT_EQ(forensics::LoadRepositoryCatalog(repository).snapshots().size(), 3u);
}

TEST(CatalogCapture, AnotherClustersCatalogIsRefused) {
  ArchivingCluster primary;
  TestCluster other;
  repo::Repository repository = repo::OpenRepository(primary.config());
  try {
    forensics::CaptureIntoRepository(repository, other.ConnInfo());
    FAIL() << "captured another cluster's catalog into the repository";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRepository) << e.what();
  }
  EXPECT_TRUE(forensics::LoadRepositoryCatalog(repository).empty());
}

}  // namespace
}  // namespace dbmedic::testing
