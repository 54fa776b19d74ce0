// Notifiers deliver alert events: a webhook receiving Alertmanager's webhook JSON, a command
// receiving the same JSON on stdin, or the log. Configured by [[notifier]] sections; with none,
// the log notifier alone is used.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "monitor/rules_engine.hpp"

namespace dbmedic::monitor {

enum class NotifierType { kWebhook, kCommand, kLog };

struct NotifierConfig {
  std::string name;
  NotifierType type = NotifierType::kLog;
  std::string url;                   // webhook
  std::vector<std::string> command;  // command: argv
  std::chrono::milliseconds timeout{10000};
  bool send_resolved = true;
  int retries = 3;                              // further attempts after a retryable failure
  std::chrono::milliseconds retry_backoff{1000};  // first wait; doubles per attempt (max 5 min)
};

// Reads [[notifier]] (keys: name, type, url, command, timeout, send_resolved, retries,
// retry_backoff). Throws
// Error(kConfig) naming the section number and key.
std::vector<NotifierConfig> ParseNotifiers(const toml::table& root, const std::string& file);

// Alertmanager webhook payload (version 4) for events of one status.
nlohmann::json AlertmanagerPayload(const std::vector<AlertEvent>& events,
                                   const std::string& receiver, const std::string& external_url);

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual const NotifierConfig& config() const = 0;
  // Delivers events that all have the same status. Throws Error(kNetwork / kIo) on failures
  // worth retrying (receiver down, HTTP 5xx, command failed), Error(kConfig) when the receiver
  // rejects the request (HTTP 4xx): sending it again would not help.
  virtual void Send(const std::vector<AlertEvent>& events, const std::string& external_url) = 0;
};

std::unique_ptr<Notifier> MakeNotifier(const NotifierConfig& config);

struct DeliveryResult {
  bool delivered = false;
  int attempts = 0;
  std::string error;  // of the last failed attempt
};

// Waits between attempts; returns false to abandon the delivery (the agent is stopping).
using RetrySleep = std::function<bool(std::chrono::milliseconds)>;

// Sends `events`, retrying a retryable failure up to config().retries times after
// retry_backoff, 2 x retry_backoff, ... (capped at 5 minutes). Never throws: the result says
// what happened; each failed attempt is logged as a warning and giving up as an error.
DeliveryResult Deliver(Notifier& notifier, const std::vector<AlertEvent>& events,
                       const std::string& external_url, const RetrySleep& sleep);

// ISO 8601 UTC with milliseconds: 2026-11-29T12:00:00.000Z ("0001-01-01T00:00:00Z" for epoch 0,
// as Alertmanager writes an unset endsAt).
std::string Rfc3339(TimePoint time);

}  // namespace dbmedic::monitor
