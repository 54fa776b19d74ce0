#include "repo/lock.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace dbmedic::repo {
namespace {

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string NowUtc() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string DescribeHolder(const LockHolder& h) {
  if (h.pid == 0) return "another dbmedic process that is just taking it";
  return fmt::format("'dbmedic {}' (pid {} on host {}, since {})", h.command, h.pid, h.host,
                     h.since);
}

}  // namespace

std::string HolderToText(const LockHolder& holder) {
  return nlohmann::json{{"pid", holder.pid},
                        {"host", holder.host},
                        {"command", holder.command},
                        {"since", holder.since}}
             .dump() + "\n";
}

LockHolder HolderFromText(std::string_view text) {
  LockHolder holder;
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return holder;
  holder.pid = j.value("pid", 0L);
  holder.host = j.value("host", std::string());
  holder.command = j.value("command", std::string());
  holder.since = j.value("since", std::string());
  return holder;
}

RepositoryLock LockRepository(const Repository& repository, std::string_view command) {
  storage::Storage& storage = repository.storage();
  const LockHolder me{static_cast<long>(::getpid()), HostName(), std::string(command), NowUtc()};
  if (auto lock = storage.TryLock(kLockPath, HolderToText(me))) return RepositoryLock(std::move(lock));

  // The holder writes who it is just after taking the lock: when we meet it in between (two
  // commands started together), look again for a moment so the message can name it.
  LockHolder holder;
  for (int attempt = 0; attempt < 50 && holder.pid == 0; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    try {
      holder = HolderFromText(storage.ReadAll(kLockPath));
    } catch (const Error&) {
      // Not written yet (the message says so if it stays that way: pid 0).
    }
  }
  throw Error(ErrorCode::kConflict,
              fmt::format("repository '{}' is locked by {}", storage.Describe(""),
                          DescribeHolder(holder)),
              fmt::format("wait until it finishes and run 'dbmedic {}' again; the lock is released "
                          "as soon as that process ends, also if it is killed",
                          command));
}

}  // namespace dbmedic::repo
