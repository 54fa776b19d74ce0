#include "monitor/http_transport.hpp"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/shared_library.hpp"

namespace dbmedic::monitor {

std::string HttpModulePath() {
  if (const char* path = std::getenv("DBMEDIC_HTTP_MODULE"); path != nullptr && *path != '\0') {
    return path;
  }
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    throw Error(ErrorCode::kIo,
                fmt::format("cannot read /proc/self/exe to find libdbmedic_http.so: {}",
                            ec.message()),
                "mount /proc, or set DBMEDIC_HTTP_MODULE to the module's path");
  }
  return (exe.parent_path() / "libdbmedic_http.so").string();
}

HttpTransport& LoadHttpTransport() {
  // Initialised once, thread-safely; a failure is thrown again on the next call.
  static HttpTransport& transport = []() -> HttpTransport& {
    const std::string path = HttpModulePath();
    static core::SharedLibrary module(
        path, "HTTP (the monitor's endpoint and webhook notifiers)",
        "libdbmedic_http.so is built with dbmedic (CMake target dbmedic_http) and belongs in the "
        "directory of the dbmedic executable: copy it there, or set DBMEDIC_HTTP_MODULE to its "
        "path");
    auto factory = module.Function<HttpTransportFactory>(kHttpTransportFactoryName);
    HttpTransport* made = factory(kHttpTransportAbi);
    if (made == nullptr) {
      throw Error(ErrorCode::kUnsupported,
                  fmt::format("{} was built for another version of dbmedic (interface {} "
                              "expected)",
                              path, kHttpTransportAbi),
                  "copy the libdbmedic_http.so built together with this executable next to it");
    }
    return *made;
  }();
  return transport;
}

}  // namespace dbmedic::monitor
