// `dbmedic restore --target-dir D`: restore a backup into a new (or, with --delta, an existing)
// data directory.
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "repo/repository_set.hpp"
#include "restore/restore.hpp"

namespace dbmedic::cli {

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);
std::vector<repo::RepositoryConfig> TargetRepositories(Context& ctx);  // cmd_repo.cpp
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

// Restores from the repository of ctx.config(), `delta` as given or forced by a fallback.
void RunOne(Context& ctx, const RestoreArgs& args, bool delta) {
  restore::RestoreOptions options;
  options.target_dir = args.target_dir;
  if (!args.label.empty()) options.label = args.label;
  options.delta = delta;
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

// Whether a failed restore may be retried from the next repository: not for mistakes that would
// fail the same way (usage, a non-empty target, disk full, a signal), and not once the copy
// completed or a server runs in the target (then the failure is not the repository's).
bool MayFallBack(const Error& e, const std::filesystem::path& target) {
  switch (e.code()) {
    case ErrorCode::kUsage:
    case ErrorCode::kConflict:
    case ErrorCode::kDiskFull:
    case ErrorCode::kInterrupted:
    case ErrorCode::kInternal:
      return false;
    default:
      break;
  }
  std::error_code ec;
  if (!std::filesystem::exists(target, ec) || std::filesystem::is_empty(target, ec)) return true;
  if (std::filesystem::exists(target / "postmaster.pid", ec)) return false;
  return std::filesystem::exists(target / restore::kIncompleteMarker, ec);
}

// The first repository that restores wins; one that is unreachable, corrupt, lacks the backup
// or the WAL for the target is logged and the next one is tried. What a failed attempt left in
// the target is reconciled by the next attempt running as a delta restore (it rewrites what
// differs and removes the rest), so nothing is deleted wholesale.
void Run(Context& ctx, const RestoreArgs& args) {
  const std::vector<repo::RepositoryConfig> targets = TargetRepositories(ctx);
  if (targets.size() == 1) return RunOne(ctx, args, args.delta);
  std::vector<std::string> skipped;
  for (const repo::RepositoryConfig& target : targets) {
    const RepositoryScope scope(ctx, target.config, target.index);
    std::error_code ec;
    const bool delta = args.delta || (std::filesystem::exists(args.target_dir, ec) &&
                                      !skipped.empty() &&
                                      !std::filesystem::is_empty(args.target_dir, ec));
    try {
      RunOne(ctx, args, delta);
      if (!skipped.empty()) {
        spdlog::warn("restored from {} after skipping: {}", target.Describe(),
                     fmt::join(skipped, "; "));
      }
      return;
    } catch (const Error& e) {
      const bool last = &target == &targets.back();
      if (last || !MayFallBack(e, args.target_dir)) {
        if (skipped.empty()) throw e.WithContext(target.Describe());
        throw e.WithContext(fmt::format("{} (after skipping: {})", target.Describe(),
                                        fmt::join(skipped, "; ")));
      }
      spdlog::warn("restore from {} failed: {}; falling back to the next repository",
                   target.Describe(), e.what());
      skipped.push_back(fmt::format("{}: {}", target.Describe(), e.what()));
    }
  }
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<RestoreArgs>();
  auto* cmd = root.add_subcommand(
      "restore",
      "Restore a backup into a data directory (parallel, checksums checked); the directory "
      "then starts like the cluster at the end of the backup. With several repositories: from "
      "the first that can (a failing one is logged and skipped), or the one of --repo N.");
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
