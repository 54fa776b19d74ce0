#include "core/shared_library.hpp"

#include <dlfcn.h>

#include <utility>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::core {

SharedLibrary::SharedLibrary(std::string soname, std::string purpose, std::string hint)
    : soname_(std::move(soname)), purpose_(std::move(purpose)), hint_(std::move(hint)) {}

std::string SharedLibrary::InstallHint(const std::string& package) {
  return fmt::format("install the Debian package {} (apt-get install {})", package, package);
}

void SharedLibrary::Open() {
  // RTLD_NOW: a library whose own dependencies are missing fails here, with the loader's message,
  // not at some later call. RTLD_LOCAL: its symbols do not leak into later lookups.
  handle_ = dlopen(soname_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) {
    const char* reason = dlerror();
    open_error_ = reason != nullptr ? reason : "unknown dlopen error";
  }
}

void* SharedLibrary::Symbol(const char* symbol) {
  std::call_once(once_, [this] { Open(); });
  if (handle_ == nullptr) {
    throw Error(ErrorCode::kUnsupported,
                fmt::format("cannot load {}, needed for {}: {}", soname_, purpose_, open_error_),
                hint_);
  }
  // dlsym on the handle searches this library and its dependencies only, so it returns the
  // library's own definition even when the executable defines a forwarder of the same name.
  void* address = dlsym(handle_, symbol);
  if (address == nullptr) {
    const char* reason = dlerror();
    throw Error(ErrorCode::kUnsupported,
                fmt::format("{} has no symbol {} ({}), needed for {}", soname_, symbol,
                            reason != nullptr ? reason : "not found", purpose_),
                fmt::format("the installed {} is too old or not the expected library: {}",
                            soname_, hint_));
  }
  return address;
}

}  // namespace dbmedic::core
