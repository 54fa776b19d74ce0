// The asynchronous push spool on an in-memory repository: queueing is bounded, the worker pushes
// the queue and the files PostgreSQL has ready (ahead of archive_command), and a failing
// repository leaves the WAL in the spool, with the failure recorded, until it recovers.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "repo/repository.hpp"
#include "storage/fault_storage.hpp"
#include "storage/memory_storage.hpp"
#include "fake_segment.hpp"
#include "wal/archive.hpp"
#include "wal/push_spool.hpp"

namespace dbmedic::wal {
namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t kSysid = 7311234567890123456ULL;
constexpr std::size_t kSegBytes = 64 * 1024;

std::string FakeSegment(unsigned seed) { return testing::FakeSegment(kSysid, seed, kSegBytes); }

class PushSpoolTest : public ::testing::Test {
 protected:
  explicit PushSpoolTest(storage::FaultPlan plan = {}) : dir_("push-spool") {
    repo::RepoInfo info;
    info.system_identifier = std::to_string(kSysid);
    info.pg_version_num = 150000;
    repo::Repository::Init(std::make_unique<storage::FaultStorage>(memory_, storage::FaultPlan{}),
                           info);
    // Faults count from here on: the repository's own metadata is written.
    auto storage = std::make_unique<storage::FaultStorage>(memory_, std::move(plan));
    fault_ = storage.get();
    repository_ = std::make_unique<repo::Repository>(repo::Repository::Open(std::move(storage)));
    archive_ = std::make_unique<WalArchive>(*repository_, repo::CodecSettings{});
    core::MakeDirs(pg_wal() / "archive_status");
  }

  fs::path pg_wal() const { return dir_.path() / "pg_wal"; }
  fs::path spool() const { return pg_wal() / std::string(kPushSpoolDirName); }

  // A WAL file in pg_wal, marked .ready as PostgreSQL's archiver does.
  fs::path ReadyFile(const std::string& name, unsigned seed) {
    core::AtomicWriteFile(pg_wal() / name, FakeSegment(seed));
    core::AtomicWriteFile(pg_wal() / "archive_status" / (name + ".ready"), "");
    return pg_wal() / name;
  }

  SpoolWorkerOptions Options(bool ahead) const {
    SpoolWorkerOptions o;
    if (ahead) o.pg_wal = pg_wal();
    o.idle_exit = std::chrono::milliseconds(50);
    o.retry_delay = std::chrono::milliseconds(10);
    return o;
  }

  storage::MemoryStorage memory_;
  storage::FaultStorage* fault_ = nullptr;
  core::TempDir dir_;
  std::unique_ptr<repo::Repository> repository_;
  std::unique_ptr<WalArchive> archive_;
};

TEST_F(PushSpoolTest, OfferQueuesADurableCopy) {
  const fs::path file = ReadyFile("000000010000000000000003", 1);
  PushSpool s(spool(), 10 * kSegBytes);
  EXPECT_EQ(s.Offer(file), OfferOutcome::kQueued);
  EXPECT_EQ(s.Queued(), std::vector<std::string>{"000000010000000000000003"});
  EXPECT_EQ(s.QueuedBytes(), kSegBytes);
  EXPECT_EQ(core::ReadFile(spool() / "queue" / "000000010000000000000003"), core::ReadFile(file));
}

TEST_F(PushSpoolTest, OfferBeyondTheBoundQueuesNothing) {
  PushSpool s(spool(), kSegBytes + kSegBytes / 2);
  ASSERT_EQ(s.Offer(ReadyFile("000000010000000000000003", 1)), OfferOutcome::kQueued);
  EXPECT_EQ(s.Offer(ReadyFile("000000010000000000000004", 2)), OfferOutcome::kFull);
  EXPECT_EQ(s.Queued(), std::vector<std::string>{"000000010000000000000003"});
}

TEST_F(PushSpoolTest, WorkerPushesTheQueueAndEmptiesIt) {
  const fs::path file = ReadyFile("000000010000000000000003", 1);
  PushSpool s(spool(), 10 * kSegBytes);
  ASSERT_EQ(s.Offer(file), OfferOutcome::kQueued);
  std::atomic<bool> stop{false};
  RunSpoolWorker(*archive_, spool(), Options(false), stop);  // returns once idle
  const std::optional<ArchivedFile> archived = archive_->Find("000000010000000000000003");
  ASSERT_TRUE(archived);
  EXPECT_EQ(archive_->Read(*archived), core::ReadFile(file));
  EXPECT_TRUE(s.Queued().empty());
}

TEST_F(PushSpoolTest, WorkerPushesReadyFilesAheadAndOfferThenSucceedsAtOnce) {
  const fs::path file = ReadyFile("000000010000000000000007", 7);
  std::atomic<bool> stop{false};
  RunSpoolWorker(*archive_, spool(), Options(true), stop);
  ASSERT_TRUE(archive_->Find("000000010000000000000007"));
  PushSpool s(spool(), 10 * kSegBytes);
  EXPECT_EQ(s.Offer(file), OfferOutcome::kPushedAhead);
  EXPECT_TRUE(s.Queued().empty());
  EXPECT_FALSE(fs::exists(spool() / "done" / "000000010000000000000007"));  // marker consumed
}

class FailingPushSpoolTest : public PushSpoolTest {
 protected:
  FailingPushSpoolTest() : PushSpoolTest(storage::FaultPlan{0, 0, "archive/"}) {}
};

TEST_F(FailingPushSpoolTest, FailedPushStaysQueuedWithTheErrorRecorded) {
  PushSpool s(spool(), 10 * kSegBytes);
  ASSERT_EQ(s.Offer(ReadyFile("000000010000000000000003", 1)), OfferOutcome::kQueued);
  std::atomic<bool> stop{false};
  std::thread worker([&] { RunSpoolWorker(*archive_, spool(), Options(false), stop); });
  for (int i = 0; i < 500 && !s.LastError(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  worker.join();
  ASSERT_TRUE(s.LastError());
  EXPECT_NE(s.LastError()->find("unable to push '" +
                                (spool() / "queue" / "000000010000000000000003").string() +
                                "' from the spool to repository"),
            std::string::npos)
      << *s.LastError();
  EXPECT_EQ(s.Queued(), std::vector<std::string>{"000000010000000000000003"});
  EXPECT_FALSE(archive_->Find("000000010000000000000003"));
}

class OnceFailingPushSpoolTest : public PushSpoolTest {
 protected:
  OnceFailingPushSpoolTest() : PushSpoolTest(storage::FaultPlan{0, 1, ""}) {}
};

TEST_F(OnceFailingPushSpoolTest, WorkerRetriesAndClearsTheErrorOnceThePushSucceeds) {
  PushSpool s(spool(), 10 * kSegBytes);
  ASSERT_EQ(s.Offer(ReadyFile("000000010000000000000003", 1)), OfferOutcome::kQueued);
  std::atomic<bool> stop{false};
  RunSpoolWorker(*archive_, spool(), Options(false), stop);
  EXPECT_EQ(fault_->commits(), 2u);  // the failed one, then the retry
  EXPECT_TRUE(archive_->Find("000000010000000000000003"));
  EXPECT_TRUE(s.Queued().empty());
  EXPECT_FALSE(s.LastError());
}

}  // namespace
}  // namespace dbmedic::wal
