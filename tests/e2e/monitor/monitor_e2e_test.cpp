// `dbmedic monitor` run as a user runs it: one command with a config file, against a real cluster.
// While it runs: the dashboard renders its charts with data in real headless Chromium, and
// `dbmedic metrics` / `dbmedic alerts` read what it stored. `dbmedic export-rules` output passes
// `promtool check rules`. SIGTERM stops it with exit code 0.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <fstream>
#include <regex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "harness/test_cluster.hpp"

namespace dbmedic::monitor {
namespace {

namespace fs = std::filesystem;
using dbmedic::testing::DbmedicBinary;
using dbmedic::testing::RunDbmedic;
using dbmedic::testing::TestCluster;
using nlohmann::json;

bool WaitUntil(const std::function<bool()>& condition, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return condition();
}

// The pid of the process whose command line contains `needle` (our unique config path).
std::optional<int> FindProcess(const std::string& needle) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), {});
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(needle) != std::string::npos && cmdline.find(" monitor ") !=
        std::string::npos) {
      return std::stoi(name);
    }
  }
  return std::nullopt;
}

class MonitorE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new TestCluster({.settings = {{"archive_mode", "on"},
                                             {"archive_command", "true"},
                                             {"shared_preload_libraries", "pg_stat_statements"}}});
    cluster_->Sql("CREATE EXTENSION pg_stat_statements; "
                  "CREATE TABLE radar_t AS SELECT g AS x FROM generate_series(1, 1000) g");
    // A session waiting all along: the agent's wait sampler has something to see.
    sleeper_ = new std::thread([] {
      try {
        cluster_->Sql("SELECT pg_sleep(60)");
      } catch (const Error& e) {  // TearDownTestSuite cancels it
        sleeper_error_ = e.what();
      }
    });
    // An inactive physical slot stands for a disconnected standby: replication lag has data.
    cluster_->Sql("SELECT pg_create_physical_replication_slot('standby1', true)");
    dir_ = new core::TempDir("monitor-e2e");
    port_ = core::FindFreeTcpPort();
    config_ = dir_->path() / "dbmedic.toml";
    core::AtomicWriteFile(config_, fmt::format(R"([cluster]
name = "main"
host = "{}"
port = {}
data_dir = "{}"

[monitor]
port = {}
history_path = "{}"
pg_interval = "300ms"
host_interval = "300ms"
history_interval = "300ms"
evaluation_interval = "300ms"

[diagnose]
snapshot_interval = "1s"
snapshot_keep = 1000
snapshot_file = "{}"
wait_sample_interval = "200ms"

[[alert]]
name = "AlwaysUp"
metric = "dbmedic_pg_up"
op = "=="
threshold = 1
severity = "info"
summary = "{{{{ $labels.target }}}} is up"
)", cluster_->socket_dir().string(), cluster_->port(), cluster_->data_dir().string(), port_,
        (dir_->path() / "monitor.db").string(), (dir_->path() / "statements.json").string()));
    agent_ = new std::thread([] {
      result_ = RunDbmedic({"--config", config_.string(), "monitor", "--run-for", "300s"});
    });
    // Every test (and the SIGTERM of TearDownTestSuite) needs the agent serving: wait for it.
    httplib::Client client("127.0.0.1", port_);
    for (int i = 0; i < 300; ++i) {
      if (auto res = client.Get("/healthz"); res && res->status == 200) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  static void TearDownTestSuite() {
    if (auto pid = FindProcess(config_.string())) ::kill(*pid, SIGTERM);
    agent_->join();
    EXPECT_EQ(result_.exit_code, 0) << result_.err;  // SIGTERM is a clean stop
    delete agent_;
    cluster_->Sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                  "WHERE query = 'SELECT pg_sleep(60)'");
    sleeper_->join();
    delete sleeper_;
    EXPECT_NE(sleeper_error_.find("canceling statement due to user request"), std::string::npos)
        << sleeper_error_;
    delete dir_;
    delete cluster_;
  }
  static std::string Url(const std::string& path = "/") {
    return fmt::format("http://127.0.0.1:{}{}", port_, path);
  }
  static json Series(const std::string& name) {
    httplib::Client client("127.0.0.1", port_);
    auto res = client.Get("/api/series?name=" + name + "&since=10m");
    return res && res->status == 200 ? json::parse(res->body) : json::array();
  }
  static json Api(const std::string& path_and_query, int* status = nullptr) {
    httplib::Client client("127.0.0.1", port_);
    auto res = client.Get(path_and_query);
    if (status) *status = res ? res->status : -1;
    return res ? json::parse(res->body, nullptr, false) : json();
  }
  static double CollectorRuns(const std::string& collector) {
    json health = Api("/healthz");  // a named object: the loop must not outlive a temporary
    for (const auto& c : health["collectors"]) {
      if (c["name"] == collector) return c["runs"].get<double>();
    }
    return 0;
  }
  static std::size_t Points(const json& series) {
    std::size_t n = 0;
    for (const auto& s : series) n += s["points"].size();
    return n;
  }
  std::vector<std::string> Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", config_.string()});
    return args;
  }

  static TestCluster* cluster_;
  static core::TempDir* dir_;
  static int port_;
  static fs::path config_;
  static std::thread* agent_;
  static std::thread* sleeper_;
  static std::string sleeper_error_;
  static core::ProcessResult result_;
};
std::thread* MonitorE2eTest::sleeper_ = nullptr;
std::string MonitorE2eTest::sleeper_error_;
TestCluster* MonitorE2eTest::cluster_ = nullptr;
core::TempDir* MonitorE2eTest::dir_ = nullptr;
int MonitorE2eTest::port_ = 0;
fs::path MonitorE2eTest::config_;
std::thread* MonitorE2eTest::agent_ = nullptr;
core::ProcessResult MonitorE2eTest::result_;

TEST_F(MonitorE2eTest, DashboardChartsRenderWithDataInHeadlessChromium) {
  const std::vector<std::pair<std::string, std::string>> charts = {
      {"cpu", "dbmedic_host_cpu_usage_ratio"},
      {"iops-read", "dbmedic_host_disk_reads_per_second"},
      {"tps", "dbmedic_pg_transactions_per_second"},
      {"connections", "dbmedic_pg_connections"},
      {"replication-lag", "dbmedic_pg_replication_lag_seconds"},
      {"rpo", "dbmedic_pg_rpo_seconds"}};
  for (const auto& [id, metric] : charts) {
    ASSERT_TRUE(WaitUntil([&] { return Points(Series(metric)) >= 2; }, std::chrono::seconds(60)))
        << metric;
  }
  ASSERT_TRUE(WaitUntil([&] { return CollectorRuns("statements:main") >= 2; },
                        std::chrono::seconds(60)));
  core::TempDir profile("monitor-chromium");
  core::RunOptions options;
  options.timeout = std::chrono::seconds(120);
  auto chromium = core::RunProcess(
      {"chromium", "--headless", "--no-sandbox", "--disable-gpu",
       "--disable-background-networking", "--disable-component-update", "--disable-sync",
       "--no-first-run", "--user-data-dir=" + profile.path().string(),
       "--virtual-time-budget=20000", "--dump-dom", Url()},
      options);
  ASSERT_EQ(chromium.exit_code, 0) << chromium.err;
  const std::string& dom = chromium.out;
  EXPECT_NE(dom.find("data-rendered=\"true\""), std::string::npos) << dom.substr(0, 2000);
  for (const auto& [id, metric] : charts) {
    std::regex chart("data-chart=\"" + id + "\"[^>]*data-points=\"([0-9]+)\"");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(dom, m, chart)) << id;
    EXPECT_GT(std::stoi(m[1]), 0) << id;
    EXPECT_NE(dom.find("<polyline", m.position(0)), std::string::npos) << id;
  }
  // Top queries and the wait profile from the agent's diagnose samplers.
  for (const char* table : {"top-queries", "waits"}) {
    std::regex rows(std::string("id=\"") + table + "\"[^>]*data-rows=\"([0-9]+)\"");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(dom, m, rows)) << table;
    EXPECT_GT(std::stoi(m[1]), 0) << table << ": " << dom.substr(dom.find(table), 1500);
  }
  EXPECT_NE(dom.find("<td>Timeout:PgSleep</td><td>Timeout</td>"), std::string::npos);
  // The alert list shows the firing custom alert.
  EXPECT_NE(dom.find("<tr class=\"alert state-firing\"><td>firing</td><td>AlwaysUp</td>"),
            std::string::npos);
}

TEST_F(MonitorE2eTest, TopQueriesApiCountsStatementsRunWhileTheAgentRuns) {
  ASSERT_TRUE(WaitUntil([&] { return CollectorRuns("statements:main") >= 1; },
                        std::chrono::seconds(60)));
  for (int i = 0; i < 5; ++i) cluster_->Sql("SELECT count(*) FROM radar_t WHERE x > " +
                                            std::to_string(i));
  const std::string query = "SELECT count(*) FROM radar_t WHERE x > $1";
  json found;
  ASSERT_TRUE(WaitUntil([&] {
    json top = Api("/api/top-queries?since=1h&by=calls&limit=100");
    for (const auto& s : top["statements"]) {
      if (s["query"] == query) found = s;
    }
    return found.is_object() && found["calls"] == 5;
  }, std::chrono::seconds(60))) << found.dump();
  EXPECT_EQ(found["rows"], 5);
  int status = 0;
  auto bad = Api("/api/top-queries?by=slowest", &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(bad["error"].get<std::string>().find("slowest"), std::string::npos) << bad.dump();
  Api("/api/top-queries?target=nope", &status);
  EXPECT_EQ(status, 404);
}

TEST_F(MonitorE2eTest, TopQueriesCommandUsesTheAgentsSnapshots) {
  ASSERT_TRUE(WaitUntil([&] { return CollectorRuns("statements:main") >= 3; },
                        std::chrono::seconds(60)));
  auto r = RunDbmedic(Cli({"--output", "json", "top-queries", "--since", "1s"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["source"], "snapshots");
  EXPECT_FALSE(j.contains("note")) << r.out;
}

TEST_F(MonitorE2eTest, WaitsApiShowsTheSleepingSession) {
  json profile;
  ASSERT_TRUE(WaitUntil([&] {
    profile = Api("/api/waits?since=1h");
    for (const auto& e : profile["by_event"]) {
      if (e["event"] == "Timeout:PgSleep" && e["detail"] == "Timeout") return true;
    }
    return false;
  }, std::chrono::seconds(60))) << profile.dump();
  EXPECT_EQ(profile["target"], "main");
  EXPECT_GT(profile["samples"].get<double>(), 0);
  bool by_query = false;
  for (const auto& q : profile["by_query"]) by_query |= q["query"] == "select pg_sleep (...)";
  EXPECT_TRUE(by_query) << profile.dump();
  // The counters behind it are in /metrics too.
  httplib::Client client("127.0.0.1", port_);
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("dbmedic_pg_wait_samples_total{target=\"main\","
                               "wait_event=\"PgSleep\",wait_event_type=\"Timeout\"}"),
            std::string::npos);
}

TEST_F(MonitorE2eTest, MetricsCommandReadsTheHistory) {
  ASSERT_TRUE(WaitUntil([&] { return Points(Series("dbmedic_pg_up")) >= 2; },
                        std::chrono::seconds(60)));
  auto r = RunDbmedic(Cli({"--output", "json", "metrics", "dbmedic_pg_up", "--since", "1h",
                           "--match", "target=main"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto series = json::parse(r.out);
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0]["labels"]["target"], "main");
  EXPECT_GE(series[0]["points"].size(), 2u);
  EXPECT_EQ(series[0]["points"][0][1], 1.0);
  auto text = RunDbmedic(Cli({"metrics", "dbmedic_pg_up", "--since", "1h"}));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("{target=\"main\"}"), std::string::npos) << text.out;
}

TEST_F(MonitorE2eTest, MetricsCommandSaysWhenNothingMatches) {
  auto r = RunDbmedic(Cli({"metrics", "dbmedic_no_such_metric", "--since", "5m"}));
  EXPECT_EQ(r.exit_code, 9);
  EXPECT_NE(r.err.find("ERROR: no samples of metric 'dbmedic_no_such_metric' in the last 5m"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("HINT: list the stored metrics with 'dbmedic metrics --list'"),
            std::string::npos) << r.err;
}

TEST_F(MonitorE2eTest, AlertsCommandShowsTheFiringAlert) {
  ASSERT_TRUE(WaitUntil([&] {
    auto r = RunDbmedic(Cli({"--output", "json", "alerts"}));
    return r.ok() && r.out.find("\"firing\"") != std::string::npos;
  }, std::chrono::seconds(60)));
  auto r = RunDbmedic(Cli({"--output", "json", "alerts"}));
  auto alerts = json::parse(r.out);
  auto it = std::find_if(alerts.begin(), alerts.end(),
                         [](const json& a) { return a["alertname"] == "AlwaysUp"; });
  ASSERT_NE(it, alerts.end());
  EXPECT_EQ((*it)["state"], "firing");
  EXPECT_EQ((*it)["summary"], "main is up");
  auto text = RunDbmedic(Cli({"alerts"}));
  // Columns are as wide as their longest cell: another alert "pending" (e.g. DiskAlmostFull on a
  // full test machine) widens the state column.
  EXPECT_TRUE(std::regex_search(text.out, std::regex("\\nfiring +AlwaysUp "))) << text.out;
}

TEST_F(MonitorE2eTest, ExportedRulesPassPromtool) {
  auto file = dir_->path() / "rules.yml";
  auto r = RunDbmedic(Cli({"export-rules", "--file", file.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, fmt::format("wrote 13 rules to {}\n", file.string()));
  auto check = core::RunProcess({"promtool", "check", "rules", file.string()});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("SUCCESS: 13 rules found"), std::string::npos) << check.out;
}

TEST_F(MonitorE2eTest, SystemdUnitInTheDocsVerifies) {
  // The shipped unit, pointed at the built binary (systemd-analyze checks ExecStart exists).
  std::string unit = core::ReadFile(fs::path(DBMEDIC_SOURCE_DIR) / "docs" /
                                    "dbmedic-monitor.service");
  auto at = unit.find("/usr/local/bin/dbmedic");
  ASSERT_NE(at, std::string::npos);
  unit.replace(at, std::string("/usr/local/bin/dbmedic").size(), DbmedicBinary().string());
  EXPECT_NE(unit.find(" monitor\n"), std::string::npos);
  auto file = dir_->path() / "dbmedic-monitor.service";
  core::AtomicWriteFile(file, unit);
  auto r = core::RunProcess({"systemd-analyze", "verify", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(MonitorE2eTest, CheckRejectsABadAlertSection) {
  auto bad = dir_->path() / "bad.toml";
  core::AtomicWriteFile(bad, "[[alert]]\nname = \"X\"\nmetric = \"m\"\nthreshold = 1\n"
                             "op = \"~\"\n");
  auto r = RunDbmedic({"--config", bad.string(), "monitor", "--check"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("ERROR: [[alert]] #1 ('X'): key 'op' must be one of >, >=, <, <=, ==, "
                       "!=; got '~'"), std::string::npos) << r.err;
}

TEST_F(MonitorE2eTest, CheckRejectsAnEmptyWaitHistoryWindow) {
  auto bad = dir_->path() / "bad-window.toml";
  core::AtomicWriteFile(bad, "[diagnose]\nwait_history_window = \"0s\"\n");
  auto r = RunDbmedic({"--config", bad.string(), "monitor", "--check"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("diagnose.wait_history_window must be longer than 0"), std::string::npos)
      << r.err;
}

TEST_F(MonitorE2eTest, HistoryMissingIsNotFound) {
  auto r = RunDbmedic({"alerts", "--history", (dir_->path() / "none.db").string()});
  EXPECT_EQ(r.exit_code, 9);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dbmedic::monitor
