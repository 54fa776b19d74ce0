// SIGINT / SIGTERM while a scratch cluster exists (drill, undo): the scratch cluster must not be
// left behind. The signal handler only records the signal and writes one byte to a pipe (both
// async-signal-safe); a watcher thread reading that pipe stops every registered scratch server
// (pg_ctl immediate), again every 100 ms while the process lives, so a server started after the
// signal is stopped too. The main flow notices (its waits and queries fail, or a check point
// calls ThrowIfInterrupted), unwinds, and the destructors remove the directories; the command
// ends with Error(kInterrupted).
// With no scratch cluster registered, a signal keeps its default action (the process ends).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace dbmedic::rescue {

// True once SIGINT or SIGTERM arrived while a scratch cluster was registered.
bool Interrupted();

// Throws Error(kInterrupted) naming the signal and `during` when Interrupted().
void ThrowIfInterrupted(std::string_view during);

// Registers a scratch data directory for the lifetime of the object (installs the handler and
// starts the watcher the first time).
class ScratchGuard {
 public:
  ScratchGuard(std::filesystem::path data_dir, std::string os_user);
  ~ScratchGuard() noexcept;
  ScratchGuard(const ScratchGuard&) = delete;
  ScratchGuard& operator=(const ScratchGuard&) = delete;

 private:
  int slot_;
};

}  // namespace dbmedic::rescue
