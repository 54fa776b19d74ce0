#include "core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::core {

void SetupLogging(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    throw Error(ErrorCode::kUsage, fmt::format("unknown log level '{}'", level),
                "use one of: trace, debug, info, warn, error, off");
  }
  auto logger = spdlog::get("dbmedic");
  if (!logger) logger = spdlog::stderr_color_mt("dbmedic");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$: %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
}

}  // namespace dbmedic::core
