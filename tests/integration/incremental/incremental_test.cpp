// Differential and incremental backups on a real PostgreSQL 15 cluster: full -> changes (updates,
// TRUNCATE, DROP, CREATE, VACUUM FULL, a table that shrinks) -> incr -> more changes -> incr ->
// more changes -> diff; each restored backup starts and serves the data of its backup point.
#include <fstream>

#include "backup/backup.hpp"
#include "backup/verify.hpp"
#include "harness/s3_server.hpp"
#include "integration/backup_restore/backup_fixture.hpp"
#include "repo/retention.hpp"
#include "restore/restore.hpp"

namespace dbmedic::testing {
namespace {

std::map<std::string, std::string> LoggedFingerprint(pg::Connection& conn) {
  std::map<std::string, std::string> fp = DatabaseFingerprint(conn);
  fp.erase("public.scratch");  // unlogged: empty after any recovery, by design
  return fp;
}

const repo::FileEntry* FindFile(const repo::Manifest& m, std::string_view path) {
  for (const auto& f : m.files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

// Bytes this backup stored itself for the data files (not the WAL it carries).
std::uint64_t OwnDataBytes(const repo::Manifest& m) {
  std::uint64_t bytes = 0;
  for (const repo::FileEntry& f : m.files) {
    if (f.path.starts_with("pg_wal/")) continue;
    for (const repo::ChunkEntry& c : f.chunks) {
      if (c.backup.empty()) bytes += c.stored_size;
    }
    for (const repo::PageOverlay& o : f.pages) {
      if (o.chunk.backup.empty()) bytes += o.chunk.stored_size;
    }
  }
  return bytes;
}

class Incremental : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<TestCluster>();
    LoadSampleData(*cluster_, cluster_->MakeOwnedDir("tablespace"));
    cluster_->Sql("CREATE TABLE to_truncate AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g");
    cluster_->Sql("CREATE TABLE to_drop AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g");
    cluster_->Sql("CREATE TABLE to_vacuum_full AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g");
    cluster_->Sql("CREATE TABLE to_shrink AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g");
    repo_dir_ = cluster_->MakeOwnedDir("repo");
    repo::InitRepository(Config());
    full_ = Backup("full");
    accounts_path_ = cluster_->Scalar("SELECT pg_relation_filepath('pgbench_accounts')");
    branches_path_ = cluster_->Scalar("SELECT pg_relation_filepath('pgbench_branches')");
    truncated_path_ = cluster_->Scalar("SELECT pg_relation_filepath('to_truncate')");
    dropped_path_ = cluster_->Scalar("SELECT pg_relation_filepath('to_drop')");
    shrink_path_ = cluster_->Scalar("SELECT pg_relation_filepath('to_shrink')");

    cluster_->Sql("UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid % 997 = 0");
    cluster_->Sql("TRUNCATE to_truncate");
    cluster_->Sql("INSERT INTO to_truncate VALUES (1, 'after truncate')");
    cluster_->Sql("DROP TABLE to_drop");
    cluster_->Sql("CREATE TABLE created AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 3000) g");
    cluster_->Sql("DELETE FROM to_vacuum_full WHERE id % 3 = 0");
    cluster_->Sql("VACUUM FULL to_vacuum_full");
    cluster_->Sql("DELETE FROM to_shrink WHERE id > 2000");
    cluster_->Sql("VACUUM to_shrink");  // truncates the file in place (same relfilenode)
    incr1_ = Backup("incr");
    incr1_fp_ = Fingerprint();

    // 1% of the accounts, in one range: few pages change.
    cluster_->Sql("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= 1000");
    cluster_->Sql("INSERT INTO created SELECT g, 'second' FROM generate_series(3001, 3100) g");
    cluster_->Sql("INSERT INTO to_shrink SELECT g, 'regrown' FROM generate_series(2001, 9000) g");
    incr2_ = Backup("incr");
    incr2_fp_ = Fingerprint();

    cluster_->Sql("UPDATE users SET name = 'diff' WHERE id % 10 = 0");
    cluster_->Sql("DELETE FROM created WHERE id <= 50");
    diff_ = Backup("diff");
    diff_fp_ = Fingerprint();
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  static core::Config Config(std::map<std::string, std::string> extra = {}) {
    return ConfigFor(*cluster_, repo_dir_, std::move(extra));
  }
  static repo::Manifest Backup(const std::string& type) {
    return backup::RunBackup(Config({{"backup.type", type}})).manifest;
  }
  static std::map<std::string, std::string> Fingerprint() {
    auto conn = cluster_->Connect();
    return LoggedFingerprint(conn);
  }
  // Restores `label` into a new directory, starts it and returns its fingerprint.
  static std::map<std::string, std::string> RestoreAndFingerprint(const std::string& label,
                                                                  const std::string& dir) {
    restore::RestoreOptions options;
    options.target_dir = cluster_->root() / dir;
    options.label = label;
    options.tablespace_map[full_.tablespaces.at(0).location] =
        cluster_->MakeOwnedDir(dir + "-tablespace").string();
    restore::RestoreBackup(Config(), options);
    auto restored = StartRestored(options.target_dir, cluster_->root());
    auto conn = pg::Connection::Open(restored->ConnInfo());
    auto fp = LoggedFingerprint(conn);
    restored->Stop();
    return fp;
  }

  static std::unique_ptr<TestCluster> cluster_;
  static fs::path repo_dir_;
  static repo::Manifest full_, incr1_, incr2_, diff_;
  static std::map<std::string, std::string> incr1_fp_, incr2_fp_, diff_fp_;
  static std::string accounts_path_, branches_path_, truncated_path_, dropped_path_, shrink_path_;
};

std::unique_ptr<TestCluster> Incremental::cluster_;
fs::path Incremental::repo_dir_;
repo::Manifest Incremental::full_, Incremental::incr1_, Incremental::incr2_, Incremental::diff_;
std::map<std::string, std::string> Incremental::incr1_fp_, Incremental::incr2_fp_,
    Incremental::diff_fp_;
std::string Incremental::accounts_path_, Incremental::branches_path_,
    Incremental::truncated_path_, Incremental::dropped_path_, Incremental::shrink_path_;

TEST_F(Incremental, ManifestsRecordTypeReferenceAndChain) {
  EXPECT_EQ(full_.type, "full");
  EXPECT_TRUE(full_.reference.empty());
  EXPECT_EQ(incr1_.type, "incr");
  EXPECT_EQ(incr1_.requested_type, "incr");
  EXPECT_EQ(incr1_.reference, full_.label);
  EXPECT_EQ(incr1_.chain, std::vector<std::string>{full_.label});
  EXPECT_TRUE(incr1_.label.ends_with("I")) << incr1_.label;
  EXPECT_EQ(incr2_.reference, incr1_.label);
  EXPECT_EQ(incr2_.chain, (std::vector<std::string>{full_.label, incr1_.label}));
}

TEST_F(Incremental, DiffIsBasedOnTheNewestFullBackup) {
  EXPECT_EQ(diff_.type, "diff");
  EXPECT_EQ(diff_.reference, full_.label);
  EXPECT_EQ(diff_.chain, std::vector<std::string>{full_.label});
  EXPECT_TRUE(diff_.label.ends_with("D")) << diff_.label;
  for (const std::string& label : repo::ReferencedBackups(diff_)) EXPECT_EQ(label, full_.label);
}

TEST_F(Incremental, AnUntouchedRelationIsAReferenceToTheFullBackup) {
  const repo::FileEntry* f = FindFile(incr2_, branches_path_);
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->pages.empty());
  for (const repo::ChunkEntry& c : f->chunks) EXPECT_EQ(c.backup, full_.label);
}

TEST_F(Incremental, DroppedAndTruncatedFilesAreAbsentFromTheIncr) {
  EXPECT_NE(FindFile(full_, dropped_path_), nullptr);
  EXPECT_EQ(FindFile(incr1_, dropped_path_), nullptr);
  EXPECT_NE(FindFile(full_, truncated_path_), nullptr);
  EXPECT_EQ(FindFile(incr1_, truncated_path_), nullptr);
}

TEST_F(Incremental, AShrunkRelationIsCutToItsNewSize) {
  const repo::FileEntry* before = FindFile(full_, shrink_path_);
  const repo::FileEntry* after = FindFile(incr1_, shrink_path_);
  ASSERT_NE(before, nullptr);
  ASSERT_NE(after, nullptr);
  EXPECT_LT(after->size, before->size);
}

TEST_F(Incremental, OnePercentOfTheRowsStoresFarLessThanTheFull) {
  const repo::FileEntry* full_file = FindFile(full_, accounts_path_);
  const repo::FileEntry* incr_file = FindFile(incr2_, accounts_path_);
  ASSERT_NE(full_file, nullptr);
  ASSERT_NE(incr_file, nullptr);
  std::uint64_t changed = 0;
  for (const repo::PageOverlay& o : incr_file->pages) {
    if (o.chunk.backup.empty()) changed += o.chunk.size;
  }
  EXPECT_GT(changed, 0u);
  EXPECT_LT(changed * 10, full_file->size) << changed << " of " << full_file->size;
  EXPECT_LT(OwnDataBytes(incr2_) * 10, OwnDataBytes(full_))
      << OwnDataBytes(incr2_) << " vs " << OwnDataBytes(full_);
}

TEST_F(Incremental, RestoredLatestIncrServesTheDataOfItsBackup) {
  EXPECT_EQ(RestoreAndFingerprint(incr2_.label, "restored-incr2"), incr2_fp_);
}

TEST_F(Incremental, RestoredFirstIncrServesTheDataOfItsBackup) {
  EXPECT_EQ(RestoreAndFingerprint(incr1_.label, "restored-incr1"), incr1_fp_);
}

TEST_F(Incremental, RestoredDiffServesTheDataOfItsBackup) {
  EXPECT_EQ(RestoreAndFingerprint(diff_.label, "restored-diff"), diff_fp_);
}

TEST_F(Incremental, DeltaRestoreOfAnIncrOverTheFullServesTheIncrData) {
  const fs::path target = cluster_->root() / "delta-target";
  const fs::path spc = cluster_->MakeOwnedDir("delta-target-tablespace");
  restore::RestoreOptions options;
  options.target_dir = target;
  options.label = full_.label;
  options.tablespace_map[full_.tablespaces.at(0).location] = spc.string();
  restore::RestoreBackup(Config(), options);
  options.label = incr2_.label;
  options.delta = true;
  const restore::RestoreResult r = restore::RestoreBackup(Config(), options);
  EXPECT_LT(r.bytes_written, r.bytes);
  auto restored = StartRestored(target, cluster_->root());
  auto conn = pg::Connection::Open(restored->ConnInfo());
  EXPECT_EQ(LoggedFingerprint(conn), incr2_fp_);
  restored->Stop();
}

TEST_F(Incremental, VerifyOfTheChainFindsNothing) {
  const backup::VerifyResult all = backup::VerifyBackups(repo::OpenRepository(Config()), std::nullopt, 2);
  EXPECT_TRUE(all.ok());
  const backup::VerifyResult one = backup::VerifyBackups(repo::OpenRepository(Config()), incr2_.label, 2);
  EXPECT_TRUE(one.ok());
  EXPECT_GT(one.bytes_checked, incr2_.repository_size);  // the full's objects it uses too
}

TEST_F(Incremental, ExpireKeepsTheChainOfARetainedIncr) {
  std::vector<repo::BackupSummary> summaries;
  const repo::Repository repository = repo::OpenRepository(Config());
  for (const std::string& label : repository.ListBackups()) {
    summaries.push_back(repo::SummarizeBackup(repository.LoadManifest(label)));
  }
  // incr2 is the newest backup before the one-day window (the window's start, kept for PITR):
  // its reference incr1 and their full stay; the diff is inside the window. Stop times are kept
  // to the second and the diff may end in incr2's second, so it is placed in the window here.
  const std::int64_t now = incr2_.stop_time + 86400 + 1;
  std::vector<repo::BackupSummary> aged = summaries;
  for (repo::BackupSummary& s : aged) {
    if (s.label == diff_.label) {
      s.stop_time = now;
    } else if (s.label != incr2_.label) {
      s.stop_time -= 10 * 86400;
    }
  }
  repo::RetentionPolicy policy;
  policy.keep_days = 1;
  const repo::ExpirePlan plan = repo::PlanExpire(aged, {}, policy, now);
  EXPECT_TRUE(plan.expired_backups.empty());
  ASSERT_EQ(plan.retained.size(), 4u);
  EXPECT_EQ(plan.retained[0].label, full_.label);
  EXPECT_EQ(plan.retained[1].label, incr1_.label);
}

// full -> change -> incr in a repository configured by `extra`, then the incr restored and
// compared with the cluster at its backup point.
class OtherRepositories : public Incremental {
 protected:
  void RoundTrip(std::map<std::string, std::string> extra, const std::string& name) {
    const core::Config config = Config(extra);
    repo::InitRepository(config);
    backup::RunBackup(config);
    cluster_->Sql("UPDATE pgbench_accounts SET abalance = abalance - 1 WHERE aid % 211 = 0");
    extra["backup.type"] = "incr";
    const repo::Manifest incr = backup::RunBackup(Config(extra)).manifest;
    ASSERT_EQ(incr.type, "incr");
    const std::map<std::string, std::string> expected = Fingerprint();
    EXPECT_TRUE(backup::VerifyBackups(repo::OpenRepository(config), incr.label, 2).ok());
    restore::RestoreOptions options;
    options.target_dir = cluster_->root() / name;
    options.label = incr.label;
    options.tablespace_map[full_.tablespaces.at(0).location] =
        cluster_->MakeOwnedDir(name + "-tablespace").string();
    restore::RestoreBackup(config, options);
    auto restored = StartRestored(options.target_dir, cluster_->root());
    auto conn = pg::Connection::Open(restored->ConnInfo());
    EXPECT_EQ(LoggedFingerprint(conn), expected);
    restored->Stop();
  }
};

TEST_F(OtherRepositories, AnIncrInAnEncryptedRepositoryRestores) {
  RoundTrip({{"repository.path", cluster_->MakeOwnedDir("encrypted").string()},
             {"repository.cipher", "aes-256-gcm"},
             {"repository.passphrase", "incremental passphrase"}},
            "restored-encrypted");
}

TEST_F(OtherRepositories, AnIncrInAnS3RepositoryRestores) {
  S3Server s3;
  RoundTrip(s3.RepositoryConfig("incremental"), "restored-s3");
}

// A repository of its own, whose chain the tests break.
class BrokenChain : public Incremental {
 protected:
  void SetUp() override {
    dir_ = cluster_->MakeOwnedDir("broken-" + std::to_string(++counter_));
    repo::InitRepository(Own());
    full_label_ = backup::RunBackup(Own()).manifest.label;
    cluster_->Sql("UPDATE pgbench_accounts SET abalance = abalance + 3 WHERE aid % 501 = 0");
    incr_ = backup::RunBackup(Own({{"backup.type", "incr"}})).manifest;
  }
  core::Config Own(std::map<std::string, std::string> extra = {}) const {
    extra["repository.path"] = dir_.string();
    return Config(std::move(extra));
  }
  restore::RestoreOptions Options(const std::string& dir) const {
    restore::RestoreOptions options;
    options.target_dir = cluster_->root() / dir;
    options.label = incr_.label;
    options.tablespace_map[full_.tablespaces.at(0).location] =
        (cluster_->root() / (dir + "-spc")).string();
    return options;
  }
  static inline int counter_ = 0;
  fs::path dir_;
  std::string full_label_;
  repo::Manifest incr_;
};

TEST_F(BrokenChain, RestoreOfAnIncrWhoseFullIsMissingIsRefusedNamingIt) {
  repo::Repository repository = repo::OpenRepository(Own());
  repository.RemoveBackup(full_label_);
  const Error e = CatchError([&] { restore::RestoreBackup(Own(), Options("no-full")); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(Contains(e.what(), "is based on backup " + full_label_ + ", which is missing"))
      << e.what();
  EXPECT_FALSE(fs::exists(cluster_->root() / "no-full"));  // refused before writing anything
}

TEST_F(BrokenChain, VerifyReportsTheMissingBackupOfTheChain) {
  repo::Repository repository = repo::OpenRepository(Own());
  repository.RemoveBackup(full_label_);
  const backup::VerifyResult r = backup::VerifyBackups(repository, incr_.label, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problems[0].file, "chain");
  EXPECT_EQ(r.problems[0].kind, "missing");
  EXPECT_TRUE(Contains(r.problems[0].detail, full_label_)) << r.problems[0].detail;
}

TEST_F(BrokenChain, RestoreOfAnIncrWhoseReferencedObjectIsAlteredIsRefusedNamingIt) {
  const repo::FileEntry* f = FindFile(incr_, branches_path_);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->chunks[0].backup, full_label_);
  {
    std::ofstream out(dir_ / f->chunks[0].object, std::ios::binary | std::ios::trunc);
    out << "not what was stored";
  }
  const Error e = CatchError([&] { restore::RestoreBackup(Own(), Options("altered")); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(Contains(e.what(), "(stored by backup " + full_label_ + ")")) << e.what();
  EXPECT_TRUE(Contains(e.what(), branches_path_)) << e.what();
}

TEST_F(BrokenChain, AnIncrWithAMissingReferenceChainIsTakenAsAFullBackup) {
  repo::Repository repository = repo::OpenRepository(Own());
  repository.RemoveBackup(full_label_);
  const repo::Manifest m = backup::RunBackup(Own({{"backup.type", "incr"}})).manifest;
  EXPECT_EQ(m.type, "full");
  EXPECT_EQ(m.requested_type, "incr");
  EXPECT_TRUE(m.reference.empty());
}

TEST(IncrementalWithoutReference, AnIncrInAnEmptyRepositoryIsTakenAsAFullBackup) {
  TestCluster cluster;
  const fs::path dir = cluster.MakeOwnedDir("repo");
  const core::Config config = ConfigFor(cluster, dir, {{"backup.type", "incr"}});
  repo::InitRepository(config);
  const repo::Manifest m = backup::RunBackup(config).manifest;
  EXPECT_EQ(m.type, "full");
  EXPECT_EQ(m.requested_type, "incr");
  EXPECT_TRUE(m.label.ends_with("F")) << m.label;
}

}  // namespace
}  // namespace dbmedic::testing
