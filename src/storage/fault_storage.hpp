// A Storage wrapper that injects failures, for tests that prove a failed operation leaves
// nothing that claims to be good (LevelDB's fault_injection_test idea). Counters are global to
// the wrapper and count calls from all threads.
#pragma once

#include <atomic>
#include <cstdint>

#include "storage/storage.hpp"

namespace dbmedic::storage {

struct FaultPlan {
  // Fail the Nth WriteStream::Write call (1-based; 0 = never) with ENOSPC, and every later one.
  std::uint64_t fail_write_at = 0;
  // Fail the Nth Commit call (1-based; 0 = never) with EIO; the object stays invisible.
  std::uint64_t fail_commit_at = 0;
  // Fail every OpenWrite whose path contains this text (empty = never) with ENOSPC.
  std::string fail_open_write_containing;
};

class FaultStorage : public Storage {
 public:
  FaultStorage(Storage& inner, FaultPlan plan) : inner_(inner), plan_(std::move(plan)) {}

  std::vector<ObjectInfo> List(std::string_view dir) const override { return inner_.List(dir); }
  std::vector<DirectoryInfo> ListDirectories(std::string_view dir,
                                             std::string_view marker = {}) const override {
    return inner_.ListDirectories(dir, marker);
  }
  bool Exists(std::string_view path) const override { return inner_.Exists(path); }
  std::unique_ptr<ReadStream> OpenRead(std::string_view path) const override {
    return inner_.OpenRead(path);
  }
  std::unique_ptr<WriteStream> OpenWrite(std::string_view path,
                                         Durability durability = Durability::kImmediate) override;
  void Sync(std::string_view dir) override { inner_.Sync(dir); }
  void Remove(std::string_view path) override { inner_.Remove(path); }
  void RemoveTree(std::string_view dir) override { inner_.RemoveTree(dir); }
  std::unique_ptr<ObjectLock> TryLock(std::string_view path, std::string_view holder) override {
    return inner_.TryLock(path, holder);
  }
  std::string Describe(std::string_view path) const override { return inner_.Describe(path); }

  std::uint64_t writes() const { return writes_.load(); }
  std::uint64_t commits() const { return commits_.load(); }
  // Called by the wrapper's streams; return true when this call must fail.
  bool NextWriteFails() { return Trips(writes_, plan_.fail_write_at, true); }
  bool NextCommitFails() { return Trips(commits_, plan_.fail_commit_at, false); }

 private:
  static bool Trips(std::atomic<std::uint64_t>& counter, std::uint64_t at, bool sticky) {
    const std::uint64_t n = counter.fetch_add(1) + 1;
    return at != 0 && (sticky ? n >= at : n == at);
  }
  Storage& inner_;
  FaultPlan plan_;
  std::atomic<std::uint64_t> writes_{0};
  std::atomic<std::uint64_t> commits_{0};
};

}  // namespace dbmedic::storage
