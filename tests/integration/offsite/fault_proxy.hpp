// An HTTP proxy between dbmedic and s3rver that injects faults: answer 500 to the next N
// requests, delay requests (slow responses), or run a callback on the Nth upload (to kill the
// server mid-backup). Requests are forwarded byte for byte (same target and Host header), so
// SigV4 signatures made for the proxy's address still verify at s3rver.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "harness/s3_server.hpp"

namespace dbmedic::testing {

class FaultProxy {
 public:
  explicit FaultProxy(int upstream_port) : upstream_port_(upstream_port), port_(FreePort()) {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      Handle(req, res);
    };
    server_.Get(".*", handler);
    server_.Put(".*", handler);
    server_.Post(".*", handler);
    server_.Delete(".*", handler);
    thread_ = std::thread([this] { server_.listen("127.0.0.1", port_); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~FaultProxy() {
    server_.stop();
    thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::atomic<int> fail_next{0};            // answer 500 InternalError to this many requests
  std::atomic<int> delay_next{0};           // delay this many requests by `delay`
  std::chrono::milliseconds delay{0};
  std::atomic<int> requests{0};             // forwarded or failed, all methods
  std::atomic<int> failed{0};               // 500s sent
  std::atomic<int> uploads{0};              // PUT requests seen
  int on_upload_at = 0;                     // call on_upload when uploads reaches this
  std::function<void()> on_upload;

 private:
  void Handle(const httplib::Request& req, httplib::Response& res) {
    ++requests;
    if (req.method == "PUT" && ++uploads == on_upload_at && on_upload) on_upload();
    if (fail_next.fetch_sub(1) > 0) {
      ++failed;
      res.status = 500;
      res.set_content("<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>injected"
                      "</Message></Error>",
                      "application/xml");
      return;
    }
    fail_next.store(std::max(0, fail_next.load()));
    if (delay_next.fetch_sub(1) > 0) std::this_thread::sleep_for(delay);
    delay_next.store(std::max(0, delay_next.load()));
    Forward(req, res);
  }

  void Forward(const httplib::Request& req, httplib::Response& res) {
    httplib::Client client("127.0.0.1", upstream_port_);
    client.set_read_timeout(60, 0);
    httplib::Request out;
    out.method = req.method;
    out.path = req.target;
    out.body = req.body;
    for (const auto& [name, value] : req.headers) {
      if (name == "Content-Length" || name == "REMOTE_ADDR" || name == "REMOTE_PORT" ||
          name == "LOCAL_ADDR" || name == "LOCAL_PORT" || name == "Connection") {
        continue;
      }
      out.headers.emplace(name, value);
    }
    auto result = client.send(out);
    if (!result) {
      res.status = 502;
      res.set_content("<Error><Code>BadGateway</Code></Error>", "application/xml");
      return;
    }
    res.status = result->status;
    for (const auto& [name, value] : result->headers) {
      if (name == "Content-Length" || name == "Transfer-Encoding" || name == "Connection") continue;
      res.headers.emplace(name, value);
    }
    res.body = result->body;
  }

  int upstream_port_;
  int port_;
  httplib::Server server_;
  std::thread thread_;
};

}  // namespace dbmedic::testing
