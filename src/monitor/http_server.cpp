#include "monitor/http_server.hpp"

#include <chrono>
#include <thread>

#include <fmt/format.h>
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

// The first value of query parameter `name`, if given.
std::optional<std::string> Param(const HttpRequest& req, const std::string& name) {
  auto it = req.params.lower_bound(name);
  if (it == req.params.end() || it->first != name) return std::nullopt;
  return it->second;
}

HttpResponse Json(const json& body, int status = 200) {
  return {status, "application/json", body.dump(), {}};
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
  server_ = LoadHttpTransport().MakeListener([this](const HttpRequest& req) { return Handle(req); },
                                             settings_.tls_cert.string(),
                                             settings_.tls_key.string());
  if (!server_) {
    throw Error(ErrorCode::kConfig,
                fmt::format("unable to load TLS certificate '{}' / key '{}'",
                            settings_.tls_cert.string(), settings_.tls_key.string()),
                "monitor.tls_cert and monitor.tls_key must be readable PEM files that match");
  }
  if (!settings_.basic_auth_user.empty()) {
    expected_auth_ = "Basic " + Base64Encode(settings_.basic_auth_user + ":" +
                                             settings_.basic_auth_password);
  }
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Bind() {
  port_ = server_->Bind(settings_.listen_address, settings_.port).value_or(-1);
  if (port_ <= 0) {
    throw Error(ErrorCode::kConflict,
                fmt::format("unable to listen on {}:{}: address in use or not available",
                            settings_.listen_address, settings_.port),
                "stop the other process on that port or set monitor.port / --listen-port");
  }
}

void HttpServer::Start() {
  thread_ = std::jthread([this] { server_->Listen(); });
  // Stop() is a no-op until the listening loop runs: wait for it, or a Stop() right after
  // Start() would leave the thread blocked in accept() forever.
  while (!server_->IsRunning()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void HttpServer::Stop() {
  if (server_) server_->Stop();
  if (thread_.joinable()) thread_.join();
}

HttpResponse HttpServer::Handle(const HttpRequest& req) const {
  if (!expected_auth_.empty() && req.path != "/healthz" && req.authorization != expected_auth_) {
    return {401, "text/plain", "authentication required\n",
            {{"WWW-Authenticate", "Basic realm=\"dbmedic\""}}};
  }
  try {
    return Route(req);
  } catch (const std::exception& e) {
    return Json({{"error", e.what()}}, 500);
  } catch (...) {
    return Json({{"error", "internal error"}}, 500);
  }
}

HttpResponse HttpServer::Route(const HttpRequest& req) const {
  // Every route is a GET (cpp-httplib answers HEAD from the GET reply, without the body).
  if (req.method != "GET" && req.method != "HEAD") return {404, "text/plain", "not found\n", {}};
  const std::string& path = req.path;
  if (path == "/metrics") {
    return {200, std::string(kExpositionContentType),
            RenderExposition(agent_.registry().Merged()), {}};
  }
  if (path == "/healthz") {
    json collectors = json::array();
    for (const auto& s : agent_.registry().Statuses()) {
      collectors.push_back({{"name", s.name}, {"runs", s.runs}, {"errors", s.errors},
                            {"ok", !s.last_error.has_value()},
                            {"last_error", s.last_error.value_or("")}});
    }
    return Json({{"status", "ok"}, {"collectors", collectors}});
  }
  if (path == "/api/targets") {
    json out = json::array();
    for (const auto& t : agent_.targets()) {
      out.push_back({{"name", t.name}, {"data_dir", t.data_dir ? t.data_dir->string() : ""}});
    }
    return Json(out);
  }
  if (path == "/api/alerts") {
    json out = json::array();
    for (const auto& a : agent_.Alerts()) out.push_back(AlertJson(a));
    return Json(out);
  }
  if (path == "/api/rules") {
    json out = json::array();
    for (const auto& r : agent_.rules()) out.push_back(RuleJson(r));
    return Json(out);
  }
  if (path == "/api/metrics") return Json(agent_.history().MetricNames());
  if (path == "/api/series") return Series(req);
  for (const auto& route : agent_.routes()) {
    if (route.path != path) continue;
    HttpReply reply = route.handler(req.params);
    return {reply.status, reply.content_type, reply.body, {}};
  }
  std::string asset_path = path.size() > 1 ? path.substr(1) : "index.html";
  auto asset = FindWebAsset(asset_path);
  if (!asset) return {404, "text/plain", "not found\n", {}};
  return {200, ContentType(asset_path), std::string(asset->body), {}};
}

HttpResponse HttpServer::Series(const HttpRequest& req) const {
  std::string name = Param(req, "name").value_or("");
  if (name.empty()) {
    return Json({{"error", "parameter 'name' is required"}}, 400);
  }
  std::chrono::milliseconds since{};
  std::vector<LabelMatcher> matchers;
  try {
    since = core::ParseDuration(Param(req, "since").value_or("1h"));
    auto [first, last] = req.params.equal_range("match");
    for (auto it = first; it != last; ++it) matchers.push_back(ParseMatcher(it->second));
  } catch (const Error& e) {
    return Json({{"error", e.what()}, {"hint", e.hint()}}, 400);
  }
  auto now = std::chrono::system_clock::now();
  json out = json::array();
  for (const auto& s : agent_.history().Query(name, now - since, now, matchers)) {
    out.push_back({{"name", s.name}, {"labels", s.labels}, {"points", s.points}});
  }
  return Json(out);
}

}  // namespace dbmedic::monitor
