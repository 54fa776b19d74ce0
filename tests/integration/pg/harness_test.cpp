#include <unistd.h>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "harness/test_cluster.hpp"

namespace dbmedic::testing {
namespace {

TEST(HarnessTest, StartsARealServerWithChecksumsAsPostgresUser) {
  TestCluster cluster;
  EXPECT_EQ(cluster.Scalar("SHOW data_checksums"), "on");
  EXPECT_EQ(cluster.Scalar("SELECT current_setting('server_version_num')::int / 10000"), "15");
  EXPECT_EQ(cluster.Scalar("SHOW port"), std::to_string(cluster.port()));
  if (core::IsRoot()) {
    EXPECT_EQ(cluster.os_user(), "postgres");
  }
}

TEST(HarnessTest, AppliesRequestedSettings) {
  TestCluster cluster({.data_checksums = false, .start = true,
                       .settings = {{"wal_level", "logical"}, {"work_mem", "7MB"}}});
  EXPECT_EQ(cluster.Scalar("SHOW wal_level"), "logical");
  EXPECT_EQ(cluster.Scalar("SHOW work_mem"), "7MB");
  EXPECT_EQ(cluster.Scalar("SHOW data_checksums"), "off");
}

TEST(HarnessTest, DestructorStopsAndRemovesTheCluster) {
  std::filesystem::path root;
  int pid = 0;
  {
    TestCluster cluster;
    root = cluster.root();
    pid = *cluster.cluster().PostmasterPid();
  }
  EXPECT_FALSE(std::filesystem::exists(root));
  // The postmaster removes its pid file just before it exits: allow it a moment to be gone.
  for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) ::usleep(50000);
  EXPECT_NE(::kill(pid, 0), 0);
}

TEST(HarnessTest, FingerprintChangesWithData) {
  TestCluster cluster;
  cluster.Sql("CREATE TABLE t(id int primary key, v text); INSERT INTO t VALUES (1,'a'),(2,'b')");
  auto conn = cluster.Connect();
  auto before = DatabaseFingerprint(conn);
  ASSERT_EQ(before.count("public.t"), 1u);
  EXPECT_EQ(before["public.t"].substr(0, 2), "2:");
  cluster.Sql("UPDATE t SET v = 'c' WHERE id = 2");
  EXPECT_NE(DatabaseFingerprint(conn)["public.t"], before["public.t"]);
}

TEST(HarnessTest, ConnectingToAStoppedClusterIsAPostgresError) {
  TestClusterOptions options;
  options.start = false;
  TestCluster cluster(options);
  try {
    cluster.Connect();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kPostgres);
    EXPECT_NE(e.hint().find("running"), std::string::npos);
  }
}

}  // namespace
}  // namespace dbmedic::testing
