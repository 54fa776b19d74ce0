#include "rescue/scratch_cluster.hpp"

#include <spdlog/spdlog.h>

#include "core/error.hpp"

namespace dbmedic::rescue {
namespace {

namespace fs = std::filesystem;

// Stops a server that RestoreToTarget may have left running when it threw (timeout, failed
// check): the directory cannot be removed under a live postmaster.
void StopIfRunning(const fs::path& data_dir, const std::string& os_user) noexcept {
  try {
    pg::ClusterSpec spec;
    spec.data_dir = data_dir;
    spec.os_user = os_user;
    pg::LocalCluster cluster(spec);
    if (cluster.IsRunning()) cluster.Stop(pg::StopMode::kImmediate);
  } catch (const std::exception& e) {
    spdlog::warn("scratch cluster in {} could not be stopped: {}", data_dir.string(), e.what());
  }
}

}  // namespace

ScratchCluster::ScratchCluster(const repo::Repository& repository,
                               const restore::ArchiveView& archive, const ScratchOptions& options)
    : dir_("dbmedic-scratch", options.parent_dir) {
  const fs::path data_dir = dir_.path() / "data";
  guard_.emplace(data_dir, options.os_user);
  // The server writes its log beside the data directory, as the OS user.
  core::GiveToOsUser(dir_.path(), options.os_user);
  restore::PitrOptions p;
  p.restore.target_dir = data_dir;
  p.restore.label = options.label;
  p.restore.jobs = options.jobs;
  p.restore.os_user = options.os_user;
  p.restore.content_needed = options.content_needed;
  // Called for every chunk written: where an interrupted file restore stops.
  p.restore.on_progress = [&options](const restore::RestoreProgress& progress) {
    ThrowIfInterrupted("the restore of the scratch cluster");
    if (options.on_progress) options.on_progress(progress);
  };
  p.target = options.target;
  p.restore_command = options.restore_command;
  p.recovery_end_command = options.recovery_end_command;
  p.start = true;
  p.socket_dir = dir_.path() / "sock";
  p.start_timeout = options.start_timeout;
  p.extra_settings = options.server_settings;
  try {
    result_ = restore::RestoreToTarget(repository, archive, p);
    ThrowIfInterrupted("the recovery of the scratch cluster");
  } catch (...) {
    StopIfRunning(data_dir, options.os_user);
    ThrowIfInterrupted("the recovery of the scratch cluster");  // rather than why it failed
    throw;
  }
  pg::ClusterSpec spec;
  spec.data_dir = data_dir;
  spec.socket_dir = result_.socket_dir;
  spec.port = result_.port;
  spec.os_user = options.os_user;
  cluster_ = std::make_unique<pg::LocalCluster>(spec);
}

ScratchCluster::~ScratchCluster() noexcept {
  try {
    if (cluster_ && cluster_->IsRunning()) cluster_->Stop(pg::StopMode::kImmediate);
  } catch (const std::exception& e) {
    spdlog::warn("scratch cluster in {} could not be stopped: {}", dir_.path().string(),
                 e.what());
  }
}

std::string ScratchCluster::ConnInfo(const std::string& dbname) const {
  return cluster_->ConnInfo(dbname);
}

}  // namespace dbmedic::rescue
