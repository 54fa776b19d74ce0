#include "rescue/interrupt.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "pg/local_cluster.hpp"

namespace dbmedic::rescue {
namespace {

namespace fs = std::filesystem;

// Touched by the handler: a lock-free atomic, a sig_atomic_t and a pipe descriptor only.
volatile std::sig_atomic_t g_signal = 0;
std::atomic<int> g_registered{0};
int g_pipe_write = -1;
static_assert(std::atomic<int>::is_always_lock_free);

void OnStopSignal(int sig) {
  const int saved_errno = errno;
  if (g_registered.load() == 0) {
    // Nothing to clean up: the default action, as if dbmedic had no handler.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  } else {
    g_signal = sig;
    const char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(g_pipe_write, &byte, 1);  // full pipe: already woken
  }
  errno = saved_errno;
}

struct Registered {
  fs::path data_dir;
  std::string os_user;
};

std::mutex g_mutex;
std::map<int, Registered> g_dirs;  // guarded by g_mutex
int g_next_slot = 0;               // guarded by g_mutex

std::map<int, Registered> Snapshot() {
  std::lock_guard lock(g_mutex);
  return g_dirs;
}

void StopRegistered() {
  for (const auto& [slot, dir] : Snapshot()) {
    try {
      pg::ClusterSpec spec;
      spec.data_dir = dir.data_dir;
      spec.os_user = dir.os_user;
      pg::LocalCluster cluster(spec);
      if (!cluster.IsRunning()) continue;
      spdlog::warn("interrupted: stopping the scratch cluster in {} (immediate)",
                   dir.data_dir.string());
      cluster.Stop(pg::StopMode::kImmediate);
    } catch (const std::exception& e) {
      spdlog::debug("interrupted: scratch cluster in {}: {}", dir.data_dir.string(), e.what());
    }
  }
}

// Normal thread context: free to run pg_ctl. Keeps stopping servers until the process ends,
// since the main flow may start one between the signal and noticing it.
void Watch(int read_fd) {
  char byte = 0;
  while (::read(read_fd, &byte, 1) < 0 && errno == EINTR) {
  }
  for (;;) {
    StopRegistered();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void InstallOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw Error(ErrorCode::kIo, fmt::format("pipe for the signal watcher: {}",
                                              std::strerror(errno)));
    }
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    g_pipe_write = fds[1];
    std::thread(Watch, fds[0]).detach();
    struct sigaction action {};
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
  });
}

}  // namespace

bool Interrupted() { return g_signal != 0; }

void ThrowIfInterrupted(std::string_view during) {
  if (!Interrupted()) return;
  const int sig = g_signal;
  throw Error(ErrorCode::kInterrupted,
              fmt::format("interrupted by {} during {}; the scratch cluster was stopped and "
                          "removed",
                          sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal",
                          during),
              "run the command again when you are ready");
}

ScratchGuard::ScratchGuard(fs::path data_dir, std::string os_user) {
  InstallOnce();
  std::lock_guard lock(g_mutex);
  slot_ = g_next_slot++;
  g_dirs[slot_] = {std::move(data_dir), std::move(os_user)};
  g_registered.fetch_add(1);
}

ScratchGuard::~ScratchGuard() noexcept {
  std::lock_guard lock(g_mutex);
  g_dirs.erase(slot_);
  g_registered.fetch_sub(1);
}

}  // namespace dbmedic::rescue
