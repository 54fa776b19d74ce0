// Issue 4's rescue on a real cluster that archives through `dbmedic wal push`: a backup (which
// stores a relation catalog snapshot in the repository), users written one transaction at a time
// with every acknowledged id recorded, `DROP TABLE users CASCADE`, more writes to orders, then:
// `incidents` finds the DROP in the repository's WAL archive by name, and
// `restore --before-incident latest --table users` brings back every acknowledged user.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "forensics/catalog_store.hpp"
#include "forensics/incident_scanner.hpp"
#include "harness/test_cluster.hpp"
#include "integration/pitr/archiving_cluster.hpp"
#include "pg/local_cluster.hpp"
#include "pg/wal_reader.hpp"
#include "repo/cluster.hpp"
#include "wal/archive.hpp"
#include "wal/archive_wal_source.hpp"

namespace dbmedic::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kUsersAtBackup = 1000;
constexpr int kUsersAfterBackup = 40;
constexpr int kOrdersAfterDrop = 3;

class BeforeIncidentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    primary_ = new ArchivingCluster(std::map<std::string, std::string>{{"autovacuum", "off"}});
    TestCluster& c = primary_->cluster();
    c.Sql(fmt::format(
        "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);"
        "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, {}) g;"
        "CREATE TABLE orders (id serial PRIMARY KEY, user_id int REFERENCES users, amount int);"
        "INSERT INTO orders (user_id, amount) SELECT g % {} + 1, g FROM generate_series(1, 500) g;"
        "ANALYZE",
        kUsersAtBackup, kUsersAtBackup));
    config_file_ = new fs::path(c.root() / "dbmedic.toml");
    std::ofstream(*config_file_) << fmt::format(
        "[cluster]\nhost = \"{}\"\nport = {}\nuser = \"postgres\"\nos_user = \"{}\"\n"
        "[repository]\npath = \"{}\"\n[backup]\njobs = 2\n",
        c.socket_dir().string(), c.port(), c.os_user(), primary_->repo_dir().string());
    auto backup = RunDbmedic({"--config", config_file_->string(), "backup"});
    ASSERT_EQ(backup.exit_code, 0) << backup.err;
    primary_->GiveRepositoryToServer();

    // Each user in its own transaction, as an application would write them; the ids the server
    // acknowledged are what must come back.
    acknowledged_ = new std::set<int>();
    pg::Connection conn = c.Connect();
    for (int id = kUsersAtBackup + 1; id <= kUsersAtBackup + kUsersAfterBackup; ++id) {
      conn.Exec(fmt::format("INSERT INTO users VALUES ({}, 'late user {}')", id, id));
      acknowledged_->insert(id);
    }
    conn.Exec("BEGIN");
    drop_xid_ = new std::string(conn.Exec("SELECT txid_current()::text").GetString(0, 0));
    conn.Exec("DROP TABLE users CASCADE");
    conn.Exec("COMMIT");
    for (int i = 0; i < kOrdersAfterDrop; ++i) {
      conn.Exec("INSERT INTO orders (user_id, amount) VALUES (NULL, -1)");
    }
    primary_->SwitchAndWait();
  }

  static void TearDownTestSuite() {
    delete primary_;
    delete config_file_;
    delete acknowledged_;
    delete drop_xid_;
  }

  static std::vector<std::string> Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", config_file_->string()});
    return args;
  }

  static ArchivingCluster* primary_;
  static fs::path* config_file_;
  static std::set<int>* acknowledged_;
  static std::string* drop_xid_;
};

ArchivingCluster* BeforeIncidentTest::primary_ = nullptr;
fs::path* BeforeIncidentTest::config_file_ = nullptr;
std::set<int>* BeforeIncidentTest::acknowledged_ = nullptr;
std::string* BeforeIncidentTest::drop_xid_ = nullptr;

TEST_F(BeforeIncidentTest, EveryBackupStoresACatalogSnapshotInTheRepository) {
  const repo::Repository repository = repo::OpenRepository(primary_->config());
  const pg::RelationCatalog catalog = forensics::LoadRepositoryCatalog(repository);
  ASSERT_EQ(catalog.snapshots().size(), 1u);
  bool has_users = false;
  for (const auto& r : catalog.snapshots()[0].relations) {
    has_users = has_users || r.QualifiedName() == "public.users";
  }
  EXPECT_TRUE(has_users);
}

TEST_F(BeforeIncidentTest, IncidentsFindsTheDropInTheRepositoryArchiveByName) {
  auto r = RunDbmedic(Cli({"--output", "json", "incidents", "--table", "users"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.at("incidents").size(), 1u) << r.out;
  const nlohmann::json& incident = j.at("incidents")[0];
  EXPECT_EQ(incident.at("kind"), "DROP");
  EXPECT_EQ(std::to_string(incident.at("xid").get<std::uint32_t>()), *drop_xid_);
  EXPECT_EQ(incident.at("relations")[0].at("name"), "public.users");
  EXPECT_EQ(incident.at("later_commits").get<int>(), kOrdersAfterDrop);
  EXPECT_NE(j.at("scan").at("source").get<std::string>().find("WAL archive"), std::string::npos);
  EXPECT_TRUE(j.at("scan").at("live_snapshot").get<bool>());
}

// No configuration file: the repository and the cluster (for the live snapshot) as flags.
TEST_F(BeforeIncidentTest, IncidentsTakesTheRepositoryAndTheClusterFromFlags) {
  TestCluster& c = primary_->cluster();
  auto r = RunDbmedic({"--output", "json", "incidents", "--table", "users", "--repo",
                       primary_->repo_dir().string(), "--pg-host", c.socket_dir().string(),
                       "--pg-port", std::to_string(c.port()), "--pg-user", "postgres"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.at("incidents").size(), 1u) << r.out;
  EXPECT_EQ(j.at("incidents")[0].at("relations")[0].at("name"), "public.users");
  EXPECT_TRUE(j.at("scan").at("live_snapshot").get<bool>());
}

TEST_F(BeforeIncidentTest, AScanTheStoredCatalogAnswersTakesNoLiveSnapshot) {
  // Every commit is before --since: no decision needs a name, so the running cluster (reachable
  // here) is not asked.
  auto r = RunDbmedic(Cli({"--output", "json", "incidents", "--since", "2999-01-01T00:00:00Z"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.at("incidents").empty());
  EXPECT_FALSE(j.at("scan").at("live_snapshot").get<bool>());
  EXPECT_EQ(j.at("scan").at("catalog_snapshots").get<int>(), 1);
  EXPECT_GT(j.at("scan").at("commits").get<int>(), kOrdersAfterDrop);
}

TEST_F(BeforeIncidentTest, WithoutTheLiveClusterTheStoredSnapshotStillNamesTheTable) {
  auto r = RunDbmedic(Cli({"--output", "json", "incidents", "--live-snapshot", "false"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j.at("incidents").empty());
  const nlohmann::json& rel = j.at("incidents").back().at("relations")[0];
  EXPECT_EQ(rel.at("name"), "public.users");
  EXPECT_EQ(rel.at("action"), "DROP");
  EXPECT_NE(rel.at("basis").get<std::string>().find("no catalog snapshot after the commit"),
            std::string::npos);
}

TEST_F(BeforeIncidentTest, ArchiveSourceDecodesTheSameRecordsAsTheServerWrote) {
  const repo::Repository repository = repo::OpenRepository(primary_->config());
  const wal::WalArchive archive(repository, repository.info().codec);
  wal::ArchiveWalSource source(archive);
  pg::WalReader reader(source);
  const forensics::IncidentReport report = forensics::FindIncidents(reader, nullptr, {});
  EXPECT_FALSE(report.error_exit_code.has_value()) << report.stop.detail;
  EXPECT_EQ(report.stop.reason, pg::WalStopReason::kMissingSegment) << report.stop.detail;
  EXPECT_GT(report.commits, static_cast<std::uint64_t>(kUsersAfterBackup + kOrdersAfterDrop));
  ASSERT_FALSE(report.incidents.empty());
  EXPECT_EQ(std::to_string(report.incidents.back().xid), *drop_xid_);
}

TEST_F(BeforeIncidentTest, RestoreBeforeTheLatestIncidentOnUsersBringsBackEveryAcknowledgedRow) {
  const fs::path dir = primary_->cluster().root() / "before-drop";
  auto r = RunDbmedic(Cli({"--output", "json", "restore", "--target-dir", dir.string(),
                           "--before-incident", "latest", "--table", "users", "--start"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(std::to_string(j.at("incident").at("xid").get<std::uint32_t>()), *drop_xid_);
  EXPECT_EQ(j.at("discarded_commits").get<int>(), kOrdersAfterDrop);
  EXPECT_TRUE(j.at("promoted").get<bool>());

  pg::ClusterSpec spec;
  spec.data_dir = dir;
  spec.socket_dir = j.at("socket_dir").get<std::string>();
  spec.port = j.at("port").get<int>();
  spec.os_user = primary_->cluster().os_user();
  pg::LocalCluster restored(spec);
  {
    pg::Connection conn = pg::Connection::Open(restored.ConnInfo());
    pg::Result users = conn.Exec("SELECT id FROM users ORDER BY id");
    std::set<int> ids;
    for (int i = 0; i < users.rows(); ++i) ids.insert(static_cast<int>(users.GetInt(i, 0)));
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(kUsersAtBackup + kUsersAfterBackup));
    for (int id : *acknowledged_) EXPECT_TRUE(ids.contains(id)) << "user " << id << " lost";
    EXPECT_EQ(conn.Exec("SELECT count(*) FROM orders WHERE amount = -1").GetInt(0, 0), 0)
        << "orders written after the drop were replayed past the target";
    EXPECT_EQ(conn.Exec("SELECT count(*) FROM pg_constraint WHERE conname = 'orders_user_id_fkey'")
                  .GetInt(0, 0),
              1)
        << "the foreign key dropped by CASCADE is back";
  }
  restored.Stop(pg::StopMode::kImmediate);
}

TEST_F(BeforeIncidentTest, AnXidThatIsNoIncidentIsRefusedBeforeRestoring) {
  const fs::path dir = primary_->cluster().root() / "not-an-incident";
  auto r = RunDbmedic(Cli({"restore", "--target-dir", dir.string(), "--before-incident", "3"}));
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kTarget)) << r.err;
  EXPECT_NE(r.err.find("transaction 3 is not among the destructive transactions"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("public.users"), std::string::npos) << "the hint lists what was found";
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(BeforeIncidentTest, ATableWithoutIncidentsIsRefused) {
  const fs::path dir = primary_->cluster().root() / "no-such-table";
  auto r = RunDbmedic(Cli({"restore", "--target-dir", dir.string(), "--before-incident",
                           "latest", "--table", "orders"}));
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kTarget)) << r.err;
  EXPECT_NE(r.err.find("on table orders"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(BeforeIncidentTest, TableWithoutBeforeIncidentIsAUsageError) {
  auto r = RunDbmedic(Cli({"restore", "--target-dir", "/nonexistent/x", "--to-xid", "5",
                           "--table", "users"}));
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kUsage)) << r.err;
  EXPECT_NE(r.err.find("--table needs --before-incident"), std::string::npos) << r.err;
}

TEST_F(BeforeIncidentTest, MalformedIncidentIsAUsageError) {
  auto r = RunDbmedic(Cli({"restore", "--target-dir", "/nonexistent/x", "--before-incident",
                           "yesterday"}));
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kUsage)) << r.err;
  EXPECT_NE(r.err.find("invalid --before-incident 'yesterday'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dbmedic::testing
