// The agent's HTTP endpoint (served by the HTTP module, monitor/http_transport.hpp): /metrics (Prometheus text format), /healthz,
// /api/{targets,alerts,rules,metrics,series}, and the dashboard (embedded web/ files). Optional
// basic auth (all paths but /healthz) and TLS. Handlers read the registry's last snapshot and
// copies of the alert states: a slow collection never blocks a request. Handlers never throw
// across the library: errors become JSON error bodies.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "monitor/http_transport.hpp"

namespace dbmedic::monitor {

class Agent;
struct AgentSettings;

class HttpServer {
 public:
  // Throws Error(kConfig) if the TLS files cannot be loaded, Error(kUnsupported) if the HTTP
  // module cannot be loaded.
  HttpServer(const Agent& agent, const AgentSettings& settings);
  ~HttpServer();

  // Binds the listening socket. Throws Error(kConflict) if the address/port is taken.
  void Bind();
  void Start();  // serves on a thread
  void Stop();
  int port() const { return port_; }

 private:
  HttpResponse Handle(const HttpRequest& req) const;  // routes; never throws
  HttpResponse Route(const HttpRequest& req) const;
  HttpResponse Series(const HttpRequest& req) const;

  const Agent& agent_;
  const AgentSettings& settings_;
  std::unique_ptr<HttpListener> server_;
  std::string expected_auth_;  // "Basic <base64>" or empty
  int port_ = 0;
  std::jthread thread_;
};

std::string Base64Encode(std::string_view data);

}  // namespace dbmedic::monitor
