// `dbmedic check`: archiving works end to end, and how much WAL would be lost right now (RPO).
#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "repo/cluster.hpp"
#include "repo/repository_set.hpp"
#include "wal/archive.hpp"
#include "wal/archive_check.hpp"
#include "wal/push_spool.hpp"

namespace dbmedic::cli {

void RunOnEachRepository(Context& ctx, std::string_view id_key, std::string_view result_key,
                         bool headers, const std::function<nlohmann::json(int index)>& one);  // cmd_repo.cpp

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);

namespace {

nlohmann::json ToJson(const wal::CheckReport& r) {
  nlohmann::json missing = nlohmann::json::array();
  for (const wal::MissingRange& m : r.missing) {
    missing.push_back({{"timeline", m.timeline}, {"first", m.first}, {"last", m.last}});
  }
  return {{"ok", r.missing.empty()}, {"archive_mode", r.archive_mode},
          {"archive_command", r.archive_command}, {"current_lsn", r.current_lsn},
          {"timeline", r.timeline}, {"newest_archived", r.newest_archived.value_or("")},
          {"rpo_bytes", r.rpo_bytes}, {"rpo_seconds", r.rpo_seconds},
          {"switched_segment", r.switched_segment}, {"wait_seconds", r.wait_seconds},
          {"missing", missing}, {"last_failed_wal", r.last_failed_wal.value_or("")},
          {"streamed_lsn", r.streamed_lsn.value_or("")}, {"spool_files", r.spool_files},
          {"spool_bytes", r.spool_bytes}, {"spool_error", r.spool_error.value_or("")}};
}

// Checks the repository of ctx.config(); `spool_suffix` names its push spool (-repoN).
nlohmann::json CheckOne(Context& ctx, const std::string& spool_suffix) {
  const core::Config& config = ctx.config();
  const repo::Repository repository = repo::OpenRepository(config);
  pg::Connection conn = repo::ConnectCluster(config);
  repository.CheckCluster(repo::ReadClusterIdentity(conn).system_identifier);
  const wal::WalArchive archive(repository, repository.info().codec);
  wal::CheckOptions options;
  options.timeout = config.Duration("wal.check_timeout");
  options.stream_dir = config.Path("repository.path") / "stream";
  if (auto spool = config.Optional("wal.spool_path")) {
    options.push_spool = *spool;
  } else {
    options.push_spool = std::filesystem::path(conn.Scalar("SELECT current_setting('data_directory')")) /
                         "pg_wal" / wal::kPushSpoolDirName;
  }
  *options.push_spool += spool_suffix;
  const wal::CheckReport r = wal::RunCheck(conn, archive, options);
  // Missing WAL is a failure of the archive: loud, and a non-zero exit for scripts and monitors.
  if (!r.missing.empty()) ctx.exit_code = static_cast<int>(ErrorCode::kCorrupt);
  if (ctx.json()) return ToJson(r);
  fmt::print("archiving works: segment {} reached {} in {}\n", r.switched_segment,
             repository.storage().Describe(""), HumanSeconds(r.wait_seconds));
  fmt::print("RPO before the check: {} of WAL not archived ({} since the archive last caught "
             "up); server at {} on timeline {}, newest archived segment {}\n",
             HumanBytes(double(r.rpo_bytes)), HumanSeconds(r.rpo_seconds), r.current_lsn,
             r.timeline, r.newest_archived.value_or("none"));
  if (r.streamed_lsn) fmt::print("streamed into the repository up to {}\n", *r.streamed_lsn);
  if (r.spool_files > 0 || r.spool_error) {
    fmt::print("asynchronous push spool: {} files ({}) not yet in the repository{}\n",
               r.spool_files, HumanBytes(double(r.spool_bytes)),
               r.spool_error ? "; last failure: " + *r.spool_error : "");
  }
  for (const wal::MissingRange& m : r.missing) {
    fmt::print(stderr, "ERROR: WAL missing from the archive on timeline {}: {} .. {}; recovery "
               "cannot cross this gap\nHINT: take a new backup (dbmedic backup) so that later "
               "targets do not need it\n", m.timeline, m.first, m.last);
  }
  return nullptr;
}

// Every repository is checked (one segment switch each); one that fails does not hide the others.
void Run(Context& ctx) {
  RunOnEachRepository(ctx, "repository", "check", true, [&](int index) {
    return CheckOne(ctx, index == 1 ? "" : fmt::format("-repo{}", index));
  });
}

void Setup(CLI::App& root, Context& ctx) {
  auto* cmd = root.add_subcommand(
      "check",
      "Prove WAL archiving works (switch a segment, wait for it in the repository) and report "
      "the current RPO and any WAL missing from the archive (exit 5 when some is missing).");
  AddRepositoryOptions(cmd, ctx, true);
  AddConfigOption(cmd, ctx, "wal.check_timeout");
  AddConfigOption(cmd, ctx, "wal.spool_path");
  cmd->callback([&ctx] { Run(ctx); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
