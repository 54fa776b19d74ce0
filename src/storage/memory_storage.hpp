// Storage held in memory, for unit tests of everything above storage. Same contract as the POSIX
// back end: objects become visible only on Commit().
#pragma once

#include <map>
#include <mutex>
#include <set>

#include "storage/storage.hpp"

namespace dbmedic::storage {

class MemoryStorage : public Storage {
 public:
  std::vector<ObjectInfo> List(std::string_view dir) const override;
  bool Exists(std::string_view path) const override;
  std::unique_ptr<ReadStream> OpenRead(std::string_view path) const override;
  std::unique_ptr<WriteStream> OpenWrite(std::string_view path,
                                         Durability durability = Durability::kImmediate) override;
  void Sync(std::string_view dir) override;
  void Remove(std::string_view path) override;
  void RemoveTree(std::string_view dir) override;
  std::string Describe(std::string_view path) const override;
  // Excludes other holders of this MemoryStorage only; the storage must outlive its locks.
  std::unique_ptr<ObjectLock> TryLock(std::string_view path, std::string_view holder) override;

  // Test helpers: replace an object's bytes directly (to simulate corruption).
  void Put(std::string_view path, std::string data);
  void Commit(std::string path, std::string data);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> objects_;  // guarded by mu_
  std::set<std::string, std::less<>> locks_;                  // guarded by mu_
};

}  // namespace dbmedic::storage
