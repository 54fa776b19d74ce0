// One PostgreSQL server shared by the diagnose integration tests (starting one per test would
// cost a second each): pg_stat_statements and auto_explain preloaded, every statement logged
// (stderr and csvlog through the logging collector into <data>/log/pg.log and pg.csv), lock
// waits logged after 100 ms.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "harness/test_cluster.hpp"

namespace dbmedic::diagnose::testing {

inline dbmedic::testing::TestCluster& SharedCluster() {
  static dbmedic::testing::TestCluster cluster(dbmedic::testing::TestClusterOptions{
      .settings = {
          {"shared_preload_libraries", "pg_stat_statements,auto_explain"},
          {"compute_query_id", "on"},
          {"logging_collector", "on"},
          {"log_destination", "stderr,csvlog"},
          {"log_directory", "log"},
          {"log_filename", "pg.log"},
          {"log_rotation_size", "0"},
          {"log_min_duration_statement", "0"},
          {"log_lock_waits", "on"},
          {"deadlock_timeout", "100ms"},
          {"log_temp_files", "0"},
          {"log_checkpoints", "on"},
          {"lc_messages", "C"},
          {"max_prepared_transactions", "5"},
          {"auto_explain.log_min_duration", "0"},
          {"auto_explain.log_analyze", "on"},
      }});
  static bool prepared = [] {
    cluster.Sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    return true;
  }();
  (void)prepared;
  return cluster;
}

inline std::filesystem::path StderrLog() { return SharedCluster().data_dir() / "log" / "pg.log"; }
inline std::filesystem::path CsvLog() { return SharedCluster().data_dir() / "log" / "pg.csv"; }

// Polls `condition` every 20 ms until it holds; fails the test after `limit` (a safety net for
// a hung server, not a timing assertion).
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::seconds limit = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Whether session `pid` waits for a lock right now.
inline bool WaitsForLock(pg::Connection& observer, std::int64_t pid) {
  return observer.Scalar("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = " +
                         std::to_string(pid)) == "1";
}

}  // namespace dbmedic::diagnose::testing
