#include "core/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"

extern char** environ;

namespace dbmedic::core {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view TypeName(OptionType type) {
  switch (type) {
    case OptionType::kString: return "a string";
    case OptionType::kPath: return "a path";
    case OptionType::kInt: return "an integer";
    case OptionType::kBool: return "a boolean";
    case OptionType::kDouble: return "a number";
    case OptionType::kDuration: return "a duration such as \"30s\", \"5m\", \"1h\"";
    case OptionType::kSize: return "a size such as \"64MB\" or \"1GiB\"";
    case OptionType::kEnum: return "one of";
  }
  return "a value";
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<bool> ParseBool(std::string_view text) {
  std::string t = Lower(text);
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return std::nullopt;
}

bool InList(std::string_view allowed, std::string_view value) {
  size_t start = 0;
  while (start <= allowed.size()) {
    size_t bar = allowed.find('|', start);
    if (bar == std::string_view::npos) bar = allowed.size();
    if (allowed.substr(start, bar - start) == value) return true;
    start = bar + 1;
  }
  return false;
}

// Checks `text` against the spec; returns the canonical text or a reason why it is invalid.
std::optional<std::string> Invalid(const OptionSpec& spec, const std::string& text) {
  switch (spec.type) {
    case OptionType::kString:
    case OptionType::kPath:
      return std::nullopt;
    case OptionType::kInt: {
      auto v = ParseInt(text);
      if (!v) return fmt::format("'{}' is not an integer", text);
      if (!spec.allowed.empty()) {
        auto dots = spec.allowed.find("..");
        auto lo = ParseInt(spec.allowed.substr(0, dots));
        auto hi = ParseInt(spec.allowed.substr(dots + 2));
        if ((lo && *v < *lo) || (hi && *v > *hi)) {
          return fmt::format("{} is outside the allowed range {}", *v, spec.allowed);
        }
      }
      return std::nullopt;
    }
    case OptionType::kBool:
      if (!ParseBool(text)) return fmt::format("'{}' is not a boolean (true/false)", text);
      return std::nullopt;
    case OptionType::kDouble: {
      char* end = nullptr;
      std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0') return fmt::format("'{}' is not a number", text);
      return std::nullopt;
    }
    case OptionType::kDuration:
    case OptionType::kSize:
      try {
        spec.type == OptionType::kDuration ? (void)ParseDuration(text) : (void)ParseSize(text);
      } catch (const Error& e) {
        return std::string(e.what());
      }
      return std::nullopt;
    case OptionType::kEnum:
      if (!InList(spec.allowed, text)) {
        return fmt::format("'{}' is not one of {}", text, spec.allowed);
      }
      return std::nullopt;
  }
  return std::nullopt;
}

// Converts a TOML node to the text form of the spec's type, or says why it cannot.
std::optional<std::string> NodeText(const OptionSpec& spec, const toml::node& node) {
  if (auto s = node.as_string()) {
    if (spec.type == OptionType::kInt || spec.type == OptionType::kBool ||
        spec.type == OptionType::kDouble) {
      return std::nullopt;
    }
    return s->get();
  }
  if (auto i = node.as_integer()) {
    if (spec.type == OptionType::kInt || spec.type == OptionType::kDouble ||
        spec.type == OptionType::kSize) {
      return std::to_string(i->get());
    }
    if (spec.type == OptionType::kDuration) return fmt::format("{}s", i->get());
    return std::nullopt;
  }
  if (auto f = node.as_floating_point()) {
    if (spec.type == OptionType::kDouble) return fmt::format("{}", f->get());
    return std::nullopt;
  }
  if (auto b = node.as_boolean()) {
    if (spec.type == OptionType::kBool) return b->get() ? "true" : "false";
    return std::nullopt;
  }
  return std::nullopt;
}

std::string TypeDescription(const OptionSpec& spec) {
  if (spec.type == OptionType::kEnum) return fmt::format("one of {}", spec.allowed);
  return std::string(TypeName(spec.type));
}

std::map<std::string, std::string> ProcessEnv() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    if (!kv.starts_with("DBMEDIC_")) continue;
    auto eq = kv.find('=');
    if (eq != std::string_view::npos) env[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
  }
  return env;
}

bool IsStructured(std::string_view section) {
  auto s = StructuredSections();
  return std::find(s.begin(), s.end(), section) != s.end();
}

// Throws Error(kConfig) for an invalid option value, naming where it came from.
void CheckValue(const OptionSpec& spec, const std::string& text, const std::string& where) {
  if (auto why = Invalid(spec, text)) {
    throw Error(ErrorCode::kConfig, fmt::format("{}: '{}': {}", where, spec.key, *why));
  }
}

}  // namespace

// The validated value of `key` from a TOML node of `file` (relative paths: to `base`). `context`
// (e.g. "[[repositories]] entry 1: ") goes before the key in error messages.
Config::Value Config::FileValue(const std::string& key, const toml::node& node,
                                const std::filesystem::path& file,
                                const std::filesystem::path& base, std::string_view context) {
  const int key_line = static_cast<int>(node.source().begin.line);
  const OptionSpec* spec = FindOption(key);
  if (!spec) {
    throw Error(ErrorCode::kConfig,
                fmt::format("config file '{}' line {}: {}unknown key '{}'", file.string(),
                            key_line, context, key),
                "check the spelling; every key is listed in docs/configuration.md");
  }
  auto text = NodeText(*spec, node);
  if (!text) {
    throw Error(ErrorCode::kConfig,
                fmt::format("config file '{}' line {}: {}'{}' must be {}", file.string(), key_line,
                            context, key, TypeDescription(*spec)));
  }
  if (auto why = Invalid(*spec, *text)) {
    throw Error(ErrorCode::kConfig, fmt::format("config file '{}' line {}: {}'{}': {}",
                                                file.string(), key_line, context, key, *why));
  }
  if (spec->type == OptionType::kPath && !text->empty() &&
      std::filesystem::path(*text).is_relative()) {
    *text = (base / *text).lexically_normal().string();
  }
  return {*text, fmt::format("file {}:{}", file.string(), key_line)};
}

Config Config::Overlay(const toml::table& entry, std::span<const std::string_view> sections,
                       std::string_view context, std::string_view env_prefix,
                       bool keep_options) const {
  auto in_sections = [&](std::string_view key) {
    const std::string_view section = key.substr(0, key.find('.'));
    return std::find(sections.begin(), sections.end(), section) != sections.end();
  };
  Config out = *this;
  for (const auto& spec : OptionTable()) {
    if (!in_sections(spec.key)) continue;
    const Value* current = Find(spec.key);
    if (keep_options && current && current->source.starts_with("option ")) continue;
    out.values_.erase(std::string(spec.key));
    if (!spec.default_value.empty()) {
      out.values_[std::string(spec.key)] = {std::string(spec.default_value), "default"};
    }
  }
  const std::filesystem::path file = file_.value_or("(none)");
  const std::filesystem::path base = std::filesystem::absolute(file).parent_path();
  for (const auto& [section_key, section_node] : entry) {
    const std::string section(section_key.str());
    const toml::table* table = section_node.as_table();
    if (!table || !in_sections(section)) {
      throw Error(ErrorCode::kConfig,
                  fmt::format("config file '{}' line {}: {}unknown key '{}'", file.string(),
                              section_node.source().begin.line, context, section),
                  "an entry takes the keys of these sections, written as section.key: " +
                      fmt::format("{}", fmt::join(sections, ", ")));
    }
    for (const auto& [name, node] : *table) {
      const std::string key = fmt::format("{}.{}", section, name.str());
      const Value* current = Find(key);
      if (keep_options && current && current->source.starts_with("option ")) continue;
      out.values_[key] = FileValue(key, node, file, base, context);
    }
  }
  for (const auto& [name, text] : ProcessEnv()) {
    if (!name.starts_with(env_prefix) || env_prefix.empty()) continue;
    const std::string plain = "DBMEDIC_" + name.substr(env_prefix.size());
    for (const auto& spec : OptionTable()) {
      if (!in_sections(spec.key) || EnvName(spec) != plain) continue;
      const Value* current = Find(spec.key);
      if (keep_options && current && current->source.starts_with("option ")) continue;
      CheckValue(spec, text, "environment " + name);
      out.values_[std::string(spec.key)] = {text, "environment " + name};
    }
  }
  return out;
}

const OptionSpec* FindOption(std::string_view key) {
  for (const auto& spec : OptionTable()) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

std::string EnvName(const OptionSpec& spec) {
  std::string out = "DBMEDIC_";
  for (char c : spec.key) {
    out += (c == '.') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string FlagName(const OptionSpec& spec) {
  if (!spec.flag.empty()) return std::string(spec.flag);
  std::string out = "--";
  for (char c : spec.key) out += (c == '.' || c == '_') ? '-' : c;
  return out;
}

std::chrono::milliseconds ParseDuration(std::string_view text) {
  auto fail = [&] {
    return Error(ErrorCode::kConfig, fmt::format("'{}' is not a duration", text),
                 "write a number with a unit: 250ms, 30s, 5m, 2h, 7d");
  };
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  if (i == 0) throw fail();
  double number = std::strtod(std::string(text.substr(0, i)).c_str(), nullptr);
  std::string unit = Lower(text.substr(i));
  double ms_per = 0;
  if (unit == "ms") ms_per = 1;
  else if (unit == "s" || unit.empty()) ms_per = 1000;
  else if (unit == "m" || unit == "min") ms_per = 60e3;
  else if (unit == "h") ms_per = 3600e3;
  else if (unit == "d") ms_per = 86400e3;
  else throw fail();
  return std::chrono::milliseconds(static_cast<std::int64_t>(number * ms_per));
}

std::uint64_t ParseSize(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  if (i == 0) {
    throw Error(ErrorCode::kConfig, fmt::format("'{}' is not a size", text),
                "write a number with an optional unit: 4096, 64kB, 16MB, 1GiB");
  }
  double number = std::strtod(std::string(text.substr(0, i)).c_str(), nullptr);
  std::string unit = Lower(text.substr(i));
  double mult = 0;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "kb" || unit == "kib" || unit == "k") mult = 1024.0;
  else if (unit == "mb" || unit == "mib" || unit == "m") mult = 1024.0 * 1024;
  else if (unit == "gb" || unit == "gib" || unit == "g") mult = 1024.0 * 1024 * 1024;
  else if (unit == "tb" || unit == "tib" || unit == "t") mult = 1024.0 * 1024 * 1024 * 1024;
  else {
    throw Error(ErrorCode::kConfig, fmt::format("'{}' has an unknown size unit", text),
                "use B, kB, MB, GB or TB (powers of 1024)");
  }
  return static_cast<std::uint64_t>(number * mult);
}

Config Config::Load(const std::optional<std::filesystem::path>& file,
                    const std::map<std::string, std::string>& overrides) {
  return Load(file, overrides, ProcessEnv());
}

Config Config::Load(const std::optional<std::filesystem::path>& file,
                    const std::map<std::string, std::string>& overrides,
                    const std::map<std::string, std::string>& env) {
  Config config;
  config.file_ = file;
  for (const auto& spec : OptionTable()) {
    if (!spec.default_value.empty()) {
      config.values_[std::string(spec.key)] = {std::string(spec.default_value), "default"};
    }
  }
  if (file) {
    std::error_code ec;
    if (!std::filesystem::exists(*file, ec)) {
      throw Error(ErrorCode::kConfig, fmt::format("config file '{}' does not exist", file->string()),
                  "create it, or pass the right path with --config");
    }
    try {
      config.raw_ = toml::parse_file(file->string());
    } catch (const toml::parse_error& e) {
      throw Error(ErrorCode::kConfig,
                  fmt::format("config file '{}' line {}: {}", file->string(),
                              e.source().begin.line, e.description()));
    }
    auto base = std::filesystem::absolute(*file).parent_path();
    for (const auto& [section_key, section_node] : config.raw_) {
      std::string section(section_key.str());
      int line = static_cast<int>(section_node.source().begin.line);
      if (IsStructured(section)) continue;
      auto* table = section_node.as_table();
      if (!table) {
        throw Error(ErrorCode::kConfig,
                    fmt::format("config file '{}' line {}: unknown key '{}'", file->string(), line,
                                section),
                    "keys belong in sections such as [cluster] or [repository]; see "
                    "docs/configuration.md");
      }
      for (const auto& [name, node] : *table) {
        std::string key = fmt::format("{}.{}", section, name.str());
        config.values_[key] = FileValue(key, node, *file, base, "");
      }
    }
  }
  auto apply = [&](const OptionSpec& spec, const std::string& text, const std::string& where) {
    if (auto why = Invalid(spec, text)) {
      throw Error(ErrorCode::kConfig, fmt::format("{}: '{}': {}", where, spec.key, *why));
    }
    std::string value = text;
    if (spec.type == OptionType::kPath && !value.empty()) {
      value = std::filesystem::absolute(value).lexically_normal().string();
    }
    config.values_[std::string(spec.key)] = {value, where};
  };
  for (const auto& spec : OptionTable()) {
    auto it = env.find(EnvName(spec));
    if (it != env.end()) apply(spec, it->second, "environment " + EnvName(spec));
  }
  for (const auto& [key, text] : overrides) {
    const OptionSpec* spec = FindOption(key);
    if (!spec) throw Error(ErrorCode::kInternal, fmt::format("unknown option key '{}'", key));
    apply(*spec, text, "option " + FlagName(*spec));
  }
  return config;
}

const Config::Value* Config::Find(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

const Config::Value& Config::Require(std::string_view key) const {
  const Value* v = Find(key);
  if (v && !v->text.empty()) return *v;
  const OptionSpec* spec = FindOption(key);
  if (!spec) throw Error(ErrorCode::kInternal, fmt::format("unknown option key '{}'", key));
  auto dot = key.find('.');
  throw Error(ErrorCode::kConfig, fmt::format("missing required value '{}'", key),
              fmt::format("set {} in the [{}] section of the config file, pass {}, or set {}",
                          key.substr(dot + 1), key.substr(0, dot), FlagName(*spec),
                          EnvName(*spec)));
}

bool Config::Has(std::string_view key) const {
  const Value* v = Find(key);
  return v && !v->text.empty();
}

std::string Config::String(std::string_view key) const { return Require(key).text; }
std::filesystem::path Config::Path(std::string_view key) const { return Require(key).text; }

std::int64_t Config::Int(std::string_view key) const {
  return ParseInt(Require(key).text).value_or(0);
}

bool Config::Bool(std::string_view key) const { return ParseBool(Require(key).text).value_or(false); }

double Config::Double(std::string_view key) const {
  return std::strtod(Require(key).text.c_str(), nullptr);
}

std::chrono::milliseconds Config::Duration(std::string_view key) const {
  return ParseDuration(Require(key).text);
}

std::uint64_t Config::Size(std::string_view key) const { return ParseSize(Require(key).text); }

std::optional<std::string> Config::Optional(std::string_view key) const {
  const Value* v = Find(key);
  if (!v || v->text.empty()) return std::nullopt;
  return v->text;
}

std::string Config::Source(std::string_view key) const {
  const Value* v = Find(key);
  return v ? v->source : "unset";
}

}  // namespace dbmedic::core
