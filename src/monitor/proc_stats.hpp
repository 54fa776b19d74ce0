// Parsers for the Linux /proc files the host collector reads. Pure functions over text, so unit
// tests feed them recorded content.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dbmedic::monitor {

// Jiffies (USER_HZ) per mode, from one "cpu..." line of /proc/stat.
struct CpuTimes {
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  double Total() const { return user + nice + system + idle + iowait + irq + softirq + steal; }
};

// "cpu" (aggregate) and "cpu0", "cpu1"... -> times. Lines that are not cpu lines are skipped.
std::map<std::string, CpuTimes> ParseProcStat(std::string_view text);

// /proc/loadavg -> {1, 5, 15} minute averages. Throws Error(kCorrupt) on malformed text.
std::array<double, 3> ParseLoadAvg(std::string_view text);

// /proc/meminfo -> key -> bytes ("MemTotal" -> 16777216000). Values given in kB are scaled.
std::map<std::string, std::uint64_t> ParseMemInfo(std::string_view text);

// One line of /proc/diskstats (counters since boot; sectors are 512 bytes).
struct DiskStats {
  std::string device;
  std::uint64_t reads = 0, read_sectors = 0, read_ms = 0;
  std::uint64_t writes = 0, write_sectors = 0, write_ms = 0;
  std::uint64_t io_ms = 0;  // time the device had I/O in flight
};
std::vector<DiskStats> ParseDiskStats(std::string_view text);

// Rates between two DiskStats of one device taken `seconds` apart.
struct DiskRates {
  double reads_per_second = 0, writes_per_second = 0;
  double read_bytes_per_second = 0, write_bytes_per_second = 0;
  double await_seconds = 0;       // average time per completed I/O (reads and writes)
  double utilization_ratio = 0;   // fraction of time busy, 0..1
};
DiskRates ComputeDiskRates(const DiskStats& before, const DiskStats& after, double seconds);

// Fraction of time per mode between two CpuTimes (user, system, iowait, steal, idle...).
std::map<std::string, double> CpuUsageRatios(const CpuTimes& before, const CpuTimes& after);

}  // namespace dbmedic::monitor
