#include <gtest/gtest.h>

#include "core/error.hpp"
#include "harness/test_cluster.hpp"
#include "pg/connection.hpp"

namespace dbmedic::testing {
namespace {

TEST(PreparedStatementTest, IsPreparedOnceAndRunsWithFreshResults) {
  TestCluster cluster;
  pg::Connection conn = pg::Connection::Open(cluster.ConnInfo());
  const std::string sql = "SELECT count(*) FROM pg_class WHERE relname LIKE 'prep_%'";
  EXPECT_EQ(conn.ExecPrepared(sql).GetString(0, 0), "0");
  cluster.Sql("CREATE TABLE prep_a(id int)");
  EXPECT_EQ(conn.ExecPrepared(sql).GetString(0, 0), "1");  // executed again, not cached rows
  conn.ExecPrepared("SELECT 1");
  // One server-side statement per distinct SQL text, however often each ran.
  EXPECT_EQ(conn.Exec("SELECT count(*) FROM pg_prepared_statements").GetString(0, 0), "2");
}

TEST(PreparedStatementTest, AFailingStatementNamesTheQueryAndIsNotRemembered) {
  TestCluster cluster;
  pg::Connection conn = pg::Connection::Open(cluster.ConnInfo());
  const std::string sql = "SELECT * FROM prep_missing";
  try {
    conn.ExecPrepared(sql);
    FAIL() << "a statement on a missing table was prepared";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kPostgres);
    EXPECT_NE(std::string(e.what()).find("prep_missing"), std::string::npos) << e.what();
  }
  cluster.Sql("CREATE TABLE prep_missing(id int)");
  EXPECT_EQ(conn.ExecPrepared(sql).rows(), 0);  // prepared anew once the table exists
}

}  // namespace
}  // namespace dbmedic::testing
