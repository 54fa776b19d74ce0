// The log parser on hand-written lines in PostgreSQL 15's exact output shapes. Logs produced by a
// real server are covered by tests/integration/diagnose.
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "diagnose/fingerprint.hpp"
#include "diagnose/log_reader.hpp"
#include "diagnose/log_report.hpp"

namespace dbmedic::diagnose {
namespace {

class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  std::size_t Read(char* buffer, std::size_t size) override {
    std::size_t n = std::min(size, data_.size() - pos_);
    std::memcpy(buffer, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  std::size_t pos_ = 0;
};

constexpr std::string_view kDebianPrefix = "%m [%p] %q%u@%d ";

std::vector<LogEntry> ParseStderr(const std::string& text, std::string_view prefix = kDebianPrefix,
                                  ReadCounters* out_counters = nullptr) {
  StringSource source(text);
  LineReader reader(source, 64);  // tiny buffer: exercises lines crossing buffer ends
  LogLinePrefix p(prefix);
  std::vector<LogEntry> entries;
  ReadCounters counters;
  ReadStderrLog(reader, p, [&](const LogEntry& e) { entries.push_back(e); }, counters);
  if (out_counters) *out_counters = counters;
  return entries;
}

LogStats Analyze(const std::string& text, std::string_view prefix = kDebianPrefix) {
  StringSource source(text);
  LineReader reader(source);
  LogLinePrefix p(prefix);
  LogStats stats;
  LogAnalyzer analyzer(stats);
  ReadCounters counters;
  ReadStderrLog(reader, p, [&](const LogEntry& e) { analyzer.Consume(e); }, counters);
  analyzer.Finish();
  return stats;
}

const StatementStats& Only(const LogStats& stats) {
  EXPECT_EQ(stats.statements.size(), 1u);
  return stats.statements.begin()->second;
}

TEST(LogLinePrefix, ParsesDebianDefaultWithSessionFields) {
  LogLinePrefix p(kDebianPrefix);
  LogEntry e;
  std::string line = "2026-11-29 12:17:49.123 UTC [4242] alice@shop LOG:  x";
  auto used = p.Match(line, e);
  ASSERT_TRUE(used);
  EXPECT_EQ(line.substr(*used), "LOG:  x");
  EXPECT_EQ(e.pid, 4242);
  EXPECT_EQ(e.user, "alice");
  EXPECT_EQ(e.database, "shop");
  EXPECT_EQ(FormatTime(e.time), "2026-11-29 12:17:49");
}

TEST(LogLinePrefix, StopsAtPercentQForBackgroundProcesses) {
  LogLinePrefix p(kDebianPrefix);
  LogEntry e;
  std::string line = "2026-11-29 12:17:49.123 UTC [77] LOG:  checkpoint starting: time";
  auto used = p.Match(line, e);
  ASSERT_TRUE(used);
  EXPECT_EQ(line.substr(*used), "LOG:  checkpoint starting: time");
  EXPECT_EQ(e.user, "");
}

TEST(LogLinePrefix, PgBadgerStylePrefix) {
  LogLinePrefix p("%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ");
  LogEntry e;
  std::string line =
      "2026-11-29 12:17:49 UTC [99]: [3-1] user=bob,db=app,app=psql,client=127.0.0.1 LOG:  x";
  auto used = p.Match(line, e);
  ASSERT_TRUE(used);
  EXPECT_EQ(e.application, "psql");
  EXPECT_EQ(e.client, "127.0.0.1");
  EXPECT_EQ(e.database, "app");
}

TEST(LogLinePrefix, RejectsLinesWithoutIt) {
  LogLinePrefix p(kDebianPrefix);
  LogEntry e;
  EXPECT_FALSE(p.Match("not a log line", e));
}

TEST(LogLinePrefix, UnknownEscapeIsAUsageError) {
  try {
    LogLinePrefix p("%m %-10u ");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("escape '%-'"), std::string::npos) << e.what();
  }
}

TEST(DetectPrefix, PrefersThePrefixThatParsesSessionLines) {
  std::vector<std::string> lines = {
      "2026-11-29 12:00:00.000 UTC [1] LOG:  database system is ready to accept connections",
      "2026-11-29 12:00:01.000 UTC [2] postgres@db LOG:  duration: 1.000 ms  statement: select 1",
  };
  EXPECT_EQ(DetectPrefix(lines, CommonPrefixes()), std::string(kDebianPrefix));
}

struct PrefixCase {
  std::string_view prefix;
  std::string session_line;     // alice@shop, pid 123 (0 when the prefix has no %p)
  std::string background_line;  // a checkpointer's line
};

class CommonPrefix : public ::testing::TestWithParam<PrefixCase> {};

TEST_P(CommonPrefix, IsDetectedAndReadsSessionAndBackgroundLines) {
  const PrefixCase& c = GetParam();
  std::vector<std::string> lines = {c.background_line, c.session_line};
  EXPECT_EQ(DetectPrefix(lines, CommonPrefixes()), std::string(c.prefix));
  LogStats stats = Analyze(c.session_line + "\n" + c.background_line + "\n", c.prefix);
  const StatementStats& s = Only(stats);
  EXPECT_EQ(s.slowest.user, "alice");
  EXPECT_EQ(s.slowest.database, "shop");
  EXPECT_EQ(FormatTime(s.slowest.time), "2026-11-29 12:00:00");
  EXPECT_EQ(stats.checkpoints.started, 1u);
}

constexpr std::string_view kStatement = "LOG:  duration: 1.500 ms  statement: select 1";
constexpr std::string_view kCheckpoint = "LOG:  checkpoint starting: time";

INSTANTIATE_TEST_SUITE_P(
    LogLinePrefix, CommonPrefix,
    ::testing::Values(
        PrefixCase{"%m [%p] %q%u@%d ",
                   "2026-11-29 12:00:00.123 UTC [123] alice@shop " + std::string(kStatement),
                   "2026-11-29 12:00:01.000 UTC [77] " + std::string(kCheckpoint)},
        PrefixCase{"%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
                   "2026-11-29 12:00:00 UTC [123]: [1-1] user=alice,db=shop,app=psql,client=[local] " +
                       std::string(kStatement),
                   "2026-11-29 12:00:01 UTC [77]: [1-1] user=,db=,app=,client= " + std::string(kCheckpoint)},
        PrefixCase{"%t [%p]: [%l-1] user=%u,db=%d ",
                   "2026-11-29 12:00:00 UTC [123]: [1-1] user=alice,db=shop " + std::string(kStatement),
                   "2026-11-29 12:00:01 UTC [77]: [1-1] user=,db= " + std::string(kCheckpoint)},
        PrefixCase{"%m [%p]: [%l-1] db=%d,user=%u ",
                   "2026-11-29 12:00:00.123 UTC [123]: [1-1] db=shop,user=alice " + std::string(kStatement),
                   "2026-11-29 12:00:01.000 UTC [77]: [1-1] db=,user= " + std::string(kCheckpoint)},
        PrefixCase{"%t:%r:%u@%d:[%p]:",
                   "2026-11-29 12:00:00 UTC:10.0.0.1(5432):alice@shop:[123]:" + std::string(kStatement),
                   "2026-11-29 12:00:01 UTC::@:[77]:" + std::string(kCheckpoint)},
        PrefixCase{"%t [%p-%l] %q%u@%d ",
                   "2026-11-29 12:00:00 CET [123-1] alice@shop " + std::string(kStatement),
                   "2026-11-29 12:00:01 CET [77-1] " + std::string(kCheckpoint)},
        PrefixCase{"%m [%p] %q[user=%u,db=%d,app=%a] ",
                   "2026-11-29 12:00:00.123 +03 [123] [user=alice,db=shop,app=x] " + std::string(kStatement),
                   "2026-11-29 12:00:01.000 +03 [77] " + std::string(kCheckpoint)}));

TEST(ReadStderrLog, JoinsTabContinuationsIntoMultiLineStatements) {
  auto entries = ParseStderr(
      "2026-11-29 12:00:00.000 UTC [10] u@d LOG:  duration: 5.000 ms  statement: SELECT a,\n"
      "\t       b\n"
      "\tFROM t\n");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].message, "duration: 5.000 ms  statement: SELECT a,\n       b\nFROM t");
}

TEST(ReadStderrLog, AttachesDetailAndStatementToTheirMessage) {
  auto entries = ParseStderr(
      "2026-11-29 12:00:00.000 UTC [10] u@d ERROR:  relation \"nope\" does not exist at character 15\n"
      "2026-11-29 12:00:00.000 UTC [10] u@d STATEMENT:  select * from nope\n"
      "2026-11-29 12:00:01.000 UTC [11] u@d LOG:  duration: 1.000 ms  statement: select 1\n");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].severity, Severity::kError);
  EXPECT_EQ(entries[0].statement, "select * from nope");
  EXPECT_EQ(entries[1].pid, 11);
  EXPECT_EQ(entries[1].statement, "");
}

TEST(ReadStderrLog, CountsLinesItCannotParse) {
  ReadCounters counters;
  auto entries = ParseStderr("garbage line\n"
                             "2026-11-29 12:00:00.000 UTC [10] u@d LOG:  connection received\n",
                             kDebianPrefix, &counters);
  EXPECT_EQ(entries.size(), 1u);
  EXPECT_EQ(counters.unparsed_lines, 1u);
  EXPECT_EQ(counters.lines, 2u);
}

TEST(LogAnalyzer, AggregatesStatementsByFingerprint) {
  LogStats stats = Analyze(
      "2026-11-29 12:00:00.000 UTC [10] u@d LOG:  duration: 10.000 ms  statement: select * from t where id = 1\n"
      "2026-11-29 12:00:01.000 UTC [11] u@d LOG:  duration: 30.000 ms  statement: SELECT * FROM t WHERE id = 2\n"
      "2026-11-29 13:10:00.000 UTC [10] u@d LOG:  duration: 20.000 ms  statement: select * from t where id=3\n");
  const StatementStats& s = Only(stats);
  EXPECT_EQ(s.normalized, "select * from t where id = ?");
  EXPECT_EQ(s.timing.count, 3u);
  EXPECT_DOUBLE_EQ(s.timing.total_ms, 60.0);
  EXPECT_DOUBLE_EQ(s.timing.max_ms, 30.0);
  EXPECT_EQ(s.slowest.query, "SELECT * FROM t WHERE id = 2");
  EXPECT_EQ(s.slowest.pid, 11);
  ASSERT_EQ(s.hourly.size(), 2u);
  EXPECT_EQ(s.hourly.begin()->second, 2u);
}

TEST(LogAnalyzer, KeepsParametersOfTheSlowestExtendedProtocolRun) {
  LogStats stats = Analyze(
      "2026-11-29 12:00:00.000 UTC [10] u@d LOG:  duration: 0.100 ms  parse <unnamed>: select * from t where id = $1\n"
      "2026-11-29 12:00:00.000 UTC [10] u@d LOG:  duration: 0.100 ms  bind <unnamed>: select * from t where id = $1\n"
      "2026-11-29 12:00:00.000 UTC [10] u@d DETAIL:  parameters: $1 = '7'\n"
      "2026-11-29 12:00:00.000 UTC [10] u@d LOG:  duration: 4.000 ms  execute <unnamed>: select * from t where id = $1\n"
      "2026-11-29 12:00:00.000 UTC [10] u@d DETAIL:  parameters: $1 = '7'\n");
  const StatementStats& s = Only(stats);
  EXPECT_EQ(s.timing.count, 1u);
  EXPECT_EQ(s.slowest.parameters, "$1 = '7'");
  EXPECT_EQ(stats.parse_bind_durations, 2u);
}

TEST(LogAnalyzer, PairsLogDurationWithLogStatement) {
  LogStats stats = Analyze(
      "2026-11-29 12:00:00.000 UTC [10] u@d LOG:  statement: select 42\n"
      "2026-11-29 12:00:00.000 UTC [12] u@d LOG:  statement: select 'other'\n"
      "2026-11-29 12:00:00.000 UTC [10] u@d LOG:  duration: 3.000 ms\n");
  const StatementStats& s = Only(stats);
  EXPECT_EQ(s.normalized, "select ?");
  EXPECT_EQ(s.slowest.query, "select 42");
}

// Three backends' messages interleaved as the logging collector writes them: every pairing
// (statement with its later duration, temp file with its statement, bind with its execute's
// parameters) stays within its own process.
TEST(LogAnalyzer, InterleavedBackendsKeepTheirOwnPairs) {
  LogStats stats = Analyze(
      "2026-11-29 12:00:00.000 UTC [10] u@d LOG:  statement: select 10\n"
      "2026-11-29 12:00:00.000 UTC [11] u@d LOG:  temporary file: path \"base/pgsql_tmp/pgsql_tmp11.0\", size 500\n"
      "2026-11-29 12:00:00.000 UTC [12] u@d LOG:  duration: 0.100 ms  bind <unnamed>: select * from t where id = $1\n"
      "2026-11-29 12:00:00.000 UTC [12] u@d DETAIL:  parameters: $1 = '12'\n"
      "2026-11-29 12:00:00.000 UTC [10] u@d LOG:  temporary file: path \"base/pgsql_tmp/pgsql_tmp10.0\", size 700\n"
      "2026-11-29 12:00:00.000 UTC [11] u@d LOG:  duration: 9.000 ms  statement: select *\n"
      "\t  from big order by v\n"
      "2026-11-29 12:00:00.000 UTC [12] u@d LOG:  duration: 4.000 ms  execute <unnamed>: select * from t where id = $1\n"
      "2026-11-29 12:00:00.000 UTC [12] u@d DETAIL:  parameters: $1 = '12'\n"
      "2026-11-29 12:00:00.000 UTC [10] u@d LOG:  duration: 7.000 ms\n");
  ASSERT_EQ(stats.statements.size(), 3u);
  auto of = [&](std::string_view normalized) -> const StatementStats& {
    return stats.statements.at(FingerprintOf(normalized));
  };
  EXPECT_EQ(of("select ?").slowest.query, "select 10");
  EXPECT_DOUBLE_EQ(of("select ?").timing.max_ms, 7.0);
  EXPECT_EQ(of("select * from big order by v").slowest.pid, 11);
  EXPECT_EQ(of("select * from t where id = ?").slowest.parameters, "$1 = '12'");
  ASSERT_EQ(stats.temp_files.size(), 2u);
  EXPECT_EQ(stats.temp_files.at(FingerprintOf("select ?")).total_bytes, 700u);
  EXPECT_EQ(stats.temp_files.at(FingerprintOf("select * from big order by v")).total_bytes, 500u);
}

TEST(LogAnalyzer, ReadsQueryTextOfAutoExplainPlans) {
  LogStats stats = Analyze(
      "2026-11-29 12:00:00.000 UTC [10] u@d LOG:  duration: 12.500 ms  plan:\n"
      "\tQuery Text: select *\n"
      "\t  from big where v = 5\n"
      "\tSeq Scan on big  (cost=0.00..1693.00 rows=1 width=8) (actual time=0.01..12.1 rows=1 loops=1)\n"
      "\t  Filter: (v = 5)\n");
  const StatementStats& s = Only(stats);
  EXPECT_EQ(s.normalized, "select * from big where v = ?");
  EXPECT_EQ(s.timing.count, 0u);
  EXPECT_EQ(s.plan_timing.count, 1u);
  EXPECT_EQ(s.Reported().count, 1u);
  EXPECT_NE(s.slowest_plan.plan.find("Seq Scan on big"), std::string::npos);
}

TEST(LogAnalyzer, DeadlockKeepsBothSidesQueries) {
  LogStats stats = Analyze(
      "2026-11-29 12:00:00.000 UTC [20] u@d ERROR:  deadlock detected\n"
      "2026-11-29 12:00:00.000 UTC [20] u@d DETAIL:  Process 20 waits for ShareLock on transaction 741; blocked by process 21.\n"
      "\tProcess 21 waits for ShareLock on transaction 740; blocked by process 20.\n"
      "\tProcess 20: update acc set v = v + 1 where id = 2\n"
      "\tProcess 21: update acc set v = v + 1\n"
      "\t  where id = 1\n"
      "2026-11-29 12:00:00.000 UTC [20] u@d HINT:  See server log for query details.\n"
      "2026-11-29 12:00:00.000 UTC [20] u@d CONTEXT:  while updating tuple (0,2) in relation \"acc\"\n"
      "2026-11-29 12:00:00.000 UTC [20] u@d STATEMENT:  update acc set v = v + 1 where id = 2\n");
  ASSERT_EQ(stats.deadlock_count, 1u);
  const Deadlock& d = stats.deadlocks.at(0);
  EXPECT_EQ(d.victim_pid, 20);
  ASSERT_EQ(d.processes.size(), 2u);
  EXPECT_EQ(d.processes[0].pid, 20);
  EXPECT_EQ(d.processes[0].waits_for, "ShareLock on transaction 741");
  EXPECT_EQ(d.processes[0].blocked_by, 21);
  EXPECT_EQ(d.processes[0].query, "update acc set v = v + 1 where id = 2");
  EXPECT_EQ(d.processes[1].query, "update acc set v = v + 1\n  where id = 1");
  EXPECT_EQ(stats.errors.begin()->second.count, 1u);
}

TEST(LogAnalyzer, LockWaitNamesWaiterAndBlockerQueries) {
  LogStats stats = Analyze(
      "2026-11-29 12:00:00.000 UTC [30] u@d LOG:  duration: 0.500 ms  statement: update acc set v = 0 where id = 1\n"
      "2026-11-29 12:00:01.000 UTC [31] u@d LOG:  process 31 still waiting for ShareLock on transaction 750 after 100.062 ms\n"
      "2026-11-29 12:00:01.000 UTC [31] u@d DETAIL:  Process holding the lock: 30. Wait queue: 31.\n"
      "2026-11-29 12:00:01.000 UTC [31] u@d CONTEXT:  while updating tuple (0,1) in relation \"acc\"\n"
      "2026-11-29 12:00:03.000 UTC [31] u@d LOG:  process 31 acquired ShareLock on transaction 750 after 2100.100 ms\n"
      "2026-11-29 12:00:03.000 UTC [31] u@d LOG:  duration: 2101.000 ms  statement: update acc set v = 9 where id = 1\n");
  ASSERT_EQ(stats.lock_waits.size(), 1u);
  const LockWaitStats& lw = stats.lock_waits.begin()->second;
  EXPECT_EQ(lw.lock, "ShareLock on transaction");
  EXPECT_EQ(lw.waits, 1u);
  EXPECT_EQ(lw.acquired, 1u);
  EXPECT_DOUBLE_EQ(lw.max_wait_ms, 2100.1);
  EXPECT_EQ(lw.sample_blocker_pid, 30);
  EXPECT_EQ(lw.sample_blocker_query, "update acc set v = 0 where id = 1");
  EXPECT_EQ(lw.sample_query, "update acc set v = 9 where id = 1");
}

TEST(LogAnalyzer, LockTimeoutNamesTheBlocker) {
  LogStats stats = Analyze(
      "2026-11-29 12:00:00.000 UTC [30] u@d LOG:  duration: 0.500 ms  statement: lock table acc\n"
      "2026-11-29 12:00:01.000 UTC [31] u@d LOG:  process 31 still waiting for AccessShareLock on relation 16384 of database 5 after 100.000 ms\n"
      "2026-11-29 12:00:01.000 UTC [31] u@d DETAIL:  Process holding the lock: 30. Wait queue: 31.\n"
      "2026-11-29 12:00:02.000 UTC [31] u@d ERROR:  canceling statement due to lock timeout\n"
      "2026-11-29 12:00:02.000 UTC [31] u@d STATEMENT:  select * from acc\n");
  ASSERT_EQ(stats.lock_timeout_count, 1u);
  const LockTimeout& t = stats.lock_timeouts.at(0);
  EXPECT_EQ(t.query, "select * from acc");
  EXPECT_EQ(t.blocker_pid, 30);
  EXPECT_EQ(t.blocker_query, "lock table acc");
  EXPECT_EQ(stats.lock_waits.begin()->second.lock, "AccessShareLock on relation");
}

TEST(LogAnalyzer, TempFileGoesToTheStatementLoggedAfterIt) {
  LogStats stats = Analyze(
      "2026-11-29 12:00:00.000 UTC [40] u@d LOG:  temporary file: path \"base/pgsql_tmp/pgsql_tmp40.0\", size 1400000\n"
      "2026-11-29 12:00:00.000 UTC [40] u@d LOG:  temporary file: path \"base/pgsql_tmp/pgsql_tmp40.1\", size 600000\n"
      "2026-11-29 12:00:00.000 UTC [40] u@d LOG:  duration: 90.000 ms  statement: select * from big order by v\n");
  EXPECT_EQ(stats.temp_file_count, 2u);
  EXPECT_EQ(stats.temp_file_bytes, 2000000u);
  ASSERT_EQ(stats.temp_files.size(), 1u);
  EXPECT_EQ(stats.temp_files.begin()->second.normalized, "select * from big order by v");
  EXPECT_EQ(stats.temp_files.begin()->second.count, 2u);
}

TEST(LogAnalyzer, ParsesCheckpoints) {
  LogStats stats = Analyze(
      "2026-11-29 12:00:00.000 UTC [5] LOG:  checkpoint starting: immediate force wait\n"
      "2026-11-29 12:00:00.100 UTC [5] LOG:  checkpoint complete: wrote 42 buffers (0.3%); 0 WAL file(s) added, 0 removed, 1 recycled; write=0.011 s, sync=0.002 s, total=0.020 s; sync files=5, longest=0.001 s, average=0.001 s; distance=300 kB, estimate=300 kB\n");
  EXPECT_EQ(stats.checkpoints.started, 1u);
  EXPECT_EQ(stats.checkpoints.completed, 1u);
  EXPECT_EQ(stats.checkpoints.buffers_written, 42u);
  EXPECT_DOUBLE_EQ(stats.checkpoints.write_s, 0.011);
  EXPECT_DOUBLE_EQ(stats.checkpoints.total_s, 0.020);
  EXPECT_EQ(stats.checkpoints.reasons.at("immediate force wait"), 1u);
}

TEST(LogAnalyzer, GroupsErrorsByNormalisedMessage) {
  LogStats stats = Analyze(
      "2026-11-29 12:00:00.000 UTC [10] u@d ERROR:  relation \"a\" does not exist at character 15\n"
      "2026-11-29 12:00:01.000 UTC [10] u@d ERROR:  relation \"b\" does not exist at character 15\n"
      "2026-11-29 12:00:02.000 UTC [10] u@d FATAL:  password authentication failed for user \"x\"\n");
  ASSERT_EQ(stats.errors.size(), 2u);
  const ErrorStats& e = stats.errors.at("ERROR: relation \"?\" does not exist at character ?");
  EXPECT_EQ(e.count, 2u);
  EXPECT_EQ(e.sample_message, "relation \"a\" does not exist at character 15");
}

TEST(CsvLog, ParsesRecordsWithQuotedMultiLineFields) {
  std::string csv =
      "2026-11-29 12:00:00.123 UTC,\"alice\",\"shop\",4242,\"[local]\",6566f0.1092,3,\"SELECT\","
      "2026-11-29 11:59:00 UTC,3/4,0,LOG,00000,\"duration: 7.000 ms  statement: select a,\n"
      "  \"\"B\"\" from t where x = 'q'\",,,,,,,,,\"psql\",\"client backend\",,0\n";
  StringSource source(csv);
  LineReader reader(source);
  std::vector<LogEntry> entries;
  ReadCounters counters;
  ReadCsvLog(reader, [&](const LogEntry& e) { entries.push_back(e); }, counters);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].pid, 4242);
  EXPECT_EQ(entries[0].user, "alice");
  EXPECT_EQ(entries[0].application, "psql");
  EXPECT_EQ(entries[0].severity, Severity::kLog);
  EXPECT_EQ(entries[0].message, "duration: 7.000 ms  statement: select a,\n  \"B\" from t where x = 'q'");
}

// Files on disk: splitting, compression, errors.
class LogFilesTest : public ::testing::Test {
 protected:
  std::filesystem::path Write(const std::string& name, const std::string& text) {
    auto path = dir_.path() / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  static std::string SyntheticLog(int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      out += "2026-11-29 1" + std::to_string(i % 3) + ":00:00.000 UTC [" + std::to_string(100 + i % 7) +
             "] u@d LOG:  duration: " + std::to_string(i % 50) + ".250 ms  statement: select *\n"
             "\tfrom t" + std::to_string(i % 5) + " where id = " + std::to_string(i) + "\n";
      if (i % 10 == 0) {
        out += "2026-11-29 10:00:00.000 UTC [9] u@d ERROR:  division by zero\n"
               "2026-11-29 10:00:00.000 UTC [9] u@d STATEMENT:  select 1/0\n";
      }
    }
    return out;
  }
  core::TempDir dir_{"diagnose-unit"};
};

TEST_F(LogFilesTest, ParallelChunksGiveTheSameResultAsOneStream) {
  auto path = Write("big.log", SyntheticLog(20000));
  LogReportOptions one{std::nullopt, 1, 0};
  LogReportOptions many{std::nullopt, 4, 64 * 1024};
  LogReport a = AnalyzeLogs({path}, one);
  LogReport b = AnalyzeLogs({path}, many);
  EXPECT_EQ(a.stats.lines, b.stats.lines);
  EXPECT_EQ(a.stats.entries, b.stats.entries);
  EXPECT_EQ(b.stats.unparsed_lines, 0u);
  ASSERT_EQ(a.stats.statements.size(), 5u);
  ASSERT_EQ(b.stats.statements.size(), 5u);
  for (const auto& [fp, s] : a.stats.statements) {
    EXPECT_EQ(b.stats.statements.at(fp).timing.count, s.timing.count);
    EXPECT_NEAR(b.stats.statements.at(fp).timing.total_ms, s.timing.total_ms, 1e-6);
  }
  EXPECT_EQ(b.stats.errors.at("ERROR: division by zero").count, 2000u);
}

TEST_F(LogFilesTest, GzipAndZstdFilesGiveTheSameResult) {
  std::string text = SyntheticLog(500);
  auto plain = Write("p.log", text);
  Write("g.log", text);
  Write("z.log", text);
  core::RunChecked({"gzip", (dir_.path() / "g.log").string()});
  core::RunChecked({"zstd", "-q", "--rm", (dir_.path() / "z.log").string()});
  LogReportOptions opts{std::nullopt, 2, 0};
  LogReport a = AnalyzeLogs({plain}, opts);
  LogReport g = AnalyzeLogs({dir_.path() / "g.log.gz"}, opts);
  LogReport z = AnalyzeLogs({dir_.path() / "z.log.zst"}, opts);
  EXPECT_EQ(g.files[0].compression, Compression::kGzip);
  EXPECT_EQ(z.files[0].compression, Compression::kZstd);
  EXPECT_EQ(a.stats.entries, g.stats.entries);
  EXPECT_EQ(a.stats.entries, z.stats.entries);
  EXPECT_EQ(a.stats.statements.size(), z.stats.statements.size());
}

TEST_F(LogFilesTest, TruncatedZstdIsCorrupt) {
  auto path = Write("t.log", SyntheticLog(2000));
  core::RunChecked({"zstd", "-q", "--rm", path.string()});
  auto zst = dir_.path() / "t.log.zst";
  std::filesystem::resize_file(zst, std::filesystem::file_size(zst) / 2);
  try {
    AnalyzeLogs({zst}, LogReportOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("is truncated"), std::string::npos) << e.what();
  }
}

TEST_F(LogFilesTest, GzipIsReadInProcessWithoutTheGzipProgram) {
  std::string text = SyntheticLog(300);
  auto plain = Write("p.log", text);
  Write("g.log", text);
  core::RunChecked({"gzip", (dir_.path() / "g.log").string()});
  // zlib in the process: no `gzip` to be found on PATH changes nothing.
  std::string saved_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", "/nonexistent", 1);
  LogReport g = AnalyzeLogs({dir_.path() / "g.log.gz"}, LogReportOptions{std::nullopt, 1, 0});
  ::setenv("PATH", saved_path.c_str(), 1);
  LogReport a = AnalyzeLogs({plain}, LogReportOptions{std::nullopt, 1, 0});
  EXPECT_EQ(g.files[0].compression, Compression::kGzip);
  EXPECT_EQ(g.stats.lines, a.stats.lines);
  EXPECT_EQ(g.stats.entries, a.stats.entries);
}

TEST_F(LogFilesTest, ConcatenatedGzipMembersAreAllRead) {
  std::string first = SyntheticLog(200), second = SyntheticLog(100);
  Write("a.log", first);
  Write("b.log", second);
  core::RunChecked({"gzip", (dir_.path() / "a.log").string(), (dir_.path() / "b.log").string()});
  auto both = dir_.path() / "both.log.gz";
  core::RunOptions in_dir;
  in_dir.cwd = dir_.path();
  core::RunChecked({"sh", "-c", "cat a.log.gz b.log.gz > both.log.gz"}, in_dir);
  LogReport whole = AnalyzeLogs({both}, LogReportOptions{std::nullopt, 1, 0});
  LogReport plain = AnalyzeLogs({Write("ab.log", first + second)},
                                LogReportOptions{std::nullopt, 1, 0});
  EXPECT_EQ(whole.stats.lines, plain.stats.lines);
  EXPECT_EQ(whole.stats.entries, plain.stats.entries);
}

TEST_F(LogFilesTest, TruncatedGzipIsCorrupt) {
  auto path = Write("t.log", SyntheticLog(2000));
  core::RunChecked({"gzip", path.string()});
  auto gz = dir_.path() / "t.log.gz";
  std::filesystem::resize_file(gz, std::filesystem::file_size(gz) / 2);
  try {
    AnalyzeLogs({gz}, LogReportOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_EQ(std::string(e.what()), "gzip log file '" + gz.string() + "' is truncated");
    EXPECT_EQ(e.hint(), "the file ends inside a compressed member; check how it was copied");
  }
}

TEST_F(LogFilesTest, DamagedGzipIsCorrupt) {
  auto path = Write("d.log", SyntheticLog(2000));
  core::RunChecked({"gzip", path.string()});
  auto gz = dir_.path() / "d.log.gz";
  {
    std::fstream f(gz, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(gz) / 2));
    std::string junk(64, '\xff');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  try {
    AnalyzeLogs({gz}, LogReportOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("unable to decompress gzip log file '" + gz.string() +
                                         "': "), std::string::npos) << e.what();
    EXPECT_EQ(e.hint(), "check the file with `gzip -t`");
  }
}

TEST_F(LogFilesTest, MissingFileIsNotFound) {
  try {
    AnalyzeLogs({dir_.path() / "absent.log"}, LogReportOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("absent.log' does not exist"), std::string::npos);
  }
}

TEST_F(LogFilesTest, UnrecognisedPrefixAsksForTheSetting) {
  auto path = Write("odd.log", "<<12:00>> pid=7 LOG:  hello\n");
  try {
    AnalyzeLogs({path}, LogReportOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("unable to recognise the log_line_prefix"),
              std::string::npos);
    EXPECT_NE(e.hint().find("--log-line-prefix"), std::string::npos);
  }
}

TEST_F(LogFilesTest, ExplicitPrefixIsUsed) {
  auto path = Write("odd.log", "pid=7 LOG:  duration: 1.000 ms  statement: select 1\n");
  LogReport r = AnalyzeLogs({path}, LogReportOptions{std::string("pid=%p "), 1, 0});
  EXPECT_EQ(r.stats.statements.size(), 1u);
}

TEST_F(LogFilesTest, RenderingsNameTheSlowestStatement) {
  auto path = Write("r.log", SyntheticLog(50));
  LogReport r = AnalyzeLogs({path}, LogReportOptions{});
  auto json = LogReportToJson(r, 10);
  EXPECT_EQ(json["statements"]["executions"], 50);
  EXPECT_EQ(json["statements"]["top"].size(), 5u);
  std::string html = LogReportToHtml(r, 10);
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_NE(html.find("select * from t0 where id = ?"), std::string::npos);
  std::string text = LogReportToText(r, 10);
  EXPECT_NE(text.find("50 executions of 5 distinct statements"), std::string::npos) << text;
}

}  // namespace
}  // namespace dbmedic::diagnose
