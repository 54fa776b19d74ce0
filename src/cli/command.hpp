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

  // Loads the configuration once (option > env > file > default) and returns it.
  const core::Config& config();
  bool json() const { return output == OutputFormat::kJson; }

 private:
  std::optional<core::Config> config_;
};

using SetupFn = void (*)(CLI::App& root, Context& ctx);

// Create one at namespace scope in each command file: `const CommandRegistration kReg{Setup};`
struct CommandRegistration {
  explicit CommandRegistration(SetupFn fn);
};

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
