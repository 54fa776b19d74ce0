// Recovery objectives from drill records and manifests: the predicted RTO formula, freshness
// against the policy, and whether the targets are met.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "rescue/drill_record.hpp"
#include "rescue/recovery_status.hpp"

namespace dbmedic::rescue {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;

DrillRecord Drill(std::int64_t started_at, bool passed, double restore_bps, double replay_bps) {
  DrillRecord r;
  r.id = CompactUtc(started_at) + "-L";
  r.label = "L";
  r.passed = passed;
  r.started_at = started_at;
  r.rto_seconds = 12.5;
  r.replay_seconds = 2;
  r.restore_bytes_per_second = restore_bps;
  r.replay_bytes_per_second = replay_bps;
  if (!passed) r.error = "relation public.t unreadable";
  return r;
}

repo::Manifest Backup(std::int64_t stop_time, std::string start_lsn, std::uint64_t size) {
  repo::Manifest m;
  m.label = "B" + std::to_string(stop_time);
  m.stop_time = stop_time;
  m.start_lsn = std::move(start_lsn);
  m.database_size = size;
  return m;
}

RecoveryPolicy Policy() { return {60, 900, 86400, 7 * 86400}; }

TEST(RecoveryStatusTest, PredictedRtoIsSizeOverRestoreRatePlusStartPlusWalOverReplayRate) {
  RecoveryInputs in;
  in.now = kNow;
  in.drills = {Drill(kNow - 3600, true, 100e6, 50e6)};
  in.drills[0].wal_bytes_replayed = 32u << 20;  // enough for its replay rate to count
  in.backups = {Backup(kNow - 600, "0/10000000", 1'000'000'000)};
  in.cluster_bytes = 2'000'000'000;
  in.current_lsn = 0x10000000 + 500'000'000;
  const RecoveryStatus s = ComputeRecoveryStatus(in, Policy());
  ASSERT_TRUE(s.predicted_rto_seconds.has_value());
  // 20 s of restore + the drill's 2 s from start to ready + 10 s of replay.
  EXPECT_DOUBLE_EQ(*s.predicted_rto_seconds, 2e9 / 100e6 + 2 + 500e6 / 50e6);
  EXPECT_FALSE(s.replay_rate_assumed);
  EXPECT_EQ(s.predicted_restore_bytes, 2'000'000'000u);
  EXPECT_EQ(s.predicted_wal_bytes, 500'000'000u);
  EXPECT_EQ(s.rto_met, std::optional<bool>(true));
}

TEST(RecoveryStatusTest, WithoutTheLiveClusterTheNewestBackupSizeIsUsed) {
  RecoveryInputs in;
  in.now = kNow;
  in.drills = {Drill(kNow - 3600, true, 100e6, 0)};
  in.backups = {Backup(kNow - 600, "0/10000000", 1'000'000'000)};
  const RecoveryStatus s = ComputeRecoveryStatus(in, Policy());
  // No WAL term without the live cluster's position: restore + the drill's start-to-ready.
  EXPECT_DOUBLE_EQ(*s.predicted_rto_seconds, 10 + 2);
  EXPECT_FALSE(s.rpo_met.has_value());
}

TEST(RecoveryStatusTest, ReplayRateIsAssumedWhenNoDrillReplayedEnoughWal) {
  RecoveryInputs in;
  in.now = kNow;
  in.drills = {Drill(kNow - 3600, true, 100e6, 1e3)};  // a drill to consistency: tiny replay
  in.drills[0].wal_bytes_replayed = 4096;
  in.backups = {Backup(kNow - 600, "0/10000000", 1'000'000'000)};
  in.current_lsn = 0x10000000 + static_cast<std::uint64_t>(kAssumedReplayRate) * 3;
  const RecoveryStatus s = ComputeRecoveryStatus(in, Policy());
  EXPECT_TRUE(s.replay_rate_assumed);
  EXPECT_DOUBLE_EQ(*s.predicted_rto_seconds, 10 + 2 + 3);
}

TEST(RecoveryStatusTest, PredictedRtoAboveTargetIsNotMet) {
  RecoveryInputs in;
  in.now = kNow;
  in.drills = {Drill(kNow - 3600, true, 1e6, 1e6)};
  in.backups = {Backup(kNow - 600, "0/10000000", 1'000'000'000)};  // 1000 s at 1 MB/s
  const RecoveryStatus s = ComputeRecoveryStatus(in, Policy());
  EXPECT_EQ(s.rto_met, std::optional<bool>(false));
}

TEST(RecoveryStatusTest, NoSuccessfulDrillMeansRtoUnknownAndDrillNotFresh) {
  RecoveryInputs in;
  in.now = kNow;
  in.drills = {Drill(kNow - 60, false, 0, 0)};
  in.backups = {Backup(kNow - 600, "0/10000000", 1'000'000)};
  const RecoveryStatus s = ComputeRecoveryStatus(in, Policy());
  EXPECT_FALSE(s.predicted_rto_seconds.has_value());
  EXPECT_FALSE(s.rto_met.has_value());
  EXPECT_FALSE(s.drill_fresh);
  ASSERT_TRUE(s.last_drill.has_value());
  EXPECT_FALSE(s.last_drill->passed);
}

TEST(RecoveryStatusTest, AFailedDrillAfterASuccessfulOneIsNotFresh) {
  RecoveryInputs in;
  in.now = kNow;
  in.drills = {Drill(kNow - 7200, true, 1e8, 1e8), Drill(kNow - 60, false, 0, 0)};
  in.backups = {Backup(kNow - 600, "0/10000000", 1'000'000)};
  const RecoveryStatus s = ComputeRecoveryStatus(in, Policy());
  EXPECT_EQ(s.last_success->started_at, kNow - 7200);  // still used for the prediction
  EXPECT_TRUE(s.predicted_rto_seconds.has_value());
  EXPECT_FALSE(s.drill_fresh);
}

TEST(RecoveryStatusTest, DrillOlderThanPolicyIsNotFresh) {
  RecoveryInputs in;
  in.now = kNow;
  in.drills = {Drill(kNow - 8 * 86400, true, 1e8, 1e8)};
  const RecoveryStatus s = ComputeRecoveryStatus(in, Policy());
  EXPECT_DOUBLE_EQ(*s.last_success_age_seconds, 8 * 86400);
  EXPECT_FALSE(s.drill_fresh);
}

TEST(RecoveryStatusTest, BackupAgeAgainstPolicy) {
  RecoveryInputs in;
  in.now = kNow;
  in.backups = {Backup(kNow - 90000, "0/1000000", 1)};
  const RecoveryStatus s = ComputeRecoveryStatus(in, Policy());
  EXPECT_DOUBLE_EQ(*s.newest_backup_age_seconds, 90000);
  EXPECT_FALSE(s.backup_fresh);
}

TEST(RecoveryStatusTest, RpoAgainstTarget) {
  RecoveryInputs in;
  in.now = kNow;
  in.rpo_seconds = 61;
  EXPECT_EQ(ComputeRecoveryStatus(in, Policy()).rpo_met, std::optional<bool>(false));
  in.rpo_seconds = 0;
  EXPECT_EQ(ComputeRecoveryStatus(in, Policy()).rpo_met, std::optional<bool>(true));
}

TEST(RecoveryStatusTest, DescriptionSaysWhetherTargetsAreMet) {
  RecoveryInputs in;
  in.now = kNow;
  in.rpo_seconds = 120;
  const std::vector<std::string> lines = DescribeRecoveryStatus(ComputeRecoveryStatus(in, Policy()));
  EXPECT_EQ(lines.back(), "current RPO: 2.0 min; target 60.0 s: NOT MET");
  EXPECT_EQ(lines[0], "newest backup: none");
}

TEST(DrillRecordTest, JsonRoundTrip) {
  DrillRecord r = Drill(kNow, true, 1.5e8, 2.5e7);
  r.checks.push_back({"postgres", "public.t", "table", 42, ""});
  const DrillRecord back = DrillRecordFromJson(ToJson(r), "test");
  EXPECT_EQ(ToJson(back), ToJson(r));
  EXPECT_EQ(back.checks.at(0).rows, 42);
}

TEST(DrillRecordTest, MissingFieldIsCorrupt) {
  nlohmann::json j = ToJson(Drill(kNow, true, 1, 1));
  j.erase("passed");
  try {
    DrillRecordFromJson(j, "drill/x.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("drill record 'drill/x.json': field 'passed'"),
              std::string::npos);
  }
}

TEST(DrillRecordTest, IdsSortByTime) {
  EXPECT_EQ(CompactUtc(0), "19700101T000000Z");
  EXPECT_LT(CompactUtc(kNow), CompactUtc(kNow + 1));
}

TEST(DrillRecordTest, IdsOfDrillsInOneSecondSortByStartNotByLabel) {
  EXPECT_EQ(CompactUtcMicros(1'000'042), "19700101T000001.000042Z");
  const std::int64_t second = kNow * 1'000'000;
  // a failed drill of the newer backup, then a passing drill of the older one, 0.7 s later
  const std::string failed = CompactUtcMicros(second + 100'000) + "-20261129-203620F";
  const std::string passed = CompactUtcMicros(second + 800'000) + "-20261129-203610F";
  EXPECT_LT(failed, passed);
}

}  // namespace
}  // namespace dbmedic::rescue
