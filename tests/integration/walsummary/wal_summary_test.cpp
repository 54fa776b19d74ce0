// Incremental backups that read only the blocks the WAL names (backup.incremental_from_wal), on
// a real PostgreSQL 15 cluster whose archive_command is `dbmedic wal push`: a chain full -> incr
// after each kind of change (a clustered update, inserts that extend a table, a VACUUM that
// truncates a file, TRUNCATE, DROP / CREATE TABLE, VACUUM FULL, CREATE DATABASE ... FILE_COPY);
// every incr of the chain is restored and must serve the data of its backup point. Plus the
// fallbacks: WAL missing from pg_wal and the archive, and the option turned off.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "../backup_restore/backup_fixture.hpp"
#include "../pitr/archiving_cluster.hpp"
#include "backup/backup.hpp"
#include "pg/wal_block_summary.hpp"
#include "restore/restore.hpp"
#include "wal/archive_wal_source.hpp"

namespace dbmedic::testing {
namespace {

using Fingerprint = std::map<std::string, std::string>;

constexpr const char* kCopiedDatabase = "copied";

// Every table of the postgres database and of the database created by FILE_COPY.
Fingerprint FingerprintOf(const std::string& conninfo_postgres, const std::string& conninfo_copied) {
  Fingerprint out;
  {
    pg::Connection conn = pg::Connection::Open(conninfo_postgres);
    out = DatabaseFingerprint(conn);
    out.erase("public.scratch");  // unlogged: empty after any recovery, by design
  }
  pg::Connection probe = pg::Connection::Open(conninfo_postgres);
  if (probe.Scalar(fmt::format("SELECT count(*) FROM pg_database WHERE datname = '{}'",
                               kCopiedDatabase)) == "1") {
    pg::Connection conn = pg::Connection::Open(conninfo_copied);
    for (auto& [table, md5] : DatabaseFingerprint(conn)) out[std::string(kCopiedDatabase) + ":" + table] = md5;
  }
  return out;
}

struct Step {
  repo::Manifest manifest;
  backup::WalSummaryReport report;
  Fingerprint fingerprint;
};

class WalSummary : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    primary_ = std::make_unique<ArchivingCluster>(std::map<std::string, std::string>{{"autovacuum", "off"}});
    TestCluster& c = primary_->cluster();
    LoadSampleData(c, c.MakeOwnedDir("tablespace"));
    c.Sql("CREATE TABLE growing AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000) g");
    c.Sql("CREATE TABLE to_shrink AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g");
    c.Sql("CREATE TABLE to_truncate AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g");
    c.Sql("CREATE TABLE to_drop AS SELECT g AS id FROM generate_series(1, 5000) g");
    c.Sql("CREATE TABLE to_vacuum_full AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g");
    c.Sql("CREATE TABLE template_rows AS SELECT g AS id FROM generate_series(1, 300) g", "template1");
    // Hint bits set now, not by the first read after the full backup: with data checksums that
    // read would WAL-log (and so change) every page of every new table.
    c.Sql("VACUUM FREEZE");
    c.Sql("VACUUM FREEZE", "template1");
    full_ = Take("full").manifest;
    accounts_path_ = c.Scalar("SELECT pg_relation_filepath('pgbench_accounts')");
    shrink_path_ = c.Scalar("SELECT pg_relation_filepath('to_shrink')");

    c.Sql("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= 1000");
    clustered_ = Take("incr");
    c.Sql("INSERT INTO growing SELECT g, 'appended' FROM generate_series(2001, 30000) g");
    extended_ = Take("incr");
    c.Sql("DELETE FROM to_shrink WHERE id > 2000");
    c.Sql("VACUUM to_shrink");  // cuts the file in place (XLOG_SMGR_TRUNCATE, same relfilenode)
    c.Sql("INSERT INTO to_shrink SELECT g, 'regrown' FROM generate_series(2001, 2300) g");
    vacuum_truncated_ = Take("incr");
    c.Sql("TRUNCATE to_truncate");
    c.Sql("INSERT INTO to_truncate VALUES (1, 'after truncate')");
    truncated_ = Take("incr");
    c.Sql("DROP TABLE to_drop");
    c.Sql("CREATE TABLE created AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 3000) g");
    dropped_created_ = Take("incr");
    c.Sql("DELETE FROM to_vacuum_full WHERE id % 3 = 0");
    c.Sql("VACUUM FULL to_vacuum_full");
    vacuum_full_ = Take("incr");
    c.Sql(fmt::format("CREATE DATABASE {} STRATEGY FILE_COPY", kCopiedDatabase));
    c.Sql("INSERT INTO template_rows SELECT g FROM generate_series(301, 400) g", kCopiedDatabase);
    database_copied_ = Take("incr");
  }
  static void TearDownTestSuite() { primary_.reset(); }

  static core::Config Config(std::map<std::string, std::string> extra = {}) {
    extra.emplace("backup.chunk_size", "1MiB");  // pgbench_accounts spans several chunks
    return primary_->ConfigFor(primary_->repo_dir(), std::move(extra));
  }

  // A backup as the CLI takes it: the repository's WAL archive given as the summary's source.
  static Step Take(const std::string& type, std::map<std::string, std::string> extra = {}) {
    extra["backup.type"] = type;
    const core::Config config = Config(extra);
    const repo::Repository repository = repo::OpenRepository(config);
    const wal::WalArchive archive(repository, repository.info().codec);
    backup::BackupOptions options;
    options.archived_wal = [&archive](std::uint32_t timeline) -> std::unique_ptr<pg::WalSource> {
      return std::make_unique<wal::ArchiveWalSource>(archive, timeline);
    };
    backup::BackupResult r = backup::RunBackup(config, options);
    primary_->GiveRepositoryToServer();
    Step step{std::move(r.manifest), r.wal_summary, {}};
    step.fingerprint = FingerprintOf(primary_->cluster().ConnInfo(),
                                     primary_->cluster().ConnInfo(kCopiedDatabase));
    return step;
  }

  // Restores `label` (its chain assembled), starts it and fingerprints it.
  static Fingerprint RestoreAndFingerprint(const std::string& label) {
    const std::string dir = "restored-" + label;
    restore::RestoreOptions options;
    options.target_dir = primary_->cluster().root() / dir;
    options.label = label;
    options.tablespace_map[full_.tablespaces.at(0).location] =
        primary_->cluster().MakeOwnedDir(dir + "-tablespace").string();
    restore::RestoreBackup(Config(), options);
    auto restored = StartRestored(options.target_dir, primary_->cluster().root());
    Fingerprint fp = FingerprintOf(restored->ConnInfo(), restored->ConnInfo(kCopiedDatabase));
    restored->Stop();
    return fp;
  }

  static void ExpectRestoresAndUsedTheSummary(const Step& step) {
    EXPECT_TRUE(step.report.used) << step.report.fallback;
    EXPECT_EQ(RestoreAndFingerprint(step.manifest.label), step.fingerprint);
  }

  static const repo::FileEntry* FindFile(const repo::Manifest& m, std::string_view path) {
    for (const repo::FileEntry& f : m.files) {
      if (f.path == path) return &f;
    }
    return nullptr;
  }

  static std::unique_ptr<ArchivingCluster> primary_;
  static repo::Manifest full_;
  static Step clustered_, extended_, vacuum_truncated_, truncated_, dropped_created_,
      vacuum_full_, database_copied_;
  static std::string accounts_path_, shrink_path_;
};

std::unique_ptr<ArchivingCluster> WalSummary::primary_;
repo::Manifest WalSummary::full_;
Step WalSummary::clustered_, WalSummary::extended_, WalSummary::vacuum_truncated_,
    WalSummary::truncated_, WalSummary::dropped_created_, WalSummary::vacuum_full_,
    WalSummary::database_copied_;
std::string WalSummary::accounts_path_, WalSummary::shrink_path_;

TEST_F(WalSummary, AClusteredUpdateReadsFewPagesOfTheTable) {
  ASSERT_TRUE(clustered_.report.used) << clustered_.report.fallback;
  EXPECT_GT(clustered_.report.files_summarised, 0u);
  EXPECT_EQ(clustered_.report.files_page_scanned, 0u);
  const repo::FileEntry* accounts = FindFile(clustered_.manifest, accounts_path_);
  ASSERT_NE(accounts, nullptr);
  ASSERT_FALSE(accounts->pages.empty());
  std::uint64_t stored_pages = 0;
  for (const repo::PageOverlay& o : accounts->pages) {
    for (auto [first, count] : o.runs) stored_pages += count;
  }
  // 1000 rows of 100000 in one range: about 17 of the table's 1640 pages (plus the index's).
  EXPECT_LT(stored_pages * 8192 * 10, accounts->size);
  EXPECT_LT(clustered_.report.pages_read * 8192 * 10, full_.database_size);
}

TEST_F(WalSummary, AClusteredUpdateRestores) { ExpectRestoresAndUsedTheSummary(clustered_); }

TEST_F(WalSummary, InsertsThatExtendATableRestore) { ExpectRestoresAndUsedTheSummary(extended_); }

TEST_F(WalSummary, AVacuumTruncatedFileIsReadPageByPage) {
  ASSERT_TRUE(vacuum_truncated_.report.used) << vacuum_truncated_.report.fallback;
  EXPECT_GE(vacuum_truncated_.report.files_page_scanned, 1u);  // to_shrink
  EXPECT_NE(FindFile(vacuum_truncated_.manifest, shrink_path_), nullptr);
}

TEST_F(WalSummary, AVacuumTruncatedAndRegrownTableRestores) {
  ExpectRestoresAndUsedTheSummary(vacuum_truncated_);
}

TEST_F(WalSummary, TruncateRestores) { ExpectRestoresAndUsedTheSummary(truncated_); }

TEST_F(WalSummary, DropAndCreateTableRestores) { ExpectRestoresAndUsedTheSummary(dropped_created_); }

TEST_F(WalSummary, VacuumFullRestores) { ExpectRestoresAndUsedTheSummary(vacuum_full_); }

TEST_F(WalSummary, CreateDatabaseByFileCopyRestores) {
  ASSERT_TRUE(database_copied_.fingerprint.contains("copied:public.template_rows"));
  ExpectRestoresAndUsedTheSummary(database_copied_);
}

TEST_F(WalSummary, TheOptionOffReadsEveryPage) {
  primary_->cluster().Sql("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= 10");
  const Step off = Take("incr", {{"backup.incremental_from_wal", "false"}});
  EXPECT_FALSE(off.report.attempted);
  EXPECT_EQ(off.report.files_summarised, 0u);
  EXPECT_GT(off.report.files_page_scanned, 0u);
}

TEST_F(WalSummary, TheCliReportsTheSummaryInItsJson) {
  primary_->cluster().Sql("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= 10");
  const auto r = RunDbmedic({"--output", "json", "backup", "--type", "incr", "--repo",
                             primary_->repo_dir().string(), "--pg-host",
                             primary_->cluster().socket_dir().string(), "--pg-port",
                             std::to_string(primary_->cluster().port()), "--pg-user", "postgres"});
  primary_->GiveRepositoryToServer();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("type"), "incr");
  EXPECT_EQ(j.at("wal_summary").at("used"), true) << j.dump();
  EXPECT_GT(j.at("wal_summary").at("relation_files_summarised").get<int>(), 0);
  EXPECT_GT(j.at("wal_summary").at("records").get<int>(), 0);
}

// The whole chain's WAL (full .. last incr) summarised by one reader and by three: the same
// blocks and the same special cases, over several segments of pg_wal and the archive.
TEST_F(WalSummary, ParallelReadersFindTheSameSummaryAsOne) {
  const repo::Repository repository = repo::OpenRepository(Config());
  const wal::WalArchive archive(repository, repository.info().codec);
  auto make_source = [&]() -> std::unique_ptr<pg::WalSource> {
    std::vector<std::unique_ptr<pg::WalSource>> sources;
    sources.push_back(std::make_unique<pg::DirectoryWalSource>(
        primary_->cluster().data_dir() / "pg_wal", full_.timeline));
    sources.push_back(std::make_unique<wal::ArchiveWalSource>(archive, full_.timeline));
    return std::make_unique<pg::CombinedWalSource>(std::move(sources));
  };
  pg::BlockSummaryRange range;
  range.start = pg::Lsn::Parse(full_.start_lsn);
  range.end = pg::Lsn::Parse(database_copied_.manifest.start_lsn);
  range.timeline = full_.timeline;
  const pg::BlockSummary one = pg::SummarizeChangedBlocks(make_source, range, 1);
  const pg::BlockSummary three = pg::SummarizeChangedBlocks(make_source, range, 3);
  ASSERT_FALSE(one.unusable) << *one.unusable;
  ASSERT_FALSE(three.unusable) << *three.unusable;
  EXPECT_GE(one.segments, 3u);
  EXPECT_EQ(three.records, one.records);
  EXPECT_EQ(three.recreated, one.recreated);
  EXPECT_EQ(three.truncated, one.truncated);
  EXPECT_EQ(three.recreated_databases, one.recreated_databases);
  EXPECT_FALSE(one.recreated_databases.empty());  // CREATE DATABASE ... FILE_COPY
  EXPECT_FALSE(one.truncated.empty());            // VACUUM to_shrink
  ASSERT_EQ(three.changed.size(), one.changed.size());
  for (const auto& [rel, blocks] : one.changed) {
    ASSERT_TRUE(three.changed.contains(rel)) << rel.ToString();
    EXPECT_EQ(three.changed.at(rel).blocks(), blocks.blocks()) << rel.ToString();
  }
}

// The WAL of the fixture's set-up holds CREATE TABLESPACE: a summary over it is unusable (files
// appear under pg_tblspc without block records), naming the record.
TEST_F(WalSummary, ARangeWithCreateTablespaceIsUnusable) {
  const repo::Repository repository = repo::OpenRepository(Config());
  const wal::WalArchive archive(repository, repository.info().codec);
  auto make_source = [&]() -> std::unique_ptr<pg::WalSource> {
    return std::make_unique<wal::ArchiveWalSource>(archive, full_.timeline);
  };
  pg::BlockSummaryRange range;
  range.start = pg::Lsn{0x1000028};  // the first segment: archived since the cluster's start
  range.end = pg::Lsn::Parse(full_.start_lsn);
  range.timeline = full_.timeline;
  const pg::BlockSummary s = pg::SummarizeChangedBlocks(make_source, range, 2);
  ASSERT_TRUE(s.unusable);
  EXPECT_NE(s.unusable->find("a tablespace was created or dropped at "), std::string::npos)
      << *s.unusable;
  EXPECT_TRUE(s.changed.empty());
}

// No archive and the WAL since the full gone from pg_wal: every page is read, with the reason.
TEST(WalSummaryFallback, WalMissingFromPgWalAndArchiveFallsBackToEveryPage) {
  TestCluster c;
  c.Sql("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g");
  const fs::path repo_dir = c.MakeOwnedDir("repo");
  const core::Config full_config = ConfigFor(c, repo_dir);
  repo::InitRepository(full_config);
  const repo::Manifest full = backup::RunBackup(full_config).manifest;
  // Two segment switches and checkpoints: the segments from the full's start are recycled (and
  // the range stays under 64 MiB, which is always summarised: backup/wal_delta.hpp).
  for (int i = 0; i < 2; ++i) {
    c.Sql("UPDATE t SET v = v || 'x' WHERE id % 50 = 0");
    c.Sql("SELECT pg_switch_wal()");
    c.Sql("CHECKPOINT");
  }
  const std::string first_segment = full.files.empty() ? "" : c.Scalar(
      fmt::format("SELECT pg_walfile_name('{}')", full.start_lsn));
  ASSERT_FALSE(fs::exists(c.data_dir() / "pg_wal" / first_segment)) << "still in pg_wal";
  const backup::BackupResult incr = backup::RunBackup(ConfigFor(c, repo_dir, {{"backup.type", "incr"}}));
  EXPECT_EQ(incr.manifest.type, "incr");
  EXPECT_TRUE(incr.wal_summary.attempted);
  EXPECT_FALSE(incr.wal_summary.used);
  EXPECT_NE(incr.wal_summary.fallback.find("WAL segment " + first_segment + " is not in"),
            std::string::npos)
      << incr.wal_summary.fallback;
  EXPECT_EQ(incr.wal_summary.files_summarised, 0u);
  EXPECT_GT(incr.wal_summary.files_page_scanned, 0u);
  // And the incr read the old way still restores the table.
  restore::RestoreOptions options;
  options.target_dir = c.root() / "restored";
  options.label = incr.manifest.label;
  const std::string expected = c.Scalar("SELECT md5(string_agg(v, ',' ORDER BY id)) FROM t");
  restore::RestoreBackup(ConfigFor(c, repo_dir), options);
  auto restored = StartRestored(options.target_dir, c.root());
  pg::Connection conn = pg::Connection::Open(restored->ConnInfo());
  EXPECT_EQ(conn.Scalar("SELECT md5(string_agg(v, ',' ORDER BY id)) FROM t"), expected);
  restored->Stop();
}

}  // namespace
}  // namespace dbmedic::testing
