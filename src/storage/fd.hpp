// An owned POSIX file descriptor, plus the few whole-buffer I/O loops the back ends and the
// backup/restore workers share. Close() is explicit where its result matters (after writes).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dbmedic::storage {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() noexcept;
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  // open(2); throws SystemError naming `path` (ENOENT -> kNotFound when `missing_ok` is false).
  static Fd Open(const std::string& path, int flags, mode_t mode = 0600);

  bool valid() const { return fd_ >= 0; }
  int get() const { return fd_; }
  // Closes and throws SystemError naming `path` on failure.
  void Close(const std::string& path);

 private:
  int fd_ = -1;
};

// Writes all of `data` at the current position / at `offset`. Throws SystemError naming `path`.
void WriteAll(int fd, std::string_view data, const std::string& path);
void PwriteAll(int fd, std::string_view data, std::uint64_t offset, const std::string& path);
// Reads up to `size` bytes at `offset` into `out` (resized to what was read: short at EOF).
void PreadUpTo(int fd, std::string& out, std::size_t size, std::uint64_t offset,
               const std::string& path);

}  // namespace dbmedic::storage
