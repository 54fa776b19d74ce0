#include "core/error.hpp"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace dbmedic {

bool IsRetryable(ErrorCode code) {
  switch (code) {
    case ErrorCode::kPostgres:
    case ErrorCode::kIo:
    case ErrorCode::kDiskFull:
    case ErrorCode::kTimeout:
    case ErrorCode::kNetwork:
      return true;
    default:
      return false;
  }
}

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUsage: return "usage";
    case ErrorCode::kConfig: return "config";
    case ErrorCode::kRepository: return "repository";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kPostgres: return "postgres";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kDiskFull: return "disk-full";
    case ErrorCode::kNotFound: return "not-found";
    case ErrorCode::kTarget: return "target";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kInterrupted: return "interrupted";
    case ErrorCode::kNetwork: return "network";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

Error::Error(ErrorCode code, std::string message, std::string hint)
    : std::runtime_error(std::move(message)), code_(code), hint_(std::move(hint)) {}

Error Error::WithContext(std::string_view context) const {
  return Error(code_, fmt::format("{}: {}", context, what()), hint_);
}

Error SystemError(int err, std::string_view operation, std::string_view path) {
  const bool full = err == ENOSPC || err == EDQUOT;
  std::string message = fmt::format("unable to {} '{}': {}", operation, path, std::strerror(err));
  std::string hint = full ? "free space on that filesystem or expire old backups "
                            "(dbmedic expire --dry-run)"
                          : std::string{};
  return Error(full ? ErrorCode::kDiskFull : ErrorCode::kIo, std::move(message), std::move(hint));
}

}  // namespace dbmedic
