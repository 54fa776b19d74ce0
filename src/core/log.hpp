// Logging: spdlog to stderr. Modules call spdlog::info/warn/error directly and log at command
// and phase boundaries, naming the file / LSN / table concerned.
#pragma once

#include <string_view>

namespace dbmedic::core {

// level: trace, debug, info, warn, error, off. Throws Error(kUsage) on an unknown level.
void SetupLogging(std::string_view level);

}  // namespace dbmedic::core
