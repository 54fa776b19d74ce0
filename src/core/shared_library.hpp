// A shared library that is opened on first use (dlopen) instead of at process start.
//
// Every library the executable names as DT_NEEDED is mapped and relocated by the dynamic loader
// before main(), whether the command needs it or not. libcurl (S3 only) and libpq (commands that
// talk to a server) bring about 30 further libraries with them (TLS, Kerberos, LDAP, HTTP/2...),
// which made every `dbmedic wal push` pay ~20 ms of start-up for code it never runs. The modules
// that use such a library define its C functions themselves as forwarders to a SharedLibrary
// (src/pg/libpq_loader.cpp, src/storage/curl_loader.cpp), so callers keep the library's own header
// and API.
#pragma once

#include <mutex>
#include <string>

namespace dbmedic::core {

class SharedLibrary {
 public:
  // `soname`: what dlopen looks for ("libpq.so.5", or a path); `purpose`: what dbmedic needs it
  // for, and `hint`: what to do when it cannot be loaded, both for the error message.
  SharedLibrary(std::string soname, std::string purpose, std::string hint);

  // The hint for a library that a Debian package installs.
  static std::string InstallHint(const std::string& package);

  // The library is never closed: function pointers taken from it must stay valid until exit,
  // and the library's own atexit handlers may still run.
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;

  // The address of `symbol`, opening the library on the first call (thread-safe, once). Throws
  // Error(kUnsupported) naming the library, the loader's reason and the hint when the library
  // cannot be opened or lacks the symbol.
  void* Symbol(const char* symbol);

  // Same, cast to the function pointer type `Fn` (e.g. decltype(&::PQexec)).
  template <typename Fn>
  Fn Function(const char* symbol) {
    return reinterpret_cast<Fn>(Symbol(symbol));
  }

 private:
  void Open();

  std::string soname_;
  std::string purpose_;
  std::string hint_;
  std::once_flag once_;
  void* handle_ = nullptr;
  std::string open_error_;  // dlerror() of the failed dlopen; empty if it worked
};

}  // namespace dbmedic::core
