#include "monitor/http_server.hpp"

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/config.hpp"
#include "core/error.hpp"
#include "monitor/agent.hpp"
#include "monitor/exposition.hpp"
#include "monitor/notifier.hpp"
#include "monitor/web_assets.hpp"

namespace dbmedic::monitor {
namespace {

using nlohmann::json;

std::string ContentType(std::string_view path) {
  if (path.ends_with(".html")) return "text/html; charset=utf-8";
  if (path.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (path.ends_with(".css")) return "text/css; charset=utf-8";
  if (path.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

void SendJson(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

json AlertJson(const AlertInstance& a) {
  return {{"alertname", a.rule},
          {"state", std::string(AlertStateName(a.state))},
          {"labels", a.labels},
          {"value", a.value},
          {"summary", a.summary},
          {"active_since", Rfc3339(a.active_since)},
          {"fired_at", Rfc3339(a.fired_at)},
          {"resolved_at", Rfc3339(a.resolved_at)}};
}

json RuleJson(const AlertRule& r) {
  return {{"name", r.name},
          {"expr", r.ToPromQL()},
          {"for_seconds", static_cast<double>(r.for_duration.count()) / 1000.0},
          {"severity", r.severity},
          {"summary", r.summary}};
}

}  // namespace

std::string Base64Encode(std::string_view data) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out += kTable[(n >> 18) & 63];
    out += kTable[(n >> 12) & 63];
    out += kTable[(n >> 6) & 63];
    out += kTable[n & 63];
  }
  if (i < data.size()) {
    unsigned n = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) n |= static_cast<unsigned char>(data[i + 1]) << 8;
    out += kTable[(n >> 18) & 63];
    out += kTable[(n >> 12) & 63];
    out += i + 1 < data.size() ? kTable[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

HttpServer::HttpServer(const Agent& agent, const AgentSettings& settings)
    : agent_(agent), settings_(settings) {
  if (!settings_.tls_cert.empty()) {
    auto tls = std::make_unique<httplib::SSLServer>(settings_.tls_cert.c_str(),
                                                    settings_.tls_key.c_str());
    if (!tls->is_valid()) {
      throw Error(ErrorCode::kConfig,
                  fmt::format("unable to load TLS certificate '{}' / key '{}'",
                              settings_.tls_cert.string(), settings_.tls_key.string()),
                  "monitor.tls_cert and monitor.tls_key must be readable PEM files that match");
    }
    server_ = std::move(tls);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  // cpp-httplib's default also sets SO_REUSEPORT, which lets a second agent bind the same port
  // and silently share it; keep only SO_REUSEADDR (restart without waiting for TIME_WAIT).
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  if (!settings_.basic_auth_user.empty()) {
    expected_auth_ = "Basic " + Base64Encode(settings_.basic_auth_user + ":" +
                                             settings_.basic_auth_password);
  }
  Routes();
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Bind() {
  if (settings_.port == 0) {
    port_ = server_->bind_to_any_port(settings_.listen_address);
  } else if (server_->bind_to_port(settings_.listen_address, settings_.port)) {
    port_ = settings_.port;
  } else {
    port_ = -1;
  }
  if (port_ <= 0) {
    throw Error(ErrorCode::kConflict,
                fmt::format("unable to listen on {}:{}: address in use or not available",
                            settings_.listen_address, settings_.port),
                "stop the other process on that port or set monitor.port / --listen-port");
  }
}

void HttpServer::Start() {
  thread_ = std::jthread([this] { server_->listen_after_bind(); });
  // stop() is a no-op until the listening loop runs: wait for it, or a Stop() right after
  // Start() would leave the thread blocked in accept() forever.
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void HttpServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::Routes() {
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (expected_auth_.empty() || req.path == "/healthz") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (req.get_header_value("Authorization") == expected_auth_) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.status = 401;
    res.set_header("WWW-Authenticate", "Basic realm=\"dbmedic\"");
    res.set_content("authentication required\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  server_->set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                    std::exception_ptr ep) {
    std::string message = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    SendJson(res, {{"error", message}}, 500);
  });

  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderExposition(agent_.registry().Merged()),
                    std::string(kExpositionContentType));
  });
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    json collectors = json::array();
    for (const auto& s : agent_.registry().Statuses()) {
      collectors.push_back({{"name", s.name}, {"runs", s.runs}, {"errors", s.errors},
                            {"ok", !s.last_error.has_value()},
                            {"last_error", s.last_error.value_or("")}});
    }
    SendJson(res, {{"status", "ok"}, {"collectors", collectors}});
  });
  server_->Get("/api/targets", [this](const httplib::Request&, httplib::Response& res) {
    json out = json::array();
    for (const auto& t : agent_.targets()) {
      out.push_back({{"name", t.name}, {"data_dir", t.data_dir ? t.data_dir->string() : ""}});
    }
    SendJson(res, out);
  });
  server_->Get("/api/alerts", [this](const httplib::Request&, httplib::Response& res) {
    json out = json::array();
    for (const auto& a : agent_.Alerts()) out.push_back(AlertJson(a));
    SendJson(res, out);
  });
  server_->Get("/api/rules", [this](const httplib::Request&, httplib::Response& res) {
    json out = json::array();
    for (const auto& r : agent_.rules()) out.push_back(RuleJson(r));
    SendJson(res, out);
  });
  server_->Get("/api/metrics", [this](const httplib::Request&, httplib::Response& res) {
    SendJson(res, agent_.history().MetricNames());
  });
  server_->Get("/api/series", [this](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.get_param_value("name");
    if (name.empty()) {
      SendJson(res, {{"error", "parameter 'name' is required"}}, 400);
      return;
    }
    std::chrono::milliseconds since{};
    std::vector<LabelMatcher> matchers;
    try {
      since = core::ParseDuration(req.has_param("since") ? req.get_param_value("since")
                                                         : std::string("1h"));
      for (std::size_t i = 0; i < req.get_param_value_count("match"); ++i) {
        matchers.push_back(ParseMatcher(req.get_param_value("match", i)));
      }
    } catch (const Error& e) {
      SendJson(res, {{"error", e.what()}, {"hint", e.hint()}}, 400);
      return;
    }
    auto now = std::chrono::system_clock::now();
    json out = json::array();
    for (const auto& s : agent_.history().Query(name, now - since, now, matchers)) {
      out.push_back({{"name", s.name}, {"labels", s.labels}, {"points", s.points}});
    }
    SendJson(res, out);
  });
  for (const auto& route : agent_.routes()) {
    server_->Get(route.path, [&route](const httplib::Request& req, httplib::Response& res) {
      HttpParams params(req.params.begin(), req.params.end());
      HttpReply reply = route.handler(params);
      res.status = reply.status;
      res.set_content(reply.body, reply.content_type);
    });
  }
  server_->Get(R"(/(.*))", [](const httplib::Request& req, httplib::Response& res) {
    std::string path = req.matches[1];
    if (path.empty()) path = "index.html";
    auto asset = FindWebAsset(path);
    if (!asset) {
      res.status = 404;
      res.set_content("not found\n", "text/plain");
      return;
    }
    res.set_content(std::string(asset->body), ContentType(path));
  });
}

}  // namespace dbmedic::monitor
