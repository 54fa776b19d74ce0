// SIGINT / SIGTERM while a scratch cluster runs (drill, undo): the command ends with
// kInterrupted (14), no postgres process of the scratch directory remains and the directory is
// gone. The source cluster has recovery_min_apply_delay = 1h, which the restored copy inherits:
// its recovery waits at the first commit after consistency, so the scratch cluster is reliably
// running (and not finished) when the signal is sent.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <thread>

#include "backup/backup.hpp"
#include "core/fs.hpp"
#include "integration/pitr/archiving_cluster.hpp"

namespace dbmedic::testing {
namespace {

using Clock = std::chrono::steady_clock;

// The binary as a child process we can signal (RunDbmedic waits for it).
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {DbmedicBinary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> c;
      for (std::string& a : argv) c.push_back(a.data());
      c.push_back(nullptr);
      ::execv(c[0], c.data());
      ::_exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  bool Exited() {
    if (status_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    return status_.has_value();
  }
  // Exit code, or 128 + signal; nullopt if still running after `timeout`.
  std::optional<int> Wait(std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!Exited()) {
      if (Clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return WIFEXITED(*status_) ? WEXITSTATUS(*status_) : 128 + WTERMSIG(*status_);
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// The scratch data directory once its server is up (postmaster.pid exists), or nullopt.
std::optional<fs::path> RunningScratch(const fs::path& parent) {
  for (const auto& entry : fs::directory_iterator(parent)) {
    if (fs::exists(entry.path() / "data" / "postmaster.pid")) return entry.path();
  }
  return std::nullopt;
}

// Processes whose command line mentions `dir` (postgres shows its -D data directory).
int ProcessesUsing(const fs::path& dir) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), {});
    if (cmdline.find(dir.string()) != std::string::npos) ++n;
  }
  return n;
}

class InterruptTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    primary_ = new ArchivingCluster(std::map<std::string, std::string>{
        {"recovery_min_apply_delay", "1h"}});
    TestCluster& c = primary_->cluster();
    c.Sql("CREATE TABLE items (id int PRIMARY KEY, note text)");
    c.Sql("INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 1000) g");
    backup::RunBackup(primary_->config());
    primary_->GiveRepositoryToServer();
    c.Sql("INSERT INTO items VALUES (1001, 'first commit after the backup')");
    *target_ = c.Scalar(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || "
        "'+00'");
    c.Sql("INSERT INTO items VALUES (1002, 'after the target')");
    primary_->SwitchAndWait();
  }
  static void TearDownTestSuite() {
    delete primary_;
    delete target_;
  }

  std::vector<std::string> Where() const {
    TestCluster& c = primary_->cluster();
    return {"--repo", primary_->repo_dir().string(), "--pg-host", c.socket_dir().string(),
            "--pg-port", std::to_string(c.port()), "--pg-os-user", c.os_user(),
            "--drill-scratch-dir", scratch_.string()};
  }

  // Starts the command, waits until its scratch cluster runs, sends `sig`, checks the cleanup.
  void InterruptWhileScratchRuns(std::vector<std::string> args, int sig) {
    const std::vector<std::string> where = Where();
    args.insert(args.end(), where.begin(), where.end());
    Child child(args);
    std::optional<fs::path> dir;
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (!(dir = RunningScratch(scratch_))) {
      ASSERT_FALSE(child.Exited()) << "ended before its scratch cluster started";
      ASSERT_LT(Clock::now(), deadline) << "no scratch cluster started";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GT(ProcessesUsing(*dir), 0) << "the scratch server runs";
    ASSERT_EQ(::kill(child.pid(), sig), 0);
    const std::optional<int> code = child.Wait(std::chrono::seconds(60));
    ASSERT_TRUE(code.has_value()) << "still running 60 s after the signal";
    EXPECT_EQ(*code, 14) << "ErrorCode::kInterrupted";
    EXPECT_EQ(ProcessesUsing(*dir), 0) << "a postgres process of " << dir->string() << " remains";
    EXPECT_FALSE(fs::exists(*dir));
  }

  void SetUp() override { scratch_ = primary_->cluster().MakeOwnedDir("scratch-" + Name()); }

  static std::string Name() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  static ArchivingCluster* primary_;
  static std::string* target_;
  fs::path scratch_;
};

ArchivingCluster* InterruptTest::primary_ = nullptr;
std::string* InterruptTest::target_ = new std::string;

TEST_F(InterruptTest, SigintDuringADrillStopsAndRemovesTheScratchCluster) {
  InterruptWhileScratchRuns({"drill", "--to-time", *target_}, SIGINT);
  // An interrupted drill says nothing about the backup: no record.
  EXPECT_FALSE(fs::exists(primary_->repo_dir() / "drill"));
}

TEST_F(InterruptTest, SigtermDuringUndoStopsAndRemovesTheSideCluster) {
  InterruptWhileScratchRuns({"undo", "--table", "public.items", "--before", *target_, "--yes"},
                            SIGTERM);
  EXPECT_EQ(primary_->cluster().Scalar("SELECT count(*) FROM items"), "1002")
      << "nothing changed in the live cluster";
}

}  // namespace
}  // namespace dbmedic::testing
