// Host metrics from /proc and /sys: CPU (total and per core), load, memory, swap, per-disk I/O
// rates, and filesystem usage of the paths that matter (data directory, WAL, repository).
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "monitor/collector.hpp"
#include "monitor/proc_stats.hpp"

namespace dbmedic::monitor {

// A directory whose filesystem usage is reported: role is "data", "wal" or "repository".
struct WatchedPath {
  std::string target;
  std::string role;
  std::filesystem::path path;
};

struct HostCollectorOptions {
  std::chrono::milliseconds interval{15000};
  std::filesystem::path proc_root = "/proc";
  std::filesystem::path sys_root = "/sys";
  std::vector<WatchedPath> paths;
};

class HostCollector final : public Collector {
 public:
  explicit HostCollector(HostCollectorOptions options);
  std::string name() const override { return "host"; }
  std::chrono::milliseconds interval() const override { return options_.interval; }
  CollectResult Collect() override;

 private:
  void CollectCpu(FamilyBuilder& b, double seconds);
  void CollectMemory(FamilyBuilder& b);
  void CollectDisks(FamilyBuilder& b, double seconds);
  void CollectFilesystems(FamilyBuilder& b, std::vector<std::string>& errors);
  bool IsWholeDisk(const std::string& device) const;

  HostCollectorOptions options_;
  double clock_ticks_;
  std::map<std::string, CpuTimes> prev_cpu_;
  std::map<std::string, DiskStats> prev_disks_;
  std::optional<std::chrono::steady_clock::time_point> prev_time_;
};

}  // namespace dbmedic::monitor
