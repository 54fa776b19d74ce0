// The webhook notifier: POSTs Alertmanager's webhook JSON (http and https) through the HTTP
// module (monitor/http_transport.hpp).
#include <fmt/format.h>

#include "core/error.hpp"
#include "monitor/http_transport.hpp"
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
    std::string body = AlertmanagerPayload(events, config_.name, external_url).dump();
    HttpPostResult res =
        LoadHttpTransport().Post(origin_, path_, body, "application/json", config_.timeout);
    if (!res.status) {
      throw Error(ErrorCode::kNetwork,
                  fmt::format("notifier '{}': POST {} failed: {}", config_.name, config_.url,
                              res.error),
                  "check that the webhook receiver is running and reachable");
    }
    int status = *res.status;
    if (status >= 400 && status < 500) {
      // The receiver refuses this request (auth, path, payload): sending it again won't help.
      throw Error(ErrorCode::kConfig,
                  fmt::format("notifier '{}': POST {} answered HTTP {}: {}", config_.name,
                              config_.url, status, res.body.substr(0, 200)),
                  "check the notifier's url and what the receiver expects");
    }
    if (status < 200 || status >= 300) {
      throw Error(ErrorCode::kNetwork,
                  fmt::format("notifier '{}': POST {} answered HTTP {}: {}", config_.name,
                              config_.url, status, res.body.substr(0, 200)),
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
