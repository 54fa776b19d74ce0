#include "wal/prefetch.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <set>
#include <mutex>
#include <optional>
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

namespace {

// Creates an empty file that only signals something to another process: no fsync, and a
// failure only loses the signal.
void TouchSignalFile(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
}

fs::path FetchingMarker(const fs::path& spool, const std::string& name) {
  return spool / (name + std::string(kFetchingSuffix));
}

}  // namespace

bool AwaitPrefetched(const fs::path& spool, const std::string& name, const fs::path& dest,
                     std::chrono::milliseconds limit) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + limit;
  auto next_check = Clock::now();
  std::error_code ec;
  while (fs::exists(FetchingMarker(spool, name), ec)) {
    if (TakeFromSpool(spool, name, dest)) return true;
    if (Clock::now() > deadline) return false;
    if (Clock::now() >= next_check) {  // a prefetcher that died leaves its marker behind
      if (!PrefetcherRunning(spool)) break;
      next_check = Clock::now() + std::chrono::milliseconds(100);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return TakeFromSpool(spool, name, dest);
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
  // Only a signal to it (no fsync): it runs at the end of recovery, which waits for it.
  TouchSignalFile(spool / kStopFile);
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

std::set<std::string> SpooledSegments(const fs::path& spool) {
  std::error_code ec;
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(spool, ec)) {
    std::string name = entry.path().filename().string();
    if (pg::IsWalSegmentName(name)) names.insert(std::move(name));
  }
  return names;
}


bool StopRequested(const fs::path& spool) {
  std::error_code ec;
  return !fs::is_directory(spool, ec) || fs::exists(spool / kStopFile, ec);
}

// The segment after `last` on its timeline (empty for a name that is not a segment's).
std::string SegmentAfter(const std::string& last) {
  const std::optional<pg::ParsedWalName> parsed = pg::ParseWalSegmentName(last);
  return parsed ? pg::WalSegmentName(parsed->timeline, parsed->segno + 1) : std::string();
}

// Hands out the segments to fetch to the workers of RunPrefetch: first `names`, then (with
// keep_ahead > 0) the ones after the last handed out, whenever the spool plus the fetches under
// way hold fewer than keep_ahead. Each worker takes its next segment as soon as it is done with
// one: workers that waited for each other at the end of every batch left the spool running dry
// (the WAL filter's neighbouring segments made one worker of each pair read two segments).
class SpoolFiller {
 public:
  SpoolFiller(fs::path spool, const std::vector<std::string>& names, int keep_ahead,
              std::chrono::milliseconds idle_limit)
      : spool_(std::move(spool)), initial_(names.begin(), names.end()), keep_ahead_(keep_ahead),
        idle_limit_(idle_limit) {}

  // The next segment to fetch; nullopt when the prefetch is over (end of the archive, stop
  // requested, nobody taking from a full spool for idle_limit, or another worker failed).
  std::optional<std::string> Next() {
    using Clock = std::chrono::steady_clock;
    auto idle_since = Clock::now();
    for (;;) {
      {
        const std::lock_guard lock(mu_);
        if (ended_ || StopRequested(spool_)) return std::nullopt;
        if (!initial_.empty()) return Hand(initial_.front(), true);
        if (keep_ahead_ <= 0 || last_.empty()) return std::nullopt;
        if (static_cast<int>(CurrentSpool().size()) + in_flight_ < keep_ahead_) {
          const std::string next = SegmentAfter(last_);
          if (next.empty()) return std::nullopt;
          return Hand(next, false);
        }
      }
      if (Clock::now() - idle_since > idle_limit_) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // `found`: the archive had it, now in the spool (false: its end, for now).
  void Done(const std::string& name, bool found) {
    const std::lock_guard lock(mu_);
    if (found) written_.insert(name);
    Finish(name, !found);
  }
  void Fail(const std::string& name) {
    const std::lock_guard lock(mu_);
    Finish(name, true);
  }

 private:
  // `name` is no longer in flight; `end`: no more segments after it (mu_ held).
  void Finish(const std::string& name, bool end) {
    --in_flight_;
    ended_ = ended_ || end;
    std::error_code ec;
    fs::remove(FetchingMarker(spool_, name), ec);
  }

  std::string Hand(std::string name, bool initial) {  // mu_ held
    if (initial) initial_.pop_front();
    last_ = name;
    ++in_flight_;
    // A `wal get` that misses this segment waits for it instead of fetching it too. Without
    // the marker it only fetches it itself.
    TouchSignalFile(FetchingMarker(spool_, name));
    return name;
  }

  // The spooled segments PostgreSQL may still ask for (mu_ held). Once it has taken a segment
  // written here, older ones left in the spool are stale: a `wal get` that did not find one in
  // time fetched it itself. They are removed, or they would hold the room of segments to come
  // (and the spool would serve fewer and fewer).
  std::set<std::string> CurrentSpool() {
    std::set<std::string> present = SpooledSegments(spool_);
    auto taken = std::find_if(written_.rbegin(), written_.rend(),
                              [&](const std::string& n) { return !present.contains(n); });
    if (taken == written_.rend()) return present;
    const std::string newest_taken = *taken;
    std::error_code ec;
    for (auto it = present.begin(); it != present.end() && *it < newest_taken;) {
      fs::remove(spool_ / *it, ec);
      it = present.erase(it);
    }
    written_.erase(written_.begin(), written_.upper_bound(newest_taken));
    return present;
  }

  const fs::path spool_;
  std::mutex mu_;
  std::deque<std::string> initial_;  // guarded by mu_
  std::string last_;                 // guarded by mu_
  std::set<std::string> written_;    // guarded by mu_; fetched into the spool, maybe taken
  int in_flight_ = 0;                // guarded by mu_
  bool ended_ = false;               // guarded by mu_
  const int keep_ahead_;
  const std::chrono::milliseconds idle_limit_;
};

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
  SpoolFiller filler(spool, names, keep_ahead, idle_limit);
  repo::RunParallel(static_cast<std::size_t>(std::max(jobs, 1)), jobs, [&](std::size_t) {
    while (const std::optional<std::string> name = filler.Next()) {
      bool found = false;
      try {
        // The fetch writes beside the file and renames: the spool never shows half a segment.
        found = get(*name, spool / *name);
      } catch (...) {
        filler.Fail(*name);  // the other workers stop too
        throw;
      }
      filler.Done(*name, found);
    }
  });
}

}  // namespace dbmedic::wal
