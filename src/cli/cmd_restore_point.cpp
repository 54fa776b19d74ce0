// `dbmedic restore-point NAME`: a named point to recover to (restore --to-name NAME).
#include <fmt/format.h>

#include "cli/command.hpp"
#include "repo/cluster.hpp"
#include "wal/archive_catalog.hpp"
#include "wal/restore_point.hpp"

namespace dbmedic::cli {

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);

namespace {

void Run(Context& ctx, const std::string& name) {
  const core::Config& config = ctx.config();
  const repo::Repository repository = repo::OpenRepository(config);
  pg::Connection conn = repo::ConnectCluster(config);
  repository.CheckCluster(repo::ReadClusterIdentity(conn).system_identifier);
  const wal::RestorePoint p = wal::CreateRestorePoint(conn, repository, name);
  if (ctx.json()) {
    PrintJson({{"name", p.name}, {"lsn", p.lsn}, {"timeline", p.timeline},
               {"time", wal::FormatUnixMicros(p.unix_micros)}});
    return;
  }
  fmt::print("restore point '{}' at {} on timeline {} ({}); recover to it with: dbmedic restore "
             "--target-dir DIR --to-name {}\n",
             p.name, p.lsn, p.timeline, wal::FormatUnixMicros(p.unix_micros), p.name);
}

void Setup(CLI::App& root, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = root.add_subcommand(
      "restore-point",
      "Create a named restore point on the server (pg_create_restore_point), record it in the "
      "repository and switch the WAL segment so it is archived.");
  cmd->add_option("name", *name, "Name of the point (letters, digits, _ - .)")->required();
  AddRepositoryOptions(cmd, ctx, true);
  cmd->callback([&ctx, name] { Run(ctx, *name); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
