#include "monitor/toml_section.hpp"

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/error.hpp"

namespace dbmedic::monitor {

SectionReader::SectionReader(const toml::table& table, std::string_view section,
                             std::size_t index, std::string file)
    : table_(table), section_(section), index_(index), file_(std::move(file)) {}

std::string SectionReader::Where() const {
  std::string where = fmt::format("[[{}]] #{}", section_, index_);
  if (!display_name_.empty()) where += fmt::format(" ('{}')", display_name_);
  return where;
}

void SectionReader::Fail(std::string_view key, std::string_view why) const {
  std::string location = file_.empty() ? "the config file" : "'" + file_ + "'";
  auto node = table_.get(key);
  if (node && node->source().begin.line > 0) {
    location += fmt::format(" line {}", node->source().begin.line);
  }
  throw Error(ErrorCode::kConfig, fmt::format("{}: key '{}' {}", Where(), key, why),
              fmt::format("fix the [[{}]] section in {} (see docs/monitoring.md)", section_,
                          location));
}

void SectionReader::RejectUnknown(const std::set<std::string, std::less<>>& known) const {
  for (const auto& [key, node] : table_) {
    if (!known.contains(key.str())) {
      Fail(key.str(), fmt::format("is not known; known keys: {}", fmt::join(known, ", ")));
    }
  }
}

std::optional<std::string> SectionReader::String(std::string_view key) const {
  auto node = table_.get(key);
  if (!node) return std::nullopt;
  if (auto s = node->as_string()) return s->get();
  Fail(key, "must be a string");
}

std::string SectionReader::RequireString(std::string_view key) const {
  auto value = String(key);
  if (!value || value->empty()) Fail(key, "is required");
  return *value;
}

std::optional<double> SectionReader::Number(std::string_view key) const {
  auto node = table_.get(key);
  if (!node) return std::nullopt;
  if (auto i = node->as_integer()) return static_cast<double>(i->get());
  if (auto f = node->as_floating_point()) return f->get();
  Fail(key, "must be a number");
}

std::optional<std::int64_t> SectionReader::Integer(std::string_view key) const {
  auto node = table_.get(key);
  if (!node) return std::nullopt;
  if (auto i = node->as_integer()) return i->get();
  Fail(key, "must be an integer");
}

std::optional<bool> SectionReader::Bool(std::string_view key) const {
  auto node = table_.get(key);
  if (!node) return std::nullopt;
  if (auto b = node->as_boolean()) return b->get();
  Fail(key, "must be true or false");
}

std::optional<std::chrono::milliseconds> SectionReader::Duration(std::string_view key) const {
  auto node = table_.get(key);
  if (!node) return std::nullopt;
  if (auto i = node->as_integer()) return std::chrono::seconds(i->get());
  if (auto s = node->as_string()) {
    try {
      return core::ParseDuration(s->get());
    } catch (const Error&) {
      Fail(key, fmt::format("must be a duration like 30s, 5m or 2h; got '{}'", s->get()));
    }
  }
  Fail(key, "must be a duration like 30s, 5m or 2h");
}

std::optional<std::vector<std::string>> SectionReader::StringArray(std::string_view key) const {
  auto node = table_.get(key);
  if (!node) return std::nullopt;
  auto array = node->as_array();
  if (!array) Fail(key, "must be an array of strings");
  std::vector<std::string> out;
  for (const auto& item : *array) {
    auto s = item.as_string();
    if (!s) Fail(key, "must be an array of strings");
    out.push_back(s->get());
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> SectionReader::StringTable(
    std::string_view key) const {
  auto node = table_.get(key);
  if (!node) return std::nullopt;
  auto table = node->as_table();
  if (!table) Fail(key, "must be a table of strings, e.g. { target = \"main\" }");
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : *table) {
    auto s = v.as_string();
    if (!s) Fail(key, fmt::format("value of '{}' must be a string", k.str()));
    out.emplace_back(std::string(k.str()), s->get());
  }
  return out;
}

std::vector<const toml::table*> SectionTables(const toml::table& root, std::string_view name) {
  std::vector<const toml::table*> out;
  auto node = root.get(name);
  if (!node) return out;
  auto array = node->as_array();
  if (!array) {
    throw Error(ErrorCode::kConfig,
                fmt::format("config section '{}' must be an array of tables", name),
                fmt::format("write each entry as [[{}]]", name));
  }
  for (const auto& item : *array) {
    auto table = item.as_table();
    if (!table) {
      throw Error(ErrorCode::kConfig,
                  fmt::format("config section '{}' must be an array of tables", name),
                  fmt::format("write each entry as [[{}]]", name));
    }
    out.push_back(table);
  }
  return out;
}

}  // namespace dbmedic::monitor
