// Configuration: one TOML file, every key also settable by a DBMEDIC_* environment variable and by
// a command-line option. Precedence: option > environment > file > default. Parsed once into an
// immutable Config that is passed down; nothing reads configuration from a global.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <toml++/toml.h>

namespace dbmedic::core {

enum class OptionType { kString, kPath, kInt, kBool, kDouble, kDuration, kSize, kEnum };

// One row of the option table (options.cpp). Everything else (CLI flags, env names, --help,
// docs/configuration.md) derives from it.
struct OptionSpec {
  std::string_view key;            // "section.name", e.g. "repository.path"
  OptionType type;
  std::string_view default_value;  // empty: no default
  std::string_view help;
  std::string_view allowed = {};   // kEnum: "zstd|lz4|none"; kInt: "1..22" (inclusive range)
  bool secret = false;             // refused on the command line, redacted in output
  std::string_view flag = {};      // CLI flag; empty: derived ("--repository-path")
};

// The one option table, in the order of docs/configuration.md.
std::span<const OptionSpec> OptionTable();
const OptionSpec* FindOption(std::string_view key);
std::string EnvName(const OptionSpec& spec);   // DBMEDIC_REPOSITORY_PATH
std::string FlagName(const OptionSpec& spec);  // --repository-path unless spec.flag is set

// Sections whose structure the owning module validates itself (arrays of tables such as alert
// rules). Their keys are not in the flat table; Config::Raw() hands them over.
std::span<const std::string_view> StructuredSections();

// Default config file location when --config is not given (used only if it exists).
inline constexpr std::string_view kDefaultConfigPath = "/etc/dbmedic/dbmedic.toml";

class Config {
 public:
  // Reads `file` (if given; a missing file named explicitly is an error), applies env and
  // `overrides` (key -> value from command-line options). Throws Error(kConfig) naming the key,
  // the file and the line for unknown keys, wrong types and invalid values.
  static Config Load(const std::optional<std::filesystem::path>& file,
                     const std::map<std::string, std::string>& overrides,
                     const std::map<std::string, std::string>& env);
  // Same, with the process environment.
  static Config Load(const std::optional<std::filesystem::path>& file,
                     const std::map<std::string, std::string>& overrides = {});

  bool Has(std::string_view key) const;
  // Typed getters. Throw Error(kConfig) "missing required value 'KEY'" with a hint naming the
  // file key, the flag and the env variable, when the key has no value from any source.
  std::string String(std::string_view key) const;
  std::filesystem::path Path(std::string_view key) const;  // relative paths: to the file's dir
  std::int64_t Int(std::string_view key) const;
  bool Bool(std::string_view key) const;
  double Double(std::string_view key) const;
  std::chrono::milliseconds Duration(std::string_view key) const;  // "30s", "5m", "1h", "250ms"
  std::uint64_t Size(std::string_view key) const;                  // "64MB", "1GiB", "4096"
  std::optional<std::string> Optional(std::string_view key) const;

  // Where the value came from: "option --x", "environment DBMEDIC_X", "file F:LINE", "default".
  std::string Source(std::string_view key) const;

  // A copy for another instance of some sections (a second repository: repository.*, s3.*,
  // retention.*): every key of `sections` starts from its default, then takes the value from
  // `entry` (a TOML table of the same dotted keys as the file, validated the same way; `context`
  // names the entry in errors), then from environment variables `env_prefix` + the key's env name
  // without "DBMEDIC_" (e.g. DBMEDIC_REPO2_REPOSITORY_PASSPHRASE). With `keep_options`, values
  // given on the command line stay (they describe the instance the command was pointed at).
  Config Overlay(const toml::table& entry, std::span<const std::string_view> sections,
                 std::string_view context, std::string_view env_prefix, bool keep_options) const;

  // The parsed file (empty table when there is none), for StructuredSections().
  const toml::table& Raw() const { return raw_; }
  const std::optional<std::filesystem::path>& file() const { return file_; }

 private:
  struct Value {
    std::string text;
    std::string source;
  };
  static Value FileValue(const std::string& key, const toml::node& node,
                         const std::filesystem::path& file, const std::filesystem::path& base,
                         std::string_view context);
  const Value* Find(std::string_view key) const;
  const Value& Require(std::string_view key) const;

  std::map<std::string, Value, std::less<>> values_;
  toml::table raw_;
  std::optional<std::filesystem::path> file_;
};

// Parsers shared with the CLI; throw Error(kConfig) on bad text.
std::chrono::milliseconds ParseDuration(std::string_view text);
std::uint64_t ParseSize(std::string_view text);

}  // namespace dbmedic::core
