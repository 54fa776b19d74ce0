// Reading one table of a structured config section ([[alert]], [[notifier]],
// [[monitor_target]]) with errors that name the section, its number and the key.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

namespace dbmedic::monitor {

class SectionReader {
 public:
  // `section` is the array name ("alert"), `index` the 1-based position in the file.
  SectionReader(const toml::table& table, std::string_view section, std::size_t index,
                std::string file);

  // Throws Error(kConfig) for keys that are not in `known`.
  void RejectUnknown(const std::set<std::string, std::less<>>& known) const;

  std::optional<std::string> String(std::string_view key) const;
  std::string RequireString(std::string_view key) const;
  std::optional<double> Number(std::string_view key) const;
  std::optional<std::int64_t> Integer(std::string_view key) const;
  std::optional<bool> Bool(std::string_view key) const;
  // A string like "30s" / "5m" or an integer number of seconds.
  std::optional<std::chrono::milliseconds> Duration(std::string_view key) const;
  std::optional<std::vector<std::string>> StringArray(std::string_view key) const;
  // An inline table of string values: labels = { a = "x" }.
  std::optional<std::vector<std::pair<std::string, std::string>>> StringTable(
      std::string_view key) const;

  // Error(kConfig) "[[alert]] #2 ('name'): key 'op' ...: why" with a hint naming the file.
  [[noreturn]] void Fail(std::string_view key, std::string_view why) const;
  std::string Where() const;

  void set_display_name(std::string name) { display_name_ = std::move(name); }

 private:
  const toml::table& table_;
  std::string section_;
  std::size_t index_;
  std::string file_;
  std::string display_name_;
};

// The array of tables `name` from the config file (empty when absent). Throws Error(kConfig)
// if `name` is present but not an array of tables.
std::vector<const toml::table*> SectionTables(const toml::table& root, std::string_view name);

}  // namespace dbmedic::monitor
