// Filesystem helpers: durable writes, users and ownership, temporary directories.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace dbmedic::core {

namespace fs = std::filesystem;

// Writes `data` to `path` durably and atomically: a temp file beside it, fsync, rename, fsync of
// the directory. Readers see the old content or the new one, never a mix. Throws Error(kIo /
// kDiskFull) naming the path.
void AtomicWriteFile(const fs::path& path, std::string_view data, mode_t mode = 0644);

// The same with the content of file `from`, copied by the kernel (copy_file_range): no buffer
// of ours to fault in, which costs more than the copy on these VMs (bench/RESULTS.md, PITR).
// Throws Error(kNotFound) when `from` does not exist, Error(kIo / kDiskFull) naming the path.
void AtomicCopyFile(const fs::path& from, const fs::path& to, mode_t mode = 0644);

// Appends `line` and a newline with one write(2) in append mode, so lines from concurrent
// processes never interleave (a small log or tally, not durable). Throws Error(kIo) naming it.
void AppendLine(const fs::path& path, std::string_view line, mode_t mode = 0644);

// Reads a whole file. Throws Error(kNotFound) if it does not exist, Error(kIo) otherwise.
std::string ReadFile(const fs::path& path);

// fsync of a directory, so that a rename or create inside it survives a crash.
void FsyncDir(const fs::path& dir);

// fsync of a file by path.
void FsyncFile(const fs::path& path);

// Creates `dir` and its parents with `mode` (existing directories are left as they are).
void MakeDirs(const fs::path& dir, mode_t mode = 0755);

struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
  fs::path home;
};

// Looks up an OS user by name; nullopt if there is no such user.
std::optional<UserIds> LookupUser(std::string_view name);
UserIds CurrentUser();
bool IsRoot();

// chown -R. Throws Error(kIo) naming the first path that fails.
void ChownRecursive(const fs::path& path, uid_t uid, gid_t gid);
// When running as root: ChownRecursive to `os_user` (a server's OS user, so that it can use
// what root created). Nothing otherwise, or when `os_user` is empty or unknown.
void GiveToOsUser(const fs::path& path, std::string_view os_user);

// Whether every directory above `path` (and `path` itself, if a directory) can be traversed by
// other users (o+x). archive_command runs as the server's OS user and must reach the binary.
bool IsTraversableByOthers(const fs::path& path);

// Sum of the sizes of the regular files below `dir`.
std::uint64_t DirectorySize(const fs::path& dir);

// A directory made with mkdtemp under `parent` (default: $TMPDIR or /tmp), chmod 0755 so that
// the postgres user can reach it, removed recursively by the destructor unless Keep() was called.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "dbmedic", const fs::path& parent = {});
  ~TempDir() noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&&) = delete;

  const fs::path& path() const { return path_; }
  void Keep() { keep_ = true; }

 private:
  fs::path path_;
  bool keep_ = false;
};

}  // namespace dbmedic::core
