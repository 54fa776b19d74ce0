// Start-up: libpq, libcurl, libsqlite3 and the HTTP module (cpp-httplib, libssl) are opened only
// by the commands that use them (libcrypto is linked: SHA-256 is OpenSSL's and every push needs it) (see core/shared_library.hpp,
// monitor/http_transport.hpp), so `wal push` and friends do not pay for loading them. The
// loader's own report (LD_DEBUG=files, glibc) lists every library a process maps, at start and by
// dlopen.
#include <gtest/gtest.h>

#include <string>

#include <fmt/format.h>

#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "harness/test_cluster.hpp"

namespace dbmedic::testing {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

core::RunOptions WithLoaderReport() {
  core::RunOptions options;
  options.env["LD_DEBUG"] = "files";
  return options;
}

TEST(StartupTest, ExecutableNeedsNoneOfTheLibrariesOpenedOnDemand) {
  auto r = core::RunProcess({"readelf", "--dynamic", DbmedicBinary().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "Shared library: [libc.so.6]")) << r.out;
  EXPECT_FALSE(Contains(r.out, "libpq")) << r.out;
  EXPECT_FALSE(Contains(r.out, "libcurl")) << r.out;
  EXPECT_FALSE(Contains(r.out, "libsqlite3")) << r.out;
}

TEST(StartupTest, VersionLoadsNoneOfTheLibrariesOpenedOnDemand) {
  auto r = RunDbmedic({"--version"}, WithLoaderReport());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "file=libc.so.6")) << "LD_DEBUG produced no report: " << r.err;
  EXPECT_FALSE(Contains(r.err, "libpq.so")) << r.err;
  EXPECT_FALSE(Contains(r.err, "libcurl.so")) << r.err;
  EXPECT_FALSE(Contains(r.err, "libsqlite3.so")) << r.err;
}

TEST(StartupTest, ACommandThatConnectsOpensLibpqOnDemand) {
  auto r = RunDbmedic({"locks", "--pg-host", "/nonexistent-dbmedic-socket-dir", "--pg-port", "1"},
                      WithLoaderReport());
  EXPECT_EQ(r.exit_code, 6) << r.err;  // kPostgres: libpq itself reported the failed connection
  EXPECT_TRUE(Contains(r.err, "file=libpq.so.5 [0];  dynamically loaded by")) << r.err;
  EXPECT_TRUE(Contains(r.err, "/nonexistent-dbmedic-socket-dir/.s.PGSQL.1")) << r.err;
  EXPECT_FALSE(Contains(r.err, "libcurl.so")) << r.err;
}

TEST(StartupTest, ExecutableDoesNotNeedCppHttplibNorLibssl) {
  auto r = core::RunProcess({"readelf", "--dynamic", DbmedicBinary().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "Shared library: [libc.so.6]")) << r.out;
  EXPECT_FALSE(Contains(r.out, "httplib")) << r.out;
  EXPECT_FALSE(Contains(r.out, "libssl")) << r.out;
}

TEST(StartupTest, VersionDoesNotLoadTheHttpModule) {
  auto r = RunDbmedic({"--version"}, WithLoaderReport());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "file=libc.so.6")) << "LD_DEBUG produced no report: " << r.err;
  EXPECT_FALSE(Contains(r.err, "libdbmedic_http.so")) << r.err;
  EXPECT_FALSE(Contains(r.err, "httplib")) << r.err;
  EXPECT_FALSE(Contains(r.err, "libssl")) << r.err;
}

// What PostgreSQL runs once per WAL segment: no library opened on demand may load.
TEST(StartupTest, WalPushLoadsNoneOfTheLibrariesOpenedOnDemand) {
  TestCluster cluster;
  core::TempDir dir("startup-push");
  const std::string repo = (dir.path() / "repo").string();
  std::filesystem::create_directory(repo);
  auto init = RunDbmedic({"repo", "init", "--repo", repo, "--pg-host",
                          cluster.socket_dir().string(), "--pg-port",
                          std::to_string(cluster.port())});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  // A copy of the cluster's first segment: it is neither recycled nor changed under the push.
  const auto segment = dir.path() / "000000010000000000000001";
  std::filesystem::copy_file(cluster.data_dir() / "pg_wal" / segment.filename(), segment);
  auto r = RunDbmedic({"wal", "push", "--repo", repo, segment.string()}, WithLoaderReport());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "file=libzstd.so.1")) << "LD_DEBUG produced no report: " << r.err;
  for (const char* lazy : {"libpq.so", "libcurl.so", "libsqlite3.so", "libdbmedic_http.so",
                           "httplib", "libssl"}) {
    EXPECT_FALSE(Contains(r.err, lazy)) << lazy << " loaded:\n" << r.err;
  }
}

// `dbmedic monitor` for one second, serving HTTP on a free port; no cluster (its collector
// fails, the endpoint still starts).
core::ProcessResult RunMonitorBriefly(core::RunOptions options) {
  core::TempDir dir("startup-monitor");
  return RunDbmedic({"monitor", "--listen-port", std::to_string(core::FindFreeTcpPort()),
                     "--history", (dir.path() / "history.db").string(), "--pg-host",
                     "/nonexistent-dbmedic-socket-dir", "--run-for", "1s"},
                    options);
}

TEST(StartupTest, MonitorOpensTheHttpModuleBesideTheExecutable) {
  core::RunOptions options = WithLoaderReport();
  options.env["DBMEDIC_HTTP_MODULE"] = "";  // unset: the default place, not the test's override
  auto r = RunMonitorBriefly(options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto module = DbmedicBinary().parent_path() / "libdbmedic_http.so";
  EXPECT_TRUE(Contains(r.err, fmt::format("file={} [0];  dynamically loaded by",
                                          module.string())))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "file=libcpp-httplib.so.0.11 [0];  needed by")) << r.err;
}

TEST(StartupTest, AMissingHttpModuleIsAClearError) {
  core::RunOptions options;
  options.env["DBMEDIC_HTTP_MODULE"] = "/nonexistent-dbmedic-dir/libdbmedic_http.so";
  auto r = RunMonitorBriefly(options);
  EXPECT_EQ(r.exit_code, 13) << r.err;  // kUnsupported
  EXPECT_TRUE(Contains(r.err, "cannot load /nonexistent-dbmedic-dir/libdbmedic_http.so, needed "
                              "for HTTP (the monitor's endpoint and webhook notifiers)"))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "belongs in the directory of the dbmedic executable")) << r.err;
}

}  // namespace
}  // namespace dbmedic::testing
