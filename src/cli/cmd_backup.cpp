// `dbmedic backup`: online full backup of the configured cluster into the repository.
#include <fmt/format.h>

#include <spdlog/spdlog.h>

#include "backup/backup.hpp"
#include "cli/command.hpp"
#include "core/error.hpp"
#include "diagnose/session.hpp"
#include "forensics/catalog_store.hpp"
#include "pg/connection.hpp"
#include "pg/lsn.hpp"
#include "repo/cluster.hpp"
#include "repo/retention_policy.hpp"

namespace dbmedic::cli {

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);
std::function<void(std::uint64_t, std::uint64_t)> MakeProgressPrinter(const char* verb);
// Retention after the backup when retention.expire_after_backup is set (cmd_expire.cpp).
std::optional<repo::ExpirePlan> ExpireAfterBackup(Context& ctx);

namespace {

// Every backup also records which relfilenode is which table (issue 4: `incidents` names what the
// WAL shows). The backup is good without it, so a failure is a warning.
void CaptureCatalogAfterBackup(const core::Config& config) {
  try {
    repo::Repository repository = repo::OpenRepository(config);
    forensics::CaptureResult r =
        forensics::CaptureIntoRepository(repository, diagnose::ConnInfoFromConfig(config));
    spdlog::info("relation catalog: {} relations captured at LSN {} ({} snapshots kept)",
                 r.relations, r.lsn, r.snapshots);
  } catch (const Error& e) {
    spdlog::warn("the backup is complete, but the relation catalog could not be captured: {} "
                 "(incidents will show relfilenodes instead of table names; retry with "
                 "'dbmedic catalog capture')",
                 e.what());
  }
}

void Run(Context& ctx) {
  backup::BackupOptions options;
  if (auto print = MakeProgressPrinter("backup"); print && !ctx.json()) {
    options.on_progress = [print](const backup::Progress& p) { print(p.bytes_done, p.bytes_total); };
  }
  const backup::BackupResult result = backup::RunBackup(ctx.config(), options);
  const repo::Manifest& m = result.manifest;
  CaptureCatalogAfterBackup(ctx.config());
  const std::optional<repo::ExpirePlan> expired = ExpireAfterBackup(ctx);
  nlohmann::json expired_json = nullptr;
  if (expired) {
    expired_json = {{"backups", expired->expired_backups},
                    {"wal_files", expired->expired_wal.size()}};
  }
  if (ctx.json()) {
    PrintJson({{"label", m.label},
               {"type", m.type},
               {"requested_type", m.requested_type},
               {"reference", m.reference},
               {"start_lsn", m.start_lsn},
               {"stop_lsn", m.stop_lsn},
               {"timeline", m.timeline},
               {"files", m.files.size()},
               {"database_size", m.database_size},
               {"repository_size", m.repository_size},
               {"duration_seconds", m.duration_seconds},
               {"removed_incomplete", result.removed_incomplete},
               {"expired", expired_json}});
    return;
  }
  for (const std::string& label : result.removed_incomplete) {
    fmt::print("removed interrupted backup {}\n", label);
  }
  fmt::print("backup {} ({}{}) done: {} files, {} -> {} in repository, LSN {} .. {}, {}\n",
             m.label, m.type, m.reference.empty() ? "" : " of " + m.reference, m.files.size(),
             HumanBytes(double(m.database_size)),
             HumanBytes(double(m.repository_size)), m.start_lsn, m.stop_lsn,
             HumanSeconds(m.duration_seconds));
  if (expired) {
    fmt::print("expired {} backups and {} WAL files (retention)\n", expired->expired_backups.size(),
               expired->expired_wal.size());
  }
}

void Setup(CLI::App& root, Context& ctx) {
  auto* cmd = root.add_subcommand(
      "backup",
      "Take an online backup of the cluster into the repository (pg_backup_start/stop, "
      "parallel chunked copy, page checksums checked, WAL from start to stop included, "
      "manifest written last): full, or --type diff / incr storing only the relation pages and "
      "files changed since the reference backup.");
  AddRepositoryOptions(cmd, ctx, true);
  AddConfigOption(cmd, ctx, "backup.type");
  AddConfigOption(cmd, ctx, "backup.jobs");
  AddConfigOption(cmd, ctx, "backup.chunk_size");
  AddConfigOption(cmd, ctx, "repository.compression");
  AddConfigOption(cmd, ctx, "repository.compression_level");
  AddConfigOption(cmd, ctx, "retention.expire_after_backup");
  AddConfigOption(cmd, ctx, "retention.keep_full");
  AddConfigOption(cmd, ctx, "retention.keep_days");
  cmd->callback([&ctx] { Run(ctx); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
