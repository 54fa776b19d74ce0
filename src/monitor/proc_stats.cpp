#include "monitor/proc_stats.hpp"

#include <sstream>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::monitor {
namespace {

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

double Delta(double before, double after) { return after > before ? after - before : 0; }

}  // namespace

std::map<std::string, CpuTimes> ParseProcStat(std::string_view text) {
  std::map<std::string, CpuTimes> out;
  for (auto line : Lines(text)) {
    if (!line.starts_with("cpu")) continue;
    std::istringstream in{std::string(line)};
    std::string name;
    CpuTimes t;
    in >> name >> t.user >> t.nice >> t.system >> t.idle >> t.iowait >> t.irq >> t.softirq;
    if (!in) continue;
    in >> t.steal;  // absent on very old kernels
    out[name] = t;
  }
  return out;
}

std::array<double, 3> ParseLoadAvg(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::array<double, 3> load{};
  in >> load[0] >> load[1] >> load[2];
  if (!in) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("unable to parse /proc/loadavg: unexpected content '{}'", text),
                "this is a Linux-only collector; check that /proc is mounted");
  }
  return load;
}

std::map<std::string, std::uint64_t> ParseMemInfo(std::string_view text) {
  std::map<std::string, std::uint64_t> out;
  for (auto line : Lines(text)) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::istringstream in{std::string(line.substr(colon + 1))};
    std::uint64_t value = 0;
    std::string unit;
    if (!(in >> value)) continue;
    in >> unit;
    out[std::string(line.substr(0, colon))] = unit == "kB" ? value * 1024 : value;
  }
  return out;
}

std::vector<DiskStats> ParseDiskStats(std::string_view text) {
  std::vector<DiskStats> out;
  for (auto line : Lines(text)) {
    std::istringstream in{std::string(line)};
    unsigned major = 0, minor = 0;
    DiskStats d;
    std::uint64_t reads_merged = 0, writes_merged = 0, in_flight = 0;
    in >> major >> minor >> d.device >> d.reads >> reads_merged >> d.read_sectors >> d.read_ms >>
        d.writes >> writes_merged >> d.write_sectors >> d.write_ms >> in_flight >> d.io_ms;
    if (in) out.push_back(d);
  }
  return out;
}

DiskRates ComputeDiskRates(const DiskStats& before, const DiskStats& after, double seconds) {
  DiskRates r;
  if (seconds <= 0) return r;
  double reads = Delta(static_cast<double>(before.reads), static_cast<double>(after.reads));
  double writes = Delta(static_cast<double>(before.writes), static_cast<double>(after.writes));
  double io_wait_ms = Delta(static_cast<double>(before.read_ms + before.write_ms),
                            static_cast<double>(after.read_ms + after.write_ms));
  r.reads_per_second = reads / seconds;
  r.writes_per_second = writes / seconds;
  r.read_bytes_per_second = Delta(static_cast<double>(before.read_sectors),
                                  static_cast<double>(after.read_sectors)) * 512 / seconds;
  r.write_bytes_per_second = Delta(static_cast<double>(before.write_sectors),
                                   static_cast<double>(after.write_sectors)) * 512 / seconds;
  r.await_seconds = reads + writes > 0 ? io_wait_ms / 1000.0 / (reads + writes) : 0;
  double busy = Delta(static_cast<double>(before.io_ms), static_cast<double>(after.io_ms));
  r.utilization_ratio = std::min(1.0, busy / 1000.0 / seconds);
  return r;
}

std::map<std::string, double> CpuUsageRatios(const CpuTimes& before, const CpuTimes& after) {
  double total = Delta(before.Total(), after.Total());
  auto ratio = [&](double b, double a) { return total > 0 ? Delta(b, a) / total : 0.0; };
  return {
      {"user", ratio(before.user + before.nice, after.user + after.nice)},
      {"system", ratio(before.system + before.irq + before.softirq,
                       after.system + after.irq + after.softirq)},
      {"iowait", ratio(before.iowait, after.iowait)},
      {"steal", ratio(before.steal, after.steal)},
      {"idle", ratio(before.idle, after.idle)},
  };
}

}  // namespace dbmedic::monitor
