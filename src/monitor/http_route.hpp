// Extra GET routes other modules add to the agent's HTTP endpoint (through Agent::AddRoute)
// without seeing the HTTP library: a handler gets the query parameters and returns a reply.
#pragma once

#include <functional>
#include <map>
#include <string>

namespace dbmedic::monitor {

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Query parameters; a repeated parameter keeps all its values.
using HttpParams = std::multimap<std::string, std::string>;

// Called on one of the HTTP server's threads, possibly several at once: a handler synchronises
// what it shares with other threads. An exception becomes a 500 reply with a JSON error body.
using HttpHandler = std::function<HttpReply(const HttpParams& params)>;

struct HttpRoute {
  std::string path;  // exact path, e.g. "/api/top-queries"
  HttpHandler handler;
};

}  // namespace dbmedic::monitor
