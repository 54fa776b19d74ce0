// Backups of a cluster that is being written, two backups racing for one repository, and a
// repository on a real filesystem that fills up. One cluster (pgbench data plus a ledger that a
// writer thread appends to) is shared by the suite; every test uses its own repository.
#include <sys/mount.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <optional>
#include <thread>

#include "backup/backup.hpp"
#include "backup/verify.hpp"
#include "backup_fixture.hpp"
#include "repo/lock.hpp"
#include "restore/restore.hpp"

namespace dbmedic::testing {
namespace {

// A small tmpfs mounted for one test (needs root), unmounted by the destructor.
class SmallFilesystem {
 public:
  SmallFilesystem(fs::path dir, const std::string& size) : dir_(std::move(dir)) {
    core::MakeDirs(dir_, 0755);
    const std::string options = "size=" + size + ",mode=0755";
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~SmallFilesystem() noexcept {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;
  bool mounted() const { return mounted_; }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
  bool mounted_ = false;
};

// Fills `dir`'s filesystem with one file until `leave` bytes are free.
void FillUpTo(const fs::path& file, std::uintmax_t leave) {
  const std::uintmax_t available = fs::space(file.parent_path()).available;
  std::ofstream out(file, std::ios::binary);
  const std::string block(1 << 20, 'x');
  for (std::uintmax_t written = 0; written + block.size() + leave <= available;
       written += block.size()) {
    out.write(block.data(), static_cast<std::streamsize>(block.size()));
  }
}

// Commits small transactions until stopped. Transaction n inserts ledger row n and adds 1 to one
// account and to its branch, so a consistent copy has sum(abalance) = sum(bbalance) = count(ledger).
class Writer {
 public:
  explicit Writer(const TestCluster& cluster)
      : conn_(cluster.Connect()), thread_([this](std::stop_token stop) { Loop(stop); }) {}
  ~Writer() noexcept { Stop(); }
  void Stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  long committed() const { return committed_.load(); }
  void WaitFor(long n) const {
    while (committed_.load() < n && !failed_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  bool failed() const { return failed_.load(); }

 private:
  void Loop(const std::stop_token& stop) {
    try {
      for (long n = 1; !stop.stop_requested(); ++n) {
        const std::string aid = std::to_string(1 + (n * 7919) % 300000);
        conn_.Exec("BEGIN");
        conn_.Exec("INSERT INTO ledger (id, aid) VALUES (" + std::to_string(n) + ", " + aid + ")");
        conn_.Exec("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = " + aid);
        conn_.Exec("UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = "
                   "(SELECT bid FROM pgbench_accounts WHERE aid = " + aid + ")");
        conn_.Exec("COMMIT");
        committed_.store(n);
      }
    } catch (const Error&) {
      failed_.store(true);
    }
  }
  pg::Connection conn_;
  std::atomic<long> committed_{0};
  std::atomic<bool> failed_{false};
  std::jthread thread_;  // last: starts after the fields it uses
};

class LiveBackup : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<TestCluster>();
    cluster_->cluster().RunTool("pgbench", {"-i", "-s", "3", "-q", "-h", cluster_->socket_dir().string(),
                                            "-p", std::to_string(cluster_->port()), "-U", "postgres",
                                            "postgres"});
    cluster_->Sql("CREATE TABLE ledger (id bigint PRIMARY KEY, aid int NOT NULL)");
    cluster_->Sql("CREATE INDEX ON ledger (aid)");
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  static core::Config Config(const fs::path& repo, std::map<std::string, std::string> extra = {}) {
    return ConfigFor(*cluster_, repo, std::move(extra));
  }
  static fs::path NewRepo(const std::string& name) {
    const fs::path dir = cluster_->MakeOwnedDir(name);
    repo::InitRepository(Config(dir));
    return dir;
  }

  static std::unique_ptr<TestCluster> cluster_;
};

std::unique_ptr<TestCluster> LiveBackup::cluster_;

TEST_F(LiveBackup, BackupDuringWritesRestoresEveryEarlierCommitConsistently) {
  const fs::path repo = NewRepo("repo-writes");
  Writer writer(*cluster_);
  writer.WaitFor(20);
  const long before_backup = writer.committed();
  const backup::BackupResult backup = backup::RunBackup(Config(repo));
  const long after_backup = writer.committed();
  writer.Stop();
  ASSERT_FALSE(writer.failed());
  EXPECT_GT(after_backup, before_backup) << "the writer must have committed during the copy";

  const fs::path target = cluster_->root() / "restored-writes";
  restore::RestoreOptions options;
  options.target_dir = target;
  options.label = backup.manifest.label;
  restore::RestoreBackup(Config(repo), options);
  auto restored = StartRestored(target, cluster_->root());
  auto conn = pg::Connection::Open(restored->ConnInfo());

  // Every transaction committed before the backup started is there, with nothing torn.
  const long restored_rows = std::stol(conn.Scalar("SELECT count(*) FROM ledger"));
  EXPECT_EQ(conn.Scalar("SELECT count(*) FROM ledger WHERE id <= " + std::to_string(before_backup)),
            std::to_string(before_backup));
  EXPECT_GE(restored_rows, before_backup);
  EXPECT_LE(restored_rows, after_backup);
  EXPECT_EQ(conn.Scalar("SELECT max(id) FROM ledger"), std::to_string(restored_rows));
  EXPECT_EQ(conn.Scalar("SELECT sum(abalance) FROM pgbench_accounts"), std::to_string(restored_rows));
  EXPECT_EQ(conn.Scalar("SELECT sum(bbalance) FROM pgbench_branches"), std::to_string(restored_rows));
  // Every table is readable, every B-tree index matches its table, no heap page is damaged.
  EXPECT_FALSE(DatabaseFingerprint(conn).empty());
  conn.Exec("CREATE EXTENSION amcheck");
  EXPECT_EQ(conn.Scalar("SELECT count(bt_index_check(i.indexrelid, true)) FROM pg_index i "
                        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                        "WHERE a.amname = 'btree' AND c.relnamespace = 'public'::regnamespace"),
            "5");  // 3 pgbench primary keys (history has none), ledger's primary key and aid index
  EXPECT_EQ(conn.Scalar("SELECT count(*) FROM pg_class c, verify_heapam(c.oid) "
                        "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"),
            "0");
  restored->Stop();
}

// Two backups started together on one repository: one fails fast naming the other, the other
// completes and verifies.
TEST_F(LiveBackup, ConcurrentBackupIsRefusedAndTheRepositoryStaysGood) {
  const fs::path repo = NewRepo("repo-race");
  std::optional<backup::BackupResult> results[2];
  std::optional<Error> errors[2];
  {
    std::jthread threads[2];
    for (int i = 0; i < 2; ++i) {
      threads[i] = std::jthread([&, i] {
        try {
          results[i] = backup::RunBackup(Config(repo));
        } catch (const Error& e) {
          errors[i] = e;
        }
      });
    }
  }
  const int failed = errors[0] ? 0 : 1;
  ASSERT_TRUE(errors[failed].has_value()) << "one of the two must be refused";
  ASSERT_TRUE(results[1 - failed].has_value()) << errors[1 - failed]->what();
  EXPECT_EQ(errors[failed]->code(), ErrorCode::kConflict);
  EXPECT_TRUE(Contains(errors[failed]->what(),
                       "repository '" + repo.string() + "' is locked by 'dbmedic backup' (pid " +
                           std::to_string(::getpid()) + " on host "))
      << errors[failed]->what();

  const repo::Repository repository = repo::OpenRepository(Config(repo));
  EXPECT_EQ(repository.ListBackups(),
            std::vector<std::string>{results[1 - failed]->manifest.label});
  EXPECT_TRUE(repository.ListIncomplete().empty());
  EXPECT_TRUE(backup::VerifyBackups(repository, std::nullopt, 2).ok());
}

TEST_F(LiveBackup, BackupWhileAnotherCommandHoldsTheLockFailsNamingIt) {
  const fs::path repo = NewRepo("repo-held");
  const repo::Repository holder = repo::OpenRepository(Config(repo));
  const repo::RepositoryLock lock = repo::LockRepository(holder, "expire");
  const Error e = CatchError([&] { backup::RunBackup(Config(repo)); });
  EXPECT_EQ(e.code(), ErrorCode::kConflict);
  EXPECT_TRUE(Contains(e.what(), "is locked by 'dbmedic expire' (pid ")) << e.what();
  EXPECT_TRUE(repo::OpenRepository(Config(repo)).ListIncomplete().empty());
}

// The repository on a real, small filesystem: the backup fails with kDiskFull naming the
// repository file it was writing, nothing is listed, and once space is freed the next backup
// cleans up and succeeds.
TEST_F(LiveBackup, DiskFullOnARealFilesystemThenTheNextBackupWorks) {
  if (!core::IsRoot()) GTEST_SKIP() << "mounting a small tmpfs needs root";
  SmallFilesystem small(cluster_->root() / "small", "64m");
  ASSERT_TRUE(small.mounted()) << "mount tmpfs failed: " << std::strerror(errno);
  const fs::path repo = small.dir() / "repo";
  core::MakeDirs(repo, 0755);
  repo::InitRepository(Config(repo));
  const fs::path ballast = small.dir() / "ballast";
  FillUpTo(ballast, 1 << 20);

  const Error e = CatchError([&] { backup::RunBackup(Config(repo)); });
  EXPECT_EQ(e.code(), ErrorCode::kDiskFull);
  EXPECT_TRUE(Contains(e.what(), "unable to write '" + (repo / "backup").string())) << e.what();
  EXPECT_TRUE(Contains(e.what(), "No space left on device")) << e.what();
  EXPECT_TRUE(Contains(e.hint(), "free space")) << e.hint();
  EXPECT_TRUE(repo::OpenRepository(Config(repo)).ListBackups().empty());

  fs::remove(ballast);
  const backup::BackupResult next = backup::RunBackup(Config(repo));
  EXPECT_EQ(next.removed_incomplete.size(), 1u);
  const repo::Repository repository = repo::OpenRepository(Config(repo));
  EXPECT_EQ(repository.ListBackups(), std::vector<std::string>{next.manifest.label});
  EXPECT_TRUE(backup::VerifyBackups(repository, std::nullopt, 2).ok());
}

}  // namespace
}  // namespace dbmedic::testing
