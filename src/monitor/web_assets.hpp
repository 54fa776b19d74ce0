// The dashboard's files (web/), embedded into the binary at build time by cmake/embed.cmake.
#pragma once

#include <optional>
#include <string_view>

namespace dbmedic::monitor {

struct WebAsset {
  std::string_view path;  // "index.html", "dashboard.js"
  std::string_view body;
};

// The asset at `path` (relative to web/), or nullopt.
std::optional<WebAsset> FindWebAsset(std::string_view path);

}  // namespace dbmedic::monitor
