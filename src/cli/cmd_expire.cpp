// `dbmedic expire`: applies the retention policy (retention.keep_full / keep_days) to the
// repository: removes the backups it no longer retains and the archived WAL that no retained
// backup needs for point-in-time recovery. `--dry-run` only lists what would go.
#include <ctime>
#include <map>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "repo/cluster.hpp"
#include "repo/repository_set.hpp"
#include "repo/retention.hpp"
#include "wal/archive.hpp"

namespace dbmedic::cli {

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);
void RunOnEachRepository(Context& ctx, std::string_view id_key, std::string_view result_key,
                         bool headers, const std::function<nlohmann::json(int index)>& one);  // cmd_repo.cpp

namespace {

struct ExpireCli {
  bool dry_run = false;
};

// Type and reference of each backup, so the plan shows which chains go or stay together.
using Summaries = std::map<std::string, repo::BackupSummary>;

repo::ExpirePlan Plan(const repo::Repository& repository, const core::Config& config,
                      Summaries* summaries = nullptr) {
  std::vector<repo::BackupSummary> backups;
  for (const std::string& label : repository.ListBackups()) {
    backups.push_back(repo::SummarizeBackup(repository.LoadManifest(label)));
    if (summaries) (*summaries)[label] = backups.back();
  }
  std::vector<repo::WalObject> wal;
  const wal::WalArchive archive(repository, repository.info().codec);
  for (const wal::ArchivedFile& f : archive.List()) {
    wal.push_back({f.name, f.object, f.stored_size});
  }
  return repo::PlanExpire(backups, wal, repo::RetentionFromConfig(config), std::time(nullptr));
}

const repo::BackupSummary& SummaryOf(const Summaries& summaries, const std::string& label) {
  static const repo::BackupSummary kUnknown;
  const auto it = summaries.find(label);
  return it == summaries.end() ? kUnknown : it->second;
}

nlohmann::json PlanJson(const repo::ExpirePlan& plan, bool dry_run, const Summaries& summaries) {
  nlohmann::json retained = nlohmann::json::array();
  for (const repo::RetainedBackup& r : plan.retained) {
    nlohmann::json reasons = nlohmann::json::array();
    for (repo::RetainReason reason : r.reasons) {
      reasons.push_back(std::string(repo::RetainReasonName(reason)));
    }
    const repo::BackupSummary& s = SummaryOf(summaries, r.label);
    retained.push_back(
        {{"label", r.label}, {"type", s.type}, {"reference", s.reference}, {"reasons", reasons}});
  }
  nlohmann::json expired = nlohmann::json::array();
  for (const std::string& label : plan.expired_backups) {
    const repo::BackupSummary& s = SummaryOf(summaries, label);
    expired.push_back({{"label", label}, {"type", s.type}, {"reference", s.reference}});
  }
  nlohmann::json wal = {{"files", plan.expired_wal.size()}, {"stored_bytes", plan.expired_wal_bytes}};
  if (!plan.expired_wal.empty()) {
    wal["first"] = plan.expired_wal.front().name;
    wal["last"] = plan.expired_wal.back().name;
  }
  return {{"dry_run", dry_run},
          {"retained", retained},
          {"expired_backups", plan.expired_backups},
          {"expired_backup_details", expired},
          {"expired_wal", wal},
          {"wal_kept_from", plan.wal_kept_from ? nlohmann::json(*plan.wal_kept_from)
                                               : nlohmann::json(nullptr)}};
}

std::string JoinReasons(const std::vector<repo::RetainReason>& reasons) {
  std::string text;
  for (repo::RetainReason r : reasons) {
    if (!text.empty()) text += ", ";
    text += repo::RetainReasonName(r);
  }
  return text;
}

void PrintPlan(const repo::ExpirePlan& plan, bool dry_run, const Summaries& summaries) {
  const char* verb = dry_run ? "would expire" : "expired";
  auto row = [&](const std::string& label, std::string action, std::string why) {
    const repo::BackupSummary& s = SummaryOf(summaries, label);
    return std::vector<std::string>{label, s.type, s.reference.empty() ? "-" : s.reference,
                                    std::move(action), std::move(why)};
  };
  std::vector<std::vector<std::string>> rows;
  for (const repo::RetainedBackup& r : plan.retained) {
    rows.push_back(row(r.label, "keep", JoinReasons(r.reasons)));
  }
  for (const std::string& label : plan.expired_backups) rows.push_back(row(label, verb, ""));
  PrintTable({"BACKUP", "TYPE", "REFERENCE", "ACTION", "WHY KEPT"}, rows);
  if (plan.expired_wal.empty()) {
    fmt::print("WAL: nothing {}", dry_run ? "would expire" : "expired");
  } else {
    fmt::print("WAL: {} {} files ({}), {} .. {}", verb, plan.expired_wal.size(),
               HumanBytes(double(plan.expired_wal_bytes)), plan.expired_wal.front().name,
               plan.expired_wal.back().name);
  }
  if (plan.wal_kept_from) fmt::print("; kept from {} on", *plan.wal_kept_from);
  fmt::print("\n");
}

// Expires the repository of ctx.config() by its own retention settings.
nlohmann::json ExpireOne(Context& ctx, const ExpireCli& cli) {
  repo::Repository repository = repo::OpenRepository(ctx.config());
  Summaries summaries;
  const repo::ExpirePlan plan = Plan(repository, ctx.config(), &summaries);
  if (!cli.dry_run) repo::ApplyExpire(repository, plan);
  if (ctx.json()) return PlanJson(plan, cli.dry_run, summaries);
  PrintPlan(plan, cli.dry_run, summaries);
  return nullptr;
}

// Every repository by its own policy (a local one may keep fewer backups than an off-site one),
// or the one of --repo N; one that fails does not stop the others.
void Run(Context& ctx, const ExpireCli& cli) {
  RunOnEachRepository(ctx, "repository", "expire", true, [&](int) { return ExpireOne(ctx, cli); });
}

void Setup(CLI::App& root, Context& ctx) {
  auto cli = std::make_shared<ExpireCli>();
  auto* cmd = root.add_subcommand(
      "expire",
      "Remove backups the retention policy no longer keeps (--keep-full N newest full backups, "
      "--keep-days D days of backups plus the one the window starts from) and the archived WAL "
      "no retained backup needs for point-in-time recovery. A retained backup's WAL, and the "
      "backups it is based on, are never removed.");
  AddRepositoryOptions(cmd, ctx, false);
  AddConfigOption(cmd, ctx, "retention.keep_full");
  AddConfigOption(cmd, ctx, "retention.keep_days");
  cmd->add_flag("--dry-run", cli->dry_run, "List what would be removed; remove nothing.");
  cmd->callback([&ctx, cli] { Run(ctx, *cli); });
}

const CommandRegistration kReg{Setup};

}  // namespace

// Called by `dbmedic backup` after a successful backup when retention.expire_after_backup is
// set. Returns the plan it applied (for the backup command's output).
std::optional<repo::ExpirePlan> ExpireAfterBackup(Context& ctx) {
  if (!ctx.config().Bool("retention.expire_after_backup")) return std::nullopt;
  try {
    repo::Repository repository = repo::OpenRepository(ctx.config());
    repo::ExpirePlan plan = Plan(repository, ctx.config());
    repo::ApplyExpire(repository, plan);
    return plan;
  } catch (const Error& e) {
    throw e.WithContext("the backup succeeded, but expire after it failed");
  }
}

}  // namespace dbmedic::cli
