// Periodic relation catalog snapshots into the repository while a long-running command runs
// (`wal stream`, `monitor`), so that `incidents` can name tables created or rewritten between
// backups. A background thread; failures are logged and retried at the next interval, never fatal:
// the command's own job matters more than a missing snapshot.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "core/config.hpp"

namespace dbmedic::cli {

class PeriodicCatalogCapture {
 public:
  // Does nothing when forensics.capture_interval is 0 or no repository is configured.
  explicit PeriodicCatalogCapture(const core::Config& config);
  ~PeriodicCatalogCapture();
  PeriodicCatalogCapture(const PeriodicCatalogCapture&) = delete;
  PeriodicCatalogCapture& operator=(const PeriodicCatalogCapture&) = delete;

 private:
  void Run();
  void CaptureOnce();

  const core::Config& config_;
  std::chrono::milliseconds interval_{0};
  std::string conninfo_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dbmedic::cli
