// `dbmedic locks`: the blocking tree now — waiting sessions, what they wait for and since when,
// the root blockers with their state and the command that would cancel or terminate them.
#include <fmt/format.h>

#include "cli/command.hpp"
#include "diagnose/blocking_tree.hpp"
#include "diagnose/session.hpp"

namespace dbmedic::cli {
namespace {

void Run(Context& ctx) {
  const core::Config& config = ctx.config();
  pg::Connection conn = diagnose::OpenDiagnoseSession(
      diagnose::ConnInfoFromConfig(config), config.Duration("diagnose.statement_timeout"));
  diagnose::BlockingTree tree = diagnose::ReadBlockingTree(conn);
  if (ctx.json()) {
    PrintJson(diagnose::BlockingTreeToJson(tree));
    return;
  }
  fmt::print("{}", diagnose::BlockingTreeToText(tree));
}

void Setup(CLI::App& root, Context& ctx) {
  auto* cmd = root.add_subcommand(
      "locks",
      "Show the lock blocking tree now: each waiting session, the lock it waits for and for how "
      "long, its query; the root blockers with their state and the pg_cancel_backend / "
      "pg_terminate_backend command that would free the others.");
  for (const char* key : {"cluster.host", "cluster.port", "cluster.user", "cluster.dbname",
                          "diagnose.statement_timeout"}) {
    AddConfigOption(cmd, ctx, key);
  }
  cmd->callback([&ctx] { Run(ctx); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
