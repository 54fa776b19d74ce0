// An flock on <spool>/.lock, held until the object dies (when TryLock or Lock succeeded). The
// push spool's worker and the prefetcher both use it: one process at work per spool, and the
// lock is released by the kernel when its holder is killed.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

namespace dbmedic::wal {

class SpoolLock {
 public:
  explicit SpoolLock(const std::filesystem::path& spool)
      : fd_(::open((spool / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {}
  ~SpoolLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  SpoolLock(const SpoolLock&) = delete;
  SpoolLock& operator=(const SpoolLock&) = delete;

  bool TryLock() { return fd_ >= 0 && ::flock(fd_, LOCK_EX | LOCK_NB) == 0; }
  bool Lock() { return fd_ >= 0 && ::flock(fd_, LOCK_EX) == 0; }
  void Unlock() {
    if (fd_ >= 0) ::flock(fd_, LOCK_UN);
  }

 private:
  int fd_;
};

}  // namespace dbmedic::wal
