#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <span>
#include <vector>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "pg/wal_block_summary.hpp"
#include "pg/wal_source.hpp"
#include "wal_builder.hpp"

namespace dbmedic::pg {
namespace {

using testing::WalBuilder;

void Touch(const std::filesystem::path& p, const std::string& text = "") {
  std::ofstream(p) << text;
}

TEST(TimelineHistory, ParsesSwitchPointsAndSkipsComments) {
  auto entries = ParseTimelineHistory("# comment\n1\t0/3000000\tno recovery target specified\n"
                                      "\n2\t0/5000A0\tbefore 2026-11-29\n");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].timeline, 1u);
  EXPECT_EQ(entries[0].end, Lsn::Parse("0/3000000"));
  EXPECT_EQ(entries[1].timeline, 2u);
}

TEST(TimelineHistory, BadLineIsCorruptionNamingIt) {
  try {
    ParseTimelineHistory("1\t0/3000000\tok\nbanana\n");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_EQ(std::string(e.what()),
              "timeline history line 2 is not '<timeline> <LSN> <reason>': banana");
  }
}

TEST(TimelineHistory, SegmentHoldingTheSwitchIsReadFromTheNewTimeline) {
  std::vector<TimelineHistoryEntry> history = {{1, Lsn::Parse("0/3800000")}};
  const std::uint64_t seg = 16u << 20;
  EXPECT_EQ(TimelineForSegment(2, seg, history, 2), 1u);
  EXPECT_EQ(TimelineForSegment(3, seg, history, 2), 2u);  // 0/3000000..0/4000000 holds the switch
  EXPECT_EQ(TimelineForSegment(4, seg, history, 2), 2u);
}

TEST(DirectoryWalSource, FollowsTheHighestTimelineThroughItsHistory) {
  core::TempDir dir("waldecoder");
  WalBuilder wal;
  wal.Add(1, 0, 1, std::vector<std::byte>(8));
  wal.WriteTo(dir.path());
  // Timeline 1 has segments 1..3; timeline 2 forked inside segment 2.
  std::filesystem::copy_file(dir.path() / "000000010000000000000001",
                             dir.path() / "000000010000000000000002");
  Touch(dir.path() / "000000010000000000000003");
  Touch(dir.path() / "000000020000000000000002");
  Touch(dir.path() / "000000020000000000000003");
  Touch(dir.path() / "00000002.history", "1\t0/280000\tafter restore\n");
  Touch(dir.path() / "000000010000000000000001.00000028.backup");
  DirectoryWalSource source(dir.path());
  EXPECT_EQ(source.segment_size(), WalBuilder::kSegSize);
  EXPECT_EQ(source.timeline(), 2u);
  auto segments = source.Segments();
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_EQ(segments[0].name, "000000010000000000000001");
  EXPECT_EQ(segments[1].name, "000000020000000000000002");
  EXPECT_EQ(segments[2].name, "000000020000000000000003");
}

TEST(DirectoryWalSource, EmptyDirectoryIsNotFound) {
  core::TempDir dir("waldecoder");
  try {
    DirectoryWalSource source(dir.path());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_EQ(std::string(e.what()), "no WAL segment files in '" + dir.path().string() + "'");
  }
}


// The WAL source of the combined one's sources, as an incremental backup builds it: pg_wal, then
// a second copy (the archive). `wal` is written to `dir` and into the second source.
std::unique_ptr<CombinedWalSource> PgWalThenCopy(const WalBuilder& wal,
                                                 const std::filesystem::path& dir) {
  wal.WriteTo(dir);
  std::vector<std::unique_ptr<WalSource>> sources;
  sources.push_back(std::make_unique<DirectoryWalSource>(dir));
  sources.push_back(wal.Source());
  return std::make_unique<CombinedWalSource>(std::move(sources));
}

// A checkpoint may recycle a segment of pg_wal between its listing and its reading: the next
// source that has it is read instead.
TEST(CombinedWalSource, ASegmentGoneFromTheFirstSourceIsReadFromTheNext) {
  core::TempDir dir("waldecoder");
  WalBuilder wal;
  wal.Add(1, 0, 1, std::vector<std::byte>(8));
  auto combined = PgWalThenCopy(wal, dir.path());
  const std::vector<WalSegmentRef> segments = combined->Segments();
  ASSERT_EQ(segments.size(), 1u);
  std::vector<std::byte> expected;
  wal.Source()->Read(segments[0], expected);
  ASSERT_FALSE(expected.empty());
  std::filesystem::remove(dir.path() / segments[0].name);
  const std::span<const std::byte> loaded = combined->Load(segments[0]);
  EXPECT_TRUE(std::equal(loaded.begin(), loaded.end(), expected.begin(), expected.end()));
  std::vector<std::byte> read;
  combined->Read(segments[0], read);
  EXPECT_EQ(read, expected);
}

TEST(CombinedWalSource, ASegmentNoSourceCanReadIsTheLastSourcesError) {
  core::TempDir dir("waldecoder");
  WalBuilder wal;
  wal.Add(1, 0, 1, std::vector<std::byte>(8));
  wal.WriteTo(dir.path());
  std::vector<std::unique_ptr<WalSource>> sources;
  sources.push_back(std::make_unique<DirectoryWalSource>(dir.path()));
  sources.push_back(std::make_unique<DirectoryWalSource>(dir.path()));
  CombinedWalSource combined(std::move(sources));
  const std::vector<WalSegmentRef> segments = combined.Segments();
  ASSERT_EQ(segments.size(), 1u);
  std::filesystem::remove(dir.path() / segments[0].name);
  try {
    combined.Load(segments[0]);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(segments[0].name), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dbmedic::pg
