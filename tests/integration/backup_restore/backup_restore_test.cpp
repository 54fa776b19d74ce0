// Full backup and restore against a real PostgreSQL 15 cluster: the restored cluster starts and
// serves the same data; bad inputs fail with the right code and a message naming the object.
#include <sys/stat.h>

#include <fstream>

#include "backup/backup.hpp"
#include "backup/verify.hpp"
#include "backup_fixture.hpp"
#include "pg/lsn.hpp"
#include "restore/restore.hpp"
#include "storage/fault_storage.hpp"
#include "storage/posix_storage.hpp"

namespace dbmedic::testing {
namespace {

// The fingerprint of every table except the unlogged one (empty after any recovery, by design).
std::map<std::string, std::string> LoggedFingerprint(pg::Connection& conn) {
  std::map<std::string, std::string> fp = DatabaseFingerprint(conn);
  fp.erase("public.scratch");
  return fp;
}

class BackupRestore : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<TestCluster>();
    const fs::path tablespace = cluster_->MakeOwnedDir("tablespace");
    LoadSampleData(*cluster_, tablespace);
    repo_dir_ = cluster_->MakeOwnedDir("repo");
    repo::InitRepository(Config());
    first_ = backup::RunBackup(Config()).manifest;
    auto conn = cluster_->Connect();
    fingerprint_ = LoggedFingerprint(conn);
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  static core::Config Config(std::map<std::string, std::string> extra = {}) {
    return ConfigFor(*cluster_, repo_dir_, std::move(extra));
  }
  static repo::Repository OpenRepo() { return repo::OpenRepository(Config()); }
  static fs::path NewDir(const std::string& name) { return cluster_->root() / name; }

  static std::unique_ptr<TestCluster> cluster_;
  static fs::path repo_dir_;
  static repo::Manifest first_;
  static std::map<std::string, std::string> fingerprint_;
};

std::unique_ptr<TestCluster> BackupRestore::cluster_;
fs::path BackupRestore::repo_dir_;
repo::Manifest BackupRestore::first_;
std::map<std::string, std::string> BackupRestore::fingerprint_;

const repo::FileEntry* FindFile(const repo::Manifest& m, std::string_view path) {
  for (const auto& f : m.files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

TEST_F(BackupRestore, ManifestDescribesTheBackup) {
  EXPECT_EQ(first_.type, "full");
  EXPECT_TRUE(first_.data_checksums);
  EXPECT_LT(pg::Lsn::Parse(first_.start_lsn), pg::Lsn::Parse(first_.stop_lsn));
  EXPECT_EQ(first_.timeline, 1u);
  ASSERT_NE(FindFile(first_, "backup_label"), nullptr);
  ASSERT_NE(FindFile(first_, "tablespace_map"), nullptr);
  ASSERT_NE(FindFile(first_, "global/pg_control"), nullptr);
  ASSERT_EQ(first_.tablespaces.size(), 1u);
  EXPECT_EQ(first_.tablespaces[0].location, (cluster_->root() / "tablespace").string());
  bool has_wal = false;
  for (const auto& f : first_.files) has_wal |= f.path.starts_with("pg_wal/0000000100");
  EXPECT_TRUE(has_wal);
  EXPECT_GT(first_.repository_size, 0u);
  EXPECT_LT(first_.repository_size, first_.database_size);
}

TEST_F(BackupRestore, ExcludedFilesAreNotInTheBackup) {
  EXPECT_EQ(FindFile(first_, "postmaster.pid"), nullptr);
  EXPECT_EQ(FindFile(first_, "postmaster.opts"), nullptr);
  for (const auto& f : first_.files) {
    EXPECT_FALSE(f.path.starts_with("pg_replslot/")) << f.path;
    EXPECT_FALSE(f.path.starts_with("pg_stat_tmp/")) << f.path;
    EXPECT_FALSE(f.path.starts_with("pg_subtrans/")) << f.path;
    EXPECT_FALSE(Contains(f.path, "pgsql_tmp")) << f.path;
    EXPECT_FALSE(Contains(f.path, "pg_internal.init")) << f.path;
  }
}

TEST_F(BackupRestore, UnloggedTableKeepsOnlyItsInitFork) {
  const std::string rel = cluster_->Scalar("SELECT pg_relation_filepath('scratch')");
  EXPECT_EQ(FindFile(first_, rel), nullptr) << rel;
  EXPECT_NE(FindFile(first_, rel + "_init"), nullptr) << rel;
}

TEST_F(BackupRestore, BigRelationIsSplitIntoChunks) {
  const std::string rel = cluster_->Scalar("SELECT pg_relation_filepath('pgbench_accounts')");
  const repo::FileEntry* f = FindFile(first_, rel);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->chunks.size(), (f->size + (1 << 20) - 1) / (1 << 20));
  EXPECT_GT(f->chunks.size(), 1u);
}

TEST_F(BackupRestore, CatalogListsTheBackup) {
  const auto labels = OpenRepo().ListBackups();
  EXPECT_NE(std::find(labels.begin(), labels.end(), first_.label), labels.end());
}

TEST_F(BackupRestore, VerifyOfAGoodBackupFindsNothing) {
  const backup::VerifyResult r = backup::VerifyBackups(OpenRepo(), first_.label, 2);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.files_checked, first_.files.size());
}

TEST_F(BackupRestore, RestoredClusterStartsAndServesTheSameData) {
  const fs::path target = NewDir("restored");
  const fs::path new_tablespace = cluster_->MakeOwnedDir("restored-tablespace");
  restore::RestoreOptions options;
  options.target_dir = target;
  options.label = first_.label;
  options.tablespace_map[first_.tablespaces[0].location] = new_tablespace.string();
  const restore::RestoreResult r = restore::RestoreBackup(Config(), options);
  EXPECT_EQ(r.files, first_.files.size());
  EXPECT_FALSE(fs::exists(target / restore::kIncompleteMarker));
  struct stat st;
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(fs::read_symlink(target / "pg_tblspc" / first_.tablespaces[0].oid), new_tablespace);

  auto restored = StartRestored(target, cluster_->root());
  auto conn = pg::Connection::Open(restored->ConnInfo());
  EXPECT_EQ(LoggedFingerprint(conn), fingerprint_);
  EXPECT_EQ(conn.Scalar("SELECT count(*) FROM scratch"), "0");  // unlogged: reset by recovery
  EXPECT_EQ(conn.Scalar("SELECT count(*) FROM archive_items"), "3000");
  restored->Stop();
}

TEST_F(BackupRestore, DeltaRestoreRepairsAChangedDirectory) {
  const fs::path target = NewDir("delta");
  const fs::path tablespace = cluster_->MakeOwnedDir("delta-tablespace");
  restore::RestoreOptions options;
  options.target_dir = target;
  options.label = first_.label;
  options.tablespace_map[first_.tablespaces[0].location] = tablespace.string();
  restore::RestoreBackup(Config(), options);
  const std::string rel = cluster_->Scalar("SELECT pg_relation_filepath('users')");
  {
    std::fstream f(target / rel, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.write("garbage", 7);
  }
  std::ofstream(target / "base" / "stray_file") << "not in the backup";
  options.delta = true;
  const restore::RestoreResult r = restore::RestoreBackup(Config(), options);
  EXPECT_EQ(r.files_removed, 1u);
  EXPECT_FALSE(fs::exists(target / "base" / "stray_file"));
  EXPECT_LT(r.bytes_written, r.bytes / 2);  // only what differed (and the last files)
  const backup::VerifyResult ok = backup::VerifyBackups(OpenRepo(), first_.label, 2);
  EXPECT_TRUE(ok.ok());
  auto restored = StartRestored(target, cluster_->root());
  auto conn = pg::Connection::Open(restored->ConnInfo());
  EXPECT_EQ(LoggedFingerprint(conn), fingerprint_);
  restored->Stop();
}

TEST_F(BackupRestore, RestoreIntoNonEmptyTargetIsAConflict) {
  const fs::path target = NewDir("occupied");
  core::MakeDirs(target, 0700);
  std::ofstream(target / "something") << "x";
  restore::RestoreOptions options;
  options.target_dir = target;
  const Error e = CatchError([&] { restore::RestoreBackup(Config(), options); });
  EXPECT_EQ(e.code(), ErrorCode::kConflict);
  EXPECT_TRUE(Contains(e.what(), "restore target '" + target.string() + "' is not empty")) << e.what();
  EXPECT_TRUE(fs::exists(target / "something"));
  EXPECT_FALSE(fs::exists(target / restore::kIncompleteMarker));
}

TEST_F(BackupRestore, RestoreOverTheLiveTablespaceIsAConflict) {
  restore::RestoreOptions options;
  options.target_dir = NewDir("no-map");
  const Error e = CatchError([&] { restore::RestoreBackup(Config(), options); });
  EXPECT_EQ(e.code(), ErrorCode::kConflict);
  EXPECT_TRUE(Contains(e.what(), first_.tablespaces[0].location)) << e.what();
}

TEST_F(BackupRestore, UnknownBackupLabelIsNotFound) {
  restore::RestoreOptions options;
  options.target_dir = NewDir("never");
  options.label = "20000101-000000F";
  const Error e = CatchError([&] { restore::RestoreBackup(Config(), options); });
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_TRUE(Contains(e.what(), "backup '20000101-000000F' does not exist")) << e.what();
}

TEST_F(BackupRestore, ClusterNotRunningIsAPostgresError) {
  const Error e = CatchError([&] {
    backup::RunBackup(Config({{"cluster.port", std::to_string(core::FindFreeTcpPort())}}));
  });
  EXPECT_EQ(e.code(), ErrorCode::kPostgres);
}

TEST_F(BackupRestore, RepositoryOfAnotherClusterIsRefused) {
  TestCluster other;
  const Error e = CatchError([&] { backup::RunBackup(ConfigFor(other, repo_dir_)); });
  EXPECT_EQ(e.code(), ErrorCode::kRepository);
  const std::string other_id = other.Scalar("SELECT system_identifier FROM pg_control_system()");
  EXPECT_TRUE(Contains(e.what(), "system identifier " + OpenRepo().info().system_identifier))
      << e.what();
  EXPECT_TRUE(Contains(e.what(), "(system identifier " + other_id + ")")) << e.what();
}

// A repository file damaged after the backup: verify names it, restore refuses it.
class DamagedRepository : public BackupRestore {
 protected:
  void SetUp() override { label_ = backup::RunBackup(Config()).manifest.label; }
  void TearDown() override { OpenRepo().RemoveBackup(label_); }

  // The repository object of the users table (one chunk).
  std::pair<std::string, fs::path> UsersObject() {
    const repo::Manifest m = OpenRepo().LoadManifest(label_);
    const std::string rel = cluster_->Scalar("SELECT pg_relation_filepath('users')");
    const repo::FileEntry* f = FindFile(m, rel);
    EXPECT_NE(f, nullptr);
    return {rel, repo_dir_ / repo::ChunkObjectPath(label_, *f, 0, m.compression)};
  }

  void ExpectVerifyAndRestoreName(const std::string& rel, const std::string& kind) {
    const backup::VerifyResult r = backup::VerifyBackups(OpenRepo(), label_, 2);
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].file, rel);
    EXPECT_EQ(r.problems[0].kind, kind);
    restore::RestoreOptions options;
    options.target_dir = NewDir("damaged-" + kind);
    options.label = label_;
    options.tablespace_map[first_.tablespaces[0].location] = NewDir("damaged-ts-" + kind).string();
    const Error e = CatchError([&] { restore::RestoreBackup(Config(), options); });
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_TRUE(Contains(e.what(), "file '" + rel + "' is " + kind)) << e.what();
    EXPECT_FALSE(fs::exists(options.target_dir / "backup_label"));
    EXPECT_TRUE(fs::exists(options.target_dir / restore::kIncompleteMarker));
  }

  std::string label_;
};

TEST_F(DamagedRepository, MissingFile) {
  auto [rel, object] = UsersObject();
  fs::remove(object);
  ExpectVerifyAndRestoreName(rel, "missing");
}

TEST_F(DamagedRepository, TruncatedFile) {
  auto [rel, object] = UsersObject();
  fs::resize_file(object, fs::file_size(object) / 2);
  ExpectVerifyAndRestoreName(rel, "truncated");
}

TEST_F(DamagedRepository, AlteredFile) {
  auto [rel, object] = UsersObject();
  {
    std::fstream f(object, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(40);
    char c = 0;
    f.read(&c, 1);
    f.seekp(40);
    c = static_cast<char>(c ^ 0x20);
    f.write(&c, 1);
  }
  ExpectVerifyAndRestoreName(rel, "altered");
}

// Disk full in the middle of the copy: the backup fails, nothing is listed, the next one works.
TEST_F(BackupRestore, DiskFullMidBackupLeavesNoListedBackup) {
  const auto before = OpenRepo().ListBackups();
  storage::PosixStorage inner(repo_dir_);
  storage::FaultPlan plan;
  plan.fail_write_at = 40;
  auto faulty = std::make_unique<storage::FaultStorage>(inner, plan);
  repo::Repository repository = repo::Repository::Open(std::move(faulty));
  const Error e = CatchError([&] { backup::RunBackup(Config(), repository); });
  EXPECT_EQ(e.code(), ErrorCode::kDiskFull);
  EXPECT_EQ(OpenRepo().ListBackups(), before);
  EXPECT_EQ(OpenRepo().ListIncomplete().size(), 1u);

  const backup::BackupResult next = backup::RunBackup(Config());
  EXPECT_EQ(next.removed_incomplete.size(), 1u);
  EXPECT_TRUE(OpenRepo().ListIncomplete().empty());
  OpenRepo().RemoveBackup(next.manifest.label);
}

TEST_F(BackupRestore, FailedManifestWriteLeavesNoListedBackup) {
  const auto before = OpenRepo().ListBackups();
  storage::PosixStorage inner(repo_dir_);
  storage::FaultPlan plan;
  plan.fail_open_write_containing = "manifest.json";
  auto faulty = std::make_unique<storage::FaultStorage>(inner, plan);
  repo::Repository repository = repo::Repository::Open(std::move(faulty));
  const Error e = CatchError([&] { backup::RunBackup(Config(), repository); });
  EXPECT_EQ(e.code(), ErrorCode::kDiskFull);
  EXPECT_EQ(OpenRepo().ListBackups(), before);
  // The server's backup and the temporary slot ended with the connection.
  EXPECT_EQ(cluster_->Scalar("SELECT count(*) FROM pg_replication_slots"), "0");
}

}  // namespace
}  // namespace dbmedic::testing
