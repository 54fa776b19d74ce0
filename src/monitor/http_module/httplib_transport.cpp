// libdbmedic_http.so: the monitor's HttpTransport (monitor/http_transport.hpp) on cpp-httplib.
// Built as its own module so that only processes that serve or send HTTP load cpp-httplib (and
// the OpenSSL initialisation its constructor runs). It uses nothing of dbmedic but that header:
// errors come back as values, never as exceptions across the module boundary.
#include <httplib.h>

#include <exception>

#include "monitor/http_transport.hpp"

namespace dbmedic::monitor {
namespace {

HttpRequest FromHttplib(const httplib::Request& req) {
  return {req.method, req.path, {req.params.begin(), req.params.end()},
          req.get_header_value("Authorization")};
}

void ToHttplib(const HttpResponse& response, httplib::Response& res) {
  res.status = response.status;
  for (const auto& [name, value] : response.headers) res.set_header(name, value);
  res.set_content(response.body, response.content_type);
}

class HttplibListener final : public HttpListener {
 public:
  HttplibListener(std::unique_ptr<httplib::Server> server, HttpRequestHandler handler)
      : server_(std::move(server)), handler_(std::move(handler)) {
    // cpp-httplib's default also sets SO_REUSEPORT, which lets a second agent bind the same
    // port and silently share it; keep only SO_REUSEADDR (restart without waiting for
    // TIME_WAIT).
    server_->set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    // Every request, whatever its method and path, goes to the one handler: the monitor routes.
    server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      ToHttplib(handler_(FromHttplib(req)), res);
      return httplib::Server::HandlerResponse::Handled;
    });
    // The handler does not throw; this is for cpp-httplib's own failures (e.g. bad_alloc).
    server_->set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
          res.status = 500;
          res.set_content("{\"error\":\"internal error\"}", "application/json");
        });
  }

  std::optional<int> Bind(const std::string& address, int port) override {
    if (port == 0) {
      int bound = server_->bind_to_any_port(address);
      if (bound > 0) return bound;
      return std::nullopt;
    }
    if (server_->bind_to_port(address, port)) return port;
    return std::nullopt;
  }
  void Listen() override { server_->listen_after_bind(); }
  bool IsRunning() const override { return server_->is_running(); }
  void Stop() override { server_->stop(); }

 private:
  std::unique_ptr<httplib::Server> server_;
  HttpRequestHandler handler_;
};

class HttplibTransport final : public HttpTransport {
 public:
  std::unique_ptr<HttpListener> MakeListener(HttpRequestHandler handler,
                                             const std::string& tls_cert,
                                             const std::string& tls_key) override {
    std::unique_ptr<httplib::Server> server;
    if (tls_cert.empty()) {
      server = std::make_unique<httplib::Server>();
    } else {
      auto tls = std::make_unique<httplib::SSLServer>(tls_cert.c_str(), tls_key.c_str());
      if (!tls->is_valid()) return nullptr;
      server = std::move(tls);
    }
    return std::make_unique<HttplibListener>(std::move(server), std::move(handler));
  }

  HttpPostResult Post(const std::string& origin, const std::string& path,
                      const std::string& body, const std::string& content_type,
                      std::chrono::milliseconds timeout) override {
    httplib::Client client(origin);
    client.set_connection_timeout(timeout);
    client.set_read_timeout(timeout);
    client.set_write_timeout(timeout);
    auto res = client.Post(path, body, content_type);
    if (!res) return {std::nullopt, "", httplib::to_string(res.error())};
    return {res->status, res->body, ""};
  }
};

}  // namespace
}  // namespace dbmedic::monitor

extern "C" __attribute__((visibility("default"))) dbmedic::monitor::HttpTransport*
dbmedic_http_transport(int abi) {
  if (abi != dbmedic::monitor::kHttpTransportAbi) return nullptr;
  static dbmedic::monitor::HttplibTransport transport;
  return &transport;
}
