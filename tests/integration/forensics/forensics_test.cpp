// The WAL decoder and incident detection against a real PostgreSQL 15 (wal_level=replica):
// the decoder is compared record for record with Debian's pg_waldump on the same segments, and
// the DROP / TRUNCATE / DELETE / subtransaction incidents are found with their names and xids.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <cstdio>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include <fstream>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "forensics/incident_scanner.hpp"
#include "forensics/wal_summary.hpp"
#include "pg/relation_catalog.hpp"
#include "pg/wal_decoders.hpp"
#include "pg/wal_format.hpp"
#include "pg/wal_reader.hpp"
#include "pg/wal_source.hpp"
#include "harness/test_cluster.hpp"

namespace dbmedic::forensics {
namespace {

namespace fs = std::filesystem;
using pg::Lsn;

// One line of pg_waldump output, reduced to what both decoders must agree on.
struct DumpRecord {
  std::string rmgr;
  std::uint32_t total = 0;
  std::uint32_t xid = 0;
  Lsn lsn;
  Lsn prev;
  std::set<std::string> rels;      // blkref "1663/5/16384"
  std::string dropped;             // COMMIT "; rels: base/5/16384 ..." as printed
  std::string subxacts;            // COMMIT "; subxacts: 741 742"
};

// Text after `key` up to the next ';' (or the end), "" when `key` is absent.
std::string Part(const std::string& desc, const std::string& key) {
  auto at = desc.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  return desc.substr(at, desc.find(';', at) - at);
}

// Parsed by hand, not with std::regex: a logical message's line holds its whole payload in hex
// (60 MB for the 20 MB message), which overflows std::regex's recursion.
std::vector<DumpRecord> ParseWaldump(const std::string& out) {
  std::vector<DumpRecord> records;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    DumpRecord r;
    char rmgr[64];
    unsigned rec_len, total, xid, lsn_hi, lsn_lo, prev_hi, prev_lo;
    int desc_at = 0;
    if (std::sscanf(line.c_str(),
                    "rmgr: %63s len (rec/tot): %u/ %u, tx: %u, lsn: %X/%X, prev %X/%X, desc: %n",
                    rmgr, &rec_len, &total, &xid, &lsn_hi, &lsn_lo, &prev_hi, &prev_lo,
                    &desc_at) < 8 || desc_at == 0) {
      continue;
    }
    r.rmgr = rmgr;
    r.total = total;
    r.xid = xid;
    r.lsn = Lsn{(std::uint64_t{lsn_hi} << 32) | lsn_lo};
    r.prev = Lsn{(std::uint64_t{prev_hi} << 32) | prev_lo};
    std::string desc = line.substr(static_cast<std::size_t>(desc_at));
    for (auto at = desc.find(", blkref #"); at != std::string::npos;
         at = desc.find(", blkref #", at + 1)) {
      unsigned spc, db, rel;
      auto rel_at = desc.find("rel ", at);
      if (rel_at != std::string::npos &&
          std::sscanf(desc.c_str() + rel_at, "rel %u/%u/%u", &spc, &db, &rel) == 3) {
        r.rels.insert(fmt::format("{}/{}/{}", spc, db, rel));
      }
    }
    if (r.rmgr == "Transaction") {
      r.dropped = Part(desc, "; rels: ");
      r.subxacts = Part(desc, "; subxacts: ");
    }
    records.push_back(std::move(r));
  }
  return records;
}

std::string Trim(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

class ForensicsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<testing::TestCluster>(
        testing::TestClusterOptions{
            .settings = {{"wal_level", "replica"}, {"wal_keep_size", "1GB"}, {"max_wal_size", "2GB"}}});
    MakeScenario();
  }
  static void TearDownTestSuite() {
    wal_dir_.reset();
    cluster_.reset();
  }

  // Runs statements in one transaction and returns its xid.
  static std::uint32_t Transaction(const std::vector<std::string>& statements) {
    pg::Connection conn = cluster_->Connect();
    conn.Exec("BEGIN");
    for (const auto& s : statements) conn.Exec(s);
    auto xid = static_cast<std::uint32_t>(std::stoul(conn.Scalar("SELECT pg_current_xact_id()")));
    conn.Exec("COMMIT");
    return xid;
  }

  static void MakeScenario() {
    auto& c = *cluster_;
    c.Sql("CREATE TABLE users (id int PRIMARY KEY, name text);"
          "INSERT INTO users SELECT g, md5(g::text) FROM generate_series(1, 4000) g;"
          "CREATE TABLE orders (id int, note text);"
          "INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 3000) g;"
          "CREATE TABLE sessions (id int PRIMARY KEY, token text);"
          "INSERT INTO sessions SELECT g, md5(g::text) FROM generate_series(1, 5000) g;"
          "CREATE TABLE items (id int, qty int);"
          "INSERT INTO items SELECT g, 1 FROM generate_series(1, 1500) g;"
          "CREATE TABLE small (id int); INSERT INTO small SELECT generate_series(1, 10);"
          "ANALYZE; CHECKPOINT;");
    catalog_.Add(pg::CaptureClusterCatalog(c.ConnInfo()));
    start_ = Lsn::Parse(c.Scalar("SELECT pg_current_wal_lsn()"));
    delete_xid_ = Transaction({"DELETE FROM orders"});
    truncate_xid_ = Transaction({"TRUNCATE sessions"});
    drop_xid_ = Transaction({"DROP TABLE users"});
    small_xid_ = Transaction({"DELETE FROM small WHERE id <= 3"});
    subxact_xid_ = Transaction({"INSERT INTO small VALUES (11)", "SAVEPOINT a",
                                "DELETE FROM items", "RELEASE a", "SAVEPOINT b",
                                "UPDATE small SET id = id + 100", "ROLLBACK TO b"});
    // A 100 kB record spans pages; a 20 MB one spans segments.
    c.Sql("SELECT pg_logical_emit_message(false, 'dbmedic', repeat('x', 100000))");
    c.Sql("SELECT pg_logical_emit_message(false, 'dbmedic', repeat('y', 20000000))");
    c.Sql("CHECKPOINT");
    catalog_.Add(pg::CaptureClusterCatalog(c.ConnInfo()));
    end_ = Lsn::Parse(c.Scalar("SELECT pg_current_wal_insert_lsn()"));
    c.Sql("SELECT pg_switch_wal()");
    wal_dir_ = std::make_unique<core::TempDir>("forensics-wal");
    for (const auto& entry : fs::directory_iterator(c.data_dir() / "pg_wal")) {
      // Only written segments: pg_waldump probes the segment size in whichever file it meets
      // first, and a preallocated (zeroed) future segment makes it fail.
      auto parsed = pg::ParseWalSegmentName(entry.path().filename().string());
      if (parsed && parsed->segno <= pg::SegmentNumber(end_)) {
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

  std::vector<pg::WalRecord> ReadOurs() const {
    pg::DirectoryWalSource source(wal_dir_->path());
    pg::WalReader reader(source, Range());
    std::vector<pg::WalRecord> out;
    while (const pg::WalRecord* r = reader.Next()) {
      // pg_waldump -e leaves out a record that ends past the end LSN; we return every record
      // that starts before it.
      if (r->end_lsn > end_) continue;
      out.push_back(*r);
      out.back().main_data = {};  // spans die with the reader; keep header fields only
      for (auto& b : out.back().blocks) b.image = b.data = {};
    }
    EXPECT_EQ(reader.stop().reason, pg::WalStopReason::kEndLsn) << reader.stop().detail;
    return out;
  }

  std::vector<DumpRecord> ReadWaldump() const {
    auto result = core::RunProcess({"/usr/lib/postgresql/15/bin/pg_waldump", "-p",
                                    wal_dir_->path().string(), "-s", start_.ToString(), "-e",
                                    end_.ToString()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return ParseWaldump(result.out);
  }

  IncidentReport Incidents(const pg::RelationCatalog* catalog, IncidentOptions options = {}) {
    pg::DirectoryWalSource source(wal_dir_->path());
    pg::WalReader reader(source, Range());
    return FindIncidents(reader, catalog, options);
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
  static std::uint32_t delete_xid_, truncate_xid_, drop_xid_, small_xid_, subxact_xid_;
};

std::unique_ptr<testing::TestCluster> ForensicsTest::cluster_;
std::unique_ptr<core::TempDir> ForensicsTest::wal_dir_;
pg::RelationCatalog ForensicsTest::catalog_;
Lsn ForensicsTest::start_, ForensicsTest::end_;
std::uint32_t ForensicsTest::delete_xid_, ForensicsTest::truncate_xid_, ForensicsTest::drop_xid_,
    ForensicsTest::small_xid_, ForensicsTest::subxact_xid_;

TEST_F(ForensicsTest, DecoderMatchesPgWaldumpRecordForRecord) {
  auto ours = ReadOurs();
  auto theirs = ReadWaldump();
  ASSERT_GT(theirs.size(), 1000u);  // the scenario writes ~4600 records
  ASSERT_EQ(ours.size(), theirs.size());
  std::map<std::string, int> per_rmgr_ours, per_rmgr_theirs;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const auto& o = ours[i];
    const auto& t = theirs[i];
    ASSERT_EQ(o.lsn, t.lsn) << "record " << i;
    EXPECT_EQ(std::string(*pg::wal::RmgrName(o.rmid)), t.rmgr) << o.lsn.ToString();
    EXPECT_EQ(o.total_length, t.total) << o.lsn.ToString();
    EXPECT_EQ(o.xid, t.xid) << o.lsn.ToString();
    EXPECT_EQ(o.prev, t.prev) << o.lsn.ToString();
    std::set<std::string> rels;
    for (const auto& b : o.blocks) rels.insert(b.rnode.ToString());
    EXPECT_EQ(rels, t.rels) << o.lsn.ToString();
    ++per_rmgr_ours[std::string(*pg::wal::RmgrName(o.rmid))];
    ++per_rmgr_theirs[t.rmgr];
  }
  EXPECT_EQ(per_rmgr_ours, per_rmgr_theirs);
}

TEST_F(ForensicsTest, CommitRecordsMatchPgWaldumpDroppedFilesAndSubxacts) {
  pg::DirectoryWalSource source(wal_dir_->path());
  pg::WalReader reader(source, Range());
  std::map<Lsn, DumpRecord> theirs;
  for (auto& r : ReadWaldump()) theirs[r.lsn] = r;
  int commits = 0;
  while (const pg::WalRecord* r = reader.Next()) {
    auto xact = pg::DecodeXact(*r);
    if (!xact || xact->kind != pg::XactKind::kCommit) continue;
    ++commits;
    std::string dropped;
    for (const auto& f : xact->dropped_files) {
      dropped += (dropped.empty() ? "" : " ") + fmt::format("base/{}/{}", f.db, f.rel);
    }
    std::string subxacts;
    for (auto s : xact->subxacts) subxacts += (subxacts.empty() ? "" : " ") + std::to_string(s);
    EXPECT_EQ(dropped, Trim(theirs[r->lsn].dropped)) << r->lsn.ToString();
    EXPECT_EQ(subxacts, Trim(theirs[r->lsn].subxacts)) << r->lsn.ToString();
  }
  EXPECT_GE(commits, 5);
}

TEST_F(ForensicsTest, RecordsSpanningPagesAndSegmentsAreDecoded) {
  std::vector<std::uint32_t> message_sizes;
  for (const auto& r : ReadOurs()) {
    if (r.rmid == static_cast<std::uint8_t>(pg::wal::Rmgr::kLogicalMsg)) {
      message_sizes.push_back(r.total_length);
    }
  }
  ASSERT_EQ(message_sizes.size(), 2u);
  EXPECT_GT(message_sizes[0], 100000u);
  EXPECT_GT(message_sizes[1], 20000000u);  // longer than a 16 MB segment
}

void ExpectSameSummary(const WalSummary& parallel, const WalSummary& sequential) {
  EXPECT_EQ(parallel.records, sequential.records);
  EXPECT_EQ(parallel.bytes, sequential.bytes);
  EXPECT_EQ(parallel.first_lsn, sequential.first_lsn);
  EXPECT_EQ(parallel.last_lsn, sequential.last_lsn);
  EXPECT_EQ(parallel.end_lsn, sequential.end_lsn);
  EXPECT_EQ(parallel.stop.reason, sequential.stop.reason) << parallel.stop.detail;
  EXPECT_EQ(parallel.stop.lsn, sequential.stop.lsn);
  EXPECT_EQ(parallel.error_exit_code, sequential.error_exit_code);
  for (std::size_t id = 0; id < sequential.by_rmgr.size(); ++id) {
    EXPECT_EQ(parallel.by_rmgr[id].records, sequential.by_rmgr[id].records) << "rmgr " << id;
    EXPECT_EQ(parallel.by_rmgr[id].bytes, sequential.by_rmgr[id].bytes) << "rmgr " << id;
    EXPECT_EQ(parallel.by_rmgr[id].fpi_bytes, sequential.by_rmgr[id].fpi_bytes) << "rmgr " << id;
  }
}

// The WAL holds a 20 MB record that crosses segment boundaries and ends with zeroed pages: runs
// cut at segment starts must still count each record once and stop where one reader stops.
TEST_F(ForensicsTest, ParallelScanGivesTheSameSummaryAsOneReader) {
  auto make_source = [dir = wal_dir_->path()] {
    return std::make_unique<pg::DirectoryWalSource>(dir);
  };
  for (const pg::WalReaderOptions& options : {pg::WalReaderOptions{}, Range()}) {
    pg::DirectoryWalSource source(wal_dir_->path());
    pg::WalReader reader(source, options);
    const WalSummary sequential = SummarizeWal(reader);
    ASSERT_GT(sequential.records, 1000u);
    for (int jobs : {2, 3, 5}) {
      SCOPED_TRACE(::testing::Message() << jobs << " jobs, start "
                                        << (options.start ? options.start->ToString() : "-"));
      ExpectSameSummary(SummarizeWalInParallel(make_source, options, jobs), sequential);
    }
  }
}

TEST_F(ForensicsTest, FindsTheDeleteWithTableNameRowsAndCommitLsn) {
  auto report = Incidents(&catalog_);
  const Incident* i = ByXid(report, delete_xid_);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->kind, IncidentKind::kDelete);
  EXPECT_EQ(i->database_name, "postgres");
  ASSERT_EQ(i->relations.size(), 1u);
  EXPECT_EQ(i->relations[0].name, "public.orders");
  EXPECT_EQ(i->relations[0].rows, 3000u);
  EXPECT_FALSE(i->relations[0].rows_estimated);
  // The commit LSN is the one pg_waldump shows for this xid's COMMIT.
  for (const auto& r : ReadWaldump()) {
    if (r.xid == delete_xid_ && r.rmgr == "Transaction") {
      EXPECT_EQ(i->commit_lsn, r.lsn);
    }
  }
}

TEST_F(ForensicsTest, FindsTheTruncateThroughTheCatalog) {
  auto report = Incidents(&catalog_);
  const Incident* i = ByXid(report, truncate_xid_);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->kind, IncidentKind::kTruncate);
  ASSERT_EQ(i->relations.size(), 1u) << ToJson(*i).dump();
  EXPECT_EQ(i->relations[0].name, "public.sessions");
  EXPECT_EQ(i->relations[0].rows, 5000u);
  EXPECT_TRUE(i->relations[0].rows_estimated);
}

TEST_F(ForensicsTest, FindsTheDropWithItsTableNotItsIndexes) {
  auto report = Incidents(&catalog_);
  const Incident* i = ByXid(report, drop_xid_);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->kind, IncidentKind::kDrop);
  ASSERT_EQ(i->relations.size(), 1u) << ToJson(*i).dump();
  EXPECT_EQ(i->relations[0].name, "public.users");
  EXPECT_EQ(i->relations[0].relkind, "table");
  EXPECT_EQ(i->relations[0].rows, 4000u);
}

TEST_F(ForensicsTest, CountsRowsDeletedInsideASavepoint) {
  auto report = Incidents(&catalog_);
  const Incident* i = ByXid(report, subxact_xid_);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->kind, IncidentKind::kDelete);
  EXPECT_EQ(i->subxacts.size(), 1u);  // savepoint a committed; b rolled back
  ASSERT_EQ(i->relations.size(), 1u) << ToJson(*i).dump();
  EXPECT_EQ(i->relations[0].name, "public.items");
  EXPECT_EQ(i->relations[0].rows, 1500u);
}

TEST_F(ForensicsTest, SmallDeleteIsNotAnIncident) {
  auto report = Incidents(&catalog_);
  EXPECT_EQ(ByXid(report, small_xid_), nullptr);
  EXPECT_EQ(report.incidents.size(), 4u) << ToJson(report).dump(2);
}

TEST_F(ForensicsTest, TableFilterKeepsOnlyThatTable) {
  IncidentOptions options;
  options.table = "orders";
  auto report = Incidents(&catalog_, options);
  ASSERT_EQ(report.incidents.size(), 1u);
  EXPECT_EQ(report.incidents[0].xid, delete_xid_);
}

TEST_F(ForensicsTest, WithoutACatalogTheTruncateIsStillRecognised) {
  auto report = Incidents(nullptr);
  const Incident* i = ByXid(report, truncate_xid_);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->kind, IncidentKind::kTruncate);
  EXPECT_EQ(ByXid(report, drop_xid_)->kind, IncidentKind::kDrop);
}

TEST_F(ForensicsTest, CatalogSurvivesSaveAndLoad) {
  core::TempDir dir("catalog");
  catalog_.Save(dir.path() / "catalog.json");
  auto loaded = pg::RelationCatalog::Load(dir.path() / "catalog.json");
  ASSERT_EQ(loaded.snapshots().size(), 2u);
  const auto& before = catalog_.snapshots()[0];
  EXPECT_EQ(loaded.snapshots()[0].relations.size(), before.relations.size());
  EXPECT_EQ(loaded.snapshots()[0].lsn, before.lsn);
  for (const auto& rel : before.relations) {
    if (rel.name != "orders") continue;
    const auto* found = loaded.Find({rel.tablespace, rel.db, rel.relfilenode}, before.lsn);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->QualifiedName(), "public.orders");
    EXPECT_EQ(found->oid, rel.oid);
  }
}

TEST_F(ForensicsTest, LoadingAFileThatIsNotACatalogIsCorruption) {
  core::TempDir dir("catalog");
  core::AtomicWriteFile(dir.path() / "x.json", "{\"format\": \"other\", \"version\": 1}");
  try {
    pg::RelationCatalog::Load(dir.path() / "x.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_EQ(std::string(e.what()),
              "'" + (dir.path() / "x.json").string() + "' is not a dbmedic relation catalog");
  }
}

TEST_F(ForensicsTest, IncidentsCommandPrintsJsonForScripts) {
  core::TempDir dir("catalog");
  catalog_.Save(dir.path() / "catalog.json");
  auto result = testing::RunDbmedic({"incidents", "--wal-dir", wal_dir_->path().string(),
                                     "--catalog", (dir.path() / "catalog.json").string(),
                                     "--table", "public.users", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto j = nlohmann::json::parse(result.out);
  ASSERT_EQ(j["incidents"].size(), 1u) << result.out;
  EXPECT_EQ(j["incidents"][0]["kind"], "DROP");
  EXPECT_EQ(j["incidents"][0]["xid"], drop_xid_);
  EXPECT_EQ(j["incidents"][0]["relations"][0]["name"], "public.users");
  EXPECT_TRUE(j["incidents"][0]["actor"].is_null());
}

TEST_F(ForensicsTest, WithNoServerSocketTheLiveSnapshotIsSkippedWithoutConnecting) {
  // No catalog: the incidents' relations are unnamed, so the scan asks for the live snapshot,
  // and finds no socket where the connection would go.
  core::TempDir sockets("no-server");
  core::RunOptions options;
  options.env = {{"DBMEDIC_CLUSTER_HOST", sockets.path().string()},
                 {"DBMEDIC_CLUSTER_PORT", "5999"}};
  auto result = testing::RunDbmedic({"--log-level", "debug", "incidents", "--wal-dir",
                                     wal_dir_->path().string(), "--output", "json"},
                                    options);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto j = nlohmann::json::parse(result.out);
  EXPECT_FALSE(j["incidents"].empty());
  EXPECT_FALSE(j["scan"]["live_snapshot"].get<bool>());
  EXPECT_FALSE(j["scan"]["catalog_used"].get<bool>());
  EXPECT_NE(result.err.find("no live catalog snapshot: no server socket at " +
                            (sockets.path() / ".s.PGSQL.5999").string()),
            std::string::npos)
      << result.err;
}

TEST_F(ForensicsTest, IncidentsCommandReportsDamagedWalWithItsLsn) {
  core::TempDir dir("damaged");
  pg::DirectoryWalSource source(wal_dir_->path());
  auto first = source.Segments().front();
  fs::copy_file(wal_dir_->path() / first.name, dir.path() / first.name);
  // Damage the 2nd page's first record area: find a record there with our reader.
  pg::WalReader reader(source);
  Lsn target;
  while (const pg::WalRecord* r = reader.Next()) {
    if (r->lsn.value % pg::wal::kBlockSize > 100 && r->lsn.value - pg::SegmentStart(first.segno).value > 8192) {
      target = r->lsn;
      break;
    }
  }
  {
    std::fstream f(dir.path() / first.name, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(target.value - pg::SegmentStart(first.segno).value + 25));
    char c = 0x5A;
    f.write(&c, 1);
  }
  auto result = testing::RunDbmedic({"incidents", "--wal-dir", dir.path().string()});
  EXPECT_EQ(result.exit_code, 5) << result.out << result.err;
  EXPECT_NE(result.err.find("ERROR: scan stopped at " + target.ToString() +
                            ": incorrect CRC in WAL record at " + target.ToString()),
            std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace dbmedic::forensics
