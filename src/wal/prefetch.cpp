#include "wal/prefetch.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "pg/lsn.hpp"
#include "repo/parallel.hpp"
#include "wal/spool_lock.hpp"

namespace dbmedic::wal {

namespace fs = std::filesystem;

fs::path SpoolFor(const fs::path& dest) {
  const fs::path parent = dest.parent_path();
  return (parent.empty() ? fs::path(".") : parent) / kSpoolDirName;
}

std::string SpoolFirstRestoreCommand(const std::string& get_command) {
  // Runs in the data directory, where %p is pg_wal/RECOVERYXLOG and the spool pg_wal/<spool>.
  const std::string spool = fmt::format("pg_wal/{}", kSpoolDirName);
  return fmt::format("mv -f {0}/%f \"%p\" 2>/dev/null && printf + >> {0}/served || {1}", spool,
                     get_command);
}

bool TakeFromSpool(const fs::path& spool, const std::string& name, const fs::path& dest) {
  std::error_code ec;
  if (!fs::is_directory(spool, ec)) return false;
  for (const auto& entry : fs::directory_iterator(spool, ec)) {
    const std::string file = entry.path().filename().string();
    if (pg::IsWalSegmentName(file) && file < name) fs::remove(entry.path(), ec);
  }
  return ::rename((spool / name).c_str(), dest.c_str()) == 0;
}

std::vector<std::string> SegmentsToPrefetch(const fs::path& spool, const std::string& name,
                                            int count) {
  std::vector<std::string> out;
  const std::optional<pg::ParsedWalName> parsed = pg::ParseWalSegmentName(name);
  if (!parsed) return out;
  std::error_code ec;
  for (int i = 1; i <= count; ++i) {
    const std::string next = pg::WalSegmentName(parsed->timeline, parsed->segno + i);
    if (!fs::exists(spool / next, ec)) out.push_back(next);
  }
  return out;
}

bool PrefetcherRunning(const fs::path& spool) {
  std::error_code ec;
  if (!fs::is_directory(spool, ec)) return false;
  SpoolLock lock(spool);
  return !lock.TryLock();
}

void NoteServed(const fs::path& spool) {
  const int fd = ::open((spool / "served").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;  // only a statistic
  [[maybe_unused]] const ssize_t n = ::write(fd, "+", 1);
  ::close(fd);
}

std::uint64_t EndPrefetch(const fs::path& spool) {
  std::error_code ec;
  if (!fs::is_directory(spool, ec)) return 0;
  {
    SpoolLock lock(spool);
    lock.Lock();  // a prefetcher still fetching finishes first
  }
  const std::uint64_t served = fs::file_size(spool / "served", ec);
  fs::remove_all(spool, ec);
  if (ec) spdlog::warn("could not remove the prefetch spool '{}': {}", spool.string(), ec.message());
  return ec ? 0 : served;
}

void LaunchDetached(const std::vector<std::string>& argv, const fs::path& log_file) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t child = ::fork();
  if (child < 0) {
    spdlog::warn("prefetch not started: fork failed: {}", std::strerror(errno));
    return;
  }
  if (child == 0) {
    ::setsid();
    if (::fork() == 0) {
      const int devnull = ::open("/dev/null", O_RDWR);
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      if (!log_file.empty()) {
        const int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        ::dup2(log >= 0 ? log : devnull, 2);
      }
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
}

void RunPrefetch(const WalArchive& archive, const fs::path& spool,
                 const std::vector<std::string>& names, int jobs) {
  core::MakeDirs(spool, 0700);
  SpoolLock lock(spool);
  if (!lock.TryLock()) return;  // another prefetcher is at work
  std::atomic<bool> ended{false};
  repo::RunParallel(names.size(), jobs, [&](std::size_t i) {
    if (ended) return;
    // Get() writes beside the file and renames: the spool never shows half a segment.
    if (!archive.Get(names[i], spool / names[i])) ended = true;  // end of the archive, for now
  });
}

}  // namespace dbmedic::wal
