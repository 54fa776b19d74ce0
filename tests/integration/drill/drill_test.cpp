// Restore drills on a real archiving cluster: a drill of a good backup passes with the row
// counts of the source and an amcheck of its indexes, a drill to a time replays the WAL, a
// drill of a backup with a damaged repository file fails, and every drill is recorded in the
// repository and leaves no scratch directory behind.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "backup/backup.hpp"
#include "core/error.hpp"
#include "integration/pitr/archiving_cluster.hpp"
#include "rescue/drill.hpp"
#include "wal/archive_catalog.hpp"

namespace dbmedic::testing {
namespace {

// The archive as restore sees it (the CLI builds it through the wal module the same way).
restore::ArchiveView ArchiveOf(const repo::Repository& repository) {
  const wal::WalArchive archive(repository, repository.info().codec);
  const wal::ArchiveCatalog catalog = wal::BuildCatalog(archive.List());
  restore::ArchiveView view;
  for (const auto& [tli, coverage] : catalog.timelines) {
    view.segments[tli] = coverage.segnos;
    if (coverage.segnos.empty()) continue;
    if (auto newest = wal::NewestSegment(archive, tli)) {
      if (auto last = wal::FindLastTransaction(archive, *newest)) {
        view.last_transaction_micros[tli] = last->unix_micros;
      }
    }
  }
  return view;
}

bool IsEmptyDir(const fs::path& dir) { return fs::is_empty(dir); }

class DrillTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    primary_ = new ArchivingCluster();
    TestCluster& c = primary_->cluster();
    c.Sql("CREATE TABLE items (id int PRIMARY KEY, name text, body text)");
    // Large incompressible-ish values go to TOAST, which the drill reads through whole rows.
    c.Sql("INSERT INTO items SELECT g, 'item ' || g, repeat(md5(g::text), 200) "
          "FROM generate_series(1, 3000) g");
    c.Sql("CREATE INDEX items_name ON items (name)");
    c.Sql("CREATE DATABASE shop");
    c.Sql("CREATE TABLE orders (id bigint PRIMARY KEY, total numeric)", "shop");
    c.Sql("INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 500) g", "shop");
    c.Sql("CHECKPOINT");
    label_ = new std::string(backup::RunBackup(primary_->config()).manifest.label);
    primary_->GiveRepositoryToServer();
    primary_->SwitchAndWait();
  }
  static void TearDownTestSuite() {
    delete label_;
    delete primary_;
  }

  rescue::DrillOptions Options() {
    rescue::DrillOptions o;
    o.label = *label_;
    o.restore_command = primary_->GetCommand();
    o.os_user = primary_->cluster().os_user();
    o.jobs = 2;
    o.scratch_parent = scratch_.path();
    return o;
  }

  static std::int64_t RowsOf(const rescue::DrillRecord& r, const std::string& db,
                             const std::string& name) {
    for (const auto& c : r.checks) {
      if (c.database == db && c.name == name) return c.rows;
    }
    return -2;
  }

  static ArchivingCluster* primary_;
  static std::string* label_;
  core::TempDir scratch_{"drill-scratch"};
};

ArchivingCluster* DrillTest::primary_ = nullptr;
std::string* DrillTest::label_ = nullptr;

TEST_F(DrillTest, GoodBackupPassesWithRowCountsAndAmcheck) {
  repo::Repository repository = repo::OpenRepository(primary_->config());
  const rescue::DrillRecord r = rescue::RunDrill(repository, ArchiveOf(repository), Options());
  EXPECT_TRUE(r.passed) << r.error;
  EXPECT_EQ(r.label, *label_);
  EXPECT_EQ(RowsOf(r, "postgres", "public.items"), 3000);
  EXPECT_EQ(RowsOf(r, "shop", "public.orders"), 500);
  EXPECT_TRUE(r.amcheck);
  EXPECT_GE(r.indexes_checked, 3u);  // items_pkey, items_name, orders_pkey (+ catalogs)
  EXPECT_GT(r.rto_seconds, 0);
  EXPECT_GT(r.restore_bytes_per_second, 0);
  EXPECT_GT(r.restored_bytes, 0u);
  EXPECT_TRUE(IsEmptyDir(scratch_.path()));
  // amcheck was created in the scratch cluster only.
  EXPECT_EQ(primary_->cluster().Scalar(
                "SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'"),
            "0");
}

TEST_F(DrillTest, RecordIsSavedInTheRepository) {
  repo::Repository repository = repo::OpenRepository(primary_->config());
  const rescue::DrillRecord r = rescue::RunDrill(repository, ArchiveOf(repository), Options());
  const std::vector<rescue::DrillRecord> all = rescue::LoadDrillRecords(repository);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().id, r.id);
  EXPECT_EQ(rescue::ToJson(all.back()), rescue::ToJson(r));
  EXPECT_TRUE(fs::exists(primary_->repo_dir() / "drill" / (r.id + ".json")));
}

TEST_F(DrillTest, DrillToTimeReplaysArchivedWal) {
  TestCluster& c = primary_->cluster();
  c.Sql("CREATE TABLE later (id int)");
  c.Sql("INSERT INTO later SELECT generate_series(1, 77)");
  const std::string time = c.Scalar(
      "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
  c.Sql("INSERT INTO later SELECT generate_series(1, 1000)");  // after the target
  primary_->SwitchAndWait();
  repo::Repository repository = repo::OpenRepository(primary_->config());
  rescue::DrillOptions o = Options();
  o.target.kind = restore::TargetKind::kTime;
  o.target.unix_micros = restore::ParseTargetTime(time);
  o.target.text = wal::FormatUnixMicros(*o.target.unix_micros);
  const rescue::DrillRecord r = rescue::RunDrill(repository, ArchiveOf(repository), o);
  EXPECT_TRUE(r.passed) << r.error;
  EXPECT_EQ(RowsOf(r, "postgres", "public.later"), 77);
  EXPECT_GT(r.wal_bytes_replayed, 0u);
  EXPECT_TRUE(IsEmptyDir(scratch_.path()));
}

TEST_F(DrillTest, DamagedRepositoryFileFailsAndIsRecordedAsFailed) {
  // A backup of its own, so the other tests keep a good one.
  const std::string label = backup::RunBackup(primary_->config()).manifest.label;
  primary_->GiveRepositoryToServer();
  const repo::Repository reader = repo::OpenRepository(primary_->config());
  const repo::Manifest m = reader.LoadManifest(label);
  // The biggest file of the backup: items' heap.
  const auto biggest = std::max_element(m.files.begin(), m.files.end(), [](const auto& a, const auto& b) {
    return a.size < b.size;
  });
  const fs::path damaged =
      primary_->repo_dir() / repo::ChunkObjectPath(label, *biggest, 0, m.compression);
  ASSERT_TRUE(fs::exists(damaged)) << damaged;
  {
    std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f) << damaged;
    f.seekp(20);
    f.write("XXXXXXXX", 8);
  }
  repo::Repository repository = repo::OpenRepository(primary_->config());
  rescue::DrillOptions o = Options();
  o.label = label;
  try {
    rescue::RunDrill(repository, ArchiveOf(repository), o);
    FAIL() << "drill of a damaged backup passed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt) << e.what();
    EXPECT_NE(std::string(e.what()).find("restore drill of backup " + label), std::string::npos)
        << e.what();
  }
  const std::vector<rescue::DrillRecord> all = rescue::LoadDrillRecords(repository);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().label, label);
  EXPECT_FALSE(all.back().passed);
  EXPECT_FALSE(all.back().error.empty());
  EXPECT_TRUE(IsEmptyDir(scratch_.path()));
  repository.RemoveBackup(label);  // the next backups of other tests stay good
}

TEST_F(DrillTest, CliDrillThenInfoReportsRecoveryObjectives) {
  TestCluster& c = primary_->cluster();
  const std::vector<std::string> where = {"--repo", primary_->repo_dir().string(), "--pg-host",
                                          c.socket_dir().string(), "--pg-port",
                                          std::to_string(c.port())};
  std::vector<std::string> drill = {"--output", "json", "drill", "--backup", *label_,
                                    "--drill-scratch-dir", scratch_.path().string(),
                                    "--pg-os-user", c.os_user()};
  drill.insert(drill.end(), where.begin(), where.end());
  const core::ProcessResult d = RunDbmedic(drill);
  ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
  const nlohmann::json dj = nlohmann::json::parse(d.out);
  EXPECT_TRUE(dj["drill"]["passed"].get<bool>());

  std::vector<std::string> info = {"--output", "json", "info", "--recovery-rto-target", "1h"};
  info.insert(info.end(), where.begin(), where.end());
  const core::ProcessResult i = RunDbmedic(info);
  ASSERT_EQ(i.exit_code, 0) << i.out << i.err;
  const nlohmann::json r = nlohmann::json::parse(i.out)["recovery"];
  EXPECT_EQ(r["last_successful_drill"], dj["drill"]["id"]);
  EXPECT_DOUBLE_EQ(r["last_successful_drill_rto_seconds"].get<double>(),
                   dj["drill"]["rto_seconds"].get<double>());
  EXPECT_GT(r["predicted_rto_seconds"].get<double>(), 0);
  EXPECT_EQ(r["rto_target_seconds"].get<double>(), 3600);
  EXPECT_TRUE(r["rto_met"].get<bool>());  // a small cluster restores in well under an hour
  EXPECT_TRUE(r["rpo_seconds"].is_number());
  EXPECT_TRUE(r["drill_fresh"].get<bool>());
  EXPECT_TRUE(r["backup_fresh"].get<bool>());

  std::vector<std::string> text = {"info"};
  text.insert(text.end(), where.begin(), where.end());
  const core::ProcessResult t = RunDbmedic(text);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("last successful drill: " + dj["drill"]["id"].get<std::string>()),
            std::string::npos)
      << t.out;
  EXPECT_NE(t.out.find("predicted RTO now: "), std::string::npos) << t.out;
}

TEST_F(DrillTest, AgentPublishesRecoveryMetricsAndRules) {
  repo::Repository repository = repo::OpenRepository(primary_->config());
  const rescue::DrillRecord drill = rescue::RunDrill(repository, ArchiveOf(repository), Options());
  ASSERT_TRUE(drill.passed) << drill.error;
  TestCluster& c = primary_->cluster();
  const int port = core::FindFreeTcpPort();
  const fs::path config = scratch_.path() / "dbmedic.toml";
  core::AtomicWriteFile(config, fmt::format(R"([cluster]
name = "main"
host = "{}"
port = {}
os_user = "{}"

[repository]
path = "{}"

[monitor]
port = {}
history_path = "{}"
evaluation_interval = "300ms"

[recovery]
metrics_interval = "300ms"
)", c.socket_dir().string(), c.port(), c.os_user(), primary_->repo_dir().string(), port,
      (scratch_.path() / "monitor.db").string()));
  const core::ProcessResult check =
      RunDbmedic({"--output", "json", "--config", config.string(), "monitor", "--check"});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  std::string rules;
  const nlohmann::json parsed = nlohmann::json::parse(check.out);
  for (const auto& r : parsed["rules"]) {
    rules += r["name"].get<std::string>() + " ";
  }
  for (const char* name : {"BackupTooOld", "DrillFailing", "DrillTooOld",
                           "PredictedRtoAboveTarget", "RecoveryRpoAboveTarget"}) {
    EXPECT_NE(rules.find(name), std::string::npos) << name << " missing in " << rules;
  }

  core::ProcessResult agent;
  std::thread runner([&] {
    agent = RunDbmedic({"--config", config.string(), "monitor", "--run-for", "8s"});
  });
  std::string metrics;
  for (int i = 0; i < 70 && metrics.find("dbmedic_drill_last_passed") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    metrics = core::RunProcess({"curl", "-s", fmt::format("http://127.0.0.1:{}/metrics", port)}).out;
  }
  runner.join();
  EXPECT_EQ(agent.exit_code, 0) << agent.err;
  EXPECT_NE(metrics.find("dbmedic_drill_last_passed{cluster=\"main\"} 1"), std::string::npos)
      << metrics.substr(0, 2000);
  EXPECT_NE(metrics.find("dbmedic_backup_newest_age_seconds{cluster=\"main\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("dbmedic_recovery_predicted_rto_seconds{cluster=\"main\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("dbmedic_recovery_rpo_target_seconds{cluster=\"main\"} 60"),
            std::string::npos);
}

}  // namespace
}  // namespace dbmedic::testing
