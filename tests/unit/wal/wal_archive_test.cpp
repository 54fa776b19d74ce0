// The WAL archive on an in-memory storage: push/get round trips, idempotency, conflicts, foreign
// segments, damaged objects, and the catalog's gaps.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <random>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "repo/repository.hpp"
#include "storage/memory_storage.hpp"
#include "fake_segment.hpp"
#include "wal/archive.hpp"
#include "wal/archive_catalog.hpp"

namespace dbmedic::wal {
namespace {

constexpr std::uint64_t kSysid = 7311234567890123456ULL;

using testing::FakeSegment;

class WalArchiveTest : public ::testing::Test {
 protected:
  WalArchiveTest() {
    auto storage = std::make_unique<storage::MemoryStorage>();
    memory_ = storage.get();
    repo::RepoInfo info;
    info.system_identifier = std::to_string(kSysid);
    info.pg_version_num = 150000;
    repository_ = std::make_unique<repo::Repository>(
        repo::Repository::Init(std::move(storage), info));
    archive_ = std::make_unique<WalArchive>(*repository_, repo::CodecSettings{});
  }
  storage::MemoryStorage* memory_ = nullptr;
  std::unique_ptr<repo::Repository> repository_;
  std::unique_ptr<WalArchive> archive_;
};

TEST_F(WalArchiveTest, PushThenReadGivesTheSameBytes) {
  const std::string seg = FakeSegment(kSysid, 1);
  const PushResult r = archive_->PushContent("000000010000000000000003", seg);
  EXPECT_EQ(r.outcome, PushOutcome::kStored);
  const std::optional<ArchivedFile> found = archive_->Find("000000010000000000000003");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->raw_size, seg.size());
  EXPECT_EQ(found->object.rfind("archive/00000001/0000000100000000/", 0), 0u);
  EXPECT_EQ(archive_->Read(*found), seg);
}

TEST_F(WalArchiveTest, SamePushTwiceIsADuplicate) {
  const std::string seg = FakeSegment(kSysid, 2);
  archive_->PushContent("000000010000000000000004", seg);
  EXPECT_EQ(archive_->PushContent("000000010000000000000004", seg).outcome,
            PushOutcome::kDuplicate);
  EXPECT_EQ(archive_->List().size(), 1u);
}

TEST_F(WalArchiveTest, DifferentContentUnderAnArchivedNameIsAConflict) {
  archive_->PushContent("000000010000000000000005", FakeSegment(kSysid, 3));
  try {
    archive_->PushContent("000000010000000000000005", FakeSegment(kSysid, 4));
    FAIL() << "expected a conflict";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict);
    EXPECT_NE(std::string(e.what()).find("WAL file '000000010000000000000005' is already "
                                         "archived"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("different content"), std::string::npos);
  }
  EXPECT_EQ(archive_->List().size(), 1u);
}

TEST_F(WalArchiveTest, SegmentOfAnotherClusterIsRefused) {
  try {
    archive_->PushContent("000000010000000000000006", FakeSegment(42, 5));
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRepository);
    EXPECT_NE(std::string(e.what()).find("belongs to cluster 42"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(archive_->Find("000000010000000000000006"));
}

TEST_F(WalArchiveTest, HistoryFileIsStoredUnderItsTimeline) {
  archive_->PushContent("00000002.history", "1\t0/3000000\tno recovery target specified\n");
  const std::optional<ArchivedFile> f = archive_->Find("00000002.history");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->object.rfind("archive/00000002/00000002.history-", 0), 0u);
}

TEST_F(WalArchiveTest, DamagedObjectIsReportedAsCorrupt) {
  archive_->PushContent("000000010000000000000007", FakeSegment(kSysid, 6));
  const ArchivedFile f = *archive_->Find("000000010000000000000007");
  const std::string other = repo::Compress(repo::CodecSettings{}, FakeSegment(kSysid, 7));
  memory_->Put(f.object, other);
  try {
    archive_->Read(f);
    FAIL() << "expected corruption";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("is damaged"), std::string::npos) << e.what();
  }
}

TEST_F(WalArchiveTest, ReadIntoReusedBuffersGivesEachSegmentItsOwnBytes) {
  const std::string first = FakeSegment(kSysid, 11);
  const std::string second = FakeSegment(kSysid, 12);
  archive_->PushContent("000000010000000000000011", first);
  archive_->PushContent("000000010000000000000012", second);
  std::string stored;
  std::string raw;
  archive_->ReadInto(*archive_->Find("000000010000000000000011"), stored, raw);
  EXPECT_EQ(raw, first);
  archive_->ReadInto(*archive_->Find("000000010000000000000012"), stored, raw);
  EXPECT_EQ(raw, second);
}

TEST_F(WalArchiveTest, ReadIntoOfAnUncompressedArchiveGivesTheBytes) {
  repo::CodecSettings plain;
  plain.compression = repo::Compression::kNone;
  WalArchive archive(*repository_, plain);
  const std::string seg = FakeSegment(kSysid, 13);
  archive.PushContent("000000010000000000000013", seg);
  std::string stored;
  std::string raw(3 * seg.size(), 'x');  // a larger buffer from an earlier use
  archive.ReadInto(*archive.Find("000000010000000000000013"), stored, raw);
  EXPECT_EQ(raw, seg);
}

TEST_F(WalArchiveTest, ReadIntoOfADamagedObjectIsCorrupt) {
  archive_->PushContent("000000010000000000000014", FakeSegment(kSysid, 14));
  const ArchivedFile f = *archive_->Find("000000010000000000000014");
  memory_->Put(f.object, repo::Compress(repo::CodecSettings{}, FakeSegment(kSysid, 15)));
  std::string stored;
  std::string raw;
  try {
    archive_->ReadInto(f, stored, raw);
    FAIL() << "expected corruption";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("is damaged"), std::string::npos) << e.what();
  }
}

TEST_F(WalArchiveTest, GetOfAMissingFileWritesNothing) {
  core::TempDir dir("wal-unit");
  EXPECT_FALSE(archive_->Get("0000000100000000000000AA", dir.path() / "RECOVERYXLOG"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "RECOVERYXLOG"));
}

TEST_F(WalArchiveTest, GetWritesTheFile) {
  const std::string seg = FakeSegment(kSysid, 8);
  archive_->PushContent("000000010000000000000008", seg);
  core::TempDir dir("wal-unit");
  ASSERT_TRUE(archive_->Get("000000010000000000000008", dir.path() / "RECOVERYXLOG"));
  EXPECT_EQ(core::ReadFile(dir.path() / "RECOVERYXLOG"), seg);
}

TEST_F(WalArchiveTest, NameThatPostgresNeverArchivesIsRefused) {
  core::TempDir dir("wal-unit");
  core::AtomicWriteFile(dir.path() / "postgresql.conf", "x");
  try {
    archive_->Push(dir.path() / "postgresql.conf");
    FAIL() << "expected a usage error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("is not a WAL file"), std::string::npos);
  }
}

TEST_F(WalArchiveTest, CatalogReportsGapsPerTimeline) {
  for (const char* name : {"000000010000000000000001", "000000010000000000000002",
                           "000000010000000000000005", "000000020000000000000005"}) {
    archive_->PushContent(name, FakeSegment(kSysid, 9));
  }
  const ArchiveCatalog catalog = BuildCatalog(archive_->List());
  ASSERT_EQ(catalog.timelines.size(), 2u);
  const TimelineCoverage& tl1 = catalog.timelines.at(1);
  ASSERT_EQ(tl1.gaps.size(), 1u);
  EXPECT_EQ(tl1.gaps[0].first_segno, 3u);
  EXPECT_EQ(tl1.gaps[0].last_segno, 4u);
  EXPECT_TRUE(catalog.timelines.at(2).gaps.empty());
}

TEST(ParseArchiveObject, RejectsForeignNames) {
  EXPECT_FALSE(ParseArchiveObject("archive/00000001/README", 3));
  EXPECT_FALSE(ParseArchiveObject("archive/00000001/x-y-z.zst", 3));
}

}  // namespace
}  // namespace dbmedic::wal
