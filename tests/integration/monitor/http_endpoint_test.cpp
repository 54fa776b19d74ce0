// The agent's HTTP endpoint against a real cluster: /metrics (promtool accepts it), /healthz,
// /api/*, the embedded dashboard, basic auth and TLS.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/subprocess.hpp"
#include "monitor/exposition.hpp"
#include "monitor/http_server.hpp"
#include "monitor_fixtures.hpp"

namespace dbmedic::monitor::testing {
namespace {

class HttpEndpointTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new TestCluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  std::unique_ptr<Agent> StartAgent(AgentSettings settings) {
    auto agent = std::make_unique<Agent>(
        settings, std::vector<MonitorTarget>{{"main", cluster_->ConnInfo(),
                                              cluster_->data_dir()}},
        DefaultAlertRules(FastRuleSettings()), std::vector<NotifierConfig>{}, clock_);
    agent->Start();
    return agent;
  }
  static bool HasPgUp(httplib::Client& client) {
    auto res = client.Get("/metrics");
    return res && res->body.find("dbmedic_pg_up{target=\"main\"} 1") != std::string::npos;
  }

  static TestCluster* cluster_;
  core::TempDir dir_{"monitor-http"};
  SystemClock clock_;
};
TestCluster* HttpEndpointTest::cluster_ = nullptr;

TEST_F(HttpEndpointTest, MetricsEndpointServesValidExposition) {
  auto agent = StartAgent(FastSettings(dir_.path()));
  httplib::Client client(agent->BaseUrl());
  ASSERT_TRUE(WaitUntil([&] { return HasPgUp(client); }));
  ASSERT_TRUE(WaitUntil([&] {  // rates need two host collections
    auto res = client.Get("/metrics");
    return res->body.find("dbmedic_host_cpu_usage_ratio{mode=\"iowait\"}") != std::string::npos;
  }));
  auto res = client.Get("/metrics");
  EXPECT_EQ(res->get_header_value("Content-Type"), std::string(kExpositionContentType));
  for (const char* name : {"dbmedic_host_load1 ", "dbmedic_host_memory_total_bytes ",
                           "dbmedic_pg_connections{state=\"active\",target=\"main\"}",
                           "dbmedic_host_filesystem_used_ratio{path=",
                           "dbmedic_collector_duration_seconds{collector=\"postgres:main\"}",
                           "dbmedic_collector_errors_total{collector=\"host\"} 0"}) {
    EXPECT_NE(res->body.find(name), std::string::npos) << name;
  }
  core::RunOptions options;
  options.stdin_data = res->body;
  auto check = core::RunProcess({"promtool", "check", "metrics"}, options);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "");
}

TEST_F(HttpEndpointTest, HealthAndApiEndpointsAnswerJson) {
  auto agent = StartAgent(FastSettings(dir_.path()));
  httplib::Client client(agent->BaseUrl());
  ASSERT_TRUE(WaitUntil([&] { return HasPgUp(client); }));
  auto health = nlohmann::json::parse(client.Get("/healthz")->body);
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["collectors"].size(), 2u);
  auto rules = nlohmann::json::parse(client.Get("/api/rules")->body);
  EXPECT_EQ(rules.size(), DefaultAlertRules({}).size());
  auto targets = nlohmann::json::parse(client.Get("/api/targets")->body);
  EXPECT_EQ(targets[0]["name"], "main");
  EXPECT_TRUE(nlohmann::json::parse(client.Get("/api/alerts")->body).is_array());
  // History: the writer runs every 300 ms; wait for two points of the same series.
  ASSERT_TRUE(WaitUntil([&] {
    auto series = nlohmann::json::parse(
        client.Get("/api/series?name=dbmedic_pg_up&since=5m&match=target%3Dmain")->body);
    return series.size() == 1 && series[0]["points"].size() >= 2;
  }));
  auto bad = client.Get("/api/series");
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(nlohmann::json::parse(bad->body)["error"], "parameter 'name' is required");
}

TEST_F(HttpEndpointTest, ServesTheEmbeddedDashboard) {
  auto agent = StartAgent(FastSettings(dir_.path()));
  httplib::Client client(agent->BaseUrl());
  auto index = client.Get("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_NE(index->body.find("<script src=\"dashboard.js\">"), std::string::npos);
  EXPECT_EQ(index->get_header_value("Content-Type"), "text/html; charset=utf-8");
  auto js = client.Get("/dashboard.js");
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(client.Get("/nope.html")->status, 404);
}

TEST_F(HttpEndpointTest, BasicAuthProtectsAllButHealthz) {
  auto settings = FastSettings(dir_.path());
  settings.basic_auth_user = "admin";
  settings.basic_auth_password = "s3cret";
  auto agent = StartAgent(settings);
  httplib::Client anonymous(agent->BaseUrl());
  auto denied = anonymous.Get("/metrics");
  EXPECT_EQ(denied->status, 401);
  EXPECT_EQ(denied->get_header_value("WWW-Authenticate"), "Basic realm=\"dbmedic\"");
  EXPECT_EQ(anonymous.Get("/healthz")->status, 200);
  httplib::Client wrong(agent->BaseUrl());
  wrong.set_basic_auth("admin", "guess");
  EXPECT_EQ(wrong.Get("/metrics")->status, 401);
  httplib::Client client(agent->BaseUrl());
  client.set_basic_auth("admin", "s3cret");
  EXPECT_EQ(client.Get("/metrics")->status, 200);
}

TEST_F(HttpEndpointTest, ServesHttpsWithTheConfiguredCertificate) {
  auto cert = dir_.path() / "cert.pem", key = dir_.path() / "key.pem";
  core::RunChecked({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    key.string(), "-out", cert.string(), "-days", "1", "-subj",
                    "/CN=127.0.0.1"});
  auto settings = FastSettings(dir_.path());
  settings.tls_cert = cert;
  settings.tls_key = key;
  auto agent = StartAgent(settings);
  EXPECT_TRUE(agent->BaseUrl().starts_with("https://"));
  httplib::SSLClient client("127.0.0.1", agent->port());
  client.set_ca_cert_path(cert.c_str());
  client.enable_server_certificate_verification(true);
  auto res = client.Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpEndpointTest, BadTlsFilesAreAConfigError) {
  auto settings = FastSettings(dir_.path());
  settings.tls_cert = dir_.path() / "missing-cert.pem";
  settings.tls_key = dir_.path() / "missing-key.pem";
  Agent agent(settings, {}, {}, {}, clock_);
  try {
    agent.Start();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_EQ(std::string(e.what()), "unable to load TLS certificate '" +
                                         settings.tls_cert.string() + "' / key '" +
                                         settings.tls_key.string() + "'");
  }
}

TEST_F(HttpEndpointTest, BusyPortIsAConflict) {
  auto first = StartAgent(FastSettings(dir_.path()));
  auto settings = FastSettings(dir_.path() / "second");
  settings.port = first->port();
  Agent second(settings, {}, {}, {}, clock_);
  try {
    second.Start();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict);
    EXPECT_EQ(std::string(e.what()), "unable to listen on 127.0.0.1:" +
                                         std::to_string(first->port()) +
                                         ": address in use or not available");
  }
}

}  // namespace
}  // namespace dbmedic::monitor::testing
