// The repository's one seam to the outside world: a flat namespace of objects addressed by
// relative '/'-separated paths ("backup/L/data/base/1/1259.0"). Back ends: POSIX directory,
// in-memory (tests) and a fault-injecting wrapper (tests); an object store fits behind the same
// interface because nothing here depends on directories, renames or partial updates.
//
// Thread safety: a Storage may be used from many threads at once; each stream belongs to one
// thread. Errors are dbmedic::Error: kNotFound for a missing object, kDiskFull / kIo otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

namespace dbmedic::core {
class Config;
}

namespace dbmedic::storage {

// When a committed object must be durable. kDeferred lets bulk writers (a backup's thousands of
// chunks) skip one fsync per object: the object is visible after Commit() but survives a crash
// only after the next Sync() of a directory above it. Metadata is always kImmediate.
enum class Durability { kImmediate, kDeferred };

struct ObjectInfo {
  std::string path;  // relative to the directory that was listed
  std::uint64_t size = 0;
};

struct DirectoryInfo {
  std::string name;
  bool holds_marker = false;  // the object `marker` of ListDirectories lies directly in it
};

// Sequential reader of one object.
class ReadStream {
 public:
  virtual ~ReadStream() = default;
  // Reads up to `size` bytes; returns 0 at the end of the object.
  virtual std::size_t Read(char* buffer, std::size_t size) = 0;
};

// An exclusive advisory lock on one object (see Storage::TryLock). Held while it lives; the
// POSIX back end's lock is also released by the kernel when the holding process dies, so a
// SIGKILLed holder never blocks the next one.
class ObjectLock {
 public:
  virtual ~ObjectLock() = default;
};

// A ReadStream over bytes already in memory (objects fetched or decrypted whole).
class StringReadStream final : public ReadStream {
 public:
  explicit StringReadStream(std::string data) : data_(std::move(data)) {}
  std::size_t Read(char* buffer, std::size_t size) override;

 private:
  std::string data_;
  std::size_t offset_ = 0;
};

// Writer of one object. Nothing is visible under the object's path until Commit() returns; a
// stream destroyed without Commit() leaves no trace (its temporary data is discarded).
class WriteStream {
 public:
  virtual ~WriteStream() = default;
  virtual void Write(std::string_view data) = 0;
  // Makes the object durable and visible atomically (POSIX: fsync, rename, fsync of the
  // directory). Throws on failure; the object is then absent (or keeps its previous content).
  virtual void Commit() = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Every object below `dir` (recursively), with sizes, sorted by path. A missing directory is
  // an empty list. Uncommitted objects are never listed.
  virtual std::vector<ObjectInfo> List(std::string_view dir) const = 0;
  // The directories directly below `dir` (on an object store: the common prefixes one level
  // down), sorted, each saying whether it holds the object `marker` directly (a backup's
  // manifest.json; empty: not asked). Cheaper than List() when the tree below is large: a
  // repository's backup labels without listing every chunk of every backup. The default derives
  // both from one List() (directories holding at least one object).
  virtual std::vector<DirectoryInfo> ListDirectories(std::string_view dir,
                                                     std::string_view marker = {}) const;
  virtual bool Exists(std::string_view path) const = 0;
  // Throws Error(kNotFound) naming the object when it does not exist.
  virtual std::unique_ptr<ReadStream> OpenRead(std::string_view path) const = 0;
  virtual std::unique_ptr<WriteStream> OpenWrite(
      std::string_view path, Durability durability = Durability::kImmediate) = 0;
  // Makes every object committed below `dir` durable (needed after kDeferred writes).
  virtual void Sync(std::string_view dir) = 0;
  // Removes one object; a missing object is not an error.
  virtual void Remove(std::string_view path) = 0;
  // Removes every object below `dir`; a missing directory is not an error.
  virtual void RemoveTree(std::string_view dir) = 0;
  // Takes the exclusive lock named `path` without waiting and stores `holder` (a short text
  // saying who holds it) in that object. Returns nullptr when someone else holds the lock: the
  // object then holds their `holder` text (empty while they are taking it). The default
  // implementation only excludes holders within this process; back ends override it.
  virtual std::unique_ptr<ObjectLock> TryLock(std::string_view path, std::string_view holder);
  // A human description of where `path` lives, for messages ("/backup/repo/backup/L/...").
  virtual std::string Describe(std::string_view path) const = 0;

  // Small objects (metadata): whole-object write through OpenWrite + Commit, and whole read.
  void WriteAtomic(std::string_view path, std::string_view data);
  std::string ReadAll(std::string_view path) const;
};

// The back end named by the configuration (repository.type, repository.path). Callers never pick
// a driver themselves. Throws Error(kConfig) for a missing path or an unknown type.
std::unique_ptr<Storage> OpenStorage(const core::Config& config);

}  // namespace dbmedic::storage
