#include "wal/prefetch.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "pg/lsn.hpp"
#include "repo/parallel.hpp"
#include "wal/spool_lock.hpp"

namespace dbmedic::wal {

namespace fs = std::filesystem;

// EndPrefetch creates it: a prefetcher keeping the spool full stops at once.
constexpr std::string_view kStopFile = "stop";

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
  // A prefetcher keeping the spool full would otherwise wait for a taker until its idle limit.
  core::AtomicWriteFile(spool / kStopFile, "");
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

namespace {

// Fetches `names` into the spool with `jobs` threads; false once one is not in the archive.
bool FetchBatch(const WalArchive& archive, const fs::path& spool,
                const std::vector<std::string>& names, int jobs,
                const WalArchive::Rewrite& rewrite) {
  std::atomic<bool> ended{false};
  repo::RunParallel(names.size(), jobs, [&](std::size_t i) {
    if (ended) return;
    // Get() writes beside the file and renames: the spool never shows half a segment.
    // A name missing from the archive: its end, for now.
    if (!archive.Get(names[i], spool / names[i], rewrite)) ended = true;
  });
  return !ended;
}

int SpooledSegments(const fs::path& spool) {
  std::error_code ec;
  int n = 0;
  for (const auto& entry : fs::directory_iterator(spool, ec)) {
    if (pg::IsWalSegmentName(entry.path().filename().string())) ++n;
  }
  return n;
}

bool StopRequested(const fs::path& spool) {
  std::error_code ec;
  return !fs::is_directory(spool, ec) || fs::exists(spool / kStopFile, ec);
}

// The `count` segments after `last` on its timeline.
std::vector<std::string> SegmentsAfter(const std::string& last, int count) {
  const std::optional<pg::ParsedWalName> parsed = pg::ParseWalSegmentName(last);
  std::vector<std::string> out;
  for (int i = 1; parsed && i <= count; ++i) {
    out.push_back(pg::WalSegmentName(parsed->timeline, parsed->segno + i));
  }
  return out;
}

void KeepAhead(const WalArchive& archive, const fs::path& spool, std::string last, int jobs,
               int keep_ahead, std::chrono::milliseconds idle_limit,
               const WalArchive::Rewrite& rewrite) {
  using Clock = std::chrono::steady_clock;
  auto last_progress = Clock::now();
  while (!StopRequested(spool)) {
    const int room = keep_ahead - SpooledSegments(spool);
    if (room <= 0) {
      if (Clock::now() - last_progress > idle_limit) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    const std::vector<std::string> names = SegmentsAfter(last, std::min(room, jobs));
    if (names.empty() || !FetchBatch(archive, spool, names, jobs, rewrite)) return;
    last = names.back();
    last_progress = Clock::now();
  }
}

}  // namespace

void RunPrefetch(const WalArchive& archive, const fs::path& spool,
                 const std::vector<std::string>& names, int jobs, int keep_ahead,
                 std::chrono::milliseconds idle_limit, const WalArchive::Rewrite& rewrite) {
  core::MakeDirs(spool, 0700);
  SpoolLock lock(spool);
  if (!lock.TryLock()) return;  // another prefetcher is at work
  if (!FetchBatch(archive, spool, names, jobs, rewrite) || keep_ahead <= 0 || names.empty()) {
    return;
  }
  KeepAhead(archive, spool, names.back(), jobs, keep_ahead, idle_limit, rewrite);
}

}  // namespace dbmedic::wal
