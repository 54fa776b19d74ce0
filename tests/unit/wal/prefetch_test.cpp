// The prefetch spool of `wal get`: which segments to fetch next, and serving from the spool.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "wal/prefetch.hpp"
#include "wal/spool_lock.hpp"

namespace dbmedic::wal {
namespace {

namespace fs = std::filesystem;

TEST(Prefetch, NextSegmentsSkipThoseAlreadySpooled) {
  core::TempDir dir("prefetch");
  core::AtomicWriteFile(dir.path() / "0000000100000000000000FF", "x");
  const std::vector<std::string> names =
      SegmentsToPrefetch(dir.path(), "0000000100000000000000FE", 3);
  EXPECT_EQ(names, (std::vector<std::string>{"000000010000000100000000",
                                             "000000010000000100000001"}));
}

TEST(Prefetch, NothingToPrefetchForAHistoryFile) {
  core::TempDir dir("prefetch");
  EXPECT_TRUE(SegmentsToPrefetch(dir.path(), "00000002.history", 4).empty());
}

TEST(Prefetch, TakeMovesTheSpooledFileAndDropsOlderOnes) {
  core::TempDir dir("prefetch");
  const fs::path spool = dir.path() / std::string(kSpoolDirName);
  core::MakeDirs(spool);
  core::AtomicWriteFile(spool / "000000010000000000000002", "old");
  core::AtomicWriteFile(spool / "000000010000000000000003", "wanted");
  ASSERT_TRUE(TakeFromSpool(spool, "000000010000000000000003", dir.path() / "RECOVERYXLOG"));
  EXPECT_EQ(core::ReadFile(dir.path() / "RECOVERYXLOG"), "wanted");
  EXPECT_FALSE(fs::exists(spool / "000000010000000000000002"));
  EXPECT_FALSE(fs::exists(spool / "000000010000000000000003"));
}

TEST(Prefetch, TakeOfAnUnspooledSegmentIsFalse) {
  core::TempDir dir("prefetch");
  EXPECT_FALSE(TakeFromSpool(dir.path() / "absent", "000000010000000000000003",
                             dir.path() / "RECOVERYXLOG"));
}

TEST(Prefetch, AwaitOfASegmentNobodyFetchesIsFalseAndWritesNothing) {
  core::TempDir dir("prefetch");
  const fs::path spool = dir.path() / std::string(kSpoolDirName);
  core::MakeDirs(spool);
  EXPECT_FALSE(AwaitPrefetched(spool, "000000010000000000000003", dir.path() / "RECOVERYXLOG"));
  EXPECT_FALSE(fs::exists(dir.path() / "RECOVERYXLOG"));
}

TEST(Prefetch, AwaitTakesTheSegmentThePrefetcherIsFetching) {
  core::TempDir dir("prefetch");
  const fs::path spool = dir.path() / std::string(kSpoolDirName);
  core::MakeDirs(spool);
  const std::string name = "000000010000000000000003";
  SpoolLock prefetcher(spool);
  ASSERT_TRUE(prefetcher.TryLock());
  core::AtomicWriteFile(spool / (name + std::string(kFetchingSuffix)), "");
  std::thread fetch([&] {  // what the prefetcher does once the segment is fetched
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    core::AtomicWriteFile(spool / name, "fetched");
    fs::remove(spool / (name + std::string(kFetchingSuffix)));
  });
  const bool taken = AwaitPrefetched(spool, name, dir.path() / "RECOVERYXLOG");
  fetch.join();
  ASSERT_TRUE(taken);
  EXPECT_EQ(core::ReadFile(dir.path() / "RECOVERYXLOG"), "fetched");
}

TEST(Prefetch, AwaitGivesUpWhenThePrefetcherLeftItsMarkerBehind) {
  core::TempDir dir("prefetch");
  const fs::path spool = dir.path() / std::string(kSpoolDirName);
  core::MakeDirs(spool);
  const std::string name = "000000010000000000000003";
  // A prefetcher killed while fetching: its marker stays, its lock is gone.
  core::AtomicWriteFile(spool / (name + std::string(kFetchingSuffix)), "");
  EXPECT_FALSE(AwaitPrefetched(spool, name, dir.path() / "RECOVERYXLOG"));
  EXPECT_FALSE(fs::exists(dir.path() / "RECOVERYXLOG"));
}

// What PostgreSQL does with restore_command: %f and %p substituted, run by /bin/sh in the data
// directory; exit 0 means the file is at %p.
int RunRestoreCommand(const fs::path& data_dir, const std::string& command, const std::string& f) {
  std::string cmd = command;
  for (std::size_t at; (at = cmd.find("%f")) != std::string::npos;) cmd.replace(at, 2, f);
  for (std::size_t at; (at = cmd.find("%p")) != std::string::npos;) {
    cmd.replace(at, 2, "pg_wal/RECOVERYXLOG");
  }
  core::RunOptions options;
  options.cwd = data_dir;
  return core::RunProcess({"/bin/sh", "-c", cmd}, options).exit_code;
}

TEST(Prefetch, SpoolFirstRestoreCommandMovesASpooledSegmentWithoutTheGetCommand) {
  core::TempDir data("prefetch");
  const fs::path spool = data.path() / "pg_wal" / std::string(kSpoolDirName);
  core::MakeDirs(spool);
  core::AtomicWriteFile(spool / "000000010000000000000003", "spooled");
  const std::string command = SpoolFirstRestoreCommand("echo fetched > \"%p\"");
  ASSERT_EQ(RunRestoreCommand(data.path(), command, "000000010000000000000003"), 0);
  EXPECT_EQ(core::ReadFile(data.path() / "pg_wal" / "RECOVERYXLOG"), "spooled");
  EXPECT_FALSE(fs::exists(spool / "000000010000000000000003"));
  EXPECT_EQ(core::ReadFile(spool / "served"), "+");  // one byte per segment, as wal get counts
}

TEST(Prefetch, SpoolFirstRestoreCommandFallsBackToTheGetCommandAndItsExitCode) {
  core::TempDir data("prefetch");
  core::MakeDirs(data.path() / "pg_wal");  // no spool at all
  ASSERT_EQ(RunRestoreCommand(data.path(), SpoolFirstRestoreCommand("echo fetched > \"%p\""),
                              "000000010000000000000004"),
            0);
  EXPECT_EQ(core::ReadFile(data.path() / "pg_wal" / "RECOVERYXLOG"), "fetched\n");
  // `wal get` exits 1 at the end of the archive: PostgreSQL must see that 1, not mv's failure.
  EXPECT_EQ(RunRestoreCommand(data.path(), SpoolFirstRestoreCommand("exit 1"),
                              "000000010000000000000005"),
            1);
}

}  // namespace
}  // namespace dbmedic::wal
