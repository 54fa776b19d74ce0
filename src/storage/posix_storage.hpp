// Storage in a local directory. Objects are files; a write goes to a hidden temporary file beside
// its target (".NAME.dbmedic-tmp.PID.N"), which Commit() fsyncs and renames into place before
// fsyncing the directory. Temporary files are never listed; a crashed writer's leftovers are
// removed with the backup directory they belong to.
#pragma once

#include <filesystem>

#include "storage/storage.hpp"

namespace dbmedic::storage {

class PosixStorage : public Storage {
 public:
  // `root` must exist (Error(kNotFound) otherwise): a typo must not create a new repository.
  explicit PosixStorage(std::filesystem::path root);

  std::vector<ObjectInfo> List(std::string_view dir) const override;
  std::vector<DirectoryInfo> ListDirectories(std::string_view dir,
                                             std::string_view marker = {}) const override;
  bool Exists(std::string_view path) const override;
  std::unique_ptr<ReadStream> OpenRead(std::string_view path) const override;
  std::unique_ptr<WriteStream> OpenWrite(std::string_view path,
                                         Durability durability = Durability::kImmediate) override;
  void Sync(std::string_view dir) override;
  void Remove(std::string_view path) override;
  void RemoveTree(std::string_view dir) override;
  // flock(2) on the lock file: released on close, also when the process is killed.
  std::unique_ptr<ObjectLock> TryLock(std::string_view path, std::string_view holder) override;
  std::string Describe(std::string_view path) const override;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path Resolve(std::string_view path) const;
  std::filesystem::path root_;
};

// Whether a file name is a back end's temporary (uncommitted) file.
bool IsTemporaryName(std::string_view name);

}  // namespace dbmedic::storage
