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

namespace {

// The environment of a detached worker: ours, plus glibc's malloc.hugetlb tunable. Workers
// handle 16 MB segments in fresh buffers, and on virtual machines every 4 kB page fault of them
// is a trap to the hypervisor: with transparent huge pages advised for malloc's memory (the
// kernel's default THP mode is "madvise"), a prefetch of 69 segments took 0.4 s of system time
// instead of 0.6-1.0 s. A tunable the user set is kept.
std::vector<std::string> WorkerEnvironment() {
  std::vector<std::string> env;
  bool tunables = false;
  for (char** e = environ; *e != nullptr; ++e) {
    env.emplace_back(*e);
    tunables = tunables || env.back().starts_with("GLIBC_TUNABLES=");
  }
  if (!tunables) env.emplace_back("GLIBC_TUNABLES=glibc.malloc.hugetlb=1");
  return env;
}

}  // namespace

void LaunchDetached(const std::vector<std::string>& argv, const fs::path& log_file) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::vector<std::string> environment = WorkerEnvironment();
  std::vector<char*> envp;
  for (const std::string& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
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
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
}

namespace {

// Fetches `names` into the spool with `jobs` threads; false once one is not in the archive.
bool FetchBatch(const SegmentFetch& fetch, const fs::path& spool,
                const std::vector<std::string>& names, int jobs) {
  std::atomic<bool> ended{false};
  repo::RunParallel(names.size(), jobs, [&](std::size_t i) {
    if (ended) return;
    // Get() writes beside the file and renames: the spool never shows half a segment.
    // A name missing from the archive: its end, for now.
    if (!fetch(names[i], spool / names[i])) ended = true;
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

void KeepAhead(const SegmentFetch& fetch, const fs::path& spool, std::string last, int jobs,
               int keep_ahead, std::chrono::milliseconds idle_limit) {
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
    if (names.empty() || !FetchBatch(fetch, spool, names, jobs)) return;
    last = names.back();
    last_progress = Clock::now();
  }
}

}  // namespace

void RunPrefetch(const WalArchive& archive, const fs::path& spool,
                 const std::vector<std::string>& names, int jobs, int keep_ahead,
                 std::chrono::milliseconds idle_limit, const SegmentFetch& fetch) {
  core::MakeDirs(spool, 0700);
  SpoolLock lock(spool);
  if (!lock.TryLock()) return;  // another prefetcher is at work
  const SegmentFetch get = fetch ? fetch : [&archive](const std::string& name, const fs::path& dest) {
    return archive.Get(name, dest);
  };
  if (!FetchBatch(get, spool, names, jobs) || keep_ahead <= 0 || names.empty()) return;
  KeepAhead(get, spool, names.back(), jobs, keep_ahead, idle_limit);
}

}  // namespace dbmedic::wal
