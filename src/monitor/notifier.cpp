#include "monitor/notifier.hpp"

#include <set>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/subprocess.hpp"
#include "monitor/toml_section.hpp"

namespace dbmedic::monitor {
namespace {

class LogNotifier final : public Notifier {
 public:
  explicit LogNotifier(NotifierConfig config) : config_(std::move(config)) {}
  const NotifierConfig& config() const override { return config_; }
  void Send(const std::vector<AlertEvent>& events, const std::string&) override {
    for (const auto& e : events) {
      spdlog::warn("alert {} {}{} [{}]: {}", e.alert.rule, AlertStateName(e.alert.state),
                   e.repeat ? " (repeat)" : "", e.alert.labels.at("severity"), e.alert.summary);
    }
  }

 private:
  NotifierConfig config_;
};

class CommandNotifier final : public Notifier {
 public:
  explicit CommandNotifier(NotifierConfig config) : config_(std::move(config)) {}
  const NotifierConfig& config() const override { return config_; }
  void Send(const std::vector<AlertEvent>& events, const std::string& external_url) override {
    core::RunOptions options;
    options.stdin_data = AlertmanagerPayload(events, config_.name, external_url).dump();
    options.timeout = config_.timeout;
    options.env["DBMEDIC_ALERT_STATUS"] = std::string(AlertStateName(events.front().alert.state));
    options.env["DBMEDIC_ALERT_NAME"] = events.front().alert.rule;
    options.env["DBMEDIC_ALERT_SUMMARY"] = events.front().alert.summary;
    auto result = core::RunProcess(config_.command, options);
    if (!result.ok()) {
      throw Error(ErrorCode::kIo,
                  fmt::format("notifier '{}': command {} exited with {}: {}", config_.name,
                              core::DescribeCommand(config_.command), result.exit_code,
                              result.err),
                  "run the command by hand with the alert JSON on stdin");
    }
  }

 private:
  NotifierConfig config_;
};

NotifierConfig ParseOne(const SectionReader& r) {
  r.RejectUnknown({"name", "type", "url", "command", "timeout", "send_resolved", "retries",
                   "retry_backoff"});
  NotifierConfig c;
  c.name = r.RequireString("name");
  std::string type = r.RequireString("type");
  if (type == "webhook") c.type = NotifierType::kWebhook;
  else if (type == "command") c.type = NotifierType::kCommand;
  else if (type == "log") c.type = NotifierType::kLog;
  else r.Fail("type", fmt::format("must be webhook, command or log; got '{}'", type));
  if (c.type == NotifierType::kWebhook) {
    c.url = r.RequireString("url");
    if (!c.url.starts_with("http://") && !c.url.starts_with("https://")) {
      r.Fail("url", fmt::format("must start with http:// or https://; got '{}'", c.url));
    }
  } else if (r.String("url")) {
    r.Fail("url", "is only for type = \"webhook\"");
  }
  if (c.type == NotifierType::kCommand) {
    c.command = r.StringArray("command").value_or(std::vector<std::string>{});
    if (c.command.empty()) r.Fail("command", "is required: an array [\"program\", \"arg\"...]");
  } else if (r.StringArray("command")) {
    r.Fail("command", "is only for type = \"command\"");
  }
  c.timeout = r.Duration("timeout").value_or(c.timeout);
  if (c.timeout.count() <= 0) r.Fail("timeout", "must be positive");
  c.send_resolved = r.Bool("send_resolved").value_or(true);
  c.retries = static_cast<int>(r.Integer("retries").value_or(c.retries));
  if (c.retries < 0 || c.retries > 100) r.Fail("retries", "must be between 0 and 100");
  c.retry_backoff = r.Duration("retry_backoff").value_or(c.retry_backoff);
  if (c.retry_backoff.count() <= 0) r.Fail("retry_backoff", "must be positive");
  return c;
}

}  // namespace

std::unique_ptr<Notifier> MakeWebhookNotifier(const NotifierConfig& config);  // webhook.cpp

std::vector<NotifierConfig> ParseNotifiers(const toml::table& root, const std::string& file) {
  std::vector<NotifierConfig> out;
  std::set<std::string> names;
  auto tables = SectionTables(root, "notifier");
  for (std::size_t i = 0; i < tables.size(); ++i) {
    SectionReader r(*tables[i], "notifier", i + 1, file);
    if (auto name = r.String("name")) r.set_display_name(*name);
    out.push_back(ParseOne(r));
    if (!names.insert(out.back().name).second) r.Fail("name", "is used by another [[notifier]]");
  }
  return out;
}

std::string Rfc3339(TimePoint time) {
  if (time.time_since_epoch().count() == 0) return "0001-01-01T00:00:00Z";
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch());
  auto secs = std::chrono::floor<std::chrono::seconds>(time);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", secs, ms.count() % 1000);
}

nlohmann::json AlertmanagerPayload(const std::vector<AlertEvent>& events,
                                   const std::string& receiver, const std::string& external_url) {
  using nlohmann::json;
  json alerts = json::array();
  std::string status = events.empty() ? "firing" : std::string(AlertStateName(
                                                       events.front().alert.state));
  for (const auto& e : events) {
    const auto& a = e.alert;
    alerts.push_back({{"status", std::string(AlertStateName(a.state))},
                      {"labels", a.labels},
                      {"annotations", {{"summary", a.summary}}},
                      {"startsAt", Rfc3339(a.fired_at)},
                      {"endsAt", Rfc3339(a.state == AlertState::kResolved ? a.resolved_at
                                                                            : TimePoint{})},
                      {"generatorURL", external_url},
                      {"fingerprint", a.Fingerprint()}});
  }
  // Labels all alerts share are the group's common labels (as Alertmanager computes them).
  Labels common = events.empty() ? Labels{} : events.front().alert.labels;
  for (const auto& e : events) {
    for (auto it = common.begin(); it != common.end();) {
      auto other = e.alert.labels.find(it->first);
      it = other == e.alert.labels.end() || other->second != it->second ? common.erase(it)
                                                                          : std::next(it);
    }
  }
  Labels group;
  if (auto it = common.find("alertname"); it != common.end()) group["alertname"] = it->second;
  return {{"version", "4"},
          {"groupKey", fmt::format("{{}}:{}", LabelsToString(group))},
          {"truncatedAlerts", 0},
          {"status", status},
          {"receiver", receiver},
          {"groupLabels", group},
          {"commonLabels", common},
          {"commonAnnotations", json::object()},
          {"externalURL", external_url},
          {"alerts", alerts}};
}

DeliveryResult Deliver(Notifier& notifier, const std::vector<AlertEvent>& events,
                       const std::string& external_url, const RetrySleep& sleep) {
  constexpr std::chrono::milliseconds kMaxBackoff = std::chrono::minutes(5);
  const NotifierConfig& cfg = notifier.config();
  const AlertInstance& alert = events.front().alert;
  DeliveryResult result;
  auto backoff = cfg.retry_backoff;
  while (true) {
    ++result.attempts;
    try {
      notifier.Send(events, external_url);
      result.delivered = true;
      return result;
    } catch (const std::exception& e) {
      result.error = e.what();
      const auto* err = dynamic_cast<const Error*>(&e);
      bool retryable = err == nullptr || IsRetryable(err->code());
      if (!retryable || result.attempts > cfg.retries) break;
      spdlog::warn("monitor: notifying '{}' of alert {} ({}) failed (attempt {} of {}), retrying "
                   "in {} ms: {}", cfg.name, alert.rule, AlertStateName(alert.state),
                   result.attempts, cfg.retries + 1, backoff.count(), e.what());
      if (!sleep(backoff)) break;
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }
  spdlog::error("monitor: giving up notifying '{}' of alert {} ({}) after {} attempt(s): {}",
                cfg.name, alert.rule, AlertStateName(alert.state), result.attempts,
                result.error);
  return result;
}

std::unique_ptr<Notifier> MakeNotifier(const NotifierConfig& config) {
  switch (config.type) {
    case NotifierType::kWebhook: return MakeWebhookNotifier(config);
    case NotifierType::kCommand: return std::make_unique<CommandNotifier>(config);
    case NotifierType::kLog: return std::make_unique<LogNotifier>(config);
  }
  return std::make_unique<LogNotifier>(config);
}

}  // namespace dbmedic::monitor
