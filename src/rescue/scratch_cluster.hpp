// A throw-away copy of the cluster, restored from the repository into a private temporary
// directory and started on a free port and socket as the cluster's OS user: what a restore drill
// checks and what undo reads the old table from. The destructor stops the server (immediate)
// and removes the directory, so nothing is left behind on failure either; on SIGINT/SIGTERM the
// server is stopped at once (rescue/interrupt.hpp) and the construction or the caller's next
// step fails with Error(kInterrupted), so the same destructors run.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/fs.hpp"
#include "pg/local_cluster.hpp"
#include "repo/repository.hpp"
#include "rescue/interrupt.hpp"
#include "restore/pitr_restore.hpp"

namespace dbmedic::rescue {

struct ScratchOptions {
  std::optional<std::string> label;     // nullopt: chosen for the target (newest that reaches it)
  restore::RecoveryTarget target;       // kImmediate: consistency at the end of the backup
  std::string restore_command;          // dbmedic wal get ... (needed beyond kImmediate)
  // dbmedic wal recovery-end: stops restore_command's prefetcher once the target is reached,
  // rather than letting it fetch segments nobody asks for (and write into the spool while the
  // directory is being removed). Empty: none.
  std::string recovery_end_command;
  std::string os_user;
  int jobs = 0;
  std::filesystem::path parent_dir;     // where the scratch directory goes (empty: $TMPDIR)
  std::chrono::milliseconds start_timeout{3600 * 1000};
  std::function<void(const restore::RestoreProgress&)> on_progress;  // serialised
  // Selective restore (restore::RestoreOptions::content_needed); empty: every file.
  std::function<bool(const std::string& path)> content_needed;
  // Server settings for the scratch cluster (restore::PitrOptions::extra_settings).
  std::vector<std::pair<std::string, std::string>> server_settings;
};

class ScratchCluster {
 public:
  // Restores and starts; waits until the target is reached (promoted, or paused when
  // options.target.action is kPause). Throws what RestoreToTarget throws; the directory is gone
  // when it throws.
  ScratchCluster(const repo::Repository& repository, const restore::ArchiveView& archive,
                 const ScratchOptions& options);
  ~ScratchCluster() noexcept;
  ScratchCluster(const ScratchCluster&) = delete;
  ScratchCluster& operator=(const ScratchCluster&) = delete;

  const restore::PitrResult& result() const { return result_; }
  std::string ConnInfo(const std::string& dbname = "postgres") const;
  pg::LocalCluster& cluster() { return *cluster_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  std::optional<ScratchGuard> guard_;  // first: unregistered only once the directory is gone
  core::TempDir dir_;
  restore::PitrResult result_;
  std::unique_ptr<pg::LocalCluster> cluster_;
};

}  // namespace dbmedic::rescue
