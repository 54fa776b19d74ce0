// The monitor's HTTP library, behind a narrow interface in a module of dbmedic's own
// (libdbmedic_http.so, next to the executable), opened on first use.
//
// Why: cpp-httplib is a compiled C++ library, and linking it made every dbmedic process load it
// with libssl, brotli and zlib, and run its constructor, which initialises OpenSSL's SSL library
// (~6 ms per process here). Only `dbmedic monitor` (its HTTP endpoint) and webhook notifiers use
// HTTP through cpp-httplib, yet `dbmedic wal push`, run by PostgreSQL once per WAL segment, paid
// for it every time. Its API is C++ (classes, templates), so it cannot be forwarded function by
// function like libpq (src/pg/libpq_loader.cpp): the code that uses it lives in the module
// (src/monitor/http_module/), and this header is all the two sides share. Only standard library
// types cross the boundary (both sides are built together, with the same compiler and libstdc++),
// and nothing throws across it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dbmedic::monitor {

struct HttpRequest {
  std::string method;  // "GET", "HEAD", "POST"...
  std::string path;    // without the query string
  std::multimap<std::string, std::string> params;  // query parameters, decoded
  std::string authorization;                        // the Authorization header, or empty
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Answers every request (the monitor does its own routing). Called on the server's threads,
// possibly several at once. Must not throw.
using HttpRequestHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpListener {
 public:
  virtual ~HttpListener() = default;
  // Binds `address`:`port` (0: any free port). Returns the port, or nullopt if it cannot bind.
  virtual std::optional<int> Bind(const std::string& address, int port) = 0;
  virtual void Listen() = 0;  // serves until Stop(); call after a successful Bind()
  virtual bool IsRunning() const = 0;
  virtual void Stop() = 0;  // no-op until Listen() runs
};

struct HttpPostResult {
  std::optional<int> status;  // nullopt: no answer (connection failed, timeout...)
  std::string body;
  std::string error;  // why there was no answer
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // A listener for `handler`; with TLS when `tls_cert` is not empty. nullptr when the
  // certificate or key cannot be loaded.
  virtual std::unique_ptr<HttpListener> MakeListener(HttpRequestHandler handler,
                                                     const std::string& tls_cert,
                                                     const std::string& tls_key) = 0;
  // POSTs `body` to `origin` ("http(s)://host:port") + `path`, `timeout` for each of connect,
  // read and write.
  virtual HttpPostResult Post(const std::string& origin, const std::string& path,
                              const std::string& body, const std::string& content_type,
                              std::chrono::milliseconds timeout) = 0;
};

// Bumped whenever anything in this header changes: a module from another build refuses to load
// instead of misbehaving.
inline constexpr int kHttpTransportAbi = 1;

// The module's one entry point: a transport that lives until exit, or nullptr if `abi` is not
// the module's kHttpTransportAbi.
using HttpTransportFactory = HttpTransport* (*)(int abi);
inline constexpr const char* kHttpTransportFactoryName = "dbmedic_http_transport";

// Where the module is looked for: $DBMEDIC_HTTP_MODULE if set (tests, unusual installs), else
// libdbmedic_http.so in the directory of the running executable (/proc/self/exe).
std::string HttpModulePath();

// The transport, loading the module on the first call (thread-safe). Throws
// Error(kUnsupported) naming the module's path and what to do when it is missing, broken or
// from another build.
HttpTransport& LoadHttpTransport();

}  // namespace dbmedic::monitor
