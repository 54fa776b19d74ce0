// Storage back ends: the contract every back end keeps (visible only after Commit, discarded
// otherwise, listing with sizes, removal), run against POSIX and in-memory; then fault injection.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "storage/fault_storage.hpp"
#include "storage/memory_storage.hpp"
#include "storage/posix_storage.hpp"

namespace dbmedic::storage {
namespace {

namespace fs = std::filesystem;

FaultPlan WriteFailsAt(std::uint64_t n) {
  FaultPlan plan;
  plan.fail_write_at = n;
  return plan;
}

std::vector<std::string> DirectoryNames(const Storage& storage, std::string_view dir) {
  std::vector<std::string> names;
  for (const DirectoryInfo& d : storage.ListDirectories(dir)) names.push_back(d.name);
  return names;
}

class StorageContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "posix") {
      dir_ = std::make_unique<core::TempDir>("storage-test");
      storage_ = std::make_unique<PosixStorage>(dir_->path());
    } else {
      storage_ = std::make_unique<MemoryStorage>();
    }
  }
  std::unique_ptr<core::TempDir> dir_;
  std::unique_ptr<Storage> storage_;
};

TEST_P(StorageContract, CommittedObjectIsReadBack) {
  storage_->WriteAtomic("a/b/c.txt", "hello");
  EXPECT_TRUE(storage_->Exists("a/b/c.txt"));
  EXPECT_EQ(storage_->ReadAll("a/b/c.txt"), "hello");
}

TEST_P(StorageContract, UncommittedObjectIsInvisible) {
  auto out = storage_->OpenWrite("x/y");
  out->Write("partial");
  EXPECT_FALSE(storage_->Exists("x/y"));
  EXPECT_TRUE(storage_->List("x").empty());
}

TEST_P(StorageContract, DestroyedWithoutCommitLeavesNothing) {
  {
    auto out = storage_->OpenWrite("x/y");
    out->Write("partial");
  }
  EXPECT_FALSE(storage_->Exists("x/y"));
  EXPECT_TRUE(storage_->List("").empty());
  if (dir_) {  // not even a temporary file on disk
    std::size_t files = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir_->path())) files += e.is_regular_file();
    EXPECT_EQ(files, 0u);
  }
}

TEST_P(StorageContract, CommitReplacesPreviousContent) {
  storage_->WriteAtomic("f", "old");
  storage_->WriteAtomic("f", "new content");
  EXPECT_EQ(storage_->ReadAll("f"), "new content");
}

TEST_P(StorageContract, ListIsRecursiveSortedWithSizes) {
  storage_->WriteAtomic("d/2", "bb");
  storage_->WriteAtomic("d/1", "a");
  storage_->WriteAtomic("d/sub/3", "ccc");
  storage_->WriteAtomic("other/4", "dddd");
  const std::vector<ObjectInfo> list = storage_->List("d");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].path, "1");
  EXPECT_EQ(list[0].size, 1u);
  EXPECT_EQ(list[1].path, "2");
  EXPECT_EQ(list[2].path, "sub/3");
  EXPECT_EQ(list[2].size, 3u);
}

TEST_P(StorageContract, ListOfMissingDirectoryIsEmpty) {
  EXPECT_TRUE(storage_->List("nothing/here").empty());
}

TEST_P(StorageContract, ListDirectoriesNamesOneLevelSorted) {
  storage_->WriteAtomic("backup/B/manifest.json", "{}");
  storage_->WriteAtomic("backup/A/data/base/1/1259", "x");
  storage_->WriteAtomic("backup/A/data/base/1/1260", "y");
  storage_->WriteAtomic("backup/file", "not a directory");
  storage_->WriteAtomic("archive/C/x", "w");
  EXPECT_EQ(DirectoryNames(*storage_, "backup"), (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(DirectoryNames(*storage_, "backup/A/data"), (std::vector<std::string>{"base"}));
  EXPECT_TRUE(DirectoryNames(*storage_, "nothing/here").empty());
  const std::vector<DirectoryInfo> marked = storage_->ListDirectories("backup", "manifest.json");
  ASSERT_EQ(marked.size(), 2u);
  EXPECT_FALSE(marked[0].holds_marker);  // A: objects, but deeper
  EXPECT_TRUE(marked[1].holds_marker);   // B
}

TEST_P(StorageContract, OpenReadMissingIsNotFound) {
  try {
    storage_->OpenRead("missing/object");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("missing/object"), std::string::npos) << e.what();
  }
}

TEST_P(StorageContract, RemoveAndRemoveTree) {
  storage_->WriteAtomic("t/a", "1");
  storage_->WriteAtomic("t/b/c", "2");
  storage_->WriteAtomic("keep", "3");
  storage_->Remove("t/a");
  storage_->Remove("t/never-existed");
  EXPECT_FALSE(storage_->Exists("t/a"));
  storage_->RemoveTree("t");
  storage_->RemoveTree("not-there");
  EXPECT_TRUE(storage_->List("t").empty());
  EXPECT_TRUE(storage_->Exists("keep"));
}

TEST_P(StorageContract, StreamsCarryLargeObjects) {
  std::string big(3 * 1024 * 1024 + 17, 'z');
  big[12345] = 'q';
  auto out = storage_->OpenWrite("big");
  out->Write(std::string_view(big).substr(0, 1000));
  out->Write(std::string_view(big).substr(1000));
  out->Commit();
  EXPECT_EQ(storage_->ReadAll("big"), big);
}

TEST_P(StorageContract, LockIsExclusiveUntilReleased) {
  auto first = storage_->TryLock("repo.lock", "first holder");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(storage_->TryLock("repo.lock", "second holder"), nullptr);
  EXPECT_EQ(storage_->ReadAll("repo.lock"), "first holder");
  first.reset();
  auto second = storage_->TryLock("repo.lock", "second holder");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(storage_->ReadAll("repo.lock"), "second holder");
}

TEST_P(StorageContract, LocksOfDifferentObjectsAreIndependent) {
  auto a = storage_->TryLock("a.lock", "a");
  auto b = storage_->TryLock("b.lock", "b");
  EXPECT_NE(a, nullptr);
  EXPECT_NE(b, nullptr);
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageContract, ::testing::Values("posix", "memory"));

TEST(PosixStorage, MissingRootIsNotFound) {
  try {
    PosixStorage s("/nonexistent/dbmedic-repo");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dbmedic-repo"), std::string::npos);
  }
}

// A child process takes the lock and is SIGKILLed: the kernel releases its flock, so the lock
// never blocks the next holder.
TEST(PosixStorage, LockOfAKilledProcessIsReleased) {
  core::TempDir dir("storage-lock");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    PosixStorage storage(dir.path());
    auto lock = storage.TryLock("repo.lock", "child");
    const char ok = lock ? '1' : '0';
    if (::write(ready[1], &ok, 1) != 1) ::_exit(2);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(ok, '1');
  PosixStorage storage(dir.path());
  EXPECT_EQ(storage.TryLock("repo.lock", "parent"), nullptr);
  EXPECT_EQ(storage.ReadAll("repo.lock"), "child");
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_NE(storage.TryLock("repo.lock", "parent"), nullptr);
}

TEST(PosixStorage, PathsClimbingOutOfTheRootAreRefused) {
  core::TempDir dir("storage-test");
  PosixStorage s(dir.path());
  EXPECT_THROW(s.WriteAtomic("../escape", "x"), Error);
  EXPECT_THROW(s.WriteAtomic("/etc/escape", "x"), Error);
}

TEST(FaultStorage, FailsTheNthWriteWithDiskFull) {
  MemoryStorage inner;
  FaultStorage faulty(inner, WriteFailsAt(2));
  faulty.WriteAtomic("one", "1");
  try {
    faulty.WriteAtomic("two", "2");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDiskFull);
    EXPECT_NE(std::string(e.what()).find("memory:two"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(inner.Exists("one"));
  EXPECT_FALSE(inner.Exists("two"));
}

TEST(FaultStorage, WritesAfterTheNthKeepFailing) {
  MemoryStorage inner;
  FaultStorage faulty(inner, WriteFailsAt(1));
  EXPECT_THROW(faulty.WriteAtomic("a", "1"), Error);
  EXPECT_THROW(faulty.WriteAtomic("b", "1"), Error);
  EXPECT_EQ(faulty.writes(), 2u);
  EXPECT_TRUE(inner.List("").empty());
}

TEST(FaultStorage, FailedCommitLeavesObjectInvisible) {
  core::TempDir dir("storage-test");
  PosixStorage inner(dir.path());
  FaultPlan plan;
  plan.fail_commit_at = 1;
  FaultStorage faulty(inner, plan);
  try {
    faulty.WriteAtomic("obj", "data");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
  }
  EXPECT_FALSE(inner.Exists("obj"));
  faulty.WriteAtomic("obj", "data");  // only the first commit fails
  EXPECT_EQ(inner.ReadAll("obj"), "data");
}

TEST(FaultStorage, FailsOpenWriteOfMatchingPaths) {
  MemoryStorage inner;
  FaultPlan plan;
  plan.fail_open_write_containing = "manifest";
  FaultStorage faulty(inner, plan);
  faulty.WriteAtomic("data/1", "x");
  try {
    faulty.WriteAtomic("backup/L/manifest.json", "{}");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDiskFull);
  }
  EXPECT_FALSE(inner.Exists("backup/L/manifest.json"));
}

}  // namespace
}  // namespace dbmedic::storage
