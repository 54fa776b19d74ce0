// Restore drills: prove that a backup restores and serves its data. A drill restores a backup
// (and optionally WAL up to a time) into a scratch directory, starts it on a private port as the
// cluster's OS user, waits until it accepts writes, reads every relation of every database in
// full (TOAST included), checks every btree index with amcheck when the extension is available
// (created in the scratch cluster only), records row counts, RTO and restore throughput in the
// repository, and removes the scratch cluster, also when something fails.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "repo/repository.hpp"
#include "rescue/drill_record.hpp"
#include "restore/pitr_window.hpp"
#include "restore/recovery_target.hpp"
#include "restore/restore.hpp"

namespace dbmedic::rescue {

struct DrillOptions {
  std::optional<std::string> label;    // nullopt: the newest backup that reaches the target
  restore::RecoveryTarget target;      // kImmediate (default) or kTime
  std::string restore_command;         // dbmedic wal get ...; needed for a time target
  std::string recovery_end_command;    // dbmedic wal recovery-end (ScratchOptions)
  std::string os_user;
  int jobs = 0;
  std::filesystem::path scratch_parent;  // empty: $TMPDIR or /tmp
  std::chrono::milliseconds timeout{3600 * 1000};
  std::function<void(std::string_view phase)> on_phase;  // progress for a terminal
  std::function<void(const restore::RestoreProgress&)> on_progress;
};

// Runs one drill and saves its record (pass or fail) in the repository. Returns the record:
// passed == false when a relation could not be read or an index failed amcheck. When the
// restore itself fails (a damaged repository file, a WAL gap, a timeout) the failure is recorded
// and the Error is rethrown with the drill as context.
DrillRecord RunDrill(repo::Repository& repository, const restore::ArchiveView& archive,
                     const DrillOptions& options);

}  // namespace dbmedic::rescue
