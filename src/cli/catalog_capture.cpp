#include "cli/catalog_capture.hpp"

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "diagnose/session.hpp"
#include "forensics/catalog_store.hpp"
#include "pg/connection.hpp"
#include "repo/cluster.hpp"

namespace dbmedic::cli {

PeriodicCatalogCapture::PeriodicCatalogCapture(const core::Config& config) : config_(config) {
  interval_ = config.Duration("forensics.capture_interval");
  auto repo_path = config.Optional("repository.path");
  if (interval_.count() <= 0 || !repo_path || repo_path->empty()) return;
  conninfo_ = diagnose::ConnInfoFromConfig(config) + " connect_timeout=10";
  thread_ = std::thread([this] { Run(); });
}

PeriodicCatalogCapture::~PeriodicCatalogCapture() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PeriodicCatalogCapture::Run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    CaptureOnce();
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

void PeriodicCatalogCapture::CaptureOnce() {
  try {
    repo::Repository repository = repo::OpenRepository(config_);
    forensics::CaptureResult r = forensics::CaptureIntoRepository(repository, conninfo_);
    spdlog::debug("relation catalog: {} relations captured at LSN {} ({} snapshots kept)",
                  r.relations, r.lsn, r.snapshots);
  } catch (const std::exception& e) {
    spdlog::warn("relation catalog snapshot failed (retrying in {} s): {}",
                 std::chrono::duration_cast<std::chrono::seconds>(interval_).count(), e.what());
  }
}

}  // namespace dbmedic::cli
