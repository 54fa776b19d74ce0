// The rolling prefetcher (`wal prefetch --keep-ahead`) on an in-memory repository: it keeps the
// spool filled as segments are taken, ends at the end of the archive, when EndPrefetch asks, or
// when nobody takes from a full spool.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include "core/fs.hpp"
#include "pg/lsn.hpp"
#include "repo/repository.hpp"
#include "storage/fault_storage.hpp"
#include "storage/memory_storage.hpp"
#include "fake_segment.hpp"
#include "wal/archive.hpp"
#include "wal/prefetch.hpp"

namespace dbmedic::wal {
namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t kSysid = 7311234567890123457ULL;
constexpr int kFirst = 3, kLast = 10;  // segments 3..10 are archived

std::string Segment(int segno) { return pg::WalSegmentName(1, static_cast<std::uint64_t>(segno)); }

std::string FakeContent(unsigned seed) { return testing::FakeSegment(kSysid, seed); }

class PrefetchKeepAheadTest : public ::testing::Test {
 protected:
  PrefetchKeepAheadTest() : dir_("prefetch-ahead") {
    repo::RepoInfo info;
    info.system_identifier = std::to_string(kSysid);
    info.pg_version_num = 150000;
    repo::Repository::Init(std::make_unique<storage::FaultStorage>(memory_, storage::FaultPlan{}),
                           info);
    repository_ = std::make_unique<repo::Repository>(repo::Repository::Open(
        std::make_unique<storage::FaultStorage>(memory_, storage::FaultPlan{})));
    archive_ = std::make_unique<WalArchive>(*repository_, repo::CodecSettings{});
    for (int s = kFirst; s <= kLast; ++s) {
      archive_->PushContent(Segment(s), FakeContent(static_cast<unsigned>(s)));
    }
  }

  fs::path spool() const { return dir_.path() / "pg_wal" / std::string(kSpoolDirName); }

  std::vector<std::string> Spooled() const {
    std::vector<std::string> out;
    std::error_code ec;  // the prefetcher may not have made the spool yet
    for (const auto& e : fs::directory_iterator(spool(), ec)) {
      if (pg::IsWalSegmentName(e.path().filename().string())) {
        out.push_back(e.path().filename().string());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // What restore_command does with a prefetched segment; waits for the prefetcher to bring it.
  std::string Take(const std::string& name) {
    const fs::path dest = dir_.path() / "RECOVERYXLOG";
    while (!TakeFromSpool(spool(), name, dest)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return core::ReadFile(dest);
  }

  storage::MemoryStorage memory_;
  core::TempDir dir_;
  std::unique_ptr<repo::Repository> repository_;
  std::unique_ptr<WalArchive> archive_;
};

TEST_F(PrefetchKeepAheadTest, ServesEverySegmentUntilTheArchiveEnds) {
  std::thread prefetcher([&] {
    RunPrefetch(*archive_, spool(), {Segment(4)}, 2, /*keep_ahead=*/2, std::chrono::hours(1));
  });
  for (int s = 4; s <= kLast; ++s) {
    EXPECT_EQ(Take(Segment(s)), FakeContent(static_cast<unsigned>(s))) << Segment(s);
  }
  prefetcher.join();  // segment 11 is not archived: the prefetcher ends by itself
  EXPECT_TRUE(Spooled().empty());
}

TEST_F(PrefetchKeepAheadTest, StopsFetchingWhenTheSpoolHoldsKeepAhead) {
  // Nobody takes: it fills the spool to keep_ahead, then gives up after the idle limit.
  RunPrefetch(*archive_, spool(), {Segment(4)}, 2, /*keep_ahead=*/3,
              std::chrono::milliseconds(50));
  EXPECT_EQ(Spooled(), (std::vector<std::string>{Segment(4), Segment(5), Segment(6)}));
}

TEST_F(PrefetchKeepAheadTest, EndPrefetchStopsAPrefetcherWaitingForATaker) {
  std::thread prefetcher([&] {
    RunPrefetch(*archive_, spool(), {Segment(4)}, 2, /*keep_ahead=*/2, std::chrono::hours(1));
  });
  while (Spooled().size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EndPrefetch(spool());  // recovery_end_command: would wait an hour without the stop request
  prefetcher.join();
  EXPECT_FALSE(fs::exists(spool()));
}

TEST_F(PrefetchKeepAheadTest, RemovesASegmentLeftBehindOnceALaterOneIsTaken) {
  std::thread prefetcher([&] {
    RunPrefetch(*archive_, spool(), {Segment(4)}, 2, /*keep_ahead=*/3, std::chrono::hours(1));
  });
  while (Spooled().size() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // Segment 4 was served by a `wal get` that did not find it in time: PostgreSQL takes 5 next,
  // and 4 would hold a place in the spool for ever.
  EXPECT_EQ(Take(Segment(5)), FakeContent(5));
  while (Spooled() != std::vector<std::string>{Segment(6), Segment(7), Segment(8)}) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EndPrefetch(spool());
  prefetcher.join();
}

TEST_F(PrefetchKeepAheadTest, NoFetchingMarkerIsLeftOnceTheSegmentsAreSpooled) {
  RunPrefetch(*archive_, spool(), {Segment(4), Segment(5)}, 2);
  std::vector<std::string> markers;
  for (const auto& e : fs::directory_iterator(spool())) {
    if (e.path().filename().string().ends_with(kFetchingSuffix)) {
      markers.push_back(e.path().filename().string());
    }
  }
  EXPECT_TRUE(markers.empty()) << markers.front();
}

TEST_F(PrefetchKeepAheadTest, WithoutKeepAheadOnlyTheBatchIsFetched) {
  RunPrefetch(*archive_, spool(), {Segment(4), Segment(5)}, 2);
  EXPECT_EQ(Spooled(), (std::vector<std::string>{Segment(4), Segment(5)}));
}

}  // namespace
}  // namespace dbmedic::wal
