// The webhook notifier: POSTs Alertmanager's webhook JSON with cpp-httplib (http and https).
#include <fmt/format.h>
#include <httplib.h>

#include "core/error.hpp"
#include "monitor/notifier.hpp"

namespace dbmedic::monitor {
namespace {

class WebhookNotifier final : public Notifier {
 public:
  explicit WebhookNotifier(NotifierConfig config) : config_(std::move(config)) {
    // Split "http://host:port/path?q" into the origin (for the client) and the request path.
    auto scheme_end = config_.url.find("://");
    auto path_start = config_.url.find('/', scheme_end + 3);
    origin_ = config_.url.substr(0, path_start);
    path_ = path_start == std::string::npos ? "/" : config_.url.substr(path_start);
  }
  const NotifierConfig& config() const override { return config_; }

  void Send(const std::vector<AlertEvent>& events, const std::string& external_url) override {
    httplib::Client client(origin_);
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(config_.timeout);
    client.set_connection_timeout(seconds);
    client.set_read_timeout(seconds);
    client.set_write_timeout(seconds);
    std::string body = AlertmanagerPayload(events, config_.name, external_url).dump();
    auto res = client.Post(path_, body, "application/json");
    if (!res) {
      throw Error(ErrorCode::kNetwork,
                  fmt::format("notifier '{}': POST {} failed: {}", config_.name, config_.url,
                              httplib::to_string(res.error())),
                  "check that the webhook receiver is running and reachable");
    }
    if (res->status >= 400 && res->status < 500) {
      // The receiver refuses this request (auth, path, payload): sending it again won't help.
      throw Error(ErrorCode::kConfig,
                  fmt::format("notifier '{}': POST {} answered HTTP {}: {}", config_.name,
                              config_.url, res->status, res->body.substr(0, 200)),
                  "check the notifier's url and what the receiver expects");
    }
    if (res->status < 200 || res->status >= 300) {
      throw Error(ErrorCode::kNetwork,
                  fmt::format("notifier '{}': POST {} answered HTTP {}: {}", config_.name,
                              config_.url, res->status, res->body.substr(0, 200)),
                  "check the receiver's logs");
    }
  }

 private:
  NotifierConfig config_;
  std::string origin_;
  std::string path_;
};

}  // namespace

std::unique_ptr<Notifier> MakeWebhookNotifier(const NotifierConfig& config) {
  return std::make_unique<WebhookNotifier>(config);
}

}  // namespace dbmedic::monitor
