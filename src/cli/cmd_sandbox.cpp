// `dbmedic sandbox up|down|status|destroy|connstr|psql`: the private cluster + repository.
#include <unistd.h>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "sandbox/sandbox.hpp"

namespace dbmedic::cli {
namespace {

struct SandboxArgs {
  std::string dir;
  std::vector<std::string> psql_args;
};

void Render(const sandbox::SandboxStatus& s, Context& ctx) {
  if (ctx.json()) {
    PrintJson({{"dir", s.dir.string()},
               {"config_file", s.config_file.string()},
               {"created", s.created},
               {"running", s.running},
               {"port", s.port},
               {"data_dir", s.data_dir.string()},
               {"repository", s.repository.string()},
               {"conninfo", s.conninfo},
               {"os_user", s.os_user}});
    return;
  }
  if (!s.created) {
    fmt::print("no sandbox in {}\ncreate one with: dbmedic sandbox up --dir {}\n", s.dir.string(),
               s.dir.string());
    return;
  }
  PrintTable({"", ""}, {{"directory", s.dir.string()},
                        {"cluster", s.running ? "running" : "stopped"},
                        {"port", std::to_string(s.port)},
                        {"data directory", s.data_dir.string()},
                        {"repository", s.repository.string()},
                        {"config", s.config_file.string()},
                        {"connect", "psql \"" + s.conninfo + "\""}});
  fmt::print("\nUse it with any command: dbmedic --config {} COMMAND\n", s.config_file.string());
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<SandboxArgs>();
  auto* cmd = root.add_subcommand(
      "sandbox", "A private PostgreSQL 15 cluster and repository under one directory, to try "
                 "every dbmedic command without touching a production server");
  cmd->require_subcommand(1);
  cmd->add_option("--dir", args->dir,
                  "Sandbox directory (default: /var/lib/dbmedic/sandbox as root, else "
                  "~/.local/share/dbmedic/sandbox)");
  auto dir = [args] {
    return args->dir.empty() ? sandbox::DefaultSandboxDir() : std::filesystem::path(args->dir);
  };
  cmd->add_subcommand("up", "Create (the first time) and start the sandbox")
      ->callback([&ctx, dir] {
        sandbox::Sandbox box(dir());
        Render(box.Up(sandbox::SelfBinary()), ctx);
      });
  cmd->add_subcommand("down", "Stop the sandbox cluster (keeps its data)")
      ->callback([dir] { sandbox::Sandbox(dir()).Down(); });
  cmd->add_subcommand("status", "Show whether the sandbox exists and runs, and how to reach it")
      ->callback([&ctx, dir] { Render(sandbox::Sandbox(dir()).Status(), ctx); });
  cmd->add_subcommand("destroy", "Stop the sandbox and remove its directory")
      ->callback([dir] { sandbox::Sandbox(dir()).Destroy(); });
  cmd->add_subcommand("connstr", "Print the libpq connection string of the sandbox cluster")
      ->callback([dir] {
        auto s = sandbox::Sandbox(dir()).Status();
        if (!s.created) {
          throw Error(ErrorCode::kNotFound, fmt::format("no sandbox in '{}'", s.dir.string()),
                      "create one with: dbmedic sandbox up");
        }
        fmt::print("{}\n", s.conninfo);
      });
  auto* psql = cmd->add_subcommand("psql", "Open psql on the sandbox cluster (args after --)");
  psql->add_option("args", args->psql_args, "Arguments passed to psql");
  psql->callback([dir, args] {
    auto s = sandbox::Sandbox(dir()).Status();
    if (!s.running) {
      throw Error(ErrorCode::kPostgres, "the sandbox cluster is not running",
                  "start it with: dbmedic sandbox up");
    }
    std::vector<std::string> argv = {"psql", s.conninfo};
    argv.insert(argv.end(), args->psql_args.begin(), args->psql_args.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    ::execvp("psql", raw.data());
    throw Error(ErrorCode::kNotFound, "psql not found", "install postgresql-client-15");
  });
}

const CommandRegistration kRegistration{Setup};

}  // namespace
}  // namespace dbmedic::cli
