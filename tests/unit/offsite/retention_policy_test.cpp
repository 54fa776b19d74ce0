// PlanExpire: which backups and WAL files retention removes, on synthetic catalogs.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "repo/retention_policy.hpp"

namespace dbmedic::repo {
namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kNow = 1'800'000'000;

// Backup `n` starts in segment 10*n of timeline 1 and ended n days before kNow... reversed:
// backup 1 is the oldest.
BackupSummary Backup(int n, int age_days, std::string type = "full", std::string reference = "",
                     pg::TimelineId tli = 1) {
  BackupSummary b;
  b.label = "2026010" + std::to_string(n) + "-000000F";
  b.type = std::move(type);
  b.reference = std::move(reference);
  b.start_lsn = pg::SegmentStart(static_cast<std::uint64_t>(10 * n)) ;
  b.start_lsn.value += 0x28;
  b.timeline = tli;
  b.stop_time = kNow - age_days * kDay;
  return b;
}

std::vector<WalObject> Segments(pg::TimelineId tli, std::uint64_t from, std::uint64_t to) {
  std::vector<WalObject> out;
  for (std::uint64_t s = from; s <= to; ++s) {
    const std::string name = pg::WalSegmentName(tli, s);
    out.push_back({name, "archive/x/" + name, 100});
  }
  return out;
}

std::vector<std::string> Names(const std::vector<WalObject>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.name);
  return out;
}

std::vector<std::string> Retained(const ExpirePlan& plan) {
  std::vector<std::string> out;
  for (const auto& r : plan.retained) out.push_back(r.label);
  return out;
}

TEST(RetentionPolicyTest, NoRuleIsAUsageError) {
  try {
    PlanExpire({Backup(1, 3)}, {}, RetentionPolicy{}, kNow);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_STREQ(e.what(), "no retention policy: nothing says which backups to keep");
  }
}

TEST(RetentionPolicyTest, KeepFullZeroIsRefused) {
  RetentionPolicy p;
  p.keep_full = 0;
  try {
    PlanExpire({Backup(1, 3)}, {}, p, kNow);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_STREQ(e.what(), "keep-full must be at least 1, not 0");
  }
}

TEST(RetentionPolicyTest, KeepFullKeepsNewestFullBackups) {
  RetentionPolicy p;
  p.keep_full = 2;
  const ExpirePlan plan = PlanExpire({Backup(3, 1), Backup(1, 3), Backup(2, 2)}, {}, p, kNow);
  EXPECT_EQ(plan.expired_backups, std::vector<std::string>{Backup(1, 3).label});
  EXPECT_EQ(Retained(plan), (std::vector<std::string>{Backup(2, 2).label, Backup(3, 1).label}));
}

TEST(RetentionPolicyTest, WalBeforeOldestRetainedBackupExpires) {
  RetentionPolicy p;
  p.keep_full = 1;
  const ExpirePlan plan = PlanExpire({Backup(1, 3), Backup(2, 2)}, Segments(1, 5, 25), p, kNow);
  EXPECT_EQ(Names(plan.expired_wal), Names(Segments(1, 5, 19)));
  EXPECT_EQ(plan.expired_wal_bytes, 1500u);
  EXPECT_EQ(plan.wal_kept_from, pg::WalSegmentName(1, 20));
}

TEST(RetentionPolicyTest, BackupStartSegmentIsKept) {
  RetentionPolicy p;
  p.keep_full = 1;
  const ExpirePlan plan = PlanExpire({Backup(2, 2)}, Segments(1, 20, 20), p, kNow);
  EXPECT_TRUE(plan.expired_wal.empty());
}

TEST(RetentionPolicyTest, NewestBackupIsAlwaysKeptByKeepDays) {
  RetentionPolicy p;
  p.keep_days = 1;
  const ExpirePlan plan = PlanExpire({Backup(1, 30), Backup(2, 20)}, {}, p, kNow);
  EXPECT_EQ(plan.expired_backups, std::vector<std::string>{Backup(1, 30).label});
  ASSERT_EQ(plan.retained.size(), 1u);
  EXPECT_EQ(plan.retained[0].reasons,
            (std::vector<RetainReason>{RetainReason::kWindowStart, RetainReason::kNewest}));
}

TEST(RetentionPolicyTest, KeepDaysKeepsTheBackupTheWindowStartsFrom) {
  RetentionPolicy p;
  p.keep_days = 7;
  // Ended 20, 10 and 2 days ago: the 10-day-old one is needed to recover to 7 days ago.
  const ExpirePlan plan =
      PlanExpire({Backup(1, 20), Backup(2, 10), Backup(3, 2)}, Segments(1, 10, 35), p, kNow);
  EXPECT_EQ(plan.expired_backups, std::vector<std::string>{Backup(1, 20).label});
  EXPECT_EQ(Retained(plan), (std::vector<std::string>{Backup(2, 10).label, Backup(3, 2).label}));
  EXPECT_EQ(plan.retained[0].reasons, std::vector<RetainReason>{RetainReason::kWindowStart});
  EXPECT_EQ(Names(plan.expired_wal), Names(Segments(1, 10, 19)));
}

TEST(RetentionPolicyTest, EitherRuleRetains) {
  RetentionPolicy p;
  p.keep_full = 3;
  p.keep_days = 1;
  const ExpirePlan plan =
      PlanExpire({Backup(1, 40), Backup(2, 30), Backup(3, 20), Backup(4, 10)}, {}, p, kNow);
  EXPECT_EQ(plan.expired_backups, std::vector<std::string>{Backup(1, 40).label});
}

TEST(RetentionPolicyTest, IncrementalsCountTowardTheirFullBackup) {
  RetentionPolicy p;
  p.keep_full = 1;
  const std::string full2 = Backup(2, 5).label;
  const std::string incr3 = Backup(3, 4).label;
  const ExpirePlan plan = PlanExpire({Backup(1, 6), Backup(2, 5), Backup(3, 4, "incr", full2),
                                      Backup(4, 3, "incr", incr3)},
                                     {}, p, kNow);
  EXPECT_EQ(plan.expired_backups, std::vector<std::string>{Backup(1, 6).label});
}

TEST(RetentionPolicyTest, KeepDaysKeepsTheWholeChainOfARetainedIncremental) {
  RetentionPolicy p;
  p.keep_days = 2;
  const std::string full1 = Backup(1, 10).label;
  const std::string incr2 = Backup(2, 5).label;
  const ExpirePlan plan =
      PlanExpire({Backup(1, 10), Backup(2, 5, "incr", full1), Backup(3, 1, "incr", incr2)},
                 Segments(1, 5, 31), p, kNow);
  EXPECT_TRUE(plan.expired_backups.empty());
  EXPECT_EQ(plan.retained[0].reasons, std::vector<RetainReason>{RetainReason::kReference});
  EXPECT_EQ(Names(plan.expired_wal), Names(Segments(1, 5, 9)));
}

TEST(RetentionPolicyTest, NoBackupsKeepsAllWal) {
  RetentionPolicy p;
  p.keep_full = 1;
  const ExpirePlan plan = PlanExpire({}, Segments(1, 1, 5), p, kNow);
  EXPECT_TRUE(plan.expired_wal.empty());
  EXPECT_FALSE(plan.wal_kept_from);
}

TEST(RetentionPolicyTest, HistoryFilesAreNeverExpired) {
  RetentionPolicy p;
  p.keep_full = 1;
  std::vector<WalObject> wal = {{"00000002.history", "archive/00000002/h", 40}};
  const ExpirePlan plan = PlanExpire({Backup(2, 1, "full", "", 2)}, wal, p, kNow);
  EXPECT_TRUE(plan.expired_wal.empty());
}

TEST(RetentionPolicyTest, BackupAndPartialFilesFollowTheirSegment) {
  RetentionPolicy p;
  p.keep_full = 1;
  const std::string old_seg = pg::WalSegmentName(1, 3);
  const std::string new_seg = pg::WalSegmentName(1, 25);
  std::vector<WalObject> wal = {{old_seg + ".00000028.backup", "a", 1},
                                {old_seg + ".partial", "b", 1},
                                {new_seg + ".00000028.backup", "c", 1}};
  const ExpirePlan plan = PlanExpire({Backup(2, 1)}, wal, p, kNow);
  EXPECT_EQ(Names(plan.expired_wal),
            (std::vector<std::string>{old_seg + ".00000028.backup", old_seg + ".partial"}));
}

TEST(RetentionPolicyTest, LaterTimelineWalOfAnOlderBackupIsKept) {
  // Backup 2 on timeline 1; timeline 2 branched off later. Segments of timeline 2 after the
  // backup's start are needed to replay from it onto timeline 2.
  RetentionPolicy p;
  p.keep_full = 1;
  std::vector<WalObject> wal = Segments(2, 18, 22);
  const ExpirePlan plan = PlanExpire({Backup(1, 9), Backup(2, 1)}, wal, p, kNow);
  EXPECT_EQ(Names(plan.expired_wal), Names(Segments(2, 18, 19)));
}

TEST(RetentionPolicyTest, OlderTimelineWalIsNotNeededByANewerTimelineBackup) {
  RetentionPolicy p;
  p.keep_full = 1;
  std::vector<WalObject> wal = Segments(1, 19, 21);
  const ExpirePlan plan = PlanExpire({Backup(2, 1, "full", "", 2)}, wal, p, kNow);
  EXPECT_EQ(Names(plan.expired_wal), Names(Segments(1, 19, 21)));
}

}  // namespace
}  // namespace dbmedic::repo
