// The backup commands as a user runs them: exit codes, JSON output, a backup killed with SIGKILL
// half-way, an unreadable file in the data directory.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "harness/test_cluster.hpp"

extern char** environ;

namespace dbmedic::testing {
namespace {

class BackupCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<TestCluster>();
    cluster_->cluster().RunTool("pgbench", {"-i", "-s", "2", "-q", "-h",
                                            cluster_->socket_dir().string(), "-p",
                                            std::to_string(cluster_->port()), "-U", "postgres",
                                            "postgres"});
    repo_dir_ = cluster_->MakeOwnedDir("repo");
    const core::ProcessResult init = Run({"repo", "init"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  static std::vector<std::string> Flags() {
    return {"--repo", repo_dir_.string(), "--pg-host", cluster_->socket_dir().string(),
            "--pg-port", std::to_string(cluster_->port()), "--pg-user", "postgres"};
  }
  // Adds the repository flag, and the cluster flags for the commands that connect.
  static core::ProcessResult Run(std::vector<std::string> args, const core::RunOptions& options = {}) {
    const bool connects = std::find(args.begin(), args.end(), "backup") != args.end() ||
                          std::find(args.begin(), args.end(), "init") != args.end();
    std::vector<std::string> flags = Flags();
    if (!connects) flags.resize(2);
    args.insert(args.end(), flags.begin(), flags.end());
    return RunDbmedic(args, options);
  }
  static nlohmann::json Json(const core::ProcessResult& r) { return nlohmann::json::parse(r.out); }

  static std::unique_ptr<TestCluster> cluster_;
  static fs::path repo_dir_;
};

std::unique_ptr<TestCluster> BackupCli::cluster_;
fs::path BackupCli::repo_dir_;

TEST_F(BackupCli, BackupThenInfoAndVerifyInJson) {
  const core::ProcessResult backup = Run({"--output", "json", "backup"});
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  const std::string label = Json(backup)["label"];
  const core::ProcessResult info = Run({"--output", "json", "info"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  bool listed = false;
  const nlohmann::json listing = Json(info);
  for (const auto& b : listing["backups"]) {
    if (b["label"] == label) {
      listed = true;
      EXPECT_GT(b["database_size"].get<std::uint64_t>(), b["repository_size"].get<std::uint64_t>());
      EXPECT_EQ(b["type"], "full");
    }
  }
  EXPECT_TRUE(listed) << info.out;
  const core::ProcessResult verify = Run({"--output", "json", "verify", label});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(Json(verify)["ok"], true);
}

// The relation catalog is captured beside the backup; when that fails (here: the repository's
// catalog file is damaged) the backup is still good, and the warning says how to retry.
TEST_F(BackupCli, AFailedCatalogCaptureIsAWarningAfterAGoodBackup) {
  const fs::path catalog = repo_dir_ / "forensics" / "catalog.json";
  const bool existed = fs::exists(catalog);
  const std::string saved = existed ? core::ReadFile(catalog) : std::string();
  fs::create_directories(catalog.parent_path());
  std::ofstream(catalog, std::ios::trunc) << "not json";
  const core::ProcessResult backup = Run({"--output", "json", "backup"});
  if (existed) {
    std::ofstream(catalog, std::ios::trunc) << saved;
  } else {
    fs::remove(catalog);
  }
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_EQ(Json(backup)["type"], "full");
  EXPECT_NE(backup.err.find("the backup is complete, but the relation catalog could not be "
                            "captured"),
            std::string::npos)
      << backup.err;
  EXPECT_NE(backup.err.find("dbmedic catalog capture"), std::string::npos) << backup.err;
}

TEST_F(BackupCli, RestoreIntoNonEmptyTargetExitsWithConflict) {
  const fs::path target = cluster_->root() / "busy";
  core::MakeDirs(target, 0700);
  std::ofstream(target / "x") << "x";
  ASSERT_EQ(Run({"backup"}).exit_code, 0);
  const core::ProcessResult r = Run({"restore", "--target-dir", target.string()});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kConflict)) << r.err;
  EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("HINT: "), std::string::npos) << r.err;
}

TEST_F(BackupCli, VerifyOfUnknownLabelIsNotFound) {
  const core::ProcessResult r = Run({"verify", "19990101-000000F"});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kNotFound)) << r.err;
}

TEST_F(BackupCli, InfoWithoutRepositoryAsksForInit) {
  const fs::path empty = cluster_->MakeOwnedDir("empty-repo");
  const core::ProcessResult r = RunDbmedic({"info", "--repo", empty.string()});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kRepository)) << r.err;
  EXPECT_NE(r.err.find("dbmedic repo init"), std::string::npos) << r.err;
}

TEST_F(BackupCli, HelpDescribesTheOptions) {
  const core::ProcessResult r = RunDbmedic({"restore", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--target-dir", "--delta", "--backup", "--jobs", "--tablespace-map"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
}

// Starts the binary without waiting for it.
pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<std::string> argv{DbmedicBinary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

std::size_t CountChunkObjects(const fs::path& repo) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(repo / "backup", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    n += it->is_regular_file() && it->path().string().find("/data/") != std::string::npos;
  }
  return n;
}

TEST_F(BackupCli, BackupKilledMidwayIsNotListedAndTheNextSucceeds) {
  const fs::path repo = cluster_->MakeOwnedDir("kill-repo");
  std::vector<std::string> flags = Flags();
  flags[1] = repo.string();
  std::vector<std::string> init{"repo", "init"};
  init.insert(init.end(), flags.begin(), flags.end());
  ASSERT_EQ(RunDbmedic(init).exit_code, 0);

  // Slow on purpose (zstd 19, small chunks), so that it can be caught half-way.
  std::vector<std::string> slow{"backup", "--repository-compression-level", "19",
                                "--backup-chunk-size", "256KiB", "--jobs", "1"};
  slow.insert(slow.end(), flags.begin(), flags.end());
  const pid_t pid = Spawn(slow);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (CountChunkObjects(repo) < 20 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the backup ended before it could be killed";

  std::vector<std::string> info{"--output", "json", "info", "--repo", repo.string()};
  const nlohmann::json before = nlohmann::json::parse(RunDbmedic(info).out);
  EXPECT_TRUE(before["backups"].empty()) << before.dump();
  ASSERT_EQ(before["incomplete"].size(), 1u) << before.dump();
  const std::string killed = before["incomplete"][0];

  // The killed backup held the repository lock: the kernel released it with the process.
  std::vector<std::string> again{"--output", "json", "backup"};
  again.insert(again.end(), flags.begin(), flags.end());
  const core::ProcessResult next = RunDbmedic(again);
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(nlohmann::json::parse(next.out)["removed_incomplete"][0], killed);
  const nlohmann::json after = nlohmann::json::parse(RunDbmedic(info).out);
  ASSERT_EQ(after["backups"].size(), 1u);
  EXPECT_NE(after["backups"][0]["label"], killed);
  EXPECT_TRUE(after["incomplete"].empty());
  EXPECT_EQ(cluster_->Scalar("SELECT count(*) FROM pg_replication_slots"), "0");
}

// A second backup while one runs: it exits at once with kConflict (11) naming the running one.
TEST_F(BackupCli, SecondBackupWhileOneRunsExitsWithConflictNamingIt) {
  const fs::path repo = cluster_->MakeOwnedDir("race-repo");
  std::vector<std::string> flags = Flags();
  flags[1] = repo.string();
  std::vector<std::string> init{"repo", "init"};
  init.insert(init.end(), flags.begin(), flags.end());
  ASSERT_EQ(RunDbmedic(init).exit_code, 0);
  std::vector<std::string> slow{"backup", "--repository-compression-level", "19",
                                "--backup-chunk-size", "256KiB", "--jobs", "1"};
  slow.insert(slow.end(), flags.begin(), flags.end());
  const pid_t pid = Spawn(slow);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (CountChunkObjects(repo) < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  std::vector<std::string> second{"backup"};
  second.insert(second.end(), flags.begin(), flags.end());
  const core::ProcessResult r = RunDbmedic(second);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(r.exit_code, 11) << r.err;
  EXPECT_NE(r.err.find("repository '" + repo.string() + "' is locked by 'dbmedic backup' (pid " +
                       std::to_string(pid) + " on host "),
            std::string::npos)
      << r.err;
  ASSERT_TRUE(WIFSIGNALED(status)) << "the first backup ended before the second one ran";
}

// On a terminal (script(1) gives the command a pseudo-terminal) backup and restore show progress.
TEST_F(BackupCli, BackupAndRestoreShowProgressOnATerminal) {
  const std::string repo = repo_dir_.string();
  const std::string backup = fmt::format("{} backup --repo {} --pg-host {} --pg-port {} --pg-user postgres",
                                         DbmedicBinary().string(), repo,
                                         cluster_->socket_dir().string(), cluster_->port());
  const core::ProcessResult b = core::RunProcess({"script", "-qefc", backup, "/dev/null"});
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_NE(b.out.find("\rbackup "), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("(100%)"), std::string::npos) << b.out;

  const fs::path target = cluster_->root() / "progress-restore";
  const std::string restore = fmt::format("{} restore --repo {} --target-dir {}",
                                          DbmedicBinary().string(), repo, target.string());
  const core::ProcessResult r = core::RunProcess({"script", "-qefc", restore, "/dev/null"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("\rrestore "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(100%)"), std::string::npos) << r.out;
}

// Without a terminal (a pipe, as in scripts) there is no progress line, only the result.
TEST_F(BackupCli, NoProgressWhenOutputIsNotATerminal) {
  const core::ProcessResult b = Run({"backup"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.err.find('\r'), std::string::npos) << b.err;
  EXPECT_NE(b.out.find("done: "), std::string::npos) << b.out;
}

TEST_F(BackupCli, UnreadableFileInTheDataDirectoryFailsNamingIt) {
  if (!core::IsRoot()) GTEST_SKIP() << "needs root to make a file the postgres user cannot read";
  const fs::path repo = cluster_->MakeOwnedDir("pg-repo");
  std::vector<std::string> flags = Flags();
  flags[1] = repo.string();
  core::RunOptions as_postgres;
  as_postgres.as_user = cluster_->os_user();
  std::vector<std::string> init{"repo", "init"};
  init.insert(init.end(), flags.begin(), flags.end());
  ASSERT_EQ(RunDbmedic(init, as_postgres).exit_code, 0);

  const fs::path secret = cluster_->data_dir() / "root_only.conf";
  std::ofstream(secret) << "not for postgres";
  ::chmod(secret.c_str(), 0600);  // owned by root
  std::vector<std::string> backup{"backup"};
  backup.insert(backup.end(), flags.begin(), flags.end());
  const core::ProcessResult r = RunDbmedic(backup, as_postgres);
  fs::remove(secret);
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kIo)) << r.err;
  EXPECT_NE(r.err.find("unable to back up 'root_only.conf'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
}

TEST_F(BackupCli, RepositoryOfAnotherClusterExitsWithRepositoryError) {
  TestCluster other;
  const core::ProcessResult r = RunDbmedic(
      {"backup", "--repo", repo_dir_.string(), "--pg-host", other.socket_dir().string(),
       "--pg-port", std::to_string(other.port()), "--pg-user", "postgres"});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorCode::kRepository)) << r.err;
  EXPECT_NE(r.err.find("belongs to the cluster with system identifier"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dbmedic::testing
