// The repository lock: one writer at a time (backup, and later expire) per repository, so that a
// second backup cannot remove the first one's files as "interrupted" or race it for a label.
// Readers (info, verify, restore) and WAL archiving do not take it.
//
// The lock is the object "repo.lock"; it records who holds it (pid, host, command, start time) so
// that a refused command can name the holder. On a POSIX repository it is an flock(2), which the
// kernel releases when the holder exits or is killed: a lock never outlives its process.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "repo/repository.hpp"
#include "storage/storage.hpp"

namespace dbmedic::repo {

inline constexpr std::string_view kLockPath = "repo.lock";

// Who holds the lock, as recorded in the lock object.
struct LockHolder {
  long pid = 0;
  std::string host;
  std::string command;
  std::string since;  // UTC, "2026-11-29 15:04:05 UTC"
};

std::string HolderToText(const LockHolder& holder);
// Parses what HolderToText wrote; an empty or unreadable text gives a holder with pid 0.
LockHolder HolderFromText(std::string_view text);

class RepositoryLock {
 public:
  explicit RepositoryLock(std::unique_ptr<storage::ObjectLock> lock) : lock_(std::move(lock)) {}

 private:
  std::unique_ptr<storage::ObjectLock> lock_;
};

// Takes the lock for `command` ("backup") without waiting. Throws Error(kConflict) naming the
// repository and the holder (pid, host, command, since when) when another process holds it.
RepositoryLock LockRepository(const Repository& repository, std::string_view command);

}  // namespace dbmedic::repo
