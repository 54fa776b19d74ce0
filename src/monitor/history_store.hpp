// The metric history: an embedded SQLite file with one row per series (name + labels) and one per
// sample. Raw samples older than `downsample_after` are averaged into buckets of
// `downsample_step`; everything older than `retention` is removed. Alert states are kept there
// too, so `dbmedic alerts` can read them and a restarted agent does not notify twice.
//
// Thread-safe (one connection behind a mutex). Throws Error(kIo) naming the file on SQLite
// failures.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "monitor/alert_rule.hpp"
#include "monitor/metric.hpp"
#include "monitor/rules_engine.hpp"

struct sqlite3;

namespace dbmedic::monitor {

struct SeriesPoints {
  std::string name;
  Labels labels;
  std::vector<std::pair<std::int64_t, double>> points;  // (ms since epoch, value), ascending
};

struct HistoryPolicy {
  std::chrono::milliseconds retention{std::chrono::hours(24 * 14)};
  std::chrono::milliseconds downsample_after{std::chrono::hours(24)};
  std::chrono::milliseconds downsample_step{std::chrono::minutes(5)};
};

// What the store holds in memory (for the agent's own metrics and the memory soak).
struct HistoryMemory {
  std::int64_t cache_bytes = 0;   // this connection's page cache (bounded by kCacheKiB)
  std::int64_t sqlite_bytes = 0;  // everything SQLite has allocated in this process
  std::size_t series = 0;         // series ids cached (bounded by the series in the file)
};

struct MaintenanceResult {
  std::int64_t downsampled_rows = 0;  // raw rows folded into buckets
  std::int64_t expired_rows = 0;      // rows removed by retention
};

class HistoryStore {
 public:
  enum class Mode { kReadWrite, kReadOnly };
  // Opens (and in read-write mode creates, with its directory) the store at `path`. Read-only
  // on a missing file throws Error(kNotFound) with a hint to start the agent.
  static HistoryStore Open(const std::filesystem::path& path, Mode mode = Mode::kReadWrite);

  HistoryStore(HistoryStore&&) noexcept;
  HistoryStore& operator=(HistoryStore&&) noexcept;
  ~HistoryStore();

  // Appends every sample of `snapshot` (each with its own timestamp) in one transaction.
  void Write(const Snapshot& snapshot);

  // Series named `name` whose labels match all `matchers`, points in [since, until].
  std::vector<SeriesPoints> Query(const std::string& name, TimePoint since, TimePoint until,
                                  const std::vector<LabelMatcher>& matchers = {}) const;

  // Names of the stored metrics (for the dashboard and `dbmedic metrics --list`).
  std::vector<std::string> MetricNames() const;

  MaintenanceResult Maintain(TimePoint now, const HistoryPolicy& policy);

  void SaveAlerts(const std::vector<AlertInstance>& alerts);
  std::vector<AlertInstance> LoadAlerts() const;

  HistoryMemory Memory() const;

  const std::filesystem::path& path() const { return path_; }

  // The page cache size. SQLite's default (2000 KiB) fills as the file grows, which showed as a
  // slow RSS climb over the first hours of an agent's life; 1 MiB holds the recent samples the
  // writer and the dashboard touch and caps that part of the memory early.
  static constexpr int kCacheKiB = 1024;

 private:
  struct Db;
  HistoryStore(std::filesystem::path path, std::unique_ptr<Db> db);
  std::int64_t SeriesId(const std::string& name, const Labels& labels);  // requires mu_

  std::filesystem::path path_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<std::mutex> mu_;
};

}  // namespace dbmedic::monitor
