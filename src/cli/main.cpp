// dbmedic's entry point: global options, the registered commands, and the one place where errors
// become messages and exit codes.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace {

using dbmedic::cli::Context;
using dbmedic::cli::OutputFormat;

void AddGlobalOptions(CLI::App& app, Context& ctx) {
  app.add_option_function<std::string>(
      "-c,--config", [&ctx](const std::string& v) { ctx.config_path = v; },
      "Config file (TOML); default $DBMEDIC_CONFIG, then /etc/dbmedic/dbmedic.toml if present");
  app.add_option_function<std::string>(
         "-o,--output",
         [&ctx](const std::string& v) {
           ctx.output = v == "json" ? OutputFormat::kJson : OutputFormat::kText;
         },
         "Output format: text (tables for humans) or json (for scripts)")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option_function<std::string>(
         "--log-level", [&ctx](const std::string& v) { ctx.overrides["log.level"] = v; },
         "Log level on stderr (config log.level, env DBMEDIC_LOG_LEVEL)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
}

int ReportError(const dbmedic::Error& e, const Context& ctx) {
  if (ctx.json()) {
    nlohmann::json j = {{"error",
                         {{"code", std::string(dbmedic::ErrorCodeName(e.code()))},
                          {"exit_code", e.exit_code()},
                          {"message", e.what()},
                          {"hint", e.hint()}}}};
    fmt::print("{}\n", j.dump(2));
  }
  fmt::print(stderr, "ERROR: {}\n", e.what());
  if (!e.hint().empty()) fmt::print(stderr, "HINT: {}\n", e.hint());
  return e.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "dbmedic keeps PostgreSQL data safe and healthy: backups, point-in-time recovery, WAL "
      "forensics, monitoring and troubleshooting in one tool.",
      "dbmedic"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", "dbmedic " DBMEDIC_VERSION);
  app.footer("Run 'dbmedic COMMAND --help' for a command's options. Start with: dbmedic demo");
  Context ctx;
  AddGlobalOptions(app, ctx);
  app.parse_complete_callback([&ctx] {
    const char* env = std::getenv("DBMEDIC_LOG_LEVEL");
    auto it = ctx.overrides.find("log.level");
    dbmedic::core::SetupLogging(it != ctx.overrides.end() ? it->second
                                : (env && *env)          ? env
                                                         : "info");
  });
  for (auto setup : dbmedic::cli::SetupsFor(argc, argv)) setup(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return static_cast<int>(dbmedic::ErrorCode::kUsage);
  } catch (const dbmedic::Error& e) {
    return ReportError(e, ctx);
  } catch (const std::exception& e) {
    return ReportError(dbmedic::Error(dbmedic::ErrorCode::kInternal,
                                      fmt::format("internal error: {}", e.what()),
                                      "this is a bug in dbmedic; please report it"),
                       ctx);
  }
  if (ctx.skip_teardown) {
    std::fflush(nullptr);  // stdout (--output json); spdlog's stderr sink flushes per message
    std::_Exit(ctx.exit_code);
  }
  return ctx.exit_code;
}
