#include <gtest/gtest.h>

#include "core/error.hpp"
#include "monitor/proc_stats.hpp"

namespace dbmedic::monitor {
namespace {

constexpr const char* kStat =
    "cpu  100 10 50 800 20 5 5 10 0 0\n"
    "cpu0 60 5 25 400 10 2 3 5 0 0\n"
    "cpu1 40 5 25 400 10 3 2 5 0 0\n"
    "intr 12345 0 0\n"
    "ctxt 999\n";

TEST(ProcStats, ParsesAggregateAndPerCoreCpuLines) {
  auto cpus = ParseProcStat(kStat);
  ASSERT_EQ(cpus.size(), 3u);
  EXPECT_DOUBLE_EQ(cpus["cpu"].user, 100);
  EXPECT_DOUBLE_EQ(cpus["cpu"].iowait, 20);
  EXPECT_DOUBLE_EQ(cpus["cpu"].steal, 10);
  EXPECT_DOUBLE_EQ(cpus["cpu1"].softirq, 2);
  EXPECT_DOUBLE_EQ(cpus["cpu"].Total(), 1000);
}

TEST(ProcStats, CpuRatiosAreFractionsOfTheInterval) {
  CpuTimes before{100, 0, 50, 800, 20, 0, 0, 10};
  CpuTimes after{130, 10, 60, 860, 30, 5, 5, 10};
  auto r = CpuUsageRatios(before, after);
  double total = 130;  // every mode's delta
  EXPECT_DOUBLE_EQ(r["user"], 40 / total);
  EXPECT_DOUBLE_EQ(r["iowait"], 10 / total);
  EXPECT_DOUBLE_EQ(r["system"], 20 / total);
  EXPECT_DOUBLE_EQ(r["idle"], 60 / total);
  EXPECT_DOUBLE_EQ(r["steal"], 0);
}

TEST(ProcStats, ParsesLoadAverages) {
  auto load = ParseLoadAvg("0.52 0.61 0.70 2/345 6789\n");
  EXPECT_DOUBLE_EQ(load[0], 0.52);
  EXPECT_DOUBLE_EQ(load[2], 0.70);
}

TEST(ProcStats, MalformedLoadAvgIsACorruptError) {
  try {
    ParseLoadAvg("garbage");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_STREQ(e.what(), "unable to parse /proc/loadavg: unexpected content 'garbage'");
  }
}

TEST(ProcStats, MemInfoScalesKilobytes) {
  auto mem = ParseMemInfo("MemTotal:       16384 kB\nHugePages_Total:       4\nbad line\n");
  EXPECT_EQ(mem["MemTotal"], 16384u * 1024);
  EXPECT_EQ(mem["HugePages_Total"], 4u);
  EXPECT_EQ(mem.size(), 2u);
}

TEST(ProcStats, ParsesDiskStatsLines) {
  auto disks = ParseDiskStats(
      " 259       0 nvme0n1 1000 10 80000 500 2000 20 160000 3000 0 2500 3500 0 0 0 0\n"
      "   7       0 loop0 5 0 10 1 0 0 0 0 0 1 1\n"
      "short line\n");
  ASSERT_EQ(disks.size(), 2u);
  EXPECT_EQ(disks[0].device, "nvme0n1");
  EXPECT_EQ(disks[0].reads, 1000u);
  EXPECT_EQ(disks[0].read_sectors, 80000u);
  EXPECT_EQ(disks[0].write_ms, 3000u);
  EXPECT_EQ(disks[0].io_ms, 2500u);
}

TEST(ProcStats, DiskRatesOverAnInterval) {
  DiskStats before{"sda", 100, 1000, 50, 200, 4000, 150, 1000};
  DiskStats after{"sda", 300, 3000, 250, 400, 8000, 350, 1500};
  DiskRates r = ComputeDiskRates(before, after, 2.0);
  EXPECT_DOUBLE_EQ(r.reads_per_second, 100);
  EXPECT_DOUBLE_EQ(r.writes_per_second, 100);
  EXPECT_DOUBLE_EQ(r.read_bytes_per_second, 2000.0 * 512 / 2);
  EXPECT_DOUBLE_EQ(r.write_bytes_per_second, 4000.0 * 512 / 2);
  EXPECT_DOUBLE_EQ(r.await_seconds, 0.4 / 400);  // 400 ms of waiting over 400 I/Os
  EXPECT_DOUBLE_EQ(r.utilization_ratio, 0.25);
}

TEST(ProcStats, DiskRatesOfAnIdleDeviceAreZero) {
  DiskStats same{"sda", 1, 2, 3, 4, 5, 6, 7};
  DiskRates r = ComputeDiskRates(same, same, 1.0);
  EXPECT_EQ(r.reads_per_second, 0);
  EXPECT_EQ(r.await_seconds, 0);
  EXPECT_EQ(r.utilization_ratio, 0);
}

}  // namespace
}  // namespace dbmedic::monitor
