// Start-up: libpq and libcurl are opened only by the commands that use them (see
// core/shared_library.hpp), so `wal push` and friends do not pay for loading them. The loader's
// own report (LD_DEBUG=files, glibc) lists every library a process maps, at start and by dlopen.
#include <gtest/gtest.h>

#include <string>

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

TEST(StartupTest, ExecutableDoesNotNeedLibpqOrLibcurl) {
  auto r = core::RunProcess({"readelf", "--dynamic", DbmedicBinary().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "Shared library: [libc.so.6]")) << r.out;
  EXPECT_FALSE(Contains(r.out, "libpq")) << r.out;
  EXPECT_FALSE(Contains(r.out, "libcurl")) << r.out;
}

TEST(StartupTest, VersionLoadsNeitherLibpqNorLibcurl) {
  auto r = RunDbmedic({"--version"}, WithLoaderReport());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "file=libc.so.6")) << "LD_DEBUG produced no report: " << r.err;
  EXPECT_FALSE(Contains(r.err, "libpq.so")) << r.err;
  EXPECT_FALSE(Contains(r.err, "libcurl.so")) << r.err;
}

TEST(StartupTest, ACommandThatConnectsOpensLibpqOnDemand) {
  auto r = RunDbmedic({"locks", "--pg-host", "/nonexistent-dbmedic-socket-dir", "--pg-port", "1"},
                      WithLoaderReport());
  EXPECT_EQ(r.exit_code, 6) << r.err;  // kPostgres: libpq itself reported the failed connection
  EXPECT_TRUE(Contains(r.err, "file=libpq.so.5 [0];  dynamically loaded by")) << r.err;
  EXPECT_TRUE(Contains(r.err, "/nonexistent-dbmedic-socket-dir/.s.PGSQL.1")) << r.err;
  EXPECT_FALSE(Contains(r.err, "libcurl.so")) << r.err;
}

}  // namespace
}  // namespace dbmedic::testing
