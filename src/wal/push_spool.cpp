#include "wal/push_spool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "repo/parallel.hpp"
#include "wal/spool_lock.hpp"

namespace dbmedic::wal {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kQueue = "queue";
constexpr std::string_view kDone = "done";
constexpr std::string_view kLastError = "last-error";

// Names of the complete files in `dir` (temporary files start with a dot).
std::vector<std::string> NamesIn(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (!name.starts_with('.') && IsArchivableName(name)) out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool Exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

void RecordError(const fs::path& spool, const std::string& text) {
  spdlog::error("wal push-worker: {}", text);
  try {
    core::AtomicWriteFile(spool / kLastError, text + "\n", 0600);
  } catch (const Error& e) {
    spdlog::error("wal push-worker: cannot record the error in the spool: {}", e.what());
  }
}

// Files PostgreSQL has marked ready for archiving and nobody has queued or pushed yet.
std::vector<std::string> ReadyAhead(const fs::path& spool, const fs::path& pg_wal) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(pg_wal / "archive_status", ec)) {
    const std::string file = e.path().filename().string();
    if (!file.ends_with(".ready")) continue;
    std::string name = file.substr(0, file.size() - 6);
    if (!IsArchivableName(name) || Exists(spool / kDone / name) || Exists(spool / kQueue / name)) {
      continue;
    }
    out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Markers whose file PostgreSQL no longer waits for (it was handed over by a concurrent Offer()
// that queued it, or the server moved on): nobody would consume them.
void RemoveStaleMarkers(const fs::path& spool, const fs::path& pg_wal) {
  if (pg_wal.empty()) return;
  std::error_code ec;
  for (const std::string& name : NamesIn(spool / kDone)) {
    if (!Exists(pg_wal / "archive_status" / (name + ".ready"))) fs::remove(spool / kDone / name, ec);
  }
}

class SpoolWorker {
 public:
  SpoolWorker(WalArchive& archive, fs::path spool, const SpoolWorkerOptions& options)
      : archive_(archive), spool_(std::move(spool)), options_(options) {}

  // One pass over the queue and the ready files; returns whether there was work and whether all
  // of it succeeded.
  struct Pass {
    bool worked = false;
    bool failed = false;
  };
  Pass RunPass() {
    Pass pass;
    const std::vector<std::string> queued = NamesIn(spool_ / kQueue);
    PushAll(queued, spool_ / kQueue, false, pass);
    if (!options_.pg_wal.empty() && !pass.failed) {
      PushAll(ReadyAhead(spool_, options_.pg_wal), options_.pg_wal, true, pass);
      RemoveStaleMarkers(spool_, options_.pg_wal);
    }
    return pass;
  }

 private:
  void PushAll(const std::vector<std::string>& names, const fs::path& from, bool ahead,
               Pass& pass) {
    if (names.empty()) return;
    pass.worked = true;
    std::atomic<bool> failed{false};
    repo::RunParallel(names.size(), options_.jobs, [&](std::size_t i) {
      if (!PushOne(names[i], from, ahead)) failed = true;
    });
    if (failed) pass.failed = true;
  }

  bool PushOne(const std::string& name, const fs::path& from, bool ahead) {
    try {
      archive_.Push(from / name);
    } catch (const Error& e) {
      // A file of pg_wal pushed ahead may have been archived and recycled meanwhile: not a fault.
      if (ahead && e.code() == ErrorCode::kNotFound) return true;
      RecordError(spool_, fmt::format("unable to push '{}' from the spool to repository '{}': {}",
                                      (from / name).string(),
                                      archive_.repository().storage().Describe(""), e.what()));
      return false;
    }
    std::error_code ec;
    if (ahead) {
      core::AtomicWriteFile(spool_ / kDone / name, "", 0600);
    } else {
      fs::remove(spool_ / kQueue / name, ec);
    }
    fs::remove(spool_ / kLastError, ec);
    return true;
  }

  WalArchive& archive_;
  fs::path spool_;
  SpoolWorkerOptions options_;
};

void SleepUnlessStopped(std::chrono::milliseconds delay, const std::atomic<bool>& stop) {
  const auto until = Clock::now() + delay;
  while (!stop && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace

fs::path DefaultPushSpool(const fs::path& wal_file) {
  const fs::path parent = fs::absolute(wal_file).parent_path();
  return parent / kPushSpoolDirName;
}

PushSpool::PushSpool(fs::path dir, std::uint64_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes) {}

OfferOutcome PushSpool::Offer(const fs::path& file) {
  // Created by the writer only (the server's OS user): a reader such as `check`, run as root,
  // must not leave directories the server cannot write.
  core::MakeDirs(dir_ / kQueue, 0700);
  core::MakeDirs(dir_ / kDone, 0700);
  const std::string name = file.filename().string();
  std::error_code ec;
  if (fs::remove(dir_ / kDone / name, ec)) return OfferOutcome::kPushedAhead;
  const std::uint64_t size = fs::file_size(file, ec);
  if (ec) throw SystemError(ec.value(), "read the size of", file.string());
  const bool requeue = Exists(dir_ / kQueue / name);
  if (!requeue && QueuedBytes() + size > max_bytes_) return OfferOutcome::kFull;
  core::AtomicCopyFile(file, dir_ / kQueue / name, 0600);
  return OfferOutcome::kQueued;
}

bool PushSpool::WorkerRunning() const {
  if (!Exists(dir_)) return false;
  SpoolLock lock(dir_);
  return !lock.TryLock();
}

std::vector<std::string> PushSpool::Queued() const { return NamesIn(dir_ / kQueue); }

std::uint64_t PushSpool::QueuedBytes() const { return core::DirectorySize(dir_ / kQueue); }

std::optional<std::string> PushSpool::LastError() const {
  if (!Exists(dir_ / kLastError)) return std::nullopt;
  std::string text = core::ReadFile(dir_ / kLastError);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

void RunSpoolWorker(WalArchive& archive, const fs::path& spool, const SpoolWorkerOptions& options,
                    const std::atomic<bool>& stop) {
  core::MakeDirs(spool / kQueue, 0700);
  core::MakeDirs(spool / kDone, 0700);
  SpoolLock lock(spool);
  if (!lock.TryLock()) return;  // another worker serves this spool
  SpoolWorker worker(archive, spool, options);
  auto idle_since = Clock::now();
  while (!stop) {
    const SpoolWorker::Pass pass = worker.RunPass();
    if (pass.failed) {
      SleepUnlessStopped(options.retry_delay, stop);
      continue;
    }
    if (pass.worked) {
      idle_since = Clock::now();
      continue;
    }
    if (Clock::now() - idle_since >= options.idle_exit) {
      // An Offer() that saw the lock held just before we let go did not start a worker: look
      // at the queue once more after unlocking, and carry on if it is not empty.
      lock.Unlock();
      if (NamesIn(spool / kQueue).empty() || !lock.TryLock()) return;
      idle_since = Clock::now();
      continue;
    }
    SleepUnlessStopped(std::chrono::milliseconds(100), stop);
  }
}

}  // namespace dbmedic::wal
