// `wal push`'s one-pass read, hash and compression of a WAL file (PipelinedSegment), and the
// archive storing what it produced exactly as it stores content pushed from memory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <memory>

#include "core/error.hpp"
#include "core/huge_buffer.hpp"
#include "repo/codec.hpp"
#include "repo/repository.hpp"
#include "storage/memory_storage.hpp"
#include "fake_segment.hpp"
#include "wal/archive.hpp"
#include "wal/segment_pipeline.hpp"

namespace dbmedic::wal {
namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t kSysid = 7311234567890123456ULL;
constexpr std::size_t kSegment = std::size_t{16} << 20;

class SegmentPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!core::HugePageBuffer::HugePagesAvailable()) {
      GTEST_SKIP() << "transparent huge pages are off here: wal push maps the file instead";
    }
    dir_ = fs::temp_directory_path() / ("dbmedic-pipeline-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path Write(const std::string& name, const std::string& content) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  fs::path dir_;
};

TEST_F(SegmentPipelineTest, ContentHashAndCompressedFormMatchTheFile) {
  const std::string seg = testing::FakeSegment(kSysid, 7, kSegment);
  const PipelinedSegment segment(Write("000000010000000000000003", seg), repo::CodecSettings{});
  EXPECT_EQ(segment.content(), seg);
  EXPECT_EQ(segment.sha256(), repo::Sha256Hex(seg));
  EXPECT_LT(segment.stored().size(), seg.size());
  EXPECT_EQ(repo::Decompress(repo::Compression::kZstd, segment.stored(), seg.size(), "test"), seg);
}

TEST_F(SegmentPipelineTest, SizeThatIsNotAMultipleOfThePieceIsReadWhole) {
  const std::string file = testing::FakeSegment(kSysid, 8, (std::size_t{1} << 20) + 12345);
  const PipelinedSegment segment(Write("000000010000000000000004", file), repo::CodecSettings{});
  EXPECT_EQ(segment.content(), file);
  EXPECT_EQ(segment.sha256(), repo::Sha256Hex(file));
  EXPECT_EQ(repo::Decompress(repo::Compression::kZstd, segment.stored(), file.size(), "test"),
            file);
}

TEST_F(SegmentPipelineTest, MissingFileIsNotFoundAndNamed) {
  try {
    PipelinedSegment(dir_ / "000000010000000000000005", repo::CodecSettings{});
    FAIL() << "expected kNotFound";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("000000010000000000000005"), std::string::npos);
  }
}

TEST_F(SegmentPipelineTest, OnlyLargeZstdFilesTakeThisWay) {
  EXPECT_TRUE(PipelinedSegment::Applies(repo::CodecSettings{}, kSegment));
  EXPECT_FALSE(PipelinedSegment::Applies(repo::CodecSettings{}, 300));  // a .history file
  EXPECT_FALSE(PipelinedSegment::Applies({repo::Compression::kLz4, 3}, kSegment));
  EXPECT_FALSE(PipelinedSegment::Applies({repo::Compression::kNone, 3}, kSegment));
}

// A file pushed from disk (this way) and the same content pushed from memory (the spool's and
// the streamer's way) must name the same object: a retried archive_command is a duplicate, and
// other content under the name is still a conflict.
TEST_F(SegmentPipelineTest, FilePushAndMemoryPushAgreeOnTheObject) {
  repo::RepoInfo info;
  info.system_identifier = std::to_string(kSysid);
  info.pg_version_num = 150000;
  const repo::Repository repository =
      repo::Repository::Init(std::make_unique<storage::MemoryStorage>(), info);
  WalArchive archive(repository, repo::CodecSettings{});
  const std::string seg = testing::FakeSegment(kSysid, 9, kSegment);
  const fs::path file = Write("000000010000000000000006", seg);

  EXPECT_EQ(archive.Push(file).outcome, PushOutcome::kStored);
  const std::optional<ArchivedFile> stored = archive.Find("000000010000000000000006");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->sha256, repo::Sha256Hex(seg));
  EXPECT_EQ(archive.Read(*stored), seg);
  EXPECT_EQ(archive.PushContent("000000010000000000000006", seg).outcome,
            PushOutcome::kDuplicate);
  EXPECT_EQ(archive.Push(file).outcome, PushOutcome::kDuplicate);

  Write("000000010000000000000006", testing::FakeSegment(kSysid, 10, kSegment));
  try {
    archive.Push(file);
    FAIL() << "expected a conflict";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict);
  }
}

TEST(HugePageBuffer, ReservesWritableMemoryAndGrows) {
  core::HugePageBuffer buffer(100);
  ASSERT_NE(buffer.data(), nullptr);
  EXPECT_GE(buffer.capacity(), 100u);
  buffer.data()[99] = 'x';
  char* grown = buffer.Reserve(buffer.capacity() + 1);
  EXPECT_GT(buffer.capacity(), std::size_t{2} << 20);
  grown[buffer.capacity() - 1] = 'y';
  core::HugePageBuffer moved(std::move(buffer));
  EXPECT_EQ(moved.data(), grown);
  EXPECT_EQ(buffer.data(), nullptr);
}

}  // namespace
}  // namespace dbmedic::wal
