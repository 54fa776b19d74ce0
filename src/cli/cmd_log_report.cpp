// `dbmedic log-report FILE...`: slow statements, plans, lock waits, deadlocks, temp files,
// checkpoints and errors from server logs (stderr or csvlog; plain, gzip or zstd).
#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "diagnose/log_report.hpp"

namespace dbmedic::cli {
namespace {

struct LogReportArgs {
  std::vector<std::string> files;
  std::string html;
  std::size_t top = 20;
};

void Run(Context& ctx, const LogReportArgs& args) {
  const core::Config& config = ctx.config();
  diagnose::LogReportOptions options;
  options.log_line_prefix = config.Optional("diagnose.log_line_prefix");
  if (options.log_line_prefix && options.log_line_prefix->empty()) options.log_line_prefix.reset();
  options.jobs = static_cast<int>(config.Int("diagnose.jobs"));
  std::vector<std::filesystem::path> files(args.files.begin(), args.files.end());
  diagnose::LogReport report = diagnose::AnalyzeLogs(files, options);
  if (!args.html.empty()) {
    core::AtomicWriteFile(args.html, diagnose::LogReportToHtml(report, args.top));
  }
  if (ctx.json()) {
    PrintJson(diagnose::LogReportToJson(report, args.top));
    return;
  }
  fmt::print("{}", diagnose::LogReportToText(report, args.top));
  if (!args.html.empty()) fmt::print("\nHTML report written to {}\n", args.html);
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<LogReportArgs>();
  auto* cmd = root.add_subcommand(
      "log-report",
      "Analyse PostgreSQL server logs: slow statements (fingerprinted, with p50/p95/p99), "
      "auto_explain plans, lock waits, deadlocks, lock timeouts, temp files, checkpoints, "
      "errors. Reads stderr-format logs (log_line_prefix detected or given) and csvlog, plain, "
      "gzip or zstd.");
  cmd->add_option("files", args->files, "Log files")->required();
  cmd->add_option("--html", args->html, "Also write a self-contained HTML report to this file");
  cmd->add_option("--top", args->top, "Rows per list (default 20)")->check(CLI::Range(1, 100000));
  AddConfigOption(cmd, ctx, "diagnose.log_line_prefix");
  AddConfigOption(cmd, ctx, "diagnose.jobs");
  cmd->callback([&ctx, args] { Run(ctx, *args); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
