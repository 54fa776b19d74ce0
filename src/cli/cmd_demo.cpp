// `dbmedic demo`: the story a new user runs first (see src/demo/demo.hpp).
#include <fmt/format.h>

#include "cli/command.hpp"
#include "demo/demo.hpp"
#include "sandbox/sandbox.hpp"

namespace dbmedic::cli {

restore::ArchiveView LoadArchiveView(const repo::Repository& repository);

namespace {

void Setup(CLI::App& root, Context& ctx) {
  auto options = std::make_shared<demo::DemoOptions>();
  auto dir = std::make_shared<std::string>("/tmp/dbmedic-demo");
  auto* cmd = root.add_subcommand(
      "demo", "The rescue story on a private sandbox: sample data, a full backup, an application "
              "writing, an accidental DROP TABLE users at a random moment, dbmedic incidents "
              "finding it in the WAL archive, a whole-cluster restore to just before it (which "
              "loses the orders written after the drop), then dbmedic undo bringing users back "
              "into the live cluster with those orders kept, each checked row by row");
  cmd->add_option("--dir", *dir, "Sandbox directory of the demo (recreated each run)")
      ->capture_default_str();
  cmd->add_option("--users", options->users, "Rows in the users table")->capture_default_str();
  cmd->add_option("--orders", options->orders, "Rows in the orders table")->capture_default_str();
  cmd->add_flag("--cleanup", options->cleanup, "Destroy the sandbox at the end");
  cmd->callback([&ctx, options, dir] {
    options->dir = *dir;
    options->self_binary = sandbox::SelfBinary();
    options->load_archive = LoadArchiveView;
    if (!ctx.json()) options->say = [](const std::string& line) {
        fmt::print("{}\n", line);
        std::fflush(stdout);
      };
    auto r = demo::RunDemo(*options);
    if (ctx.json()) {
      PrintJson({{"data_matches", r.data_matches},
                 {"incident_found", r.incident_found},
                 {"incident_xid", r.incident_xid},
                 {"users_restored", r.users_restored},
                 {"users_missing", r.users_missing},
                 {"orders_before_missing", r.orders_before_missing},
                 {"orders_after_discarded", r.orders_after_discarded},
                 {"backup_label", r.backup_label},
                 {"backup_seconds", r.backup_seconds},
                 {"restore_seconds", r.restore_seconds},
                 {"rto_seconds", r.rto_seconds},
                 {"database_bytes", r.database_bytes},
                 {"repository_bytes", r.repository_bytes},
                 {"conninfo", r.conninfo},
                 {"undo",
                  {{"rows_brought_back", r.undo.rows_brought_back},
                   {"users_acknowledged", r.undo.users_acknowledged},
                   {"users_missing", r.undo.users_missing},
                   {"orders_before_missing", r.undo.orders_before_missing},
                   {"orders_after_drop", r.undo.orders_after_drop.size()},
                   {"orders_after_drop_present", r.undo.orders_after_drop_present},
                   {"orders_after_drop_ids", r.undo.orders_after_drop},
                   {"foreign_keys_restored", r.undo.foreign_keys_restored},
                   {"seconds", r.undo.seconds}}}});
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
