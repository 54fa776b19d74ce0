// Recovery targets and the recoverable window: time parsing, backup choice, refusals.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "restore/pitr_window.hpp"
#include "restore/recovery_target.hpp"

namespace dbmedic::restore {
namespace {

constexpr std::int64_t kS = 1000000;

repo::Manifest Backup(const std::string& label, const std::string& stop_lsn, std::int64_t stop,
                      std::uint32_t tli = 1) {
  repo::Manifest m;
  m.label = label;
  m.start_lsn = stop_lsn;
  m.stop_lsn = stop_lsn;
  m.stop_time = stop;
  m.timeline = tli;
  return m;
}

RecoveryTarget TimeTarget(std::int64_t micros) {
  RecoveryTarget t;
  t.kind = TargetKind::kTime;
  t.unix_micros = micros;
  t.text = std::to_string(micros);
  return t;
}

RecoveryTarget LsnTarget(const std::string& lsn) {
  RecoveryTarget t;
  t.kind = TargetKind::kLsn;
  t.lsn = pg::Lsn::Parse(lsn);
  t.text = lsn;
  return t;
}

// Backups A (ends 0/2000100, t=1000) and B (ends 0/6000100, t=2000); archive 2..9 on timeline 1,
// last transaction at t=3000.
class PitrWindowTest : public ::testing::Test {
 protected:
  PitrWindowTest() {
    backups_ = {Backup("A", "0/2000100", 1000), Backup("B", "0/6000100", 2000)};
    for (std::uint64_t s = 2; s <= 9; ++s) archive_.segments[1].insert(s);
    archive_.last_transaction_micros[1] = 3000 * kS;
  }
  std::vector<repo::Manifest> backups_;
  ArchiveView archive_;
};

TEST(ParseTargetTime, UtcAndOffsetsAgree) {
  EXPECT_EQ(ParseTargetTime("2026-11-29 13:04:05Z"), ParseTargetTime("2026-11-29T15:04:05+02:00"));
  EXPECT_EQ(ParseTargetTime("2026-11-29 13:04:05+00"), 1795957445LL * kS);
  EXPECT_EQ(ParseTargetTime("2026-11-29 13:04:05.25-0130"), (1795957445LL + 5400) * kS + 250000);
}

TEST(ParseTargetTime, TimeWithoutZoneIsRefused) {
  try {
    ParseTargetTime("2026-11-29 13:04:05");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_EQ(std::string(e.what()), "invalid recovery target time '2026-11-29 13:04:05'");
  }
}

TEST(ValidateTimeline, RefusesWords) {
  EXPECT_NO_THROW(ValidateTimeline("latest"));
  EXPECT_NO_THROW(ValidateTimeline("3"));
  EXPECT_THROW(ValidateTimeline("newest"), Error);
  EXPECT_THROW(ValidateTimeline("0"), Error);
}

TEST_F(PitrWindowTest, PicksTheNewestBackupEndingBeforeTheTime) {
  EXPECT_EQ(ChooseBackup(backups_, archive_, TimeTarget(1500 * kS), std::nullopt).label, "A");
  EXPECT_EQ(ChooseBackup(backups_, archive_, TimeTarget(2500 * kS), std::nullopt).label, "B");
}

TEST_F(PitrWindowTest, ServerStopTimeInMicrosecondsOpensTheWindowWithinTheSecond) {
  // Recorded to the microsecond: a time 0.3 s after the stop is inside A's window.
  backups_[0].stop_time_micros = 1000 * kS + 200000;
  EXPECT_EQ(ChooseBackup(backups_, archive_, TimeTarget(1000 * kS + 500000), std::nullopt).label,
            "A");
  EXPECT_THROW(ChooseBackup(backups_, archive_, TimeTarget(1000 * kS + 100000), std::nullopt),
               Error);
  // Kept to the second (an older manifest): the window opens at the next second.
  backups_[0].stop_time_micros = 0;
  EXPECT_THROW(ChooseBackup(backups_, archive_, TimeTarget(1000 * kS + 500000), std::nullopt),
               Error);
}

TEST_F(PitrWindowTest, PicksTheNewestBackupEndingBeforeTheLsn) {
  EXPECT_EQ(ChooseBackup(backups_, archive_, LsnTarget("0/5000000"), std::nullopt).label, "A");
  EXPECT_EQ(ChooseBackup(backups_, archive_, LsnTarget("0/7000000"), std::nullopt).label, "B");
}

TEST_F(PitrWindowTest, TimeBeforeTheOldestBackupIsRefusedWithTheWindow) {
  try {
    ChooseBackup(backups_, archive_, TimeTarget(900 * kS), std::nullopt);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTarget);
    const std::string m = e.what();
    EXPECT_NE(m.find("before the end of the oldest backup"), std::string::npos) << m;
    EXPECT_NE(m.find("timeline 1: 0/2000100 (1970-01-01 00:16:41+00, end of backup A) .. "
                     "0/A000000 (last transaction 1970-01-01 00:50:00+00)"),
              std::string::npos)
        << m;
  }
}

TEST_F(PitrWindowTest, LsnBeyondTheArchiveIsRefused) {
  try {
    ChooseBackup(backups_, archive_, LsnTarget("0/B000000"), std::nullopt);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTarget);
    EXPECT_NE(std::string(e.what()).find("beyond the end of the WAL archive"), std::string::npos);
  }
}

TEST_F(PitrWindowTest, TimeAfterTheLastArchivedTransactionIsRefused) {
  try {
    ChooseBackup(backups_, archive_, TimeTarget(3001 * kS), std::nullopt);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTarget);
    EXPECT_NE(std::string(e.what()).find("after the last transaction in the WAL archive"),
              std::string::npos);
  }
}

TEST_F(PitrWindowTest, AGapEndsTheWindow) {
  archive_.segments[1].erase(7);
  const std::vector<RecoverableWindow> w = ComputeWindows(backups_, archive_);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].to_lsn.ToString(), "0/7000000");
  EXPECT_FALSE(w[0].to_micros);
  EXPECT_THROW(ChooseBackup(backups_, archive_, LsnTarget("0/8000000"), std::nullopt), Error);
}

TEST_F(PitrWindowTest, UnknownBackupLabelIsNotFound) {
  try {
    ChooseBackup(backups_, archive_, TimeTarget(2500 * kS), std::string("C"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

TEST_F(PitrWindowTest, NewerTimelineUsesOlderBackups) {
  archive_.segments[2] = {9, 10};
  const std::vector<RecoverableWindow> w = ComputeWindows(backups_, archive_);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[1].timeline, 2u);
  EXPECT_EQ(w[1].to_lsn.ToString(), "0/B000000");
}

}  // namespace
}  // namespace dbmedic::restore
