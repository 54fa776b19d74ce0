// The built binary as a user runs it: log-report on a log file, JSON and HTML outputs, errors.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/fs.hpp"
#include "harness/test_cluster.hpp"

namespace dbmedic {
namespace {

using testing::RunDbmedic;

const std::string kSample = std::string(DBMEDIC_TEST_DATA_DIR) + "/sample.log";

TEST(LogReportCli, JsonListsStatementsDeadlocksAndCheckpoints) {
  auto r = RunDbmedic({"--output", "json", "log-report", kSample});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["statements"]["executions"], 3);
  EXPECT_EQ(j["statements"]["distinct"], 2);
  auto top = j["statements"]["top"][0];
  EXPECT_EQ(top["query"], "select * from orders where customer_id = ?");
  EXPECT_EQ(top["count"], 2);
  EXPECT_EQ(top["max_ms"], 37.5);
  EXPECT_EQ(top["slowest"]["query"], "select *\n  from orders\n where customer_id = 7");
  auto in_list = j["statements"]["top"][1];
  EXPECT_EQ(in_list["query"], "select name from customers where id in (...)");
  EXPECT_EQ(in_list["slowest"]["parameters"], "$1 = '3', $2 = '9'");
  auto dl = j["locks"]["deadlocks"];
  EXPECT_EQ(dl["count"], 1);
  EXPECT_EQ(dl["events"][0]["processes"][1]["query"], "UPDATE stock SET qty = qty - 1 WHERE item = 1");
  EXPECT_EQ(j["checkpoints"]["completed"], 1);
  EXPECT_EQ(j["checkpoints"]["buffers_written"], 120);
  EXPECT_EQ(j["hourly"].size(), 2u);
  EXPECT_EQ(j["unparsed_lines"], 0);
}

TEST(LogReportCli, TextAndHtmlReports) {
  core::TempDir dir("diagnose-e2e");
  auto html = (dir.path() / "report.html").string();
  auto r = RunDbmedic({"log-report", kSample, "--html", html});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 executions of 2 distinct statements"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Deadlocks: 1"), std::string::npos);
  std::string page = core::ReadFile(html);
  EXPECT_TRUE(page.starts_with("<!DOCTYPE html>"));
  EXPECT_NE(page.find("UPDATE stock SET qty = qty - 1 WHERE item = 1"), std::string::npos);
  EXPECT_NE(page.find("-- parameters: $1 = '3', $2 = '9'"), std::string::npos);
  EXPECT_NE(page.find("<th>p50</th><th>p95</th><th>p99</th>"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);
}

TEST(LogReportCli, TextShowsPercentilesAndTheSlowestRunWithItsParameters) {
  auto r = RunDbmedic({"log-report", kSample});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* column : {"p50 ms", "p95 ms", "p99 ms", "max ms"}) {
    EXPECT_NE(r.out.find(column), std::string::npos) << column << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("37.500 ms at 2026-11-29 10:00:02 (pid 202, app@shop): select * from "
                       "orders where customer_id = 7"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2.000 ms at 2026-11-29 10:00:03 (pid 201, app@shop): SELECT name FROM "
                       "customers WHERE id IN ($1, $2)\n      parameters: $1 = '3', $2 = '9'\n"),
            std::string::npos) << r.out;
}

TEST(LogReportCli, MissingFileExitsNotFound) {
  auto r = RunDbmedic({"log-report", "/nonexistent/pg.log"});
  EXPECT_EQ(r.exit_code, 9);
  EXPECT_NE(r.err.find("log file '/nonexistent/pg.log' does not exist"), std::string::npos) << r.err;
}

TEST(LogReportCli, ExplicitPrefixOption) {
  core::TempDir dir("diagnose-e2e");
  auto path = dir.path() / "custom.log";
  std::ofstream(path) << "pid=7 db=x LOG:  duration: 3.000 ms  statement: select 1\n";
  auto r = RunDbmedic({"--output", "json", "log-report", path.string(), "--log-line-prefix",
                       "pid=%p db=%d "});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["statements"]["executions"], 1);
}

TEST(DiagnoseCli, HelpDescribesEveryCommand) {
  const std::pair<const char*, const char*> kCommands[] = {
      {"top-queries", "pg_stat_statements deltas"},
      {"log-report", "Analyse PostgreSQL server logs"},
      {"explain", "EXPLAIN (BUFFERS) a statement safely"},
      {"locks", "blocking tree"},
      {"waits", "active-session history"},
  };
  for (const auto& [cmd, phrase] : kCommands) {
    auto r = RunDbmedic({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find(phrase), std::string::npos) << cmd << ": " << r.out;
  }
}

}  // namespace
}  // namespace dbmedic
