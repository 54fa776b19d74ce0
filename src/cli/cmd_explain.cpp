// `dbmedic explain QUERYID|SQL`: EXPLAIN (BUFFERS) run safely and the usual suspects pointed out.
#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "diagnose/explain.hpp"
#include "diagnose/session.hpp"

namespace dbmedic::cli {
namespace {

struct ExplainArgs {
  std::string target;
  bool analyze = false;
  bool allow_writes = false;
};

void Run(Context& ctx, const ExplainArgs& args) {
  if (args.allow_writes && !args.analyze) {
    // Plain EXPLAIN never runs the statement: accepting the flag would suggest it did.
    throw Error(ErrorCode::kUsage, "--allow-writes needs --analyze",
                "without --analyze the statement is only planned, never run, so there is nothing "
                "to allow; add --analyze to run it in a transaction that is rolled back");
  }
  const core::Config& config = ctx.config();
  auto timeout = config.Duration("diagnose.statement_timeout");
  pg::Connection conn =
      diagnose::OpenDiagnoseSession(diagnose::ConnInfoFromConfig(config), timeout);
  diagnose::ExplainOptions options{args.analyze, args.allow_writes, timeout};
  diagnose::ExplainResult result = diagnose::RunExplain(conn, args.target, options);
  if (ctx.json()) {
    PrintJson(diagnose::ExplainResultToJson(result));
    return;
  }
  if (result.queryid) fmt::print("queryid {}: {}\n", *result.queryid, result.sql);
  if (result.generic) {
    fmt::print("(generic plan: the statement has parameters; PostgreSQL 15 shows the plan for "
               "unknown values)\n");
  }
  fmt::print("\n{}\n", diagnose::PlanToText(result.plan));
  if (result.findings.empty()) {
    fmt::print("No usual suspect found in this plan.\n");
    return;
  }
  fmt::print("Findings\n");
  for (const auto& f : result.findings) {
    fmt::print("- [{}] {}: {}\n    -> {}\n", diagnose::FindingKindName(f.kind), f.node, f.message,
               f.suggestion);
  }
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<ExplainArgs>();
  auto* cmd = root.add_subcommand(
      "explain",
      "EXPLAIN (BUFFERS) a statement safely (read-only transaction, rolled back, with "
      "statement_timeout and lock_timeout) and point out sequential scans under selective "
      "filters, row estimates off by more than 10x, sorts and hashes spilling to disk, nested "
      "loops over many rows, with the index that would help.");
  cmd->add_option("target", args->target, "A pg_stat_statements queryid, or the SQL text")
      ->required();
  cmd->add_flag("--analyze", args->analyze, "EXPLAIN ANALYZE: run the statement");
  cmd->add_flag("--allow-writes", args->allow_writes,
                "With --analyze: allow a statement that writes (in a transaction that is rolled "
                "back)");
  for (const char* key : {"cluster.host", "cluster.port", "cluster.user", "cluster.dbname",
                          "diagnose.statement_timeout"}) {
    AddConfigOption(cmd, ctx, key);
  }
  cmd->callback([&ctx, args] { Run(ctx, *args); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
