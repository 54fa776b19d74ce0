#include "monitor/host_collector.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"

namespace dbmedic::monitor {

HostCollector::HostCollector(HostCollectorOptions options)
    : options_(std::move(options)), clock_ticks_(static_cast<double>(sysconf(_SC_CLK_TCK))) {}

CollectResult HostCollector::Collect() {
  auto now = std::chrono::steady_clock::now();
  double seconds = prev_time_ ? std::chrono::duration<double>(now - *prev_time_).count() : 0;
  FamilyBuilder b(std::chrono::system_clock::now());
  std::vector<std::string> errors;
  // Each part fails alone: a missing /sys must not hide memory figures.
  auto guarded = [&](const char* part, auto&& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      errors.push_back(fmt::format("{}: {}", part, e.what()));
    }
  };
  guarded("cpu", [&] { CollectCpu(b, seconds); });
  guarded("memory", [&] { CollectMemory(b); });
  guarded("disks", [&] { CollectDisks(b, seconds); });
  CollectFilesystems(b, errors);
  prev_time_ = now;
  CollectResult result{b.Take(), std::nullopt};
  if (!errors.empty()) result.error = fmt::format("{}", fmt::join(errors, "; "));
  return result;
}

void HostCollector::CollectCpu(FamilyBuilder& b, double seconds) {
  auto cpus = ParseProcStat(core::ReadFile(options_.proc_root / "stat"));
  int cores = 0;
  for (const auto& [name, times] : cpus) {
    bool total = name == "cpu";
    if (!total) {
      ++cores;
      std::string core = name.substr(3);
      const std::pair<const char*, double> modes[] = {
          {"user", times.user},     {"nice", times.nice},   {"system", times.system},
          {"idle", times.idle},     {"iowait", times.iowait}, {"irq", times.irq},
          {"softirq", times.softirq}, {"steal", times.steal}};
      for (const auto& [mode, jiffies] : modes) {
        b.Counter("dbmedic_host_cpu_seconds_total", "CPU time per core and mode.",
                  {{"cpu", core}, {"mode", mode}}, jiffies / clock_ticks_);
      }
    }
    auto prev = prev_cpu_.find(name);
    if (seconds > 0 && prev != prev_cpu_.end()) {
      for (const auto& [mode, ratio] : CpuUsageRatios(prev->second, times)) {
        if (total) {
          b.Gauge("dbmedic_host_cpu_usage_ratio",
                  "Fraction of all CPU time per mode over the last interval.", {{"mode", mode}},
                  ratio);
        } else {
          b.Gauge("dbmedic_host_cpu_core_usage_ratio",
                  "Fraction of one core's time per mode over the last interval.",
                  {{"cpu", name.substr(3)}, {"mode", mode}}, ratio);
        }
      }
    }
  }
  prev_cpu_ = std::move(cpus);
  b.Gauge("dbmedic_host_cpu_cores", "Number of CPU cores.", {}, cores);
  auto load = ParseLoadAvg(core::ReadFile(options_.proc_root / "loadavg"));
  b.Gauge("dbmedic_host_load1", "Load average over 1 minute.", {}, load[0]);
  b.Gauge("dbmedic_host_load5", "Load average over 5 minutes.", {}, load[1]);
  b.Gauge("dbmedic_host_load15", "Load average over 15 minutes.", {}, load[2]);
}

void HostCollector::CollectMemory(FamilyBuilder& b) {
  auto mem = ParseMemInfo(core::ReadFile(options_.proc_root / "meminfo"));
  auto get = [&](const char* key) { return static_cast<double>(mem[key]); };
  b.Gauge("dbmedic_host_memory_total_bytes", "Total memory.", {}, get("MemTotal"));
  b.Gauge("dbmedic_host_memory_available_bytes", "Memory available without swapping.", {},
          get("MemAvailable"));
  b.Gauge("dbmedic_host_memory_cached_bytes", "Page cache.", {}, get("Cached"));
  b.Gauge("dbmedic_host_swap_total_bytes", "Total swap.", {}, get("SwapTotal"));
  b.Gauge("dbmedic_host_swap_used_bytes", "Swap in use.", {}, get("SwapTotal") - get("SwapFree"));
}

bool HostCollector::IsWholeDisk(const std::string& device) const {
  if (device.starts_with("loop") || device.starts_with("ram")) return false;
  std::error_code ec;
  return std::filesystem::exists(options_.sys_root / "block" / device, ec);
}

void HostCollector::CollectDisks(FamilyBuilder& b, double seconds) {
  std::map<std::string, DiskStats> current;
  for (auto& d : ParseDiskStats(core::ReadFile(options_.proc_root / "diskstats"))) {
    if (IsWholeDisk(d.device)) current[d.device] = d;
  }
  for (const auto& [device, d] : current) {
    Labels l{{"device", device}};
    b.Counter("dbmedic_host_disk_reads_completed_total", "Reads completed.", l,
              static_cast<double>(d.reads));
    b.Counter("dbmedic_host_disk_writes_completed_total", "Writes completed.", l,
              static_cast<double>(d.writes));
    b.Counter("dbmedic_host_disk_read_bytes_total", "Bytes read.", l,
              static_cast<double>(d.read_sectors) * 512);
    b.Counter("dbmedic_host_disk_written_bytes_total", "Bytes written.", l,
              static_cast<double>(d.write_sectors) * 512);
    b.Counter("dbmedic_host_disk_io_time_seconds_total", "Time the device was busy.", l,
              static_cast<double>(d.io_ms) / 1000.0);
    auto prev = prev_disks_.find(device);
    if (seconds <= 0 || prev == prev_disks_.end()) continue;
    DiskRates r = ComputeDiskRates(prev->second, d, seconds);
    b.Gauge("dbmedic_host_disk_reads_per_second", "Read IOPS over the last interval.", l,
            r.reads_per_second);
    b.Gauge("dbmedic_host_disk_writes_per_second", "Write IOPS over the last interval.", l,
            r.writes_per_second);
    b.Gauge("dbmedic_host_disk_read_bytes_per_second", "Read throughput over the last interval.",
            l, r.read_bytes_per_second);
    b.Gauge("dbmedic_host_disk_write_bytes_per_second",
            "Write throughput over the last interval.", l, r.write_bytes_per_second);
    b.Gauge("dbmedic_host_disk_await_seconds", "Average latency per I/O over the last interval.",
            l, r.await_seconds);
    b.Gauge("dbmedic_host_disk_utilization_ratio", "Fraction of the last interval the device was "
            "busy.", l, r.utilization_ratio);
  }
  prev_disks_ = std::move(current);
}

void HostCollector::CollectFilesystems(FamilyBuilder& b, std::vector<std::string>& errors) {
  for (const auto& watched : options_.paths) {
    struct statvfs st {};
    if (statvfs(watched.path.c_str(), &st) != 0) {
      errors.push_back(fmt::format("statvfs '{}' ({} of {}): {}", watched.path.string(),
                                   watched.role, watched.target, std::strerror(errno)));
      continue;
    }
    double size = static_cast<double>(st.f_blocks) * static_cast<double>(st.f_frsize);
    double avail = static_cast<double>(st.f_bavail) * static_cast<double>(st.f_frsize);
    double free = static_cast<double>(st.f_bfree) * static_cast<double>(st.f_frsize);
    Labels l{{"role", watched.role}, {"path", watched.path.string()}};
    if (!watched.target.empty()) l["target"] = watched.target;  // the repository has none
    b.Gauge("dbmedic_host_filesystem_size_bytes", "Size of the filesystem holding the path.", l,
            size);
    b.Gauge("dbmedic_host_filesystem_avail_bytes", "Space available to unprivileged users.", l,
            avail);
    // Like df: used / (used + available), so reserved blocks count as unavailable.
    double used = size - free;
    b.Gauge("dbmedic_host_filesystem_used_ratio", "Fraction of the filesystem in use (as df).", l,
            used + avail > 0 ? used / (used + avail) : 0);
  }
}

}  // namespace dbmedic::monitor
