// The CLI: main() builds one CLI11 app; each command file registers itself statically and adds
// its subcommand. Commands parse options, call a module, and render text or JSON. No logic here
// that a test would want to call: that belongs in the modules.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/config.hpp"

namespace dbmedic::cli {

enum class OutputFormat { kText, kJson };

// Per-process state shared by all commands, filled from the global options.
class Context {
 public:
  std::optional<std::string> config_path;                // --config
  OutputFormat output = OutputFormat::kText;              // --output text|json
  std::string log_level = "info";                         // --log-level
  std::map<std::string, std::string> overrides;           // config key -> value from flags
  int exit_code = 0;                                      // set by a command that fails softly
  // Set by the commands PostgreSQL runs once per WAL file (wal push / wal get), whose every
  // millisecond it waits for, and by a successful backup (whose manifests and libraries take
  // tens of ms to tear down): main() then ends the process without destroying the command tree
  // and static objects (frees and library clean-up that change nothing on disk).
  bool skip_teardown = false;

  // Loads the configuration once (option > env > file > default) and returns it: the one of the
  // repository chosen with --repo N, else the whole file (repository 1 in [repository]); inside
  // a RepositoryScope, that repository's.
  const core::Config& config();
  // The configuration as loaded, before --repo N picks a repository.
  const core::Config& base_config();
  // N of `--repo N` (a number given to --repo selects a configured repository instead of naming
  // repository 1's directory), nullopt when the command acts on every repository.
  std::optional<int> repo_index();
  // The repository ctx.config() describes now: the RepositoryScope's, else --repo N's, else 1.
  int current_repository();
  bool json() const { return output == OutputFormat::kJson; }

 private:
  friend class RepositoryScope;
  void Load();
  std::optional<core::Config> config_;    // as loaded
  std::optional<core::Config> selected_;  // --repo N
  std::optional<int> repo_index_;
  const core::Config* scoped_ = nullptr;  // RepositoryScope
  int scoped_index_ = 0;
};

// While alive, ctx.config() is `config` (one repository of several), so the single-repository
// code of a command runs unchanged for each repository in turn.
class RepositoryScope {
 public:
  RepositoryScope(Context& ctx, const core::Config& config, int index)
      : ctx_(ctx), saved_(ctx.scoped_), saved_index_(ctx.scoped_index_) {
    ctx_.scoped_ = &config;
    ctx_.scoped_index_ = index;
  }
  ~RepositoryScope() {
    ctx_.scoped_ = saved_;
    ctx_.scoped_index_ = saved_index_;
  }
  RepositoryScope(const RepositoryScope&) = delete;
  RepositoryScope& operator=(const RepositoryScope&) = delete;

 private:
  Context& ctx_;
  const core::Config* saved_;
  int saved_index_;
};

using SetupFn = void (*)(CLI::App& root, Context& ctx);

// Create one at namespace scope in each command file: `const CommandRegistration kReg{Setup};`
// A file whose Setup adds one top-level command and nothing else may name it (`{Setup, "wal"}`):
// when argv invokes that command, only its Setup runs. PostgreSQL starts `wal push` / `wal get`
// once per WAL file, and building every command's options costs each of them ~2 ms.
struct CommandRegistration {
  explicit CommandRegistration(SetupFn fn, std::string_view command = {});
};

// The setups main() runs for this argv: the named registration of the command argv invokes,
// else all of them (help, unnamed commands, global options it cannot skip).
std::vector<SetupFn> SetupsFor(int argc, const char* const* argv);

// Adds the flag of config key `key` (from the option table) to `cmd`; a value given on the
// command line lands in ctx.overrides[key]. Secret keys are refused here by design.
CLI::Option* AddConfigOption(CLI::App* cmd, Context& ctx, std::string_view key);

// Output helpers: text tables for humans, JSON for scripts (pretty, to stdout).
void PrintJson(const nlohmann::json& value);
void PrintTable(const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows);

// Human formatting of sizes ("1.2 GiB") and durations ("3.4 s", "2 min 5 s").
std::string HumanBytes(double bytes);
std::string HumanSeconds(double seconds);

}  // namespace dbmedic::cli
