// The binary as a user runs it: help, usage errors, config errors, sandbox lifecycle (as root and
// as a normal user), the demo, and the generated configuration reference.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/fs.hpp"
#include "harness/test_cluster.hpp"
#include "pg/connection.hpp"

namespace dbmedic::testing {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(CliTest, HelpListsTheCommands) {
  auto r = RunDbmedic({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"sandbox", "demo", "backup", "restore", "verify", "info", "config"}) {
    EXPECT_TRUE(Contains(r.out, cmd)) << cmd;
  }
}

TEST(CliTest, EveryCommandHasHelp) {
  auto r = RunDbmedic({"--help"});
  std::istringstream lines(r.out.substr(r.out.find("Subcommands:")));
  std::string line;
  std::getline(lines, line);
  int checked = 0;
  while (std::getline(lines, line)) {
    if (line.size() < 3 || line[0] != ' ' || line[2] == ' ') continue;
    std::string cmd = line.substr(2, line.find(' ', 2) - 2);
    auto help = RunDbmedic({cmd, "--help"});
    EXPECT_EQ(help.exit_code, 0) << cmd;
    EXPECT_TRUE(Contains(help.out, "Usage:")) << cmd;
    ++checked;
  }
  EXPECT_GE(checked, 7);
}

// `wal` is set up alone when it is the command invoked (main.cpp): behind global options too,
// and a command typed wrong is still a usage error.
TEST(CliTest, CommandSetUpAloneBehavesAsWithEveryCommand) {
  auto help = RunDbmedic({"--log-level", "warn", "--output=text", "wal", "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  for (const char* sub : {"push", "get", "stream", "list"}) EXPECT_TRUE(Contains(help.out, sub));
  auto typo = RunDbmedic({"--log-level", "warn", "wall", "push", "x"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_TRUE(Contains(typo.err, "subcommand is required")) << typo.err;
  auto unknown_global = RunDbmedic({"--no-such-global", "wal", "list"});
  EXPECT_EQ(unknown_global.exit_code, 2);
  EXPECT_TRUE(Contains(unknown_global.err, "--no-such-global")) << unknown_global.err;
}

TEST(CliTest, UnknownOptionIsAUsageError) {
  auto r = RunDbmedic({"info", "--no-such-option"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "--no-such-option")) << r.err;
}

TEST(CliTest, BadConfigFileNamesKeyAndLine) {
  core::TempDir dir("cli-test");
  auto file = dir.path() / "bad.toml";
  std::ofstream(file) << "[repository]\npath = \"/tmp/x\"\ncompresion = \"zstd\"\n";
  auto r = RunDbmedic({"--config", file.string(), "config", "show"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(Contains(r.err, "line 3: unknown key 'repository.compresion'")) << r.err;
}

TEST(CliTest, JsonOutputCarriesTheError) {
  core::TempDir dir("cli-test");
  auto r = RunDbmedic({"--output", "json", "--config", (dir.path() / "none.toml").string(),
                       "config", "show"});
  EXPECT_EQ(r.exit_code, 3);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["error"]["code"], "config");
  EXPECT_TRUE(Contains(j["error"]["message"], "does not exist"));
}

TEST(CliTest, EnvironmentAndFlagsOverrideTheFile) {
  core::TempDir dir("cli-test");
  auto file = dir.path() / "c.toml";
  std::ofstream(file) << "[cluster]\nport = 6000\n";
  core::RunOptions opts;
  opts.env["DBMEDIC_CLUSTER_PORT"] = "6001";
  auto r = RunDbmedic({"--output", "json", "--config", file.string(), "config", "show"}, opts);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["cluster.port"]["value"], "6001");
  EXPECT_EQ(j["cluster.port"]["source"], "environment DBMEDIC_CLUSTER_PORT");
}

TEST(CliTest, ConfigurationReferenceIsUpToDate) {
  auto r = RunDbmedic({"config", "reference"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, core::ReadFile(fs::path(DBMEDIC_SOURCE_DIR) / "docs/configuration.md"))
      << "regenerate it: build/dbmedic config reference > docs/configuration.md";
}

void SandboxLifecycle(const core::RunOptions& as) {
  core::TempDir parent("sandbox-e2e");
  if (as.as_user) {
    auto user = core::LookupUser(*as.as_user);
    ASSERT_TRUE(user);
    core::ChownRecursive(parent.path(), user->uid, user->gid);
  }
  std::string dir = (parent.path() / "sbx").string();
  auto up = RunDbmedic({"--output", "json", "sandbox", "up", "--dir", dir}, as);
  ASSERT_EQ(up.exit_code, 0) << up.err;
  auto status = nlohmann::json::parse(up.out);
  EXPECT_TRUE(status["running"]);
  // The config file it wrote works for every other command.
  auto conninfo = status["conninfo"].get<std::string>();
  auto conn = pg::Connection::Open(conninfo);
  EXPECT_EQ(conn.Scalar("SHOW wal_level"), "replica");
  auto show = RunDbmedic({"--output", "json", "--config", dir + "/dbmedic.toml", "config", "show"},
                         as);
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(nlohmann::json::parse(show.out)["cluster.port"]["value"],
            std::to_string(status["port"].get<int>()));
  // Up again is idempotent; down stops; status says so; destroy removes everything.
  EXPECT_EQ(RunDbmedic({"sandbox", "up", "--dir", dir}, as).exit_code, 0);
  EXPECT_EQ(RunDbmedic({"sandbox", "down", "--dir", dir}, as).exit_code, 0);
  auto after = RunDbmedic({"--output", "json", "sandbox", "status", "--dir", dir}, as);
  EXPECT_FALSE(nlohmann::json::parse(after.out)["running"]);
  EXPECT_EQ(RunDbmedic({"sandbox", "destroy", "--dir", dir}, as).exit_code, 0);
  EXPECT_FALSE(fs::exists(dir));
}

TEST(SandboxTest, LifecycleAsCurrentUser) { SandboxLifecycle({}); }

TEST(SandboxTest, LifecycleAsANormalUser) {
  if (!core::IsRoot()) GTEST_SKIP() << "already running as a normal user (covered above)";
  core::RunOptions as;
  as.as_user = "postgres";
  as.cwd = "/";
  SandboxLifecycle(as);
}

TEST(SandboxTest, DestroyRefusesADirectoryThatIsNotASandbox) {
  core::TempDir dir("not-a-sandbox");
  std::ofstream(dir.path() / "precious.txt") << "keep me";
  auto r = RunDbmedic({"sandbox", "destroy", "--dir", dir.path().string()});
  EXPECT_EQ(r.exit_code, 11);
  EXPECT_TRUE(Contains(r.err, "not a dbmedic sandbox")) << r.err;
  EXPECT_TRUE(fs::exists(dir.path() / "precious.txt"));
}

// Removes the demo's sandbox (its cluster keeps running after a demo without --cleanup).
struct SandboxCleanup {
  std::string dir;
  ~SandboxCleanup() { RunDbmedic({"sandbox", "destroy", "--dir", dir}); }
};

std::int64_t Count(pg::Connection& conn, const std::string& sql) {
  return conn.Exec(sql).GetInt(0, 0);
}

// One run of the whole story (it takes a while), then its claims checked against the sandbox's
// live cluster itself, not only against the JSON.
TEST(DemoTest, RestoresEverythingBeforeTheDropThenUndoKeepsTheOrdersWrittenAfterIt) {
  core::TempDir parent("demo-e2e");
  const std::string dir = (parent.path() / "demo").string();
  SandboxCleanup cleanup{dir};
  auto r = RunDbmedic({"--output", "json", "demo", "--dir", dir, "--users", "2000", "--orders",
                       "6000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["data_matches"]);
  EXPECT_TRUE(j["incident_found"]);
  // The classic whole-cluster restore (a side directory, already removed).
  EXPECT_EQ(j["users_missing"].get<int>(), 0);
  EXPECT_EQ(j["orders_before_missing"].get<int>(), 0);
  EXPECT_GT(j["users_restored"].get<int>(), 2000) << "users written after the backup are back";
  EXPECT_GT(j["repository_bytes"].get<double>(), 0);
  EXPECT_GT(j["rto_seconds"].get<double>(), 0);
  EXPECT_EQ(j["orders_after_discarded"], j["undo"]["orders_after_drop"])
      << "a whole-cluster restore loses every order written after the drop";

  // Undo on the live cluster: checked in the database.
  const nlohmann::json& undo = j["undo"];
  const auto after_ids = undo["orders_after_drop_ids"].get<std::vector<std::int64_t>>();
  ASSERT_FALSE(after_ids.empty()) << "the workload wrote orders after the drop";
  EXPECT_EQ(undo["orders_after_drop_present"].get<std::size_t>(), after_ids.size());
  EXPECT_EQ(undo["users_missing"].get<int>(), 0);
  auto conn = pg::Connection::Open(j["conninfo"].get<std::string>());
  EXPECT_EQ(Count(conn, "SELECT count(*) FROM users"), undo["rows_brought_back"].get<int>());
  EXPECT_EQ(Count(conn, "SELECT count(*) FROM users WHERE id <= 2000"), 2000);
  EXPECT_EQ(Count(conn, "SELECT count(*) FROM users WHERE id > 2000"),
            undo["users_acknowledged"].get<int>())
      << "every user the application had acknowledged before the drop, and no other";
  std::string ids = "{";
  for (std::int64_t id : after_ids) ids += (ids.size() > 1 ? "," : "") + std::to_string(id);
  ids += "}";
  EXPECT_EQ(Count(conn, "SELECT count(*) FROM orders WHERE id = ANY('" + ids + "'::bigint[])"),
            static_cast<std::int64_t>(after_ids.size()));
  EXPECT_EQ(Count(conn, "SELECT count(*) FROM orders o LEFT JOIN users u ON u.id = o.user_id "
                        "WHERE u.id IS NULL"),
            0);
  EXPECT_EQ(Count(conn, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND "
                        "conrelid = 'orders'::regclass AND confrelid = 'users'::regclass "
                        "AND convalidated"),
            1)
      << "the foreign key dropped by CASCADE is back, validated";
  EXPECT_EQ(undo["foreign_keys_restored"].size(), 1u);
  EXPECT_FALSE(fs::exists(fs::path(dir) / "pgdata.damaged"))
      << "the live cluster was never replaced";
}

TEST(DemoTest, CleanupRemovesTheSandbox) {
  core::TempDir parent("demo-e2e");
  const std::string dir = (parent.path() / "demo").string();
  auto r = RunDbmedic({"--output", "json", "demo", "--dir", dir, "--users", "200", "--orders",
                       "400", "--cleanup"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir));
}

}  // namespace
}  // namespace dbmedic::testing
