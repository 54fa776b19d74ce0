// log-report on logs a real server wrote: a workload with slow statements, an extended-protocol
// statement with parameters, a multi-line statement, an auto_explain plan, a lock wait, a lock
// timeout, a real deadlock, temp files, a checkpoint and an error; then both the stderr log and
// the csvlog of the same server are analysed.
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "diagnose/fingerprint.hpp"
#include "diagnose/log_report.hpp"
#include "diagnose_cluster.hpp"

namespace dbmedic::diagnose {
namespace {

using testing::CsvLog;
using testing::SharedCluster;
using testing::StderrLog;
using testing::WaitFor;
using testing::WaitsForLock;

constexpr int kSlowRuns = 7;

bool LogContains(const std::filesystem::path& path, std::string_view text) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return false;
  return core::ReadFile(path).find(text) != std::string::npos;
}

std::int64_t Pid(pg::Connection& c) { return std::stoll(c.Scalar("SELECT pg_backend_pid()")); }

class LogReportOnServerLog : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto& cluster = SharedCluster();
    auto conn = cluster.Connect();
    // Other suites share the server: analyse only what this suite's workload logged.
    conn.Exec("SELECT 'log-report-marker-start'");
    ASSERT_TRUE(WaitFor([] { return LogContains(StderrLog(), "log-report-marker-start") &&
                                    LogContains(CsvLog(), "log-report-marker-start"); }));
    std::uint64_t stderr_from = std::filesystem::file_size(StderrLog());
    std::uint64_t csv_from = std::filesystem::file_size(CsvLog());
    conn.Exec("DROP TABLE IF EXISTS lr_big, lr_acc");
    conn.Exec("CREATE TABLE lr_big AS SELECT g AS id, g % 1000 AS v FROM generate_series(1, 100000) g");
    conn.Exec("CREATE TABLE lr_acc (id int PRIMARY KEY, n int); INSERT INTO lr_acc VALUES (1, 0), (2, 0)");
    for (int i = 0; i < kSlowRuns; ++i) {
      conn.Exec("SELECT count(*) FROM lr_big WHERE v = " + std::to_string(i * 3));
    }
    conn.ExecParams("SELECT id FROM lr_big WHERE id = $1", {std::string("4242")});
    conn.Exec("SELECT id,\n       v\n  FROM lr_big\n WHERE id = 17");
    conn.Exec("SET work_mem = '64kB'");
    conn.Exec("SELECT * FROM lr_big ORDER BY v DESC LIMIT 5 OFFSET 50000");
    conn.Exec("RESET work_mem");
    try {
      conn.Exec("SELECT * FROM lr_missing_table");
    } catch (const Error&) {
    }
    conn.Exec("CHECKPOINT");
    MakeLockWait();
    MakeLockTimeout();
    MakeDeadlock();
    conn.Exec("SELECT 'log-report-marker-end'");
    ASSERT_TRUE(WaitFor([] { return LogContains(StderrLog(), "log-report-marker-end") &&
                                    LogContains(CsvLog(), "log-report-marker-end"); }));
    dir_ = std::make_unique<core::TempDir>("diagnose-logs");
    CopyTail(StderrLog(), stderr_from, StderrCopy());
    CopyTail(CsvLog(), csv_from, CsvCopy());
  }
  static void TearDownTestSuite() {
    if (std::getenv("DIAGNOSE_KEEP_LOGS")) dir_->Keep();
    dir_.reset();
  }

  static void CopyTail(const std::filesystem::path& from, std::uint64_t offset,
                       const std::filesystem::path& to) {
    std::string all = core::ReadFile(from);
    std::ofstream(to, std::ios::binary) << all.substr(offset);
  }
  static std::filesystem::path StderrCopy() { return dir_->path() / "suite.log"; }
  static std::filesystem::path CsvCopy() { return dir_->path() / "suite.csv"; }
  static inline std::unique_ptr<core::TempDir> dir_;

  // A holder updates row 1 in an open transaction; a waiter's update of row 1 waits until the
  // server logged "still waiting" (deadlock_timeout), then the holder commits.
  static void MakeLockWait() {
    auto& cluster = SharedCluster();
    auto holder = cluster.Connect();
    auto observer = cluster.Connect();
    holder.Exec("BEGIN; UPDATE lr_acc SET n = n + 1 WHERE id = 1");
    auto waiter = cluster.Connect();
    std::int64_t waiter_pid = Pid(waiter);
    std::jthread t([&] {
      try {
        waiter.Exec("UPDATE lr_acc SET n = n + 10 WHERE id = 1");
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    });
    // The holder commits whatever happens below: an assertion that returned first would leave
    // the waiter blocked and the suite hung joining its thread.
    bool logged = false;
    try {
      logged = WaitFor([&] { return WaitsForLock(observer, waiter_pid); }) && WaitFor([&] {
                 return LogContains(StderrLog(),
                                    "process " + std::to_string(waiter_pid) + " still waiting");
               });
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
    holder.Exec("COMMIT");
    ASSERT_TRUE(logged) << "the update never waited for the lock, or the server never logged it";
  }

  static void MakeLockTimeout() {
    auto& cluster = SharedCluster();
    auto holder = cluster.Connect();
    holder.Exec("BEGIN; LOCK TABLE lr_acc IN ACCESS EXCLUSIVE MODE");
    auto waiter = cluster.Connect();
    waiter.Exec("SET lock_timeout = '400ms'");
    EXPECT_THROW(waiter.Exec("SELECT * FROM lr_acc WHERE id = 2"), Error);
    holder.Exec("ROLLBACK");
  }

  // Two sessions update rows 1 and 2 in opposite orders: the server detects the deadlock.
  static void MakeDeadlock() {
    auto& cluster = SharedCluster();
    auto a = cluster.Connect();
    auto b = cluster.Connect();
    auto observer = cluster.Connect();
    a.Exec("BEGIN; UPDATE lr_acc SET n = n + 1 WHERE id = 1");
    b.Exec("BEGIN; UPDATE lr_acc SET n = n + 1 WHERE id = 2");
    std::int64_t a_pid = Pid(a);
    std::atomic<int> failures{0};
    {
      std::jthread ta([&] {
        try {
          a.Exec("UPDATE lr_acc SET n = n + 100 WHERE id = 2");
        } catch (const Error&) {
          ++failures;
        }
      });
      ASSERT_TRUE(WaitFor([&] { return WaitsForLock(observer, a_pid); }));
      try {
        b.Exec("UPDATE lr_acc SET n = n + 200 WHERE id = 1");
      } catch (const Error&) {
        ++failures;
      }
      b.Exec("ROLLBACK");
    }
    a.Exec("ROLLBACK");
    EXPECT_EQ(failures.load(), 1);
  }

  static LogReport Report(const std::filesystem::path& path) {
    return AnalyzeLogs({path}, LogReportOptions{std::nullopt, 2, 0});
  }

  static const StatementStats* Find(const LogStats& stats, std::string_view normalized) {
    auto it = stats.statements.find(FingerprintOf(normalized));
    return it == stats.statements.end() ? nullptr : &it->second;
  }
};

TEST_F(LogReportOnServerLog, DetectsTheServersPrefix) {
  LogReport r = Report(StderrCopy());
  EXPECT_EQ(r.files[0].format, LogFormat::kStderr);
  EXPECT_EQ(r.files[0].log_line_prefix, "%m [%p] %q%u@%d ");
}

TEST_F(LogReportOnServerLog, CountsEveryRunOfTheSlowStatement) {
  LogReport r = Report(StderrCopy());
  const StatementStats* s = Find(r.stats, "select count (*) from lr_big where v = ?");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->timing.count, static_cast<std::uint64_t>(kSlowRuns));
  EXPECT_GT(s->timing.max_ms, 0);
  EXPECT_NE(s->slowest.query.find("SELECT count(*) FROM lr_big WHERE v = "), std::string::npos);
}

TEST_F(LogReportOnServerLog, AutoExplainPlansAreAttached) {
  LogReport r = Report(StderrCopy());
  const StatementStats* s = Find(r.stats, "select count (*) from lr_big where v = ?");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->plan_timing.count, static_cast<std::uint64_t>(kSlowRuns));
  EXPECT_NE(s->slowest_plan.plan.find("Seq Scan on"), std::string::npos) << s->slowest_plan.plan;
}

TEST_F(LogReportOnServerLog, TextReportShowsTheSlowestRunsPlan) {
  LogReport r = Report(StderrCopy());
  std::string text = LogReportToText(r, 100);
  std::size_t at = text.find("SELECT count(*) FROM lr_big WHERE v = ");
  ASSERT_NE(at, std::string::npos) << text;
  std::size_t plan = text.find("      auto_explain plan (", at);
  ASSERT_NE(plan, std::string::npos) << text.substr(at, 2000);
  EXPECT_NE(text.find("Seq Scan on lr_big", plan), std::string::npos) << text.substr(plan, 1000);
}

TEST_F(LogReportOnServerLog, ExtendedProtocolParametersAreKept) {
  LogReport r = Report(StderrCopy());
  const StatementStats* s = Find(r.stats, "select id from lr_big where id = ?");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->slowest.parameters, "$1 = '4242'");
  EXPECT_EQ(s->slowest.query, "SELECT id FROM lr_big WHERE id = $1");
}

TEST_F(LogReportOnServerLog, MultiLineStatementIsOneStatement) {
  LogReport r = Report(StderrCopy());
  const StatementStats* s = Find(r.stats, "select id, v from lr_big where id = ?");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->slowest.query, "SELECT id,\n       v\n  FROM lr_big\n WHERE id = 17");
}

TEST_F(LogReportOnServerLog, DeadlockShowsBothSidesQueries) {
  LogReport r = Report(StderrCopy());
  ASSERT_EQ(r.stats.deadlock_count, 1u);
  const Deadlock& d = r.stats.deadlocks.at(0);
  ASSERT_EQ(d.processes.size(), 2u);
  std::set<std::string> queries = {d.processes[0].query, d.processes[1].query};
  EXPECT_TRUE(queries.count("UPDATE lr_acc SET n = n + 100 WHERE id = 2"));
  EXPECT_TRUE(queries.count("UPDATE lr_acc SET n = n + 200 WHERE id = 1"));
  EXPECT_NE(d.processes[0].waits_for.find("ShareLock on transaction"), std::string::npos);
}

TEST_F(LogReportOnServerLog, LockWaitNamesTheBlockersStatement) {
  LogReport r = Report(StderrCopy());
  auto it = r.stats.lock_waits.find("ShareLock on transaction");
  ASSERT_NE(it, r.stats.lock_waits.end());
  EXPECT_GE(it->second.waits, 1u);
  EXPECT_EQ(it->second.sample_blocker_query, "BEGIN; UPDATE lr_acc SET n = n + 1 WHERE id = 1");
  EXPECT_EQ(it->second.sample_query, "UPDATE lr_acc SET n = n + 10 WHERE id = 1");
}

TEST_F(LogReportOnServerLog, LockTimeoutNamesBothQueries) {
  LogReport r = Report(StderrCopy());
  ASSERT_EQ(r.stats.lock_timeout_count, 1u);
  const LockTimeout& t = r.stats.lock_timeouts.at(0);
  EXPECT_EQ(t.query, "SELECT * FROM lr_acc WHERE id = 2");
  EXPECT_NE(t.blocker_pid, 0);
  EXPECT_EQ(t.blocker_query, "BEGIN; LOCK TABLE lr_acc IN ACCESS EXCLUSIVE MODE");
}

TEST_F(LogReportOnServerLog, TempFilesGoToTheSortingStatement) {
  LogReport r = Report(StderrCopy());
  EXPECT_GE(r.stats.temp_file_count, 1u);
  auto it = r.stats.temp_files.find(FingerprintOf("select * from lr_big order by v desc limit ? offset ?"));
  ASSERT_NE(it, r.stats.temp_files.end());
  EXPECT_GT(it->second.total_bytes, 0u);
}

TEST_F(LogReportOnServerLog, CheckpointsAndErrorsAreCounted) {
  LogReport r = Report(StderrCopy());
  EXPECT_GE(r.stats.checkpoints.completed, 1u);
  auto it = r.stats.errors.find("ERROR: relation \"?\" does not exist at character ?");
  ASSERT_NE(it, r.stats.errors.end());
  EXPECT_EQ(it->second.sample_statement, "SELECT * FROM lr_missing_table");
}

TEST_F(LogReportOnServerLog, CsvlogAgreesWithTheStderrLog) {
  LogReport a = Report(StderrCopy());
  LogReport b = Report(CsvCopy());
  EXPECT_EQ(b.files[0].format, LogFormat::kCsv);
  EXPECT_EQ(b.stats.unparsed_lines, 0u);
  for (std::string_view q : {"select count (*) from lr_big where v = ?",
                             "select id from lr_big where id = ?"}) {
    const StatementStats* sa = Find(a.stats, q);
    const StatementStats* sb = Find(b.stats, q);
    ASSERT_NE(sa, nullptr) << q;
    ASSERT_NE(sb, nullptr) << q;
    EXPECT_EQ(sa->timing.count, sb->timing.count) << q;
  }
  EXPECT_EQ(a.stats.deadlock_count, b.stats.deadlock_count);
  EXPECT_EQ(a.stats.lock_timeout_count, b.stats.lock_timeout_count);
  EXPECT_EQ(b.stats.lock_timeouts.at(0).blocker_query, "BEGIN; LOCK TABLE lr_acc IN ACCESS EXCLUSIVE MODE");
}

}  // namespace
}  // namespace dbmedic::diagnose
