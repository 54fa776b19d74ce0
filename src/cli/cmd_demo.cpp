// `dbmedic demo`: the story a new user runs first (see src/demo/demo.hpp).
#include <fmt/format.h>

#include "cli/command.hpp"
#include "demo/demo.hpp"
#include "sandbox/sandbox.hpp"

namespace dbmedic::cli {
namespace {

void Setup(CLI::App& root, Context& ctx) {
  auto options = std::make_shared<demo::DemoOptions>();
  auto dir = std::make_shared<std::string>("/tmp/dbmedic-demo");
  auto* cmd = root.add_subcommand(
      "demo", "The rescue story on a private sandbox: sample data, a full backup, verification, "
              "the loss of the data directory, the restore, and proof that the data is back");
  cmd->add_option("--dir", *dir, "Sandbox directory of the demo (recreated each run)")
      ->capture_default_str();
  cmd->add_option("--users", options->users, "Rows in the users table")->capture_default_str();
  cmd->add_option("--orders", options->orders, "Rows in the orders table")->capture_default_str();
  cmd->add_flag("--cleanup", options->cleanup, "Destroy the sandbox at the end");
  cmd->callback([&ctx, options, dir] {
    options->dir = *dir;
    options->self_binary = sandbox::SelfBinary();
    if (!ctx.json()) options->say = [](const std::string& line) {
        fmt::print("{}\n", line);
        std::fflush(stdout);
      };
    auto r = demo::RunDemo(*options);
    if (ctx.json()) {
      PrintJson({{"data_matches", r.data_matches},
                 {"backup_label", r.backup_label},
                 {"backup_seconds", r.backup_seconds},
                 {"restore_seconds", r.restore_seconds},
                 {"rto_seconds", r.rto_seconds},
                 {"database_bytes", r.database_bytes},
                 {"repository_bytes", r.repository_bytes}});
    } else {
      fmt::print("\nThe sandbox is still yours to explore ({}):\n"
                 "  dbmedic --config {}/dbmedic.toml info\n"
                 "  dbmedic sandbox psql --dir {}\n"
                 "  dbmedic sandbox destroy --dir {}\n",
                 options->cleanup ? "removed: --cleanup" : "running", *dir, *dir, *dir);
    }
    if (!r.data_matches) ctx.exit_code = 5;
  });
}

const CommandRegistration kRegistration{Setup};

}  // namespace
}  // namespace dbmedic::cli
