// The one error family of dbmedic. Failures are exceptions carrying an ErrorCode; the code's
// number is also the process exit code. Expected outcomes (a WAL segment that is not in the
// archive, say) are values (std::optional), never exceptions.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace dbmedic {

// Each code is listed once, with its exit code. Keep numbers stable: scripts depend on them.
// 1 is reserved for "not found, expected" (restore_command's contract with PostgreSQL).
enum class ErrorCode : int {
  kUsage = 2,          // wrong option or argument
  kConfig = 3,         // config file: unknown key, wrong type, missing value
  kRepository = 4,     // repository format, ownership (other cluster), missing metadata
  kCorrupt = 5,        // checksum mismatch, truncated or altered file, bad page, bad WAL record
  kPostgres = 6,       // connection refused, query failed, server not running
  kIo = 7,             // read/write/fsync failure (not disk full)
  kDiskFull = 8,       // ENOSPC / EDQUOT
  kNotFound = 9,       // a named thing (backup label, file, table) does not exist
  kTarget = 10,        // recovery target outside the recoverable window
  kConflict = 11,      // target directory not empty, name already used, lock held
  kTimeout = 12,       // waited longer than allowed
  kUnsupported = 13,   // PostgreSQL version, WAL page magic, repository format too new
  kInterrupted = 14,   // stopped by a signal
  kNetwork = 15,       // remote storage unreachable, HTTP errors
  kInternal = 70,      // a bug: an invariant did not hold
};

// Whether retrying the same operation later may succeed (transient conditions).
bool IsRetryable(ErrorCode code);
std::string_view ErrorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  // `message` says what failed, on which object and why; `hint` says what to do about it.
  Error(ErrorCode code, std::string message, std::string hint = {});

  ErrorCode code() const noexcept { return code_; }
  const std::string& hint() const noexcept { return hint_; }
  int exit_code() const noexcept { return static_cast<int>(code_); }

  // Returns a copy whose message is prefixed with `context: ` (add context once per layer).
  Error WithContext(std::string_view context) const;

 private:
  ErrorCode code_;
  std::string hint_;
};

// Builds an Error from errno for an operation on `path` (ENOSPC -> kDiskFull, else kIo).
Error SystemError(int err, std::string_view operation, std::string_view path);

}  // namespace dbmedic
