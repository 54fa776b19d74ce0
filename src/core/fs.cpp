#include "core/fs.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::core {
namespace {

// Owns a file descriptor; closing is explicit on the success path where its result matters.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() noexcept {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

void WriteAll(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError(errno, "write", path.string());
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

void FsyncDir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) throw SystemError(errno, "open directory", dir.string());
  if (::fsync(fd.get()) != 0) throw SystemError(errno, "fsync directory", dir.string());
}

void FsyncFile(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw SystemError(errno, "open", path.string());
  if (::fsync(fd.get()) != 0) throw SystemError(errno, "fsync", path.string());
}

namespace {

// The temp-file, fsync, rename, fsync-the-directory dance of the atomic writes; `fill` writes
// the content into the temp file's descriptor.
template <typename Fill>
void ReplaceThroughTempFile(const fs::path& path, mode_t mode, Fill fill) {
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fs::path tmp = dir / fmt::format(".{}.tmp.{}", path.filename().string(), ::getpid());
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (fd.get() < 0) throw SystemError(errno, "create", tmp.string());
    try {
      fill(fd.get(), tmp);
      if (::fsync(fd.get()) != 0) throw SystemError(errno, "fsync", tmp.string());
      if (::close(fd.Release()) != 0) throw SystemError(errno, "close", tmp.string());
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw SystemError(err, "rename into", path.string());
  }
  FsyncDir(dir);
}

// Copies all of `in` into `out` inside the kernel; read/write where copy_file_range cannot.
void CopyContent(int in, int out, const fs::path& from, const fs::path& to) {
  for (;;) {
    const ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, std::size_t{1} << 30, 0);
    if (n > 0) continue;
    if (n == 0) return;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
      throw SystemError(errno, "copy into", to.string());
    }
    break;
  }
  std::vector<char> buffer(std::size_t{1} << 20);
  for (;;) {
    const ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n == 0) return;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError(errno, "read", from.string());
    WriteAll(out, std::string_view(buffer.data(), static_cast<std::size_t>(n)), to);
  }
}

}  // namespace

void AtomicWriteFile(const fs::path& path, std::string_view data, mode_t mode) {
  ReplaceThroughTempFile(path, mode,
                         [&](int fd, const fs::path& tmp) { WriteAll(fd, data, tmp); });
}

void AtomicCopyFile(const fs::path& from, const fs::path& to, mode_t mode) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    if (errno == ENOENT) {
      throw Error(ErrorCode::kNotFound, fmt::format("file '{}' does not exist", from.string()));
    }
    throw SystemError(errno, "open", from.string());
  }
  ReplaceThroughTempFile(to, mode, [&](int fd, const fs::path& tmp) {
    CopyContent(in.get(), fd, from, tmp);
  });
}

void AppendLine(const fs::path& path, std::string_view line, mode_t mode) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode));
  if (fd.get() < 0) throw SystemError(errno, "open", path.string());
  WriteAll(fd.get(), std::string(line) + "\n", path);
}

std::string ReadFile(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      throw Error(ErrorCode::kNotFound, fmt::format("file '{}' does not exist", path.string()));
    }
    throw SystemError(errno, "open", path.string());
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError(errno, "read", path.string());
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

void MakeDirs(const fs::path& dir, mode_t mode) {
  if (dir.empty()) return;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return;
  if (dir.has_parent_path() && dir.parent_path() != dir) MakeDirs(dir.parent_path(), mode);
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    throw SystemError(errno, "create directory", dir.string());
  }
  ::chmod(dir.c_str(), mode);  // mkdir applies the umask; we want the mode asked for
}

std::optional<UserIds> LookupUser(std::string_view name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* result = nullptr;
  std::string n(name);
  if (::getpwnam_r(n.c_str(), &pw, buf.data(), buf.size(), &result) != 0 || !result) {
    return std::nullopt;
  }
  return UserIds{pw.pw_uid, pw.pw_gid, pw.pw_name, pw.pw_dir};
}

UserIds CurrentUser() {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* result = nullptr;
  uid_t uid = ::geteuid();
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) != 0 || !result) {
    return UserIds{uid, ::getegid(), std::to_string(uid), {}};
  }
  return UserIds{pw.pw_uid, pw.pw_gid, pw.pw_name, pw.pw_dir};
}

bool IsRoot() { return ::geteuid() == 0; }

void ChownRecursive(const fs::path& path, uid_t uid, gid_t gid) {
  if (::lchown(path.c_str(), uid, gid) != 0) throw SystemError(errno, "chown", path.string());
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(path, ec))) return;
  // Files may come and go meanwhile (an archiver writing through temporary files): one that is
  // gone has no owner left to change.
  for (auto it = fs::recursive_directory_iterator(path, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (::lchown(it->path().c_str(), uid, gid) != 0 && errno != ENOENT) {
      throw SystemError(errno, "chown", it->path().string());
    }
  }
  if (ec && ec.value() != ENOENT) throw SystemError(ec.value(), "list", path.string());
}

void GiveToOsUser(const fs::path& path, std::string_view os_user) {
  if (!IsRoot() || os_user.empty()) return;
  if (std::optional<UserIds> user = LookupUser(os_user)) ChownRecursive(path, user->uid, user->gid);
}

bool IsTraversableByOthers(const fs::path& path) {
  fs::path p = fs::absolute(path);
  std::error_code ec;
  if (!fs::is_directory(p, ec)) p = p.parent_path();
  for (;;) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return false;
    if ((st.st_mode & S_IXOTH) == 0) return false;
    if (p == p.root_path() || !p.has_parent_path()) return true;
    p = p.parent_path();
  }
}

std::uint64_t DirectorySize(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

TempDir::TempDir(std::string_view prefix, const fs::path& parent) {
  fs::path base = parent;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? fs::path(tmp) : fs::path("/tmp");
  }
  std::string templ = (base / fmt::format("{}-XXXXXX", prefix)).string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw SystemError(errno, "create temporary directory", templ);
  path_ = buf.data();
  ::chmod(path_.c_str(), 0755);
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)), keep_(other.keep_) {
  other.path_.clear();
}

TempDir::~TempDir() noexcept {
  if (keep_ || path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace dbmedic::core
