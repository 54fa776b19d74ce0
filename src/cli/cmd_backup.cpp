// `dbmedic backup`: online backup (full, diff or incr) of the configured cluster into the
// repository.
#include <future>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "backup/backup.hpp"
#include "cli/command.hpp"
#include "core/error.hpp"
#include "diagnose/session.hpp"
#include "forensics/catalog_store.hpp"
#include "pg/connection.hpp"
#include "pg/lsn.hpp"
#include "repo/cluster.hpp"
#include "repo/repository_set.hpp"
#include "repo/retention_policy.hpp"
#include "wal/archive.hpp"
#include "wal/archive_wal_source.hpp"

namespace dbmedic::cli {

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);
std::vector<repo::RepositoryConfig> TargetRepositories(Context& ctx);  // cmd_repo.cpp
std::function<void(std::uint64_t, std::uint64_t)> MakeProgressPrinter(const char* verb);
// Retention after the backup when retention.expire_after_backup is set (cmd_expire.cpp).
std::optional<repo::ExpirePlan> ExpireAfterBackup(Context& ctx);

namespace {

// Every backup also records which relfilenode is which table (issue 4: `incidents` names what the
// WAL shows). The capture runs beside the backup, on its own connections: it is mostly waiting
// for the server (a connection to each database), which would otherwise add ~0.1-0.2 s to every
// backup. The relations it names are those at the backup's start; one created during the backup
// is named by the next capture.
std::future<forensics::CaptureResult> StartCatalogCapture(const core::Config& config) {
  return std::async(std::launch::async, [&config] {
    repo::Repository repository = repo::OpenRepository(config);
    return forensics::CaptureIntoRepository(repository, diagnose::ConnInfoFromConfig(config));
  });
}

// After a successful backup. The backup is good without the catalog, so a failure is a warning.
void ReportCatalogCapture(std::future<forensics::CaptureResult>& capture) {
  try {
    const forensics::CaptureResult r = capture.get();
    spdlog::info("relation catalog: {} relations captured at LSN {} ({} snapshots kept)",
                 r.relations, r.lsn, r.snapshots);
  } catch (const Error& e) {
    spdlog::warn("the backup is complete, but the relation catalog could not be captured: {} "
                 "(incidents will show relfilenodes instead of table names; retry with "
                 "'dbmedic catalog capture')",
                 e.what());
  } catch (const std::exception& e) {
    spdlog::warn("the backup is complete, but the relation catalog could not be captured: {} "
                 "(retry with 'dbmedic catalog capture')",
                 e.what());
  }
}

nlohmann::json WalSummaryJson(const backup::WalSummaryReport& r) {
  if (!r.attempted) return nullptr;
  return {{"used", r.used},
          {"fallback", r.fallback.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.fallback)},
          {"source", r.source},
          {"records", r.records},
          {"segments", r.segments},
          {"seconds", r.seconds},
          {"relation_files_summarised", r.files_summarised},
          {"relation_files_page_scanned", r.files_page_scanned},
          {"relation_files_copied_whole", r.files_copied_whole},
          {"pages_read", r.pages_read}};
}

// The WAL archive of the repository being backed up into, for the WAL summary of a diff / incr
// (backup.hpp: the backup module reads it only through pg::WalSource).
struct ArchiveForSummary {
  std::optional<repo::Repository> repository;
  std::optional<wal::WalArchive> archive;

  explicit ArchiveForSummary(const core::Config& config) {
    if (config.String("backup.type") == "full" || !config.Bool("backup.incremental_from_wal")) return;
    try {
      repository.emplace(repo::OpenRepository(config));
      archive.emplace(*repository, repository->info().codec);
    } catch (const Error& e) {
      // The backup opens the repository itself and reports what is wrong with it.
      spdlog::debug("no WAL archive for the WAL summary: {}", e.what());
      archive.reset();
    }
  }
  std::function<std::unique_ptr<pg::WalSource>(std::uint32_t)> Factory() {
    if (!archive) return {};
    return [this](std::uint32_t timeline) -> std::unique_ptr<pg::WalSource> {
      return std::make_unique<wal::ArchiveWalSource>(*archive, timeline);
    };
  }
};

// One backup into the repository of ctx.config(): printed, or returned as JSON.
nlohmann::json BackupOne(Context& ctx) {
  backup::BackupOptions options;
  ArchiveForSummary archive(ctx.config());
  options.archived_wal = archive.Factory();
  if (auto print = MakeProgressPrinter("backup"); print && !ctx.json()) {
    options.on_progress = [print](const backup::Progress& p) { print(p.bytes_done, p.bytes_total); };
  }
  // If the backup fails, the capture's result or error is dropped with the future (whose
  // destructor waits for it).
  std::future<forensics::CaptureResult> catalog = StartCatalogCapture(ctx.config());
  const backup::BackupResult result = backup::RunBackup(ctx.config(), options);
  const repo::Manifest& m = result.manifest;
  ReportCatalogCapture(catalog);
  const std::optional<repo::ExpirePlan> expired = ExpireAfterBackup(ctx);
  nlohmann::json expired_json = nullptr;
  if (expired) {
    expired_json = {{"backups", expired->expired_backups},
                    {"wal_files", expired->expired_wal.size()}};
  }
  if (ctx.json()) {
    return {{"label", m.label},
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
            {"wal_summary", WalSummaryJson(result.wal_summary)},
            {"removed_incomplete", result.removed_incomplete},
            {"expired", expired_json}};
  }
  for (const std::string& label : result.removed_incomplete) {
    fmt::print("removed interrupted backup {}\n", label);
  }
  fmt::print("backup {} ({}{}) done: {} files, {} -> {} in repository, LSN {} .. {}, {}\n",
             m.label, m.type, m.reference.empty() ? "" : " of " + m.reference, m.files.size(),
             HumanBytes(double(m.database_size)),
             HumanBytes(double(m.repository_size)), m.start_lsn, m.stop_lsn,
             HumanSeconds(m.duration_seconds));
  if (const backup::WalSummaryReport& w = result.wal_summary; w.attempted) {
    if (w.used) {
      fmt::print("relation files: {} read from the WAL summary ({} pages, {} records), {} read "
                 "page by page, {} copied whole\n",
                 w.files_summarised, w.pages_read, w.records, w.files_page_scanned,
                 w.files_copied_whole);
    } else {
      fmt::print("relation files: {} read page by page (no WAL summary: {})\n",
                 w.files_page_scanned, w.fallback);
    }
  }
  if (expired) {
    fmt::print("expired {} backups and {} WAL files (retention)\n", expired->expired_backups.size(),
               expired->expired_wal.size());
  }
  return nullptr;
}

// Each repository gets its own backup, one after the other: every backup is a complete one
// (its own pg_backup_start/stop, label and WAL), the cluster's disk is read by one backup at a
// time, and a repository that fails leaves the others' backups untouched. A failed one never
// has a manifest, so it is never listed as good (backup.hpp).
void Run(Context& ctx) {
  const std::vector<repo::RepositoryConfig> targets = TargetRepositories(ctx);
  if (targets.size() == 1) {
    const nlohmann::json j = BackupOne(ctx);
    if (ctx.json()) PrintJson(j);
    ctx.skip_teardown = true;
    return;
  }
  nlohmann::json all = nlohmann::json::array();
  std::optional<Error> error;
  std::vector<std::string> failed;
  std::vector<std::string> done;
  for (const repo::RepositoryConfig& target : targets) {
    const RepositoryScope scope(ctx, target.config, target.index);
    if (!ctx.json()) fmt::print("{}:\n", target.Describe());
    try {
      nlohmann::json j = BackupOne(ctx);
      done.push_back(fmt::format("repository {}", target.index));
      if (ctx.json()) all.push_back({{"repository", target.index}, {"ok", true}, {"backup", j}});
    } catch (const Error& e) {
      spdlog::error("backup into {} failed: {}", target.Describe(), e.what());
      all.push_back({{"repository", target.index}, {"ok", false}, {"error", e.what()}});
      failed.push_back(target.Describe());
      if (!error) error = e;
    }
  }
  if (ctx.json()) PrintJson({{"repositories", all}});
  ctx.skip_teardown = !error;
  if (!error) return;
  throw Error(error->code(),
              fmt::format("backup failed in {} ({}){}", fmt::join(failed, " and "), error->what(),
                          done.empty() ? std::string()
                                       : fmt::format("; {} succeeded", fmt::join(done, ", "))),
              "fix the repository named above and run 'dbmedic backup --repo N' for it" +
                  (error->hint().empty() ? "" : " (" + error->hint() + ")"));
}

void Setup(CLI::App& root, Context& ctx) {
  auto* cmd = root.add_subcommand(
      "backup",
      "Take an online backup of the cluster into the repository (pg_backup_start/stop, "
      "parallel chunked copy, page checksums checked, WAL from start to stop included, "
      "manifest written last): full, or --type diff / incr storing only the relation pages and "
      "files changed since the reference backup. With several repositories: one backup into "
      "each, one after the other (--repo N: that one only); exit non-zero naming any that failed.");
  AddRepositoryOptions(cmd, ctx, true);
  AddConfigOption(cmd, ctx, "backup.type");
  AddConfigOption(cmd, ctx, "backup.jobs");
  AddConfigOption(cmd, ctx, "backup.chunk_size");
  AddConfigOption(cmd, ctx, "backup.incremental_from_wal");
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
