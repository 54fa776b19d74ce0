// `dbmedic verify [LABEL]`: recompute every checksum, in every configured repository (or the one
// of --repo N); non-zero exit naming the repository and the file on any problem.
#include <algorithm>

#include <fmt/format.h>

#include "backup/verify.hpp"
#include "cli/command.hpp"
#include "core/error.hpp"
#include "repo/cluster.hpp"
#include "repo/parallel.hpp"
#include "repo/repository_set.hpp"

namespace dbmedic::cli {

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);
std::vector<repo::RepositoryConfig> TargetRepositories(Context& ctx);  // cmd_repo.cpp
void RunOnEachRepository(Context& ctx, std::string_view id_key, std::string_view result_key,
                         bool headers, const std::function<nlohmann::json(int index)>& one);

namespace {

nlohmann::json ToJson(const backup::VerifyResult& r) {
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : r.problems) {
    problems.push_back({{"label", p.label}, {"file", p.file}, {"kind", p.kind},
                        {"object", p.object}, {"detail", p.detail}});
  }
  return {{"ok", r.ok()}, {"backups", r.labels}, {"files_checked", r.files_checked},
          {"bytes_checked", r.bytes_checked}, {"problems", problems},
          {"incomplete", r.incomplete}};
}

// Verifies the repository of ctx.config(). JSON: the result (exit code set on damage); text:
// the damaged files as a table, then an Error naming the first one.
nlohmann::json VerifyOne(Context& ctx, const std::optional<std::string>& label) {
  const repo::Repository repository = repo::OpenRepository(ctx.config());
  const backup::VerifyResult r = backup::VerifyBackups(
      repository, label, repo::EffectiveJobs(static_cast<int>(ctx.config().Int("backup.jobs"))));
  if (ctx.json()) {
    if (!r.ok()) ctx.exit_code = static_cast<int>(ErrorCode::kCorrupt);
    return ToJson(r);
  }
  if (!r.problems.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : r.problems) rows.push_back({p.label, p.file, p.kind, p.detail});
    PrintTable({"BACKUP", "FILE", "PROBLEM", "DETAIL"}, rows);
    throw Error(ErrorCode::kCorrupt,
                fmt::format("verify found {} damaged file(s) in {} backup(s) of repository '{}', "
                            "first: '{}' of backup {} is {}",
                            r.problems.size(), r.labels.size(), repository.storage().Describe(""),
                            r.problems.front().file, r.problems.front().label,
                            r.problems.front().kind),
                "do not rely on the damaged backups: take a new backup, then remove them");
  }
  fmt::print("{} backup(s) verified: {} files, {} checked, no problem\n", r.labels.size(),
             r.files_checked, HumanBytes(double(r.bytes_checked)));
  return nullptr;
}

// Backup labels differ between repositories (each backup is taken into each in turn), so a label
// given without --repo is verified where it exists; it must exist in at least one repository.
void Run(Context& ctx, const std::string& label) {
  const std::optional<std::string> chosen = label.empty() ? std::nullopt : std::optional(label);
  const bool several = TargetRepositories(ctx).size() > 1;
  int holders = 0;
  RunOnEachRepository(ctx, "repository", "verify", true, [&](int) -> nlohmann::json {
    if (several && chosen) {
      const std::vector<std::string> labels = repo::OpenRepository(ctx.config()).ListBackups();
      if (std::find(labels.begin(), labels.end(), *chosen) == labels.end()) {
        if (!ctx.json()) fmt::print("no backup {} here: skipped\n", *chosen);
        return {{"skipped", fmt::format("no backup {}", *chosen)}};
      }
    }
    ++holders;
    return VerifyOne(ctx, chosen);
  });
  if (several && chosen && holders == 0 && ctx.exit_code == 0) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("backup '{}' does not exist in any repository", *chosen),
                "list the backups with: dbmedic info");
  }
}

void Setup(CLI::App& root, Context& ctx) {
  auto label = std::make_shared<std::string>();
  auto* cmd = root.add_subcommand(
      "verify",
      "Recompute the checksum of every file of one backup (or of all of them), in every "
      "configured repository unless --repo N picks one.");
  cmd->add_option("label", *label, "Backup label (default: every backup)");
  AddRepositoryOptions(cmd, ctx, false);
  AddConfigOption(cmd, ctx, "backup.jobs");
  cmd->callback([&ctx, label] { Run(ctx, *label); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
