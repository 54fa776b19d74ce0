// `incidents` on every core against one reader, on real WAL: a workload whose destructive
// transactions span segment (so run) boundaries -- DML in one segment and the commit in the
// next, a subtransaction carried over, a TRUNCATE followed by a reload in the next segment, an
// aborted one, a DELETE over several segments -- must give the identical report, field by field,
// with 2, 3 and 5 readers; also when the WAL ends (end of WAL) or is damaged mid-way.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "core/fs.hpp"
#include "forensics/incident_scanner.hpp"
#include "harness/test_cluster.hpp"
#include "pg/connection.hpp"
#include "pg/relation_catalog.hpp"
#include "pg/wal_reader.hpp"
#include "pg/wal_source.hpp"

namespace dbmedic::forensics {
namespace {

namespace fs = std::filesystem;
using pg::Lsn;

class ParallelIncidentsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<testing::TestCluster>(testing::TestClusterOptions{
        .settings = {{"wal_level", "replica"}, {"wal_keep_size", "1GB"}, {"max_wal_size", "2GB"}}});
    MakeWorkload();
  }
  static void TearDownTestSuite() {
    wal_dir_.reset();
    cluster_.reset();
  }

  // Runs statements in one transaction (pg_switch_wal() among them puts the rest in the next
  // segment), ends it with `end`, returns its xid.
  static std::uint32_t Transaction(const std::vector<std::string>& statements,
                                   const std::string& end = "COMMIT") {
    pg::Connection conn = cluster_->Connect();
    conn.Exec("BEGIN");
    for (const auto& s : statements) conn.Exec(s);
    auto xid = static_cast<std::uint32_t>(std::stoul(conn.Scalar("SELECT pg_current_xact_id()")));
    conn.Exec(end);
    return xid;
  }

  static void MakeWorkload() {
    auto& c = *cluster_;
    c.Sql("CREATE TABLE users (id int PRIMARY KEY, name text);"
          "INSERT INTO users SELECT g, md5(g::text) FROM generate_series(1, 4000) g;"
          "CREATE TABLE orders (id int, note text);"
          "INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 3000) g;"
          "CREATE TABLE accounts (id int, balance int);"
          "INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 3000) g;"
          "CREATE TABLE sessions (id int PRIMARY KEY, token text);"
          "INSERT INTO sessions SELECT g, md5(g::text) FROM generate_series(1, 5000) g;"
          // No text column: a TOAST table's new (empty) file would be reported as its TRUNCATE.
          "CREATE TABLE reloaded (id int, v int);"
          "INSERT INTO reloaded SELECT g, 1 FROM generate_series(1, 2000) g;"
          "CREATE TABLE items (id int, qty int);"
          "INSERT INTO items SELECT g, 1 FROM generate_series(1, 1500) g;"
          "CREATE TABLE kept (id int); INSERT INTO kept SELECT generate_series(1, 2500);"
          "CREATE TABLE big (id int, pad text);"
          "INSERT INTO big SELECT g, repeat('p', 40) FROM generate_series(1, 400000) g;"
          "ANALYZE; CHECKPOINT;");
    catalog_.Add(pg::CaptureClusterCatalog(c.ConnInfo()));
    start_ = Lsn::Parse(c.Scalar("SELECT pg_current_wal_lsn()"));
    const std::string kSwitch = "SELECT pg_switch_wal()";
    plain_delete_ = Transaction({"DELETE FROM orders"});
    // 600 + 600 rows: only the two halves together reach --min-rows 1000.
    split_delete_ = Transaction({"DELETE FROM accounts WHERE id <= 600", kSwitch,
                                 "DELETE FROM accounts WHERE id > 2400"});
    drop_ = Transaction({"DROP TABLE users", kSwitch, "INSERT INTO kept VALUES (0)"});
    truncate_ = Transaction({"TRUNCATE sessions", kSwitch, "INSERT INTO kept VALUES (0)"});
    // New files created in one segment, filled in the next: a reload, not a TRUNCATE.
    reload_ = Transaction({"TRUNCATE reloaded", kSwitch,
                           "INSERT INTO reloaded SELECT g, 2 FROM generate_series(1, 500) g"});
    subxact_ = Transaction({"SAVEPOINT a", "DELETE FROM items", "RELEASE a", kSwitch,
                            "INSERT INTO kept VALUES (0)"});
    aborted_ = Transaction({"DELETE FROM kept", kSwitch, "INSERT INTO kept VALUES (0)"},
                           "ROLLBACK");
    big_delete_ = Transaction({"DELETE FROM big"});
    c.Sql("CHECKPOINT");
    catalog_.Add(pg::CaptureClusterCatalog(c.ConnInfo()));
    c.Sql("INSERT INTO kept VALUES (1)");  // a commit after the last incident
    end_ = Lsn::Parse(c.Scalar("SELECT pg_current_wal_insert_lsn()"));
    c.Sql("CHECKPOINT");
    wal_dir_ = std::make_unique<core::TempDir>("parallel-incidents-wal");
    for (const auto& entry : fs::directory_iterator(c.data_dir() / "pg_wal")) {
      if (pg::ParseWalSegmentName(entry.path().filename().string())) {
        fs::copy_file(entry.path(), wal_dir_->path() / entry.path().filename());
      }
    }
  }

  static pg::WalReaderOptions Range() {
    pg::WalReaderOptions options;
    options.start = start_;
    options.end = end_;
    return options;
  }

  static IncidentReport OneReader(const fs::path& dir, const pg::WalReaderOptions& options,
                                  const pg::RelationCatalog* catalog) {
    pg::DirectoryWalSource source(dir);
    pg::WalReader reader(source, options);
    return FindIncidents(reader, catalog, {});
  }

  static IncidentReport Parallel(const fs::path& dir, const pg::WalReaderOptions& options,
                                 const pg::RelationCatalog* catalog, int jobs) {
    auto make_source = [dir] { return std::make_unique<pg::DirectoryWalSource>(dir); };
    return FindIncidentsInParallel(make_source, options, catalog, {}, jobs);
  }

  static void ExpectSameRelation(const AffectedRelation& p, const AffectedRelation& o) {
    EXPECT_EQ(p.action, o.action);
    EXPECT_EQ(p.name, o.name);
    EXPECT_EQ(p.relkind, o.relkind);
    EXPECT_EQ(p.file, o.file);
    EXPECT_EQ(p.oid, o.oid);
    EXPECT_EQ(p.rows, o.rows);
    EXPECT_EQ(p.rows_estimated, o.rows_estimated);
    EXPECT_EQ(p.rows_known, o.rows_known);
    EXPECT_EQ(p.table_rows, o.table_rows);
    EXPECT_EQ(p.basis, o.basis);
  }

  static void ExpectSameReport(const IncidentReport& p, const IncidentReport& o) {
    EXPECT_EQ(p.records, o.records);
    EXPECT_EQ(p.commits, o.commits);
    EXPECT_EQ(p.last_commit_time, o.last_commit_time);
    EXPECT_EQ(p.first_lsn, o.first_lsn);
    EXPECT_EQ(p.last_lsn, o.last_lsn);
    EXPECT_EQ(p.stop.reason, o.stop.reason);
    EXPECT_EQ(p.stop.lsn, o.stop.lsn);
    EXPECT_EQ(p.stop.detail, o.stop.detail);
    EXPECT_EQ(p.error_exit_code, o.error_exit_code);
    EXPECT_EQ(p.catalog_used, o.catalog_used);
    ASSERT_EQ(p.incidents.size(), o.incidents.size());
    for (std::size_t i = 0; i < o.incidents.size(); ++i) {
      const Incident& a = p.incidents[i];
      const Incident& b = o.incidents[i];
      SCOPED_TRACE(::testing::Message() << "incident xid " << b.xid);
      EXPECT_EQ(a.kind, b.kind);
      EXPECT_EQ(a.xid, b.xid);
      EXPECT_EQ(a.subxacts, b.subxacts);
      EXPECT_EQ(a.commit_time, b.commit_time);
      EXPECT_EQ(a.commit_lsn, b.commit_lsn);
      EXPECT_EQ(a.first_lsn, b.first_lsn);
      EXPECT_EQ(a.database, b.database);
      EXPECT_EQ(a.database_name, b.database_name);
      EXPECT_EQ(a.later_commits, b.later_commits);
      EXPECT_EQ(a.actor, b.actor);
      EXPECT_EQ(a.actor_note, b.actor_note);
      ASSERT_EQ(a.relations.size(), b.relations.size());
      for (std::size_t r = 0; r < b.relations.size(); ++r) {
        ExpectSameRelation(a.relations[r], b.relations[r]);
      }
    }
  }

  static const Incident* ByXid(const IncidentReport& report, std::uint32_t xid) {
    for (const auto& i : report.incidents) {
      if (i.xid == xid) return &i;
    }
    return nullptr;
  }

  static std::unique_ptr<testing::TestCluster> cluster_;
  static std::unique_ptr<core::TempDir> wal_dir_;
  static pg::RelationCatalog catalog_;
  static Lsn start_, end_;
  static std::uint32_t plain_delete_, split_delete_, drop_, truncate_, reload_, subxact_,
      aborted_, big_delete_;
};

std::unique_ptr<testing::TestCluster> ParallelIncidentsTest::cluster_;
std::unique_ptr<core::TempDir> ParallelIncidentsTest::wal_dir_;
pg::RelationCatalog ParallelIncidentsTest::catalog_;
Lsn ParallelIncidentsTest::start_, ParallelIncidentsTest::end_;
std::uint32_t ParallelIncidentsTest::plain_delete_, ParallelIncidentsTest::split_delete_,
    ParallelIncidentsTest::drop_, ParallelIncidentsTest::truncate_, ParallelIncidentsTest::reload_,
    ParallelIncidentsTest::subxact_, ParallelIncidentsTest::aborted_,
    ParallelIncidentsTest::big_delete_;

// The workload is what the comparison needs: incidents whose records span segments.
TEST_F(ParallelIncidentsTest, OneReaderFindsTheWorkloadsIncidents) {
  const IncidentReport one = OneReader(wal_dir_->path(), Range(), &catalog_);
  ASSERT_FALSE(one.error_exit_code) << one.stop.detail;
  ASSERT_GE(pg::SegmentNumber(end_) - pg::SegmentNumber(start_), 8u);
  const Incident* split = ByXid(one, split_delete_);
  ASSERT_NE(split, nullptr);
  EXPECT_LT(pg::SegmentNumber(split->first_lsn), pg::SegmentNumber(split->commit_lsn));
  ASSERT_EQ(split->relations.size(), 1u);
  EXPECT_EQ(split->relations[0].name, "public.accounts");
  EXPECT_EQ(split->relations[0].rows, 1200u);
  ASSERT_NE(ByXid(one, drop_), nullptr);
  EXPECT_EQ(ByXid(one, drop_)->kind, IncidentKind::kDrop);
  ASSERT_NE(ByXid(one, truncate_), nullptr);
  EXPECT_EQ(ByXid(one, truncate_)->kind, IncidentKind::kTruncate);
  EXPECT_EQ(ByXid(one, reload_), nullptr);  // refilled in the same transaction
  ASSERT_NE(ByXid(one, subxact_), nullptr);
  EXPECT_EQ(ByXid(one, subxact_)->relations.at(0).rows, 1500u);
  EXPECT_EQ(ByXid(one, aborted_), nullptr);
  const Incident* big = ByXid(one, big_delete_);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->relations.at(0).rows, 400000u);
  EXPECT_GE(pg::SegmentNumber(big->commit_lsn) - pg::SegmentNumber(big->first_lsn), 2u);
  ASSERT_NE(ByXid(one, plain_delete_), nullptr);
}

TEST_F(ParallelIncidentsTest, EveryNumberOfReadersGivesTheOneReaderReport) {
  const IncidentReport one = OneReader(wal_dir_->path(), Range(), &catalog_);
  ASSERT_GE(one.incidents.size(), 6u);
  for (int jobs : {2, 3, 5}) {
    SCOPED_TRACE(::testing::Message() << jobs << " jobs");
    const IncidentReport parallel = Parallel(wal_dir_->path(), Range(), &catalog_, jobs);
    ExpectSameReport(parallel, one);
    EXPECT_EQ(parallel.segments, one.segments);
  }
}

TEST_F(ParallelIncidentsTest, WithoutACatalogTheReportsAreIdenticalToo) {
  const IncidentReport one = OneReader(wal_dir_->path(), Range(), nullptr);
  ASSERT_NE(ByXid(one, truncate_), nullptr);
  for (int jobs : {2, 5}) {
    SCOPED_TRACE(::testing::Message() << jobs << " jobs");
    ExpectSameReport(Parallel(wal_dir_->path(), Range(), nullptr, jobs), one);
  }
}

TEST_F(ParallelIncidentsTest, ReadingToTheEndOfWalStopsWhereOneReaderStops) {
  pg::WalReaderOptions to_end;
  to_end.start = start_;
  const IncidentReport one = OneReader(wal_dir_->path(), to_end, &catalog_);
  ASSERT_EQ(one.stop.reason, pg::WalStopReason::kEndOfWal) << one.stop.detail;
  for (int jobs : {2, 5}) {
    SCOPED_TRACE(::testing::Message() << jobs << " jobs");
    ExpectSameReport(Parallel(wal_dir_->path(), to_end, &catalog_, jobs), one);
  }
}

TEST_F(ParallelIncidentsTest, DamageInAMiddleSegmentEndsTheReportWhereOneReaderStops) {
  core::TempDir damaged("parallel-incidents-damaged");
  for (const auto& entry : fs::directory_iterator(wal_dir_->path())) {
    fs::copy_file(entry.path(), damaged.path() / entry.path().filename());
  }
  // A byte in the middle of the segment the big DELETE starts in: a CRC mismatch there.
  const IncidentReport clean = OneReader(wal_dir_->path(), Range(), &catalog_);
  const Lsn at{ByXid(clean, big_delete_)->first_lsn.value + 3 * 8192 + 100};
  fs::path segment = damaged.path() / pg::WalSegmentName(1, pg::SegmentNumber(at));
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at.value % pg::kDefaultWalSegmentSize));
    // 16 bytes: more than the alignment padding between records, which no CRC covers.
    char bytes[16] = {};
    f.read(bytes, sizeof bytes);
    for (char& b : bytes) b = static_cast<char>(b ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(at.value % pg::kDefaultWalSegmentSize));
    f.write(bytes, sizeof bytes);
  }
  const IncidentReport one = OneReader(damaged.path(), Range(), &catalog_);
  ASSERT_TRUE(one.error_exit_code) << one.stop.detail;
  EXPECT_EQ(ByXid(one, big_delete_), nullptr);
  EXPECT_NE(ByXid(one, drop_), nullptr);
  for (int jobs : {2, 3, 5}) {
    SCOPED_TRACE(::testing::Message() << jobs << " jobs");
    ExpectSameReport(Parallel(damaged.path(), Range(), &catalog_, jobs), one);
  }
}

}  // namespace
}  // namespace dbmedic::forensics
