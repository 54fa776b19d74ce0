// `dbmedic drill`: a restore drill (rescue/drill.hpp) of one backup, recorded in the repository.
// Also home of what `info` and the agent need to report recovery objectives (RPO, RTO, backup
// and drill ages against the targets), since that joins the repository, the WAL archive and the
// live cluster.
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "pg/lsn.hpp"
#include "repo/cluster.hpp"
#include "repo/repository_set.hpp"
#include "rescue/drill.hpp"
#include "rescue/recovery_status.hpp"
#include "wal/archive_catalog.hpp"
#include "wal/prefetch.hpp"

namespace dbmedic::cli {

repo::RepositoryConfig FirstHealthyRepository(Context& ctx);  // cmd_repo.cpp

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);
std::function<void(std::uint64_t, std::uint64_t)> MakeProgressPrinter(const char* verb);
restore::ArchiveView LoadArchiveView(const repo::Repository& repository);

std::vector<std::string> OneRepositoryArgs(Context& ctx, int index);  // cmd_repo.cpp

// restore_command for scratch clusters: this binary, reachable by the server's OS user.
// With `wal_filter`: `wal get` skips the changes that file names (undo's side cluster).
std::string ScratchRestoreCommand(Context& ctx, const std::filesystem::path& wal_filter = {}) {
  namespace fs = std::filesystem;
  const fs::path self = fs::read_symlink("/proc/self/exe");
  if (!core::IsTraversableByOthers(self)) {
    throw Error(ErrorCode::kConfig,
                fmt::format("the server's OS user cannot reach this dbmedic binary '{}' (a "
                            "directory above it is not traversable)",
                            self.string()),
                "install dbmedic in a public location such as /usr/local/bin and run it there");
  }
  std::string cmd = fmt::format("{} wal get", self.string());
  if (ctx.config_path) cmd += fmt::format(" --config '{}'", *ctx.config_path);
  // The drilled repository only: the drill proves that this one can restore on its own.
  for (const std::string& arg : OneRepositoryArgs(ctx, ctx.current_repository())) {
    cmd += fmt::format(" '{}'", arg);
  }
  if (!wal_filter.empty()) cmd += fmt::format(" --wal-filter '{}'", wal_filter.string());
  return wal::SpoolFirstRestoreCommand(cmd + " %f \"%p\"");  // prefetched segments by mv
}

// recovery_end_command for scratch clusters: ends the prefetcher of ScratchRestoreCommand.
std::string ScratchRecoveryEndCommand() {
  return fmt::format("{} wal recovery-end", std::filesystem::read_symlink("/proc/self/exe").string());
}

rescue::RecoveryPolicy LoadRecoveryPolicy(const core::Config& config) {
  auto secs = [&](const char* key) { return config.Duration(key).count() / 1000.0; };
  return {secs("recovery.rpo_target"), secs("recovery.rto_target"),
          secs("recovery.backup_max_age"), secs("recovery.drill_max_age")};
}

namespace {

// Size, WAL position and RPO of the live cluster; nothing when it is not reachable (a drill
// or info on a backup host must still work).
void ReadLiveCluster(const core::Config& config, rescue::RecoveryInputs& in) {
  try {
    pg::Connection conn = repo::ConnectCluster(config);
    pg::Result r = conn.Exec(
        "SELECT (SELECT sum(pg_database_size(oid)) FROM pg_database)::bigint, "
        "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() "
        "END::text, a.last_archived_wal, extract(epoch FROM a.last_archived_time)::float8, "
        "extract(epoch FROM now())::float8, "
        "extract(epoch FROM pg_postmaster_start_time())::float8, "
        "(SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'), current_setting('archive_mode') <> 'off' "
        "FROM pg_stat_archiver a");
    in.cluster_bytes = static_cast<std::uint64_t>(r.GetInt(0, 0));
    const pg::Lsn current = pg::Lsn::Parse(r.Get(0, 1));
    in.current_lsn = current.value;
    if (!r.GetBool(0, 7)) return;  // not archiving: RPO unknown (everything since the backup)
    const auto seg_size = static_cast<std::uint64_t>(r.GetInt(0, 6));
    std::uint64_t archived_end = 0;
    if (auto name = pg::ParseWalSegmentName(r.Get(0, 2), seg_size)) {
      archived_end = pg::SegmentStart(name->segno + 1, seg_size).value;
    }
    const double since = r.IsNull(0, 3) ? r.GetDouble(0, 5) : r.GetDouble(0, 3);
    in.rpo_seconds = current.value > archived_end ? std::max(0.0, r.GetDouble(0, 4) - since) : 0;
  } catch (const Error& e) {
    spdlog::debug("recovery status without the live cluster: {}", e.what());
  }
}

}  // namespace

rescue::RecoveryStatus LoadRecoveryStatus(Context& ctx, const repo::Repository& repository,
                                          const std::vector<repo::Manifest>& backups) {
  rescue::RecoveryInputs in;
  in.drills = rescue::LoadDrillRecords(repository);
  in.backups = backups;
  in.now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  ReadLiveCluster(ctx.config(), in);
  return rescue::ComputeRecoveryStatus(in, LoadRecoveryPolicy(ctx.config()));
}

namespace {

struct DrillArgs {
  std::string backup = "latest";
  std::string to_time;
};

restore::RecoveryTarget DrillTarget(const DrillArgs& args) {
  restore::RecoveryTarget t;
  if (args.to_time.empty()) return t;  // immediate: consistency at the end of the backup
  t.kind = restore::TargetKind::kTime;
  t.unix_micros = restore::ParseTargetTime(args.to_time);
  t.text = wal::FormatUnixMicros(*t.unix_micros);
  return t;
}

void PrintRecord(const rescue::DrillRecord& r) {
  fmt::print("drill {}: {}\n", r.id, r.passed ? "PASSED" : "FAILED");
  fmt::print("backup {} restored to {}\n", r.label, r.target);
  fmt::print("RTO {} (restore {} at {}/s, start and replay {} of WAL in {})\n",
             HumanSeconds(r.rto_seconds), HumanSeconds(r.restore_seconds),
             HumanBytes(r.restore_bytes_per_second), HumanBytes(double(r.wal_bytes_replayed)),
             HumanSeconds(r.replay_seconds));
  fmt::print("checks: {} relations read in full ({} rows), {} btree indexes {}\n",
             r.relations_checked, r.total_rows, r.indexes_checked,
             r.amcheck ? "checked with amcheck" : "not checked (amcheck not available)");
  for (const rescue::RelationCheck& c : r.checks) {
    if (!c.error.empty()) fmt::print("  FAILED {} {} ({}): {}\n", c.kind, c.name, c.database, c.error);
  }
  if (!r.passed) fmt::print("{}\n", r.error);
}

void Run(Context& ctx, const DrillArgs& args) {
  const core::Config& config = ctx.config();
  repo::Repository repository = repo::OpenRepository(config);
  rescue::DrillOptions options;
  if (args.backup != "latest") options.label = args.backup;
  options.target = DrillTarget(args);
  options.restore_command = ScratchRestoreCommand(ctx);
  options.recovery_end_command = ScratchRecoveryEndCommand();
  options.os_user = config.String("cluster.os_user");
  options.jobs = static_cast<int>(config.Int("backup.jobs"));
  if (auto dir = config.Optional("drill.scratch_dir"); dir && !dir->empty()) {
    options.scratch_parent = config.Path("drill.scratch_dir");
  }
  options.timeout = config.Duration("drill.timeout");
  if (auto print = MakeProgressPrinter("restore"); print && !ctx.json()) {
    options.on_progress = [print](const restore::RestoreProgress& p) {
      print(p.bytes_done, p.bytes_total);
    };
  }
  const rescue::DrillRecord record = rescue::RunDrill(repository, LoadArchiveView(repository), options);
  std::vector<repo::Manifest> backups;
  for (const std::string& label : repository.ListBackups()) backups.push_back(repository.LoadManifest(label));
  const rescue::RecoveryStatus status = LoadRecoveryStatus(ctx, repository, backups);
  if (ctx.json()) {
    PrintJson({{"drill", rescue::ToJson(record)}, {"recovery", rescue::ToJson(status)}});
  } else {
    PrintRecord(record);
    for (const std::string& line : rescue::DescribeRecoveryStatus(status)) fmt::print("{}\n", line);
  }
  if (!record.passed) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("restore drill {} of backup {} failed: {}", record.id, record.label,
                            record.error),
                "the backup is not usable as it is: run dbmedic verify, then take a new backup");
  }
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<DrillArgs>();
  CLI::App* cmd = root.add_subcommand(
      "drill",
      "Restore drill: restore a backup into a scratch directory, start it on a private port, "
      "read every relation, check btree indexes with amcheck, measure the RTO, record the "
      "result in the repository, remove the scratch cluster.");
  cmd->add_option("--backup", args->backup, "Backup label to restore, or 'latest'")
      ->capture_default_str();
  cmd->add_option("--to-time", args->to_time,
                  "Also replay the archived WAL up to this time, with its zone "
                  "('2026-11-29 13:04:05+00'); default: stop at the end of the backup");
  AddRepositoryOptions(cmd, ctx, true);
  AddConfigOption(cmd, ctx, "cluster.os_user");
  AddConfigOption(cmd, ctx, "backup.jobs");
  AddConfigOption(cmd, ctx, "drill.scratch_dir");
  AddConfigOption(cmd, ctx, "drill.timeout");
  AddConfigOption(cmd, ctx, "recovery.rpo_target");
  AddConfigOption(cmd, ctx, "recovery.rto_target");
  cmd->callback([&ctx, args] {
    const repo::RepositoryConfig chosen = FirstHealthyRepository(ctx);
    const RepositoryScope scope(ctx, chosen.config, chosen.index);
    Run(ctx, *args);
  });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
