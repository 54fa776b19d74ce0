// What the monitor agent publishes about recovery objectives (backup and drill ages, the last
// drill's result and RTO, the predicted RTO, the RPO, the targets) and the default alert rules on
// them; and the scheduled drill. It lives in the CLI because it joins the rescue, restore and
// wal modules with the monitor, which do not depend on each other.
#include <chrono>
#include <memory>

#include <spdlog/spdlog.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "monitor/alert_rule.hpp"
#include "monitor/collector.hpp"
#include "repo/cluster.hpp"
#include "rescue/drill.hpp"
#include "rescue/recovery_status.hpp"

namespace dbmedic::cli {

rescue::RecoveryStatus LoadRecoveryStatus(Context& ctx, const repo::Repository& repository,
                                          const std::vector<repo::Manifest>& backups);
restore::ArchiveView LoadArchiveView(const repo::Repository& repository);
std::string ScratchRestoreCommand(Context& ctx,
                                  const std::filesystem::path& wal_filter = {});

namespace {

using monitor::FamilyBuilder;

void Publish(const rescue::RecoveryStatus& s, double repository_age, FamilyBuilder& b,
             const monitor::Labels& l) {
  b.Gauge("dbmedic_recovery_rpo_target_seconds", "recovery.rpo_target.", l,
          s.policy.rpo_target_seconds);
  b.Gauge("dbmedic_recovery_rto_target_seconds", "recovery.rto_target.", l,
          s.policy.rto_target_seconds);
  if (s.newest_backup_age_seconds) {
    b.Gauge("dbmedic_backup_newest_age_seconds", "Age of the newest complete backup.", l,
            *s.newest_backup_age_seconds);
  } else {
    b.Gauge("dbmedic_backup_newest_age_seconds",
            "Age of the newest complete backup (none: age of the repository).", l, repository_age);
  }
  b.Gauge("dbmedic_drill_last_success_age_seconds",
          "Seconds since the last successful restore drill started (none: age of the "
          "repository).",
          l, s.last_success_age_seconds.value_or(repository_age));
  if (s.last_drill) {
    b.Gauge("dbmedic_drill_last_passed", "1 if the last restore drill passed, 0 if it failed.", l,
            s.last_drill->passed ? 1 : 0);
  }
  if (s.last_success) {
    b.Gauge("dbmedic_drill_last_rto_seconds", "RTO measured by the last successful drill.", l,
            s.last_success->rto_seconds);
    b.Gauge("dbmedic_drill_last_restore_bytes_per_second",
            "Restore throughput of the last successful drill.", l,
            s.last_success->restore_bytes_per_second);
  }
  if (s.predicted_rto_seconds) {
    b.Gauge("dbmedic_recovery_predicted_rto_seconds",
            "Predicted RTO now: current size / drill restore rate + WAL since the newest backup "
            "/ drill replay rate.",
            l, *s.predicted_rto_seconds);
  }
  if (s.rpo_seconds) {
    b.Gauge("dbmedic_recovery_rpo_seconds",
            "Current RPO: seconds WAL has waited to be archived (0 when everything is).", l,
            *s.rpo_seconds);
  }
}

class RecoveryCollector final : public monitor::Collector {
 public:
  explicit RecoveryCollector(Context& ctx)
      : ctx_(ctx),
        cluster_(ctx.config().String("cluster.name")),
        interval_(ctx.config().Duration("recovery.metrics_interval")),
        drill_interval_(ctx.config().Duration("drill.interval")) {}

  std::string name() const override { return "recovery:" + cluster_; }
  std::chrono::milliseconds interval() const override { return interval_; }

  monitor::CollectResult Collect() override {
    FamilyBuilder b(std::chrono::system_clock::now());
    monitor::CollectResult result;
    try {
      repo::Repository repository = repo::OpenRepository(ctx_.config());
      MaybeDrill(repository);
      std::vector<repo::Manifest> backups;
      for (const std::string& label : repository.ListBackups()) {
        backups.push_back(repository.LoadManifest(label));
      }
      const double age = static_cast<double>(
          std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::system_clock::now().time_since_epoch()).count() -
          repository.info().created);
      Publish(LoadRecoveryStatus(ctx_, repository, backups), age, b, {{"cluster", cluster_}});
    } catch (const std::exception& e) {
      result.error = e.what();
    }
    result.families = b.Take();
    return result;
  }

 private:
  // The scheduled drill: runs in this collector's own thread, so only these metrics wait.
  void MaybeDrill(repo::Repository& repository) {
    if (drill_interval_.count() <= 0 || !repository.LatestBackup()) return;
    const std::vector<rescue::DrillRecord> drills = rescue::LoadDrillRecords(repository);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    if (!drills.empty() && (now - drills.back().started_at) * 1000 < drill_interval_.count()) {
      return;
    }
    rescue::DrillOptions options;
    options.restore_command = ScratchRestoreCommand(ctx_);
    options.os_user = ctx_.config().String("cluster.os_user");
    options.jobs = static_cast<int>(ctx_.config().Int("backup.jobs"));
    if (auto dir = ctx_.config().Optional("drill.scratch_dir"); dir && !dir->empty()) {
      options.scratch_parent = ctx_.config().Path("drill.scratch_dir");
    }
    options.timeout = ctx_.config().Duration("drill.timeout");
    try {
      const rescue::DrillRecord r = rescue::RunDrill(repository, LoadArchiveView(repository), options);
      spdlog::info("scheduled drill {}: {}", r.id, r.passed ? "passed" : r.error);
    } catch (const Error& e) {
      spdlog::error("scheduled drill failed: {}", e.what());
    }
  }

  Context& ctx_;
  std::string cluster_;
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds drill_interval_;
};

double Secs(const core::Config& config, const char* key) {
  return static_cast<double>(config.Duration(key).count()) / 1000.0;
}

}  // namespace

std::unique_ptr<monitor::Collector> MakeRecoveryCollector(Context& ctx) {
  return std::make_unique<RecoveryCollector>(ctx);
}

std::vector<monitor::AlertRule> RecoveryAlertRules(const core::Config& config) {
  using C = monitor::Comparison;
  const std::chrono::milliseconds none{0};
  return {
      {"BackupTooOld", "dbmedic_backup_newest_age_seconds", {}, C::kGreater,
       Secs(config, "recovery.backup_max_age"), none, "critical",
       "The newest backup of {{ $labels.cluster }} is {{ $value }} s old (recovery.backup_max_age)"},
      {"DrillFailing", "dbmedic_drill_last_passed", {}, C::kEqual, 0, none, "critical",
       "The last restore drill of {{ $labels.cluster }} failed: see dbmedic info"},
      {"DrillTooOld", "dbmedic_drill_last_success_age_seconds", {}, C::kGreater,
       Secs(config, "recovery.drill_max_age"), none, "warning",
       "No successful restore drill of {{ $labels.cluster }} for {{ $value }} s "
       "(recovery.drill_max_age)"},
      {"PredictedRtoAboveTarget", "dbmedic_recovery_predicted_rto_seconds", {}, C::kGreater,
       Secs(config, "recovery.rto_target"), none, "warning",
       "A restore of {{ $labels.cluster }} would take about {{ $value }} s, above "
       "recovery.rto_target"},
      {"RecoveryRpoAboveTarget", "dbmedic_recovery_rpo_seconds", {}, C::kGreater,
       Secs(config, "recovery.rpo_target"), none, "critical",
       "{{ $labels.cluster }} would lose {{ $value }} s of transactions now, above "
       "recovery.rpo_target"},
  };
}

}  // namespace dbmedic::cli
