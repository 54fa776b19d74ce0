#include "storage/posix_storage.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "storage/fd.hpp"

namespace dbmedic::storage {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kTempMarker = ".dbmedic-tmp.";

class PosixReadStream : public ReadStream {
 public:
  PosixReadStream(Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  std::size_t Read(char* buffer, std::size_t size) override {
    for (;;) {
      ssize_t n = ::read(fd_.get(), buffer, size);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) throw SystemError(errno, "read", path_);
    }
  }

 private:
  Fd fd_;
  std::string path_;
};

class PosixWriteStream : public WriteStream {
 public:
  PosixWriteStream(fs::path target, fs::path temp, Fd fd, Durability durability)
      : target_(std::move(target)), temp_(std::move(temp)), fd_(std::move(fd)),
        durability_(durability) {}
  ~PosixWriteStream() noexcept override {
    if (!committed_) ::unlink(temp_.c_str());
  }
  // Errors name the object being written, not its temporary file.
  void Write(std::string_view data) override { WriteAll(fd_.get(), data, target_.string()); }
  void Commit() override {
    const bool now = durability_ == Durability::kImmediate;
    if (now && ::fsync(fd_.get()) != 0) throw SystemError(errno, "fsync", temp_.string());
    fd_.Close(temp_.string());
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
      throw SystemError(errno, "rename into", target_.string());
    }
    committed_ = true;
    if (now) core::FsyncDir(target_.parent_path());
  }

 private:
  fs::path target_;
  fs::path temp_;
  Fd fd_;
  Durability durability_;
  bool committed_ = false;
};

// Holds flock(LOCK_EX) on the open lock file. The holder text is cleared before the lock is
// released, so a process that loses the race to a newer holder never reads a stale holder.
class PosixLock : public ObjectLock {
 public:
  explicit PosixLock(Fd fd) : fd_(std::move(fd)) {}
  ~PosixLock() noexcept override {
    if (::ftruncate(fd_.get(), 0) != 0) {
      // Nothing to do: the next holder overwrites the text anyway.
    }
    ::flock(fd_.get(), LOCK_UN);
  }

 private:
  Fd fd_;
};

// Creates `dir` and its missing parents. With `durable`, fsyncs the parent of each directory it
// creates: a new directory's entry is data like a file's, and the commit of an object only
// fsyncs the directory holding it, so after a crash a just-created archive directory (and the
// segment inside it that archive_command reported stored) could be missing on filesystems that
// do not order directory creation before later fsyncs.
void MakeParents(const fs::path& dir, bool durable) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return;
  if (dir.has_parent_path() && dir.parent_path() != dir) MakeParents(dir.parent_path(), durable);
  if (::mkdir(dir.c_str(), 0777) != 0) {
    if (errno == EEXIST && fs::is_directory(dir, ec)) return;  // a concurrent writer made it
    throw SystemError(errno, "create directory", dir.string());
  }
  if (durable) core::FsyncDir(dir.parent_path());
}

}  // namespace

bool IsTemporaryName(std::string_view name) { return name.find(kTempMarker) != name.npos; }

PosixStorage::PosixStorage(fs::path root) : root_(std::move(root)) {
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("repository directory '{}' does not exist", root_.string()),
                "create it (mkdir) or fix repository.path, then run 'dbmedic repo init'");
  }
}

fs::path PosixStorage::Resolve(std::string_view path) const {
  // Object paths are relative and never climb out of the root.
  const fs::path rel(path);
  const bool climbs = std::any_of(rel.begin(), rel.end(), [](const fs::path& p) { return p == ".."; });
  if (rel.is_absolute() || climbs) {
    throw Error(ErrorCode::kInternal, fmt::format("invalid storage path '{}'", path));
  }
  return path.empty() ? root_ : root_ / rel;
}

std::vector<ObjectInfo> PosixStorage::List(std::string_view dir) const {
  std::vector<ObjectInfo> out;
  const fs::path base = Resolve(dir);
  std::error_code ec;
  if (!fs::is_directory(base, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(base, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (IsTemporaryName(it->path().filename().string())) continue;
    out.push_back({it->path().lexically_relative(base).generic_string(), it->file_size(ec)});
  }
  if (ec) throw SystemError(ec.value(), "list", base.string());
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.path < b.path; });
  return out;
}

std::vector<DirectoryInfo> PosixStorage::ListDirectories(std::string_view dir,
                                                         std::string_view marker) const {
  std::vector<DirectoryInfo> out;
  const fs::path base = Resolve(dir);
  std::error_code ec;
  if (!fs::is_directory(base, ec)) return out;
  for (auto it = fs::directory_iterator(base, ec); !ec && it != fs::end(it); it.increment(ec)) {
    if (!it->is_directory(ec)) continue;
    std::error_code ignored;
    const bool marked = !marker.empty() && fs::is_regular_file(it->path() / marker, ignored);
    out.push_back({it->path().filename().string(), marked});
  }
  if (ec) throw SystemError(ec.value(), "list", base.string());
  std::sort(out.begin(), out.end(),
            [](const DirectoryInfo& a, const DirectoryInfo& b) { return a.name < b.name; });
  return out;
}

bool PosixStorage::Exists(std::string_view path) const {
  std::error_code ec;
  return fs::is_regular_file(Resolve(path), ec);
}

std::unique_ptr<ReadStream> PosixStorage::OpenRead(std::string_view path) const {
  const fs::path full = Resolve(path);
  return std::make_unique<PosixReadStream>(Fd::Open(full.string(), O_RDONLY), full.string());
}

std::unique_ptr<WriteStream> PosixStorage::OpenWrite(std::string_view path, Durability durability) {
  static std::atomic<std::uint64_t> counter{0};
  const fs::path full = Resolve(path);
  MakeParents(full.parent_path(), durability == Durability::kImmediate);
  const fs::path temp = full.parent_path() /
                        fmt::format(".{}{}{}.{}", full.filename().string(), kTempMarker,
                                    ::getpid(), counter.fetch_add(1));
  Fd fd = Fd::Open(temp.string(), O_WRONLY | O_CREAT | O_TRUNC, 0640);
  return std::make_unique<PosixWriteStream>(full, temp, std::move(fd), durability);
}

void PosixStorage::Remove(std::string_view path) {
  const fs::path full = Resolve(path);
  if (::unlink(full.c_str()) != 0 && errno != ENOENT) throw SystemError(errno, "remove", full.string());
}

void PosixStorage::RemoveTree(std::string_view dir) {
  const fs::path full = Resolve(dir);
  std::error_code ec;
  fs::remove_all(full, ec);
  if (ec) throw SystemError(ec.value(), "remove", full.string());
  if (full.has_parent_path() && fs::exists(full.parent_path())) core::FsyncDir(full.parent_path());
}

void PosixStorage::Sync(std::string_view dir) {
  // syncfs: one call flushes every file and directory of the repository's filesystem, much
  // cheaper than thousands of fsyncs (it also flushes unrelated files there, which is harmless).
  const fs::path full = Resolve(dir);
  Fd fd = Fd::Open(full.string(), O_RDONLY | O_DIRECTORY);
  if (::syncfs(fd.get()) != 0) throw SystemError(errno, "sync", full.string());
}

std::unique_ptr<ObjectLock> PosixStorage::TryLock(std::string_view path,
                                                  std::string_view holder) {
  const fs::path full = Resolve(path);
  MakeParents(full.parent_path(), false);
  Fd fd = Fd::Open(full.string(), O_RDWR | O_CREAT, 0640);
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return nullptr;
    if (errno != EINTR) throw SystemError(errno, "lock", full.string());
  }
  if (::ftruncate(fd.get(), 0) != 0) throw SystemError(errno, "truncate", full.string());
  PwriteAll(fd.get(), holder, 0, full.string());
  return std::make_unique<PosixLock>(std::move(fd));
}

std::string PosixStorage::Describe(std::string_view path) const { return Resolve(path).string(); }

}  // namespace dbmedic::storage
