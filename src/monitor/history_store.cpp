#include "monitor/history_store.hpp"

#include <sqlite3.h>

#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/fs.hpp"

namespace dbmedic::monitor {
namespace {

struct DbDeleter {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('format_version', '1');
CREATE TABLE IF NOT EXISTS series(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, labels TEXT NOT NULL, UNIQUE(name, labels));
-- step 0: raw samples; step > 0: averages over buckets of `step` milliseconds starting at ts.
CREATE TABLE IF NOT EXISTS samples(
  series_id INTEGER NOT NULL, ts INTEGER NOT NULL, step INTEGER NOT NULL, value REAL NOT NULL,
  PRIMARY KEY(series_id, ts, step)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS samples_by_step_ts ON samples(step, ts);
CREATE TABLE IF NOT EXISTS alerts(
  fingerprint TEXT PRIMARY KEY, rule TEXT NOT NULL, labels TEXT NOT NULL, state TEXT NOT NULL,
  value REAL NOT NULL, summary TEXT NOT NULL, active_since INTEGER NOT NULL,
  fired_at INTEGER NOT NULL, resolved_at INTEGER NOT NULL, last_notified INTEGER NOT NULL);
)sql";

std::string LabelsJson(const Labels& labels) { return nlohmann::json(labels).dump(); }

Labels ParseLabelsJson(std::string_view text) {
  return nlohmann::json::parse(text).get<Labels>();
}

}  // namespace

struct HistoryStore::Db {
  std::unique_ptr<sqlite3, DbDeleter> handle;
  std::map<std::string, std::int64_t> series_ids;  // name + labels json -> id

  [[noreturn]] void Fail(std::string_view what, const std::filesystem::path& path) const {
    throw Error(ErrorCode::kIo,
                fmt::format("history store '{}': {} failed: {}", path.string(), what,
                            sqlite3_errmsg(handle.get())),
                "check the file's permissions and free space (monitor.history_path)");
  }
  void Exec(const char* sql, const std::filesystem::path& path) {
    char* err = nullptr;
    if (sqlite3_exec(handle.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string message = err ? err : "unknown error";
      sqlite3_free(err);
      throw Error(ErrorCode::kIo,
                  fmt::format("history store '{}': {}", path.string(), message),
                  "check the file's permissions and free space (monitor.history_path)");
    }
  }
  StmtPtr Prepare(const char* sql, const std::filesystem::path& path) const {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(handle.get(), sql, -1, &raw, nullptr) != SQLITE_OK) {
      Fail("prepare", path);
    }
    return StmtPtr(raw);
  }
};

HistoryStore::HistoryStore(std::filesystem::path path, std::unique_ptr<Db> db)
    : path_(std::move(path)), db_(std::move(db)), mu_(std::make_unique<std::mutex>()) {}
HistoryStore::HistoryStore(HistoryStore&&) noexcept = default;
HistoryStore& HistoryStore::operator=(HistoryStore&&) noexcept = default;
HistoryStore::~HistoryStore() = default;

HistoryStore HistoryStore::Open(const std::filesystem::path& path, Mode mode) {
  if (mode == Mode::kReadOnly && !std::filesystem::exists(path)) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("history store '{}' does not exist", path.string()),
                "start the agent (dbmedic monitor) first, or point --history at its "
                "monitor.history_path");
  }
  if (mode == Mode::kReadWrite && path.has_parent_path()) core::MakeDirs(path.parent_path());
  auto db = std::make_unique<Db>();
  sqlite3* raw = nullptr;
  int flags = mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY
                                      : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_FULLMUTEX, nullptr);
  db->handle.reset(raw);
  if (rc != SQLITE_OK) db->Fail("open", path);
  sqlite3_busy_timeout(raw, 5000);
  if (mode == Mode::kReadOnly) {
    db->Exec(fmt::format("PRAGMA cache_size=-{};", kCacheKiB).c_str(), path);
  }
  if (mode == Mode::kReadWrite) {
    db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", path);
    db->Exec(fmt::format("PRAGMA cache_size=-{};", kCacheKiB).c_str(), path);
    db->Exec(kSchema, path);
  }
  return HistoryStore(path, std::move(db));
}

std::int64_t HistoryStore::SeriesId(const std::string& name, const Labels& labels) {
  std::string labels_json = LabelsJson(labels);
  std::string key = name + labels_json;
  if (auto it = db_->series_ids.find(key); it != db_->series_ids.end()) return it->second;
  auto insert = db_->Prepare("INSERT OR IGNORE INTO series(name, labels) VALUES (?, ?)", path_);
  sqlite3_bind_text(insert.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.get(), 2, labels_json.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(insert.get()) != SQLITE_DONE) db_->Fail("insert series", path_);
  auto select = db_->Prepare("SELECT id FROM series WHERE name = ? AND labels = ?", path_);
  sqlite3_bind_text(select.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(select.get(), 2, labels_json.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(select.get()) != SQLITE_ROW) db_->Fail("look up series", path_);
  std::int64_t id = sqlite3_column_int64(select.get(), 0);
  db_->series_ids[key] = id;
  return id;
}

void HistoryStore::Write(const Snapshot& snapshot) {
  std::lock_guard lock(*mu_);
  db_->Exec("BEGIN", path_);
  try {
    auto insert = db_->Prepare(
        "INSERT OR REPLACE INTO samples(series_id, ts, step, value) VALUES (?, ?, 0, ?)", path_);
    for (const auto& family : snapshot) {
      for (const auto& sample : family.samples) {
        sqlite3_reset(insert.get());
        sqlite3_bind_int64(insert.get(), 1, SeriesId(family.name, sample.labels));
        sqlite3_bind_int64(insert.get(), 2, ToMillis(sample.time));
        sqlite3_bind_double(insert.get(), 3, sample.value);
        if (sqlite3_step(insert.get()) != SQLITE_DONE) db_->Fail("insert sample", path_);
      }
    }
    db_->Exec("COMMIT", path_);
  } catch (...) {
    sqlite3_exec(db_->handle.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    db_->series_ids.clear();  // ids inserted in the rolled-back transaction are gone
    throw;
  }
}

std::vector<SeriesPoints> HistoryStore::Query(const std::string& name, TimePoint since,
                                              TimePoint until,
                                              const std::vector<LabelMatcher>& matchers) const {
  std::lock_guard lock(*mu_);
  std::vector<SeriesPoints> out;
  auto series = db_->Prepare("SELECT id, labels FROM series WHERE name = ? ORDER BY labels",
                             path_);
  sqlite3_bind_text(series.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  auto points = db_->Prepare(
      "SELECT ts, avg(value) FROM samples WHERE series_id = ? AND ts BETWEEN ? AND ? "
      "GROUP BY ts ORDER BY ts", path_);
  while (sqlite3_step(series.get()) == SQLITE_ROW) {
    Labels labels = ParseLabelsJson(
        reinterpret_cast<const char*>(sqlite3_column_text(series.get(), 1)));
    bool match = std::all_of(matchers.begin(), matchers.end(),
                             [&](const LabelMatcher& m) { return m.Matches(labels); });
    if (!match) continue;
    SeriesPoints s{name, std::move(labels), {}};
    sqlite3_reset(points.get());
    sqlite3_bind_int64(points.get(), 1, sqlite3_column_int64(series.get(), 0));
    sqlite3_bind_int64(points.get(), 2, ToMillis(since));
    sqlite3_bind_int64(points.get(), 3, ToMillis(until));
    while (sqlite3_step(points.get()) == SQLITE_ROW) {
      s.points.emplace_back(sqlite3_column_int64(points.get(), 0),
                            sqlite3_column_double(points.get(), 1));
    }
    if (!s.points.empty()) out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> HistoryStore::MetricNames() const {
  std::lock_guard lock(*mu_);
  std::vector<std::string> out;
  auto stmt = db_->Prepare("SELECT DISTINCT name FROM series ORDER BY name", path_);
  while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
    out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0)));
  }
  return out;
}

MaintenanceResult HistoryStore::Maintain(TimePoint now, const HistoryPolicy& policy) {
  std::lock_guard lock(*mu_);
  MaintenanceResult result;
  std::int64_t step = std::max<std::int64_t>(1, policy.downsample_step.count());
  // Only whole buckets are folded, so a bucket is never averaged twice.
  std::int64_t cutoff = (ToMillis(now - policy.downsample_after) / step) * step;
  std::int64_t expire = ToMillis(now - policy.retention);
  db_->Exec("BEGIN", path_);
  try {
    auto fold = db_->Prepare(
        "INSERT OR REPLACE INTO samples(series_id, ts, step, value) "
        "SELECT series_id, (ts / ?1) * ?1, ?1, avg(value) FROM samples "
        "WHERE step = 0 AND ts < ?2 GROUP BY series_id, ts / ?1", path_);
    sqlite3_bind_int64(fold.get(), 1, step);
    sqlite3_bind_int64(fold.get(), 2, cutoff);
    if (sqlite3_step(fold.get()) != SQLITE_DONE) db_->Fail("downsample", path_);
    auto drop_raw = db_->Prepare("DELETE FROM samples WHERE step = 0 AND ts < ?", path_);
    sqlite3_bind_int64(drop_raw.get(), 1, cutoff);
    if (sqlite3_step(drop_raw.get()) != SQLITE_DONE) db_->Fail("downsample", path_);
    result.downsampled_rows = sqlite3_changes(db_->handle.get());
    auto drop_old = db_->Prepare("DELETE FROM samples WHERE ts < ?", path_);
    sqlite3_bind_int64(drop_old.get(), 1, expire);
    if (sqlite3_step(drop_old.get()) != SQLITE_DONE) db_->Fail("expire", path_);
    result.expired_rows = sqlite3_changes(db_->handle.get());
    db_->Exec("DELETE FROM series WHERE id NOT IN (SELECT DISTINCT series_id FROM samples)",
              path_);
    db_->Exec("COMMIT", path_);
  } catch (...) {
    sqlite3_exec(db_->handle.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  db_->series_ids.clear();
  return result;
}

HistoryMemory HistoryStore::Memory() const {
  std::lock_guard lock(*mu_);
  HistoryMemory m;
  int current = 0, high = 0;
  sqlite3_db_status(db_->handle.get(), SQLITE_DBSTATUS_CACHE_USED, &current, &high, 0);
  m.cache_bytes = current;
  m.sqlite_bytes = sqlite3_memory_used();
  m.series = db_->series_ids.size();
  return m;
}

void HistoryStore::SaveAlerts(const std::vector<AlertInstance>& alerts) {
  std::lock_guard lock(*mu_);
  db_->Exec("BEGIN", path_);
  try {
    db_->Exec("DELETE FROM alerts", path_);
    auto insert = db_->Prepare(
        "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", path_);
    for (const auto& a : alerts) {
      sqlite3_reset(insert.get());
      std::string fingerprint = a.Fingerprint(), labels = LabelsJson(a.labels);
      std::string state(AlertStateName(a.state));
      sqlite3_bind_text(insert.get(), 1, fingerprint.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert.get(), 2, a.rule.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert.get(), 3, labels.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert.get(), 4, state.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_double(insert.get(), 5, a.value);
      sqlite3_bind_text(insert.get(), 6, a.summary.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(insert.get(), 7, ToMillis(a.active_since));
      sqlite3_bind_int64(insert.get(), 8, ToMillis(a.fired_at));
      sqlite3_bind_int64(insert.get(), 9, ToMillis(a.resolved_at));
      sqlite3_bind_int64(insert.get(), 10, ToMillis(a.last_notified));
      if (sqlite3_step(insert.get()) != SQLITE_DONE) db_->Fail("save alerts", path_);
    }
    db_->Exec("COMMIT", path_);
  } catch (...) {
    sqlite3_exec(db_->handle.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<AlertInstance> HistoryStore::LoadAlerts() const {
  std::lock_guard lock(*mu_);
  std::vector<AlertInstance> out;
  auto stmt = db_->Prepare(
      "SELECT rule, labels, state, value, summary, active_since, fired_at, resolved_at, "
      "last_notified FROM alerts ORDER BY rule, labels", path_);
  auto text = [&](int col) {
    return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), col)));
  };
  while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
    AlertInstance a;
    a.rule = text(0);
    a.labels = ParseLabelsJson(text(1));
    a.state = ParseAlertState(text(2));
    a.value = sqlite3_column_double(stmt.get(), 3);
    a.summary = text(4);
    a.active_since = FromMillis(sqlite3_column_int64(stmt.get(), 5));
    a.fired_at = FromMillis(sqlite3_column_int64(stmt.get(), 6));
    a.resolved_at = FromMillis(sqlite3_column_int64(stmt.get(), 7));
    a.last_notified = FromMillis(sqlite3_column_int64(stmt.get(), 8));
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace dbmedic::monitor
