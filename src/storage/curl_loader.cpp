// libcurl, opened on first use. Only the S3 backend needs it, yet linking it made every dbmedic
// process load it and its ~35 dependencies (TLS, HTTP/2, SSH, LDAP, Kerberos...) at start-up:
// ~15 ms of each `wal push`. s3_client.cpp keeps using <curl/curl.h>; the functions it calls are
// defined here as forwarders to the real ones, looked up once in libcurl.so.4 (see
// core/shared_library.hpp). A function the S3 client starts to use must be added here too; the
// executable then fails to link until it is.

// The header's GCC type-checking wrappers are macros named curl_easy_setopt/curl_easy_getinfo;
// they would rewrite the definitions below.
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include <cstdarg>

#include "core/shared_library.hpp"

namespace {

#define DBMEDIC_CURL_FUNCTIONS(X)                                                   \
  X(curl_global_init) X(curl_easy_init) X(curl_easy_cleanup) X(curl_easy_setopt)    \
  X(curl_easy_perform) X(curl_easy_strerror) X(curl_easy_getinfo) X(curl_slist_append) \
  X(curl_slist_free_all)

struct LibCurl {
#define DBMEDIC_MEMBER(name) decltype(&::name) name;
  DBMEDIC_CURL_FUNCTIONS(DBMEDIC_MEMBER)
#undef DBMEDIC_MEMBER
};

const LibCurl& Api() {
  // Initialised once, thread-safely; a failure (libcurl missing) is thrown again on the next call.
  static const LibCurl api = [] {
    static dbmedic::core::SharedLibrary library(
        "libcurl.so.4", "the S3 repository backend", dbmedic::core::SharedLibrary::InstallHint("libcurl4"));
    LibCurl resolved{};
#define DBMEDIC_RESOLVE(name) resolved.name = library.Function<decltype(&::name)>(#name);
    DBMEDIC_CURL_FUNCTIONS(DBMEDIC_RESOLVE)
#undef DBMEDIC_RESOLVE
    return resolved;
  }();
  return api;
}

// Any function pointer type: passing one through `...` and reading it back as another function
// pointer type is what libcurl's own curl_easy_setopt does with its callbacks.
using AnyFunction = void (*)();

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) { return Api().curl_global_init(flags); }
CURL* curl_easy_init(void) { return Api().curl_easy_init(); }
void curl_easy_cleanup(CURL* curl) { Api().curl_easy_cleanup(curl); }
CURLcode curl_easy_perform(CURL* curl) { return Api().curl_easy_perform(curl); }
const char* curl_easy_strerror(CURLcode code) { return Api().curl_easy_strerror(code); }
curl_slist* curl_slist_append(curl_slist* list, const char* text) {
  return Api().curl_slist_append(list, text);
}
void curl_slist_free_all(curl_slist* list) { Api().curl_slist_free_all(list); }

// curl_easy_setopt is variadic with exactly one value after the option. A variadic function
// cannot pass its `...` on, so the value is read with the type the option number encodes
// (libcurl numbers its options as type base + n: CURLOPTTYPE_LONG 0, OBJECTPOINT 10000,
// FUNCTIONPOINT 20000, OFF_T 30000, BLOB 40000 -- libcurl reads it back the same way) and passed
// to the real function as that type. (On x86-64 all of them travel in one 64-bit register, so
// reading the wrong type would go unnoticed here; reading the right one keeps it correct on any
// ABI.)
CURLcode curl_easy_setopt(CURL* curl, CURLoption option, ...) {
  va_list args;
  va_start(args, option);
  CURLcode result;
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    result = Api().curl_easy_setopt(curl, option, va_arg(args, long));
  } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
    result = Api().curl_easy_setopt(curl, option, va_arg(args, void*));
  } else if (option < CURLOPTTYPE_OFF_T) {
    result = Api().curl_easy_setopt(curl, option, va_arg(args, AnyFunction));
  } else if (option < CURLOPTTYPE_BLOB) {
    result = Api().curl_easy_setopt(curl, option, va_arg(args, curl_off_t));
  } else {
    result = Api().curl_easy_setopt(curl, option, va_arg(args, void*));  // struct curl_blob*
  }
  va_end(args);
  return result;
}

// curl_easy_getinfo's one variadic value is always a pointer to where the result goes.
CURLcode curl_easy_getinfo(CURL* curl, CURLINFO info, ...) {
  va_list args;
  va_start(args, info);
  void* destination = va_arg(args, void*);
  va_end(args);
  return Api().curl_easy_getinfo(curl, info, destination);
}

}  // extern "C"
