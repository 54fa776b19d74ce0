// `dbmedic verify [LABEL]`: recompute every checksum; non-zero exit on any problem.
#include <fmt/format.h>

#include "backup/verify.hpp"
#include "cli/command.hpp"
#include "core/error.hpp"
#include "repo/cluster.hpp"
#include "repo/parallel.hpp"

namespace dbmedic::cli {

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);

namespace {

void Run(Context& ctx, const std::string& label) {
  const repo::Repository repository = repo::OpenRepository(ctx.config());
  const std::optional<std::string> chosen = label.empty() ? std::nullopt : std::optional(label);
  const backup::VerifyResult r = backup::VerifyBackups(
      repository, chosen, repo::EffectiveJobs(static_cast<int>(ctx.config().Int("backup.jobs"))));
  if (ctx.json()) {
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& p : r.problems) {
      problems.push_back({{"label", p.label}, {"file", p.file}, {"kind", p.kind},
                          {"object", p.object}, {"detail", p.detail}});
    }
    PrintJson({{"ok", r.ok()}, {"backups", r.labels}, {"files_checked", r.files_checked},
               {"bytes_checked", r.bytes_checked}, {"problems", problems},
               {"incomplete", r.incomplete}});
    if (!r.ok()) ctx.exit_code = static_cast<int>(ErrorCode::kCorrupt);
    return;
  }
  if (!r.problems.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : r.problems) rows.push_back({p.label, p.file, p.kind, p.detail});
    PrintTable({"BACKUP", "FILE", "PROBLEM", "DETAIL"}, rows);
    throw Error(ErrorCode::kCorrupt,
                fmt::format("verify found {} damaged file(s) in {} backup(s), first: '{}' of backup "
                            "{} is {}",
                            r.problems.size(), r.labels.size(), r.problems.front().file,
                            r.problems.front().label, r.problems.front().kind),
                "do not rely on the damaged backups: take a new backup, then remove them");
  }
  fmt::print("{} backup(s) verified: {} files, {} checked, no problem\n", r.labels.size(),
             r.files_checked, HumanBytes(double(r.bytes_checked)));
}

void Setup(CLI::App& root, Context& ctx) {
  auto label = std::make_shared<std::string>();
  auto* cmd = root.add_subcommand(
      "verify", "Recompute the checksum of every file of one backup (or of all of them).");
  cmd->add_option("label", *label, "Backup label (default: every backup)");
  AddRepositoryOptions(cmd, ctx, false);
  AddConfigOption(cmd, ctx, "backup.jobs");
  cmd->callback([&ctx, label] { Run(ctx, *label); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
