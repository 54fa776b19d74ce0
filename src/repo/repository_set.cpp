#include "repo/repository_set.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::repo {
namespace {

constexpr std::string_view kSections[] = {"repository", "s3", "retention"};
constexpr std::string_view kArrayName = "repositories";

const toml::array* Entries(const core::Config& config) {
  const toml::node* node = config.Raw().get(kArrayName);
  if (!node) return nullptr;
  const toml::array* array = node->as_array();
  if (!array || !array->is_array_of_tables()) {
    const std::string file = config.file() ? config.file()->string() : "";
    throw Error(ErrorCode::kConfig,
                fmt::format("config file '{}' line {}: 'repositories' must be an array of tables",
                            file, node->source().begin.line),
                "write each further repository as a [[repositories]] section");
  }
  return array;
}

RepositoryConfig EntryConfig(const core::Config& config, const toml::table& entry, int index,
                             bool keep_options) {
  const std::string context =
      fmt::format("[[repositories]] entry {} (repository {}): ", index - 1, index);
  return {index, config.Overlay(entry, kSections, context,
                                fmt::format("DBMEDIC_REPO{}_", index), keep_options)};
}

}  // namespace

std::span<const std::string_view> RepositorySections() { return kSections; }

std::string RepositoryConfig::Describe() const {
  const std::string type = config.Optional("repository.type").value_or("posix");
  const std::string path = config.Optional("repository.path").value_or("(no path)");
  if (type != "s3") return fmt::format("repository {} ({})", index, path);
  return fmt::format("repository {} (s3://{}{}{} at {})", index,
                     config.Optional("s3.bucket").value_or("(no bucket)"),
                     path.starts_with('/') ? "" : "/", path,
                     config.Optional("s3.endpoint").value_or("(no endpoint)"));
}

std::vector<RepositoryConfig> ConfiguredRepositories(const core::Config& config) {
  std::vector<RepositoryConfig> out;
  out.push_back({1, config});
  if (const toml::array* entries = Entries(config)) {
    int index = 2;
    for (const toml::node& node : *entries) {
      out.push_back(EntryConfig(config, *node.as_table(), index++, false));
    }
  }
  return out;
}

RepositoryConfig SelectRepository(const core::Config& config, int index) {
  const toml::array* entries = Entries(config);
  const int count = 1 + (entries ? static_cast<int>(entries->size()) : 0);
  if (index < 1 || index > count) {
    throw Error(ErrorCode::kUsage,
                fmt::format("there is no repository {}: {} configured", index,
                            count == 1 ? std::string("only repository 1 is")
                                       : fmt::format("repositories 1..{} are", count)),
                "pass --repo with one of those numbers (repository 1 is [repository], the "
                "others are the [[repositories]] entries in order)");
  }
  if (index == 1) return {1, config};
  return EntryConfig(config, *entries->get(static_cast<std::size_t>(index - 2))->as_table(),
                     index, true);
}

}  // namespace dbmedic::repo
