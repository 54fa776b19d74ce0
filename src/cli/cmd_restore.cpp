// `dbmedic restore --target-dir D`: restore a backup into a new (or, with --delta, an existing)
// data directory.
#include <fmt/format.h>

#include "cli/command.hpp"
#include "restore/restore.hpp"

namespace dbmedic::cli {

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);
std::function<void(std::uint64_t, std::uint64_t)> MakeProgressPrinter(const char* verb);
// Point-in-time recovery options and their run (cmd_restore_pitr.cpp).
struct PitrCli;
std::shared_ptr<PitrCli> AddPitrOptions(CLI::App* cmd, Context& ctx);
bool RunPitr(Context& ctx, const PitrCli& pitr, restore::RestoreOptions options);

namespace {

struct RestoreArgs {
  std::string target_dir;
  std::string label;
  bool delta = false;
  std::vector<std::string> tablespace_map;
  std::shared_ptr<PitrCli> pitr;
};

void Run(Context& ctx, const RestoreArgs& args) {
  restore::RestoreOptions options;
  options.target_dir = args.target_dir;
  if (!args.label.empty()) options.label = args.label;
  options.delta = args.delta;
  for (const std::string& m : args.tablespace_map) {
    options.tablespace_map.insert(restore::ParseTablespaceMapping(m));
  }
  if (auto print = MakeProgressPrinter("restore"); print && !ctx.json()) {
    options.on_progress = [print](const restore::RestoreProgress& p) {
      print(p.bytes_done, p.bytes_total);
    };
  }
  if (RunPitr(ctx, *args.pitr, options)) return;
  const restore::RestoreResult r = restore::RestoreBackup(ctx.config(), options);
  if (ctx.json()) {
    PrintJson({{"label", r.label}, {"target_dir", args.target_dir}, {"files", r.files},
               {"bytes", r.bytes}, {"bytes_written", r.bytes_written},
               {"files_removed", r.files_removed}, {"seconds", r.seconds}});
    return;
  }
  fmt::print("restored backup {} into {}: {} files, {} ({} written{}) in {}\n", r.label,
             args.target_dir, r.files, HumanBytes(double(r.bytes)),
             HumanBytes(double(r.bytes_written)),
             args.delta ? fmt::format(", {} extra files removed", r.files_removed) : "",
             HumanSeconds(r.seconds));
  fmt::print("before starting it, review postgresql.conf there (port, unix_socket_directories, "
             "archive_command): they are the original cluster's\n");
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<RestoreArgs>();
  auto* cmd = root.add_subcommand(
      "restore",
      "Restore a backup into a data directory (parallel, checksums checked); the directory "
      "then starts like the cluster at the end of the backup.");
  cmd->add_option("--target-dir", args->target_dir, "Data directory to restore into")->required();
  cmd->add_option("--backup", args->label, "Backup label (default: the newest)");
  cmd->add_flag("--delta", args->delta,
                "Update an existing directory: rewrite only what differs, remove files that are "
                "not in the backup");
  cmd->add_option("--tablespace-map", args->tablespace_map,
                  "Restore a tablespace elsewhere: OLD_LOCATION=NEW_LOCATION (repeatable)");
  args->pitr = AddPitrOptions(cmd, ctx);
  AddRepositoryOptions(cmd, ctx, false);
  AddConfigOption(cmd, ctx, "backup.jobs");
  AddConfigOption(cmd, ctx, "cluster.os_user");
  cmd->callback([&ctx, args] { Run(ctx, *args); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
