// The prefetch spool of `wal get`: which segments to fetch next, and serving from the spool.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/fs.hpp"
#include "wal/prefetch.hpp"

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

}  // namespace
}  // namespace dbmedic::wal
