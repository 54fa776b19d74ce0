// Point-in-time recovery: restore the backup that can reach the target, write the recovery
// settings (restore_command = dbmedic wal get, the target, archive_mode = off so the new
// timeline does not land in the source's archive), and optionally start the restored cluster as
// its OS user on a new port and socket directory, wait until recovery reaches the target, promote
// (or pause there) and report the RTO and the last transaction replayed.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "repo/repository.hpp"
#include "restore/pitr_window.hpp"
#include "restore/recovery_target.hpp"
#include "restore/restore.hpp"

namespace dbmedic::restore {

struct PitrOptions {
  RestoreOptions restore;       // target_dir, label (nullopt: chosen for the target), jobs...
  RecoveryTarget target;
  std::string restore_command;  // "/usr/bin/dbmedic wal get --repo /r %f \"%p\""
  // Run by PostgreSQL once recovery ends ("/usr/bin/dbmedic wal recovery-end": removes the
  // prefetch spool); empty: none.
  std::string recovery_end_command;
  // When set, the restored cluster archives (its new timeline) with this archive_command, e.g.
  // into the same repository when it replaces the primary; empty: archive_mode = off.
  std::string archive_command;
  bool start = false;
  int port = 0;                                // --start: 0 picks a free port
  std::filesystem::path socket_dir;            // --start: empty makes one under /tmp
  std::chrono::milliseconds start_timeout{3600 * 1000};
  // Server settings appended after the recovery settings (name, value as written in the file),
  // e.g. the sizing of a throwaway side cluster.
  std::vector<std::pair<std::string, std::string>> extra_settings;
};

struct PitrResult {
  RestoreResult restore;
  RecoveryTarget target;
  bool started = false;
  // Filled when started:
  bool promoted = false;  // false: paused at the target (--pause)
  int port = 0;
  std::filesystem::path socket_dir;
  std::filesystem::path log_file;
  double replay_seconds = 0;  // server start until the target was reached
  double rto_seconds = 0;     // restore + replay, wall clock
  std::string replay_lsn;     // last WAL replayed
  std::optional<std::string> last_transaction_time;  // commit time of the last one replayed
  std::string timeline;       // the cluster's timeline once at the target (hex, as in WAL names)
};

// Throws what RestoreBackup and ChooseBackup throw; with start: Error(kPostgres) carrying the
// tail of the server log when recovery fails (e.g. a missing WAL segment), Error(kTimeout) past
// start_timeout.
PitrResult RestoreToTarget(const repo::Repository& repository, const ArchiveView& archive,
                           PitrOptions options);

// Appends the recovery settings to <data_dir>/postgresql.auto.conf (read last, so they win over
// the restored postgresql.conf and its includes) and creates recovery.signal. `port` and
// `socket_dir` are written only when set.
struct RecoverySettings {
  RecoveryTarget target;
  std::string restore_command;
  std::string archive_command;  // empty: archive_mode = off
  std::string recovery_end_command;  // empty: none
  std::optional<int> port;
  std::filesystem::path socket_dir;
  std::vector<std::pair<std::string, std::string>> extra_settings;  // see PitrOptions
  // Pause at the target (instead of recovery_target_action = promote) for whoever started the
  // server to promote it with pg_promote(): see PromoteAfterPause in pitr_restore.cpp.
  bool pause_then_promote = false;
};
void WriteRecoverySettings(const std::filesystem::path& data_dir, const RecoverySettings& settings,
                           const std::string& os_user);

}  // namespace dbmedic::restore
