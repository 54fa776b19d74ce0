#include "cli/command.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "repo/repository_set.hpp"

namespace dbmedic::cli {

namespace {

struct Registered {
  SetupFn setup;
  std::string_view command;  // empty: not named
};

std::vector<Registered>& Registry() {
  static std::vector<Registered> registered;
  return registered;
}

// The first argument that is not a global option: the command argv invokes. nullopt when an
// option it does not know comes first (it cannot tell whether that takes a value).
std::optional<std::string_view> InvokedCommand(int argc, const char* const* argv) {
  constexpr std::string_view kWithValue[] = {"-c", "--config", "-o", "--output", "--log-level"};
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!arg.starts_with('-')) return arg;
    const std::string_view name = arg.substr(0, arg.find('='));
    if (std::find(std::begin(kWithValue), std::end(kWithValue), name) == std::end(kWithValue)) {
      return std::nullopt;
    }
    if (name == arg) ++i;  // the value is the next argument
  }
  return std::nullopt;
}

}  // namespace

CommandRegistration::CommandRegistration(SetupFn fn, std::string_view command) {
  Registry().push_back({fn, command});
}

std::vector<SetupFn> SetupsFor(int argc, const char* const* argv) {
  std::vector<SetupFn> setups;
  if (const std::optional<std::string_view> command = InvokedCommand(argc, argv)) {
    for (const Registered& r : Registry()) {
      if (r.command == *command) setups.push_back(r.setup);
    }
    if (!setups.empty()) return setups;
  }
  for (const Registered& r : Registry()) setups.push_back(r.setup);
  return setups;
}

namespace {

// `--repo 2`: a number selects a configured repository; anything else is repository 1's path.
std::optional<int> TakeRepositoryIndex(std::map<std::string, std::string>& overrides) {
  const auto it = overrides.find("repository.path");
  if (it == overrides.end()) return std::nullopt;
  const std::string& text = it->second;
  if (text.empty() || text.size() > 3 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return std::nullopt;
  }
  const int index = std::stoi(text);
  overrides.erase(it);
  return index;
}

}  // namespace

const core::Config& Context::config() {
  Load();
  if (scoped_) return *scoped_;
  return selected_ ? *selected_ : *config_;
}

const core::Config& Context::base_config() {
  Load();
  return *config_;
}

std::optional<int> Context::repo_index() {
  Load();
  return repo_index_;
}

int Context::current_repository() {
  Load();
  if (scoped_) return scoped_index_;
  return repo_index_.value_or(1);
}

void Context::Load() {
  if (!config_) {
    repo_index_ = TakeRepositoryIndex(overrides);
    std::optional<std::filesystem::path> file;
    if (config_path) {
      file = *config_path;
    } else if (const char* env = std::getenv("DBMEDIC_CONFIG"); env && *env) {
      file = env;
    } else if (std::error_code ec; std::filesystem::exists(core::kDefaultConfigPath, ec)) {
      file = std::filesystem::path(core::kDefaultConfigPath);
    }
    config_ = core::Config::Load(file, overrides);
    core::SetupLogging(config_->String("log.level"));
    if (repo_index_) selected_ = repo::SelectRepository(*config_, *repo_index_).config;
  }
}

CLI::Option* AddConfigOption(CLI::App* cmd, Context& ctx, std::string_view key) {
  const core::OptionSpec* spec = core::FindOption(key);
  if (!spec) throw Error(ErrorCode::kInternal, fmt::format("no option '{}' in the table", key));
  if (spec->secret) {
    throw Error(ErrorCode::kInternal,
                fmt::format("secret option '{}' must not be a command-line flag", key));
  }
  std::string help = fmt::format("{} (config {}, env {}{})", spec->help, spec->key,
                                 core::EnvName(*spec),
                                 spec->default_value.empty()
                                     ? ""
                                     : fmt::format(", default {}", spec->default_value));
  std::string k(key);
  auto* opt = cmd->add_option_function<std::string>(
      core::FlagName(*spec), [&ctx, k](const std::string& v) { ctx.overrides[k] = v; }, help);
  if (spec->type == core::OptionType::kEnum) opt->type_name(std::string(spec->allowed));
  return opt;
}

void PrintJson(const nlohmann::json& value) { fmt::print("{}\n", value.dump(2)); }

void PrintTable(const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < width.size(); ++i) {
      const std::string& cell = i < row.size() ? row[i] : std::string();
      line += (i + 1 < width.size()) ? fmt::format("{:<{}}  ", cell, width[i]) : cell;
    }
    fmt::print("{}\n", line);
  };
  print_row(headers);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  print_row(rule);
  for (const auto& row : rows) print_row(row);
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", bytes, units[u]) : fmt::format("{:.1f} {}", bytes, units[u]);
}

std::string HumanSeconds(double seconds) {
  if (seconds < 1) return fmt::format("{:.0f} ms", seconds * 1000);
  if (seconds < 60) return fmt::format("{:.2f} s", seconds);
  auto s = static_cast<long>(seconds);
  if (s < 3600) return fmt::format("{} min {} s", s / 60, s % 60);
  return fmt::format("{} h {} min", s / 3600, (s % 3600) / 60);
}

}  // namespace dbmedic::cli
