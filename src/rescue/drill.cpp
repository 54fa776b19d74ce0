#include "rescue/drill.hpp"

#include <chrono>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "pg/lsn.hpp"
#include "rescue/drill_checks.hpp"
#include "rescue/interrupt.hpp"
#include "rescue/scratch_cluster.hpp"

namespace dbmedic::rescue {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t NowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Phase(const DrillOptions& options, std::string_view phase) {
  spdlog::info("drill: {}", phase);
  if (options.on_phase) options.on_phase(phase);
}

void FillTimings(const repo::Repository& repository, const restore::PitrResult& r,
                 DrillRecord& record) {
  record.label = r.restore.label;
  record.rto_seconds = r.rto_seconds;
  record.restore_seconds = r.restore.seconds;
  record.replay_seconds = r.replay_seconds;
  record.restored_bytes = r.restore.bytes;
  if (r.restore.seconds > 0) {
    record.restore_bytes_per_second = static_cast<double>(r.restore.bytes) / r.restore.seconds;
  }
  const repo::Manifest manifest = repository.LoadManifest(r.restore.label);
  const pg::Lsn start = pg::Lsn::Parse(manifest.start_lsn);
  if (auto replayed = pg::Lsn::TryParse(r.replay_lsn); replayed && *replayed > start) {
    record.wal_bytes_replayed = replayed->value - start.value;
  }
  if (r.replay_seconds > 0) {
    record.replay_bytes_per_second =
        static_cast<double>(record.wal_bytes_replayed) / r.replay_seconds;
  }
}

void FillChecks(CheckSummary summary, DrillRecord& record) {
  record.amcheck = summary.amcheck;
  record.relations_checked = summary.relations;
  record.indexes_checked = summary.indexes;
  record.total_rows = summary.rows;
  record.passed = summary.failures == 0;
  if (!record.passed) {
    const auto first = std::find_if(summary.checks.begin(), summary.checks.end(),
                                    [](const RelationCheck& c) { return !c.error.empty(); });
    record.error = fmt::format("{} check(s) failed; first: {} {} in database {}: {}",
                               summary.failures, first->kind, first->name, first->database,
                               first->error);
  }
  record.checks = std::move(summary.checks);
}

std::string RequestedLabel(const repo::Repository& repository, const DrillOptions& options) {
  if (options.label) return *options.label;
  return repository.LatestBackup().value_or("(none)");
}

}  // namespace

DrillRecord RunDrill(repo::Repository& repository, const restore::ArchiveView& archive,
                     const DrillOptions& options) {
  const auto began = Clock::now();
  DrillRecord record;
  const std::int64_t started_micros = NowUnixMicros();
  record.started_at = started_micros / 1000000;
  record.target = options.target.Describe();
  record.label = RequestedLabel(repository, options);
  record.id = fmt::format("{}-{}", CompactUtcMicros(started_micros), record.label);
  ScratchOptions scratch;
  scratch.label = options.label;
  scratch.target = options.target;
  scratch.target.action = restore::TargetAction::kPromote;  // amcheck needs a writable cluster
  scratch.restore_command = options.restore_command;
  scratch.recovery_end_command = options.recovery_end_command;
  scratch.os_user = options.os_user;
  scratch.jobs = options.jobs;
  scratch.parent_dir = options.scratch_parent;
  scratch.start_timeout = options.timeout;
  scratch.on_progress = options.on_progress;
  try {
    Phase(options, "restoring " + record.label + " into a scratch directory");
    ScratchCluster cluster(repository, archive, scratch);
    FillTimings(repository, cluster.result(), record);
    Phase(options, "reading every relation and checking indexes");
    CheckSummary checks =
        CheckRestoredCluster([&](const std::string& db) { return cluster.ConnInfo(db); });
    // Checks fail one by one once the server is stopped: not the backup's fault.
    ThrowIfInterrupted("the restore drill of backup " + record.label);
    FillChecks(std::move(checks), record);
  } catch (const Error& e) {
    // An interrupted drill says nothing about the backup: not recorded.
    ThrowIfInterrupted("the restore drill of backup " + record.label);
    record.passed = false;
    record.error = e.what();
    record.duration_seconds = std::chrono::duration<double>(Clock::now() - began).count();
    SaveDrillRecord(repository, record);
    throw e.WithContext(fmt::format("restore drill of backup {}", record.label));
  }
  record.duration_seconds = std::chrono::duration<double>(Clock::now() - began).count();
  SaveDrillRecord(repository, record);
  return record;
}

}  // namespace dbmedic::rescue
