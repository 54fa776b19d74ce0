#include "restore/pitr_restore.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "pg/connection.hpp"
#include "pg/local_cluster.hpp"

namespace dbmedic::restore {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string ConfQuote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string TargetSetting(TargetKind kind) {
  switch (kind) {
    case TargetKind::kTime: return "recovery_target_time";
    case TargetKind::kLsn: return "recovery_target_lsn";
    case TargetKind::kXid: return "recovery_target_xid";
    case TargetKind::kName: return "recovery_target_name";
    case TargetKind::kImmediate: return "recovery_target";
    case TargetKind::kEnd: return {};
  }
  return {};
}

void GiveTo(const fs::path& path, const std::string& os_user) {
  if (os_user.empty() || !core::IsRoot()) return;
  if (std::optional<core::UserIds> user = core::LookupUser(os_user)) {
    core::ChownRecursive(path, user->uid, user->gid);
  }
}

fs::path MakeSocketDir(const std::string& os_user) {
  std::string templ = "/tmp/dbmedic-pitr-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw SystemError(errno, "create directory", templ);
  fs::permissions(templ, fs::perms(0755));
  GiveTo(templ, os_user);
  return templ;
}

std::string LogTail(const fs::path& file, std::size_t lines) {
  std::ifstream in(file);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += all[i] + "\n";
  }
  return out;
}

enum class RecoveryState { kReplaying, kPaused, kPromoted };

RecoveryState QueryState(pg::Connection& conn) {
  pg::Result r = conn.Exec(
      "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() "
      "THEN pg_get_wal_replay_pause_state() ELSE '' END");
  if (!r.GetBool(0, 0)) return RecoveryState::kPromoted;
  return r.Get(0, 1) == "paused" ? RecoveryState::kPaused : RecoveryState::kReplaying;
}

[[noreturn]] void RecoveryFailed(const pg::LocalCluster& cluster, std::string_view why) {
  throw Error(ErrorCode::kPostgres,
              fmt::format("recovery of '{}' did not reach the target: {}\nlast lines of {}:\n{}",
                          cluster.data_dir().string(), why, cluster.spec().log_file.string(),
                          LogTail(cluster.spec().log_file, 12)),
              "read the server log above: a missing WAL segment means the archive has a gap "
              "(dbmedic check); 'before consistent recovery point' means the target is inside "
              "the backup");
}

// A server that promotes itself at its recovery target (recovery_target_action = promote) first
// writes a full checkpoint and accepts connections only after it: 5 s of writing a 1 GB buffer
// pool in a side cluster of undo. Promoted from a pause with pg_promote(), it writes an
// end-of-recovery record and checkpoints in the background instead, as `pg_ctl promote` does.
void PromoteAfterPause(pg::Connection& conn) {
  conn.Exec("SELECT pg_promote(false)");
}

// PostgreSQL 15's startup process, paused at the target, looks for the promote request only
// once a second (it sleeps on a condition variable with a 1 s timeout; neither the promote
// signal nor a latch ends that sleep early): the side cluster of undo sat idle for 1.0 s after
// every pg_promote(). Resuming replay broadcasts that condition variable, and pausing again at
// once keeps the startup process in its pause loop, where it then finds the promote request.
// Should it look before the pause is requested again, it leaves the loop as resumed and ends
// recovery with a full checkpoint instead of the promotion: slower, just as correct. Refused
// (an error, ignored) once the promotion is under way.
void WakeForPromotion(pg::Connection& conn) {
  try {
    conn.Exec("SELECT pg_wal_replay_resume(), pg_wal_replay_pause()");
  } catch (const Error& e) {
    spdlog::debug("pitr: waking the paused startup process: {}", e.what());
  }
}

// Polls the restored server until it is promoted (or paused, for --pause). Paused with action
// kPromote means the settings asked to pause so that it can be promoted here.
RecoveryState WaitForTarget(pg::LocalCluster& cluster, TargetAction action,
                            std::chrono::milliseconds timeout) {
  bool promote_requested = false;
  auto wake_at = Clock::now();
  const auto deadline = Clock::now() + timeout;
  std::optional<pg::Connection> conn;
  for (;;) {
    try {
      if (!conn) conn.emplace(pg::Connection::Open(cluster.ConnInfo()));
      const RecoveryState state = QueryState(*conn);
      if (state == RecoveryState::kPromoted) return state;
      if (state == RecoveryState::kPaused && action == TargetAction::kPause) return state;
      if (state == RecoveryState::kPaused && !promote_requested) {
        PromoteAfterPause(*conn);
        promote_requested = true;
        // The request reaches the startup process through the postmaster: give it a moment.
        wake_at = Clock::now() + std::chrono::milliseconds(20);
      } else if (state == RecoveryState::kPaused && Clock::now() >= wake_at) {
        WakeForPromotion(*conn);
        wake_at = Clock::now() + std::chrono::milliseconds(250);
      }
    } catch (const Error& e) {
      conn.reset();
      if (!cluster.IsRunning()) RecoveryFailed(cluster, "the server stopped");
    }
    if (Clock::now() > deadline) {
      throw Error(ErrorCode::kTimeout,
                  fmt::format("recovery of '{}' did not reach the target within {} s",
                              cluster.data_dir().string(), timeout.count() / 1000),
                  "the server keeps running; watch it with pg_last_wal_replay_lsn() or raise "
                  "pitr.start_timeout");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void ReadReachedPoint(pg::LocalCluster& cluster, PitrResult& result) {
  pg::Connection conn = pg::Connection::Open(cluster.ConnInfo());
  pg::Result r = conn.Exec(
      "SELECT pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp()::text, "
      "CASE WHEN pg_is_in_recovery() THEN lpad(to_hex(timeline_id), 8, '0') "
      "ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END "
      "FROM pg_control_checkpoint()");
  result.replay_lsn = r.GetString(0, 0);
  result.last_transaction_time = r.GetOptional(0, 1);
  result.timeline = r.GetString(0, 2);
}

void StartAndWait(const PitrOptions& options, PitrResult& result) {
  pg::ClusterSpec spec;
  spec.data_dir = options.restore.target_dir;
  spec.socket_dir = result.socket_dir;
  spec.port = result.port;
  spec.os_user = options.restore.os_user;
  pg::LocalCluster cluster(spec);
  result.log_file = cluster.spec().log_file;
  const auto began = Clock::now();
  try {
    cluster.Start(std::chrono::duration_cast<std::chrono::seconds>(options.start_timeout));
  } catch (const Error& e) {
    RecoveryFailed(cluster, "the server did not start");
  }
  const RecoveryState state = WaitForTarget(cluster, options.target.action, options.start_timeout);
  result.replay_seconds = std::chrono::duration<double>(Clock::now() - began).count();
  result.promoted = state == RecoveryState::kPromoted;
  ReadReachedPoint(cluster, result);
}

}  // namespace

void WriteRecoverySettings(const fs::path& data_dir, const RecoverySettings& settings,
                           const std::string& os_user) {
  const RecoveryTarget& target = settings.target;
  std::ostringstream out;
  out << "\n# Added by dbmedic restore: point-in-time recovery to " << target.Describe() << "\n";
  out << "restore_command = " << ConfQuote(settings.restore_command) << "\n";
  if (!settings.recovery_end_command.empty()) {
    out << "recovery_end_command = " << ConfQuote(settings.recovery_end_command) << "\n";
  }
  if (target.kind == TargetKind::kImmediate) {
    out << "recovery_target = 'immediate'\n";
  } else if (target.kind != TargetKind::kEnd) {
    out << TargetSetting(target.kind) << " = " << ConfQuote(target.text) << "\n";
    out << "recovery_target_inclusive = " << (target.inclusive ? "on" : "off") << "\n";
  }
  out << "recovery_target_timeline = " << ConfQuote(target.timeline.value_or("latest")) << "\n";
  const bool pause = target.action == TargetAction::kPause || settings.pause_then_promote;
  out << "recovery_target_action = " << (pause ? "'pause'" : "'promote'") << "\n";
  // Without hot standby, 'pause' shuts the server down instead.
  if (settings.pause_then_promote) out << "hot_standby = 'on'\n";
  if (settings.archive_command.empty()) {
    out << "# The restored cluster must not archive its new timeline into the source's archive.\n";
    out << "archive_mode = 'off'\n";
  } else {
    out << "archive_mode = 'on'\n";
    out << "archive_command = " << ConfQuote(settings.archive_command) << "\n";
  }
  if (settings.port) out << "port = " << *settings.port << "\n";
  if (!settings.socket_dir.empty()) {
    out << "unix_socket_directories = " << ConfQuote(settings.socket_dir.string()) << "\n";
  }
  for (const auto& [name, value] : settings.extra_settings) {
    out << name << " = " << ConfQuote(value) << "\n";
  }
  const fs::path auto_conf = data_dir / "postgresql.auto.conf";
  std::string text;
  if (fs::exists(auto_conf)) text = core::ReadFile(auto_conf);
  core::AtomicWriteFile(auto_conf, text + out.str(), 0600);
  fs::remove(data_dir / "standby.signal");
  core::AtomicWriteFile(data_dir / "recovery.signal", "", 0600);
  GiveTo(auto_conf, os_user);
  GiveTo(data_dir / "recovery.signal", os_user);
}

PitrResult RestoreToTarget(const repo::Repository& repository, const ArchiveView& archive,
                           PitrOptions options) {
  const auto began = Clock::now();
  std::vector<repo::Manifest> backups;
  for (const std::string& label : repository.ListBackups()) {
    backups.push_back(repository.LoadManifest(label));
  }
  const repo::Manifest& chosen =
      ChooseBackup(backups, archive, options.target, options.restore.label);
  spdlog::info("pitr: backup {} (ends {}) for target {}", chosen.label, chosen.stop_lsn,
               options.target.Describe());
  options.restore.label = chosen.label;
  PitrResult result;
  result.target = options.target;
  result.restore = RestoreBackup(repository, options.restore);
  RecoverySettings settings{options.target, options.restore_command, options.archive_command,
                            options.recovery_end_command, std::nullopt, {},
                            options.extra_settings};
  // Only a server this call starts and watches may be left paused for it to promote.
  settings.pause_then_promote = options.start && options.target.action == TargetAction::kPromote &&
                                options.target.kind != TargetKind::kEnd;
  if (options.start) {
    result.port = options.port != 0 ? options.port : core::FindFreeTcpPort();
    result.socket_dir = options.socket_dir.empty() ? MakeSocketDir(options.restore.os_user)
                                                   : options.socket_dir;
    if (!options.socket_dir.empty()) {
      core::MakeDirs(result.socket_dir, 0755);
      GiveTo(result.socket_dir, options.restore.os_user);
    }
    settings.port = result.port;
    settings.socket_dir = result.socket_dir;
  }
  WriteRecoverySettings(options.restore.target_dir, settings, options.restore.os_user);
  if (!options.start) return result;
  result.started = true;
  StartAndWait(options, result);
  result.rto_seconds = std::chrono::duration<double>(Clock::now() - began).count();
  return result;
}

}  // namespace dbmedic::restore
