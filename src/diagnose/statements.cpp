#include "diagnose/statements.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"

namespace dbmedic::diagnose {
namespace {

using nlohmann::json;
using Key = std::tuple<std::int64_t, std::int64_t, std::int64_t, bool>;

Key KeyOf(const StatementCounters& c) { return {c.userid, c.dbid, c.queryid, c.toplevel}; }

// "a, \"b c\"" -> {"a", "b c"}: the items of a list setting as the server splits them.
std::vector<std::string> SplitList(std::string_view list) {
  std::vector<std::string> items;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t comma = list.find(',', pos);
    std::string_view item = list.substr(pos, comma == std::string_view::npos ? list.npos : comma - pos);
    while (!item.empty() && (item.front() == ' ' || item.front() == '"')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '"')) item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return items;
}

}  // namespace

std::string PgStatStatementsSchema(pg::Connection& conn) {
  pg::Result r = conn.Exec(
      "/* dbmedic top-queries */ SELECT current_setting('shared_preload_libraries'), "
      "current_database(), (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
      "ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements')");
  std::string preload = r.GetString(0, 0);
  std::string db = r.GetString(0, 1);
  std::string schema = r.IsNull(0, 2) ? std::string() : r.GetString(0, 2);
  std::vector<std::string> libraries = SplitList(preload);
  bool loaded = std::find(libraries.begin(), libraries.end(), "pg_stat_statements") != libraries.end();
  if (loaded && !schema.empty()) return schema;
  std::string preload_step = fmt::format(
      "add it to shared_preload_libraries ({}; or edit postgresql.conf) and restart PostgreSQL",
      PreloadCommand(preload));
  std::string create_step =
      fmt::format("run CREATE EXTENSION pg_stat_statements; in database '{}'", db);
  if (!loaded && schema.empty()) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("pg_stat_statements is not available on database '{}': it is not in "
                            "shared_preload_libraries (now '{}') and the extension is not created",
                            db, preload),
                fmt::format("{}, then {}", preload_step, create_step));
  }
  if (!loaded) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("pg_stat_statements is created in database '{}' but not loaded: it "
                            "is not in shared_preload_libraries (now '{}')",
                            db, preload),
                preload_step);
  }
  throw Error(ErrorCode::kNotFound,
              fmt::format("pg_stat_statements is loaded but the extension is not created in "
                          "database '{}'",
                          db),
              create_step);
}

std::string PreloadCommand(std::string_view current) {
  std::vector<std::string> items = SplitList(current);
  items.push_back("pg_stat_statements");
  std::vector<std::string> literals;
  for (const std::string& item : items) literals.push_back(pg::QuoteLiteral(item));
  return fmt::format("ALTER SYSTEM SET shared_preload_libraries = {};", fmt::join(literals, ", "));
}

namespace {

double SortValue(const StatementDelta& d, StatementOrder order) {
  const StatementCounters& c = d.counters;
  switch (order) {
    case StatementOrder::kTotal: return c.total_ms;
    case StatementOrder::kMean: return d.mean_ms;
    case StatementOrder::kCalls: return static_cast<double>(c.calls);
    case StatementOrder::kIo:
      return static_cast<double>(c.shared_blks_read + c.temp_blks_read + c.temp_blks_written);
    case StatementOrder::kRows: return static_cast<double>(c.rows);
  }
  return 0;
}

json CountersToJson(const StatementCounters& c) {
  return {{"userid", c.userid},     {"dbid", c.dbid},         {"queryid", c.queryid},
          {"toplevel", c.toplevel}, {"user", c.user},         {"database", c.database},
          {"query", c.query},       {"calls", c.calls},       {"total_ms", c.total_ms},
          {"max_ms", c.max_ms},     {"rows", c.rows},         {"shared_blks_hit", c.shared_blks_hit},
          {"shared_blks_read", c.shared_blks_read},           {"temp_blks_read", c.temp_blks_read},
          {"temp_blks_written", c.temp_blks_written}};
}

StatementCounters CountersFromJson(const json& j) {
  StatementCounters c;
  c.userid = j.at("userid");
  c.dbid = j.at("dbid");
  c.queryid = j.at("queryid");
  c.toplevel = j.at("toplevel");
  c.user = j.at("user");
  c.database = j.at("database");
  c.query = j.at("query");
  c.calls = j.at("calls");
  c.total_ms = j.at("total_ms");
  c.max_ms = j.at("max_ms");
  c.rows = j.at("rows");
  c.shared_blks_hit = j.at("shared_blks_hit");
  c.shared_blks_read = j.at("shared_blks_read");
  c.temp_blks_read = j.at("temp_blks_read");
  c.temp_blks_written = j.at("temp_blks_written");
  return c;
}

std::int64_t Millis(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

StatementOrder ParseStatementOrder(std::string_view text) {
  if (text == "total") return StatementOrder::kTotal;
  if (text == "mean") return StatementOrder::kMean;
  if (text == "calls") return StatementOrder::kCalls;
  if (text == "io") return StatementOrder::kIo;
  if (text == "rows") return StatementOrder::kRows;
  throw Error(ErrorCode::kUsage, fmt::format("unknown order '{}' for --by", text),
              "use one of total, mean, calls, io, rows");
}

StatementSnapshot TakeStatementSnapshot(pg::Connection& conn) {
  std::string schema = PgStatStatementsSchema(conn);
  // The tag leaves dbmedic's own statements (these two) out of the deltas it reports.
  pg::Result r = conn.Exec(fmt::format(
      "/* dbmedic top-queries */ SELECT s.userid, s.dbid, s.queryid, s.toplevel, coalesce(r.rolname, '') AS rolname, "
      "coalesce(d.datname, '') AS datname, s.query, s.calls, s.total_exec_time, s.max_exec_time, "
      "s.rows, s.shared_blks_hit, s.shared_blks_read, s.temp_blks_read, s.temp_blks_written "
      "FROM {}.pg_stat_statements s LEFT JOIN pg_roles r ON r.oid = s.userid "
      "LEFT JOIN pg_database d ON d.oid = s.dbid WHERE s.queryid IS NOT NULL "
      "AND s.query NOT LIKE '/* dbmedic top-queries */%'",
      pg::QuoteIdent(schema)));
  StatementSnapshot snap;
  snap.taken = Clock::now();
  snap.rows.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    StatementCounters c;
    c.userid = r.GetInt(i, 0);
    c.dbid = r.GetInt(i, 1);
    c.queryid = r.GetInt(i, 2);
    c.toplevel = r.GetBool(i, 3);
    c.user = r.GetString(i, 4);
    c.database = r.GetString(i, 5);
    c.query = r.GetString(i, 6);
    c.calls = r.GetInt(i, 7);
    c.total_ms = r.GetDouble(i, 8);
    c.max_ms = r.GetDouble(i, 9);
    c.rows = r.GetInt(i, 10);
    c.shared_blks_hit = r.GetInt(i, 11);
    c.shared_blks_read = r.GetInt(i, 12);
    c.temp_blks_read = r.GetInt(i, 13);
    c.temp_blks_written = r.GetInt(i, 14);
    snap.rows.push_back(std::move(c));
  }
  return snap;
}

TopStatements DiffSnapshots(const StatementSnapshot& before, const StatementSnapshot& after,
                            StatementOrder order, std::size_t limit) {
  std::map<Key, const StatementCounters*> old;
  for (const auto& c : before.rows) old[KeyOf(c)] = &c;
  TopStatements out;
  out.from = before.taken;
  out.to = after.taken;
  std::vector<StatementDelta> all;
  for (const auto& now : after.rows) {
    StatementDelta d;
    d.counters = now;
    auto it = old.find(KeyOf(now));
    if (it != old.end() && it->second->calls <= now.calls) {
      const StatementCounters& b = *it->second;
      StatementCounters& c = d.counters;
      c.calls -= b.calls;
      c.total_ms -= b.total_ms;
      c.rows -= b.rows;
      c.shared_blks_hit -= b.shared_blks_hit;
      c.shared_blks_read -= b.shared_blks_read;
      c.temp_blks_read -= b.temp_blks_read;
      c.temp_blks_written -= b.temp_blks_written;
    }
    if (d.counters.calls <= 0) continue;
    d.mean_ms = d.counters.total_ms / static_cast<double>(d.counters.calls);
    out.total_ms += d.counters.total_ms;
    out.total_calls += d.counters.calls;
    all.push_back(std::move(d));
  }
  for (auto& d : all) d.share = out.total_ms > 0 ? d.counters.total_ms / out.total_ms : 0;
  std::sort(all.begin(), all.end(), [order](const auto& a, const auto& b) {
    double va = SortValue(a, order), vb = SortValue(b, order);
    return va != vb ? va > vb : a.counters.queryid < b.counters.queryid;
  });
  if (all.size() > limit) all.resize(limit);
  out.top = std::move(all);
  return out;
}

void StatementSnapshotStore::Add(StatementSnapshot snapshot) {
  snapshots_.push_back(std::move(snapshot));
  Clock::time_point newest = snapshots_.back().taken;
  while (snapshots_.size() > max_snapshots_ ||
         (snapshots_.size() > 1 && newest - snapshots_.front().taken > max_age_)) {
    snapshots_.pop_front();
  }
}

const StatementSnapshot* StatementSnapshotStore::AtOrBefore(Clock::time_point time) const {
  const StatementSnapshot* found = nullptr;
  for (const auto& s : snapshots_) {
    if (s.taken <= time) found = &s;
  }
  return found;
}

const StatementSnapshot* StatementSnapshotStore::Oldest() const {
  return snapshots_.empty() ? nullptr : &snapshots_.front();
}

const StatementSnapshot* StatementSnapshotStore::Newest() const {
  return snapshots_.empty() ? nullptr : &snapshots_.back();
}

void StatementSnapshotStore::Save(const std::filesystem::path& path) const {
  json snaps = json::array();
  for (const auto& s : snapshots_) {
    json rows = json::array();
    for (const auto& c : s.rows) rows.push_back(CountersToJson(c));
    snaps.push_back({{"taken_ms", Millis(s.taken)}, {"rows", std::move(rows)}});
  }
  json doc = {{"format", "dbmedic-statement-snapshots"}, {"version", 1}, {"snapshots", snaps}};
  core::AtomicWriteFile(path, doc.dump());
}

StatementSnapshotStore StatementSnapshotStore::Load(const std::filesystem::path& path,
                                                    std::size_t max_snapshots,
                                                    std::chrono::seconds max_age) {
  std::string text = core::ReadFile(path);
  StatementSnapshotStore store(max_snapshots, max_age);
  try {
    json doc = json::parse(text);
    if (doc.at("format") != "dbmedic-statement-snapshots" || doc.at("version") != 1) {
      throw Error(ErrorCode::kCorrupt,
                  fmt::format("'{}' is not a version 1 statement snapshot file", path.string()),
                  "point diagnose.snapshot_file at the file the agent writes");
    }
    for (const json& s : doc.at("snapshots")) {
      StatementSnapshot snap;
      snap.taken = Clock::time_point(std::chrono::milliseconds(s.at("taken_ms").get<std::int64_t>()));
      for (const json& row : s.at("rows")) snap.rows.push_back(CountersFromJson(row));
      store.Add(std::move(snap));
    }
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("unable to read statement snapshot file '{}': {}", path.string(),
                            e.what()),
                "remove the file; the agent writes a new one");
  }
  return store;
}

json TopStatementsToJson(const TopStatements& top) {
  json rows = json::array();
  for (const auto& d : top.top) {
    json j = CountersToJson(d.counters);
    j["mean_ms"] = d.mean_ms;
    j["share"] = d.share;
    j.erase("userid");
    j.erase("dbid");
    rows.push_back(std::move(j));
  }
  double seconds = std::chrono::duration<double>(top.to - top.from).count();
  return {{"from_ms", Millis(top.from)}, {"to_ms", Millis(top.to)},
          {"interval_s", seconds},       {"total_ms", top.total_ms},
          {"total_calls", top.total_calls}, {"statements", rows}};
}

}  // namespace dbmedic::diagnose
