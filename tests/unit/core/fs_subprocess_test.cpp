#include <gtest/gtest.h>

#include <fstream>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "pg/lsn.hpp"

namespace dbmedic {
namespace {

TEST(AtomicWriteTest, ReplacesContentAndLeavesNoTempFile) {
  core::TempDir dir("fs-test");
  auto path = dir.path() / "meta.json";
  core::AtomicWriteFile(path, "one");
  core::AtomicWriteFile(path, "two");
  EXPECT_EQ(core::ReadFile(path), "two");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(AtomicWriteTest, UnwritableDirectoryGivesIoErrorNamingPath) {
  try {
    core::AtomicWriteFile("/proc/dbmedic-cannot-write", "x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("/proc/"), std::string::npos);
  }
}

TEST(AtomicCopyTest, CopiesTheBytesAndModeOverAnOldFile) {
  core::TempDir dir("fs-test");
  std::string content(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 31 % 251);
  core::AtomicWriteFile(dir.path() / "from", content);
  core::AtomicWriteFile(dir.path() / "to", "old");
  core::AtomicCopyFile(dir.path() / "from", dir.path() / "to", 0600);
  EXPECT_EQ(core::ReadFile(dir.path() / "to"), content);
  EXPECT_EQ(std::filesystem::status(dir.path() / "to").permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 2);  // no temp file left
}

TEST(AtomicCopyTest, MissingSourceIsNotFoundAndLeavesTheTargetAlone) {
  core::TempDir dir("fs-test");
  core::AtomicWriteFile(dir.path() / "to", "old");
  try {
    core::AtomicCopyFile(dir.path() / "missing", dir.path() / "to");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos);
  }
  EXPECT_EQ(core::ReadFile(dir.path() / "to"), "old");
}

TEST(ReadFileTest, MissingFileIsNotFound) {
  try {
    core::ReadFile("/nonexistent/file");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

TEST(SubprocessTest, CapturesOutputAndExitCode) {
  auto r = core::RunProcess({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(SubprocessTest, PassesStdinAndEnv) {
  core::RunOptions opts;
  opts.stdin_data = "hello";
  opts.env["GREETING"] = "hi";
  auto r = core::RunProcess({"sh", "-c", "cat; echo \" $GREETING\""}, opts);
  EXPECT_EQ(r.out, "hello hi\n");
}

TEST(SubprocessTest, TimeoutKillsAndThrows) {
  core::RunOptions opts;
  opts.timeout = std::chrono::milliseconds(200);
  try {
    core::RunProcess({"sleep", "10"}, opts);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTimeout);
  }
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  try {
    core::RunProcess({"dbmedic-no-such-program"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

TEST(SubprocessTest, RunsAsAnotherUserWhenRoot) {
  if (!core::IsRoot()) GTEST_SKIP() << "needs root to switch users";
  core::RunOptions opts;
  opts.as_user = "postgres";
  opts.cwd = "/";
  auto r = core::RunProcess({"id", "-un"}, opts);
  EXPECT_EQ(r.out, "postgres\n");
}

TEST(LsnTest, ParseAndFormatRoundTrip) {
  auto lsn = pg::Lsn::Parse("16/B374D848");
  EXPECT_EQ(lsn.value, 0x16B374D848ull);
  EXPECT_EQ(lsn.ToString(), "16/B374D848");
  EXPECT_THROW(pg::Lsn::Parse("16B374D848"), Error);
  EXPECT_FALSE(pg::Lsn::TryParse("1/G"));
}

TEST(LsnTest, SegmentNames) {
  auto lsn = pg::Lsn::Parse("A/42000028");
  EXPECT_EQ(pg::WalSegmentName(1, pg::SegmentNumber(lsn)), "000000010000000A00000042");
  auto parsed = pg::ParseWalSegmentName("000000020000000A00000042");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->timeline, 2u);
  EXPECT_EQ(pg::SegmentStart(parsed->segno).ToString(), "A/42000000");
  EXPECT_FALSE(pg::ParseWalSegmentName("00000001000000000000000"));
  EXPECT_TRUE(pg::IsHistoryFileName("00000002.history"));
  EXPECT_TRUE(pg::IsBackupHistoryName("000000010000000000000002.00000028.backup"));
}

}  // namespace
}  // namespace dbmedic
