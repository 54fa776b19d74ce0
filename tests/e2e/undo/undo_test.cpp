// `dbmedic undo` as a user runs it, on a real archiving cluster: a dropped table with foreign
// keys in and out comes back with its indexes, constraints, sequence value and grants; a
// truncated table gets its rows back; a DELETE without WHERE is undone while another session
// keeps writing; a table dropped and recreated under the same name is refused unless --into;
// rows changed since the incident are refused unless --on-conflict; --dry-run changes nothing;
// a table of user-defined types (enum, arrays of it) comes back identical too.
// One cluster and one backup for the suite; each test works on its own tables.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "backup/backup.hpp"
#include "forensics/catalog_store.hpp"
#include "integration/pitr/archiving_cluster.hpp"

namespace dbmedic::testing {
namespace {

class UndoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    primary_ = new ArchivingCluster();
    TestCluster& c = primary_->cluster();
    c.Sql("CREATE ROLE app");
    c.Sql("CREATE TABLE teams (id int PRIMARY KEY, name text)");
    c.Sql("INSERT INTO teams SELECT g, 'team ' || g FROM generate_series(1, 10) g");
    c.Sql("CREATE TABLE users (id serial PRIMARY KEY, team_id int REFERENCES teams (id), "
          "email text UNIQUE NOT NULL CHECK (email LIKE '%@%'), "
          "created timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00')");
    c.Sql("INSERT INTO users (team_id, email) SELECT 1 + g % 10, 'u' || g || '@example.org' "
          "FROM generate_series(1, 2000) g");
    c.Sql("CREATE INDEX users_team ON users (team_id)");
    c.Sql("GRANT SELECT ON users TO app");
    c.Sql("CREATE TABLE orders (id serial PRIMARY KEY, user_id int REFERENCES users (id), "
          "amount numeric)");
    c.Sql("INSERT INTO orders (user_id, amount) SELECT 1 + g % 2000, g FROM "
          "generate_series(1, 5000) g");
    c.Sql("CREATE TABLE events (id bigint PRIMARY KEY, kind text)");
    c.Sql("INSERT INTO events SELECT g, 'kind ' || g % 7 FROM generate_series(1, 3000) g");
    c.Sql("CREATE TABLE accounts (id int PRIMARY KEY, balance numeric)");
    c.Sql("INSERT INTO accounts SELECT g, g * 10 FROM generate_series(1, 4000) g");
    c.Sql("CREATE TABLE ledger (id bigserial PRIMARY KEY, note text)");
    c.Sql("CREATE TABLE sessions (id int PRIMARY KEY, token text)");
    c.Sql("INSERT INTO sessions SELECT g, md5(g::text) FROM generate_series(1, 100) g");
    c.Sql("CREATE TABLE prices (id int PRIMARY KEY, price numeric)");
    c.Sql("INSERT INTO prices SELECT g, g FROM generate_series(1, 1000) g");
    // User-defined types: their rows are copied in text form (binary arrays name type OIDs).
    c.Sql("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
    c.Sql("CREATE TABLE moods (id int PRIMARY KEY, mood mood NOT NULL, history mood[], "
          "tags text[], at timestamptz, score numeric(6,2))");
    c.Sql("INSERT INTO moods SELECT g, (ARRAY['sad','ok','happy'])[1 + g % 3]::mood, "
          "ARRAY['ok', 'happy']::mood[], ARRAY['a' || g, NULL, 'b'], "
          "'2026-01-01 00:00:00+00'::timestamptz + g * interval '1 hour', g / 7.0 "
          "FROM generate_series(1, 500) g");
    // Relations undo never reads: the side cluster leaves them sparse (rescue/side_files.hpp).
    c.Sql("CREATE TABLE bulk AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, "
          "100000) g");
    c.Sql("CREATE DATABASE shop");
    c.Sql("CREATE TABLE stock AS SELECT g AS id FROM generate_series(1, 10000) g", "shop");
    // A table with out-of-line TOAST values.
    c.Sql("CREATE TABLE notes (id int PRIMARY KEY, body text)");
    c.Sql("INSERT INTO notes SELECT g, (SELECT string_agg(md5(g::text || i), '') FROM "
          "generate_series(1, 200) i) FROM generate_series(1, 300) g");
    backup::RunBackup(primary_->config());
    // What `dbmedic backup` does: the catalog snapshot that names the backup's files.
    repo::Repository repository = repo::OpenRepository(primary_->config());
    forensics::CaptureIntoRepository(repository, c.ConnInfo());
    primary_->GiveRepositoryToServer();
  }
  static void TearDownTestSuite() { delete primary_; }

  static TestCluster& Live() { return primary_->cluster(); }

  static core::ProcessResult Undo(std::vector<std::string> args, bool json = false) {
    std::vector<std::string> argv;
    if (json) argv = {"--output", "json"};
    argv.insert(argv.end(), {"undo", "--repo", primary_->repo_dir().string(), "--pg-host",
                             Live().socket_dir().string(), "--pg-port",
                             std::to_string(Live().port()), "--pg-os-user", Live().os_user()});
    argv.insert(argv.end(), args.begin(), args.end());
    return RunDbmedic(argv);
  }

  static std::string Now() {
    return Live().Scalar(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || "
        "'+00'");
  }

  static std::string Md5(const std::string& table, const std::string& where = "true") {
    return Live().Scalar(fmt::format(
        "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {} t WHERE {}", table, where));
  }

  static ArchivingCluster* primary_;
};

ArchivingCluster* UndoTest::primary_ = nullptr;

TEST_F(UndoTest, DroppedTableWithForeignKeysInAndOutComesBackWithEverything) {
  const std::string before = Md5("users");
  const std::string time = Now();
  Live().Sql("DROP TABLE users CASCADE");  // also drops orders_user_id_fkey
  // Other tables keep receiving writes after the drop.
  Live().Sql("INSERT INTO orders (user_id, amount) SELECT 1, -g FROM generate_series(1, 50) g");

  const core::ProcessResult r = Undo({"--table", "public.users", "--before", time, "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("public.users: 2000 row(s) brought back"), std::string::npos) << r.out;
  EXPECT_EQ(Md5("users"), before);
  EXPECT_EQ(Live().Scalar("SELECT count(*) FROM orders"), "5050");  // writes after the drop kept
  // Foreign keys in and out, validated.
  EXPECT_EQ(Live().Scalar("SELECT string_agg(conname || ':' || convalidated, ',' ORDER BY conname) "
                          "FROM pg_constraint WHERE contype = 'f' AND "
                          "conrelid IN ('users'::regclass, 'orders'::regclass)"),
            "orders_user_id_fkey:true,users_team_id_fkey:true");
  EXPECT_EQ(Live().Scalar("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes "
                          "WHERE tablename = 'users'"),
            "users_email_key,users_pkey,users_team");
  EXPECT_EQ(Live().Scalar("SELECT count(*) FROM pg_constraint WHERE conrelid = 'users'::regclass "
                          "AND contype = 'c'"),
            "1");
  EXPECT_EQ(Live().Scalar("SELECT has_table_privilege('app', 'public.users', 'SELECT')"), "t");
  // The sequence continues where it was; the defaults are back.
  EXPECT_EQ(Live().Scalar("INSERT INTO users (team_id, email) VALUES (1, 'new@example.org') "
                          "RETURNING id::text || ' ' || (created = '2026-01-01 00:00:00+00')"),
            "2001 true");
}

TEST_F(UndoTest, DroppedTableOfUserDefinedTypesComesBackIdentical) {
  const std::string before = Md5("moods");
  const std::string time = Now();
  Live().Sql("DROP TABLE moods");

  const core::ProcessResult r = Undo({"--table", "public.moods", "--before", time, "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("public.moods: 500 row(s) brought back"), std::string::npos) << r.out;
  EXPECT_EQ(Md5("moods"), before);
  EXPECT_EQ(Live().Scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                          "attrelid = 'moods'::regclass AND attname = 'history'"),
            "mood[]");
}

// Every test of this suite runs with the repository's catalog, so with the selective restore;
// this one checks what was skipped and that TOAST came along.
TEST_F(UndoTest, SideClusterReadsOnlyTheTableItsToastAndTheCatalogs) {
  const std::string before = Md5("notes");
  ASSERT_NE(Live().Scalar("SELECT pg_relation_size(reltoastrelid) FROM pg_class "
                          "WHERE relname = 'notes'"),
            "0")
      << "the test needs out-of-line values";
  const std::int64_t other = std::stoll(Live().Scalar(
      "SELECT pg_relation_size('bulk') + pg_database_size('shop')"));
  // More than a segment of WAL of a skipped relation: records of it cross segment boundaries,
  // which the filter must skip from both sides (or replay would meet a zeroed page).
  for (int i = 0; i < 3; ++i) Live().Sql("UPDATE bulk SET v = md5(v)");
  const std::string time = Now();
  Live().Sql("DROP TABLE notes");

  const core::ProcessResult r =
      Undo({"--table", "public.notes", "--before", time, "--yes"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(Md5("notes"), before);
  EXPECT_GE(j["side_bytes_skipped"].get<std::int64_t>(), other * 9 / 10)
      << "bulk and the shop database are not read from the repository";
  EXPECT_GT(j["side_bytes_restored"].get<std::int64_t>(), 0);
  // The changes to those relations were not replayed either (undo.wal_filter, on by default):
  // the tests before this one wrote to orders, events, bulk... after the backup.
  EXPECT_TRUE(j["side_wal_filtered"].get<bool>());
  EXPECT_GT(j["side_wal_records_skipped"].get<std::int64_t>(), 0);
}

// With the filter off every record is replayed, and the result is the same.
TEST_F(UndoTest, WithoutTheWalFilterEveryRecordIsReplayedAndTheResultIsTheSame) {
  Live().Sql("CREATE TABLE plain (id int PRIMARY KEY, v text)");
  Live().Sql("INSERT INTO plain SELECT g, md5(g::text) FROM generate_series(1, 500) g");
  Live().Sql("UPDATE bulk SET v = v || '!' WHERE id <= 20000");  // WAL of a skipped relation
  const std::string before = Md5("plain");
  const std::string time = Now();
  Live().Sql("DROP TABLE plain");

  const core::ProcessResult r = Undo(
      {"--undo-wal-filter", "false", "--table", "public.plain", "--before", time, "--yes"},
      true);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["side_wal_filtered"].get<bool>());
  EXPECT_EQ(j["side_wal_records_skipped"].get<std::int64_t>(), 0);
  EXPECT_EQ(Md5("plain"), before);
}

TEST_F(UndoTest, TruncatedTableGetsItsRowsBackAndKeepsNewOnes) {
  const std::string before = Md5("events");
  pg::Connection conn = Live().Connect();
  conn.Exec("BEGIN");
  const std::string xid = conn.Scalar("SELECT txid_current()");
  conn.Exec("TRUNCATE events");
  conn.Exec("COMMIT");
  Live().Sql("INSERT INTO events VALUES (100001, 'after the truncate')");

  const core::ProcessResult r = Undo({"--table", "events", "--before", xid, "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Live().Scalar("SELECT count(*) FROM events"), "3001");
  EXPECT_EQ(Md5("events", "id <= 3000"), before);
  EXPECT_EQ(Live().Scalar("SELECT kind FROM events WHERE id = 100001"), "after the truncate");
}

TEST_F(UndoTest, DeleteWithoutWhereIsUndoneWhileOtherSessionsKeepWriting) {
  const std::string before = Md5("accounts");
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    pg::Connection conn = Live().Connect();
    while (!stop) {
      conn.Exec("INSERT INTO ledger (note) VALUES ('keeps writing')");
      ++written;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  while (written < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const std::string time = Now();
  Live().Sql("DELETE FROM accounts");
  while (written < 60) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  const core::ProcessResult r = Undo({"--table", "public.accounts", "--before", time, "--yes"});
  stop = true;
  writer.join();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Md5("accounts"), before);
  EXPECT_EQ(Live().Scalar("SELECT count(*) FROM ledger"), std::to_string(written.load()));
}

TEST_F(UndoTest, TableDroppedAndRecreatedUnderTheSameNameIsRefusedUnlessInto) {
  const std::string before = Md5("sessions");
  const std::string time = Now();
  Live().Sql("DROP TABLE sessions");
  Live().Sql("CREATE TABLE sessions (id int PRIMARY KEY, token text)");
  Live().Sql("INSERT INTO sessions SELECT g, 'new' FROM generate_series(1, 5) g");

  const core::ProcessResult refused = Undo({"--table", "sessions", "--before", time, "--yes"});
  EXPECT_EQ(refused.exit_code, 11) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("table public.sessions was dropped and recreated after the recovery "
                             "target"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("--into SCHEMA"), std::string::npos) << refused.err;
  EXPECT_EQ(Live().Scalar("SELECT count(*) FROM sessions"), "5");

  const core::ProcessResult into =
      Undo({"--table", "sessions", "--before", time, "--into", "recovered", "--yes"});
  ASSERT_EQ(into.exit_code, 0) << into.out << into.err;
  EXPECT_EQ(Md5("recovered.sessions"), before);
  EXPECT_EQ(Live().Scalar("SELECT count(*) FROM sessions"), "5");
}

TEST_F(UndoTest, RowsChangedSinceTheIncidentNeedOnConflictAndDryRunChangesNothing) {
  const std::string before = Md5("prices");
  const std::string time = Now();
  Live().Sql("UPDATE prices SET price = 0");

  const core::ProcessResult refused = Undo({"--table", "prices", "--before", time, "--yes"});
  EXPECT_EQ(refused.exit_code, 11) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("1000 row(s) of public.prices were changed after the incident"),
            std::string::npos)
      << refused.err;

  const core::ProcessResult dry = Undo(
      {"--table", "prices", "--before", time, "--on-conflict", "replace", "--dry-run"}, true);
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  const nlohmann::json plan = nlohmann::json::parse(dry.out);
  EXPECT_FALSE(plan["applied"].get<bool>());
  EXPECT_EQ(plan["plan"]["tables"][0]["conflicting_rows"].get<int>(), 1000);
  EXPECT_EQ(plan["plan"]["tables"][0]["action"].get<std::string>(), "restore rows");
  EXPECT_EQ(Live().Scalar("SELECT sum(price) FROM prices"), "0");

  const core::ProcessResult replaced = Undo(
      {"--table", "prices", "--before", time, "--on-conflict", "replace", "--yes"}, true);
  ASSERT_EQ(replaced.exit_code, 0) << replaced.out << replaced.err;
  EXPECT_EQ(nlohmann::json::parse(replaced.out)["outcomes"][0]["replaced"].get<int>(), 1000);
  EXPECT_EQ(Md5("prices"), before);
}

}  // namespace
}  // namespace dbmedic::testing
