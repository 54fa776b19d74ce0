// Renderings of a LogReport. JSON is the source of truth; text and HTML are drawn from it.
#include <algorithm>

#include <fmt/format.h>

#include "diagnose/fingerprint.hpp"
#include "diagnose/log_report.hpp"
#include "diagnose/text_table.hpp"

namespace dbmedic::diagnose {
namespace {

using nlohmann::json;

double Round3(double v) { return static_cast<double>(static_cast<long long>(v * 1000 + 0.5)) / 1000; }

std::string_view FormatName(LogFormat f) { return f == LogFormat::kCsv ? "csvlog" : "stderr"; }
std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
    case Compression::kNone: break;
  }
  return "none";
}

json TimeJson(std::int64_t t) { return t == 0 ? json(nullptr) : json(FormatTime(t)); }

json SampleJson(const StatementSample& s) {
  if (s.duration_ms < 0) return nullptr;
  json j = {{"duration_ms", Round3(s.duration_ms)}, {"query", s.query},
            {"time", TimeJson(s.time)},             {"pid", s.pid},
            {"database", s.database},               {"user", s.user}};
  if (!s.parameters.empty()) j["parameters"] = s.parameters;
  if (!s.plan.empty()) j["plan"] = s.plan;
  return j;
}

json StatementsJson(const LogStats& st, std::size_t top) {
  std::vector<std::pair<std::uint64_t, const StatementStats*>> all;
  std::uint64_t executions = 0;
  double total_ms = 0;
  for (const auto& [fp, s] : st.statements) {
    all.emplace_back(fp, &s);
    executions += s.Reported().count;
    total_ms += s.Reported().total_ms;
  }
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) {
    if (a.second->Reported().total_ms != b.second->Reported().total_ms) {
      return a.second->Reported().total_ms > b.second->Reported().total_ms;
    }
    return a.first < b.first;
  });
  json list = json::array();
  for (std::size_t i = 0; i < all.size() && i < top; ++i) {
    const StatementStats& s = *all[i].second;
    const Timing& t = s.Reported();
    json hourly = json::object();
    for (auto [hour, n] : s.hourly) hourly[FormatHour(hour)] = n;
    json j = {{"fingerprint", FingerprintHex(all[i].first)},
              {"query", s.normalized},
              {"count", t.count},
              {"total_ms", Round3(t.total_ms)},
              {"mean_ms", Round3(t.count ? t.total_ms / static_cast<double>(t.count) : 0)},
              {"p50_ms", Round3(t.Quantile(0.50))},
              {"p95_ms", Round3(t.Quantile(0.95))},
              {"p99_ms", Round3(t.Quantile(0.99))},
              {"max_ms", Round3(t.max_ms)},
              {"share", total_ms > 0 ? Round3(t.total_ms / total_ms) : 0},
              {"source", s.timing.count > 0 ? "duration" : "auto_explain"},
              {"plans", s.plan_timing.count},
              {"slowest", SampleJson(s.timing.count > 0 ? s.slowest : s.slowest_plan)},
              {"hourly", hourly}};
    if (s.timing.count > 0 && s.slowest_plan.duration_ms >= 0) {
      j["slowest_plan"] = SampleJson(s.slowest_plan);
    }
    list.push_back(std::move(j));
  }
  return {{"distinct", st.statements.size()}, {"executions", executions},
          {"total_ms", Round3(total_ms)},     {"quantile_accuracy", QuantileSketch::kRelativeAccuracy},
          {"parse_bind_durations", st.parse_bind_durations}, {"top", list}};
}

json LocksJson(const LogStats& st) {
  json waits = json::array();
  for (const auto& [key, lw] : st.lock_waits) {
    waits.push_back({{"lock", lw.lock},
                     {"waits", lw.waits},
                     {"acquired", lw.acquired},
                     {"acquired_total_ms", Round3(lw.acquired_total_ms)},
                     {"max_wait_ms", Round3(lw.max_wait_ms)},
                     {"sample_query", lw.sample_query},
                     {"sample_blocker_pid", lw.sample_blocker_pid},
                     {"sample_blocker_query", lw.sample_blocker_query}});
  }
  json deadlocks = json::array();
  for (const Deadlock& d : st.deadlocks) {
    json sides = json::array();
    for (const Side& s : d.processes) {
      sides.push_back({{"pid", s.pid}, {"waits_for", s.waits_for}, {"blocked_by", s.blocked_by},
                       {"query", s.query}});
    }
    deadlocks.push_back({{"time", TimeJson(d.time)}, {"database", d.database},
                         {"victim_pid", d.victim_pid}, {"processes", sides}});
  }
  json timeouts = json::array();
  for (const LockTimeout& t : st.lock_timeouts) {
    timeouts.push_back({{"time", TimeJson(t.time)}, {"pid", t.pid}, {"database", t.database},
                        {"query", t.query}, {"blocker_pid", t.blocker_pid},
                        {"blocker_query", t.blocker_query}});
  }
  return {{"lock_waits", waits},
          {"deadlocks", {{"count", st.deadlock_count}, {"events", deadlocks}}},
          {"lock_timeouts", {{"count", st.lock_timeout_count}, {"events", timeouts}}}};
}

json TempFilesJson(const LogStats& st, std::size_t top) {
  std::vector<const TempFileStats*> all;
  for (const auto& [fp, t] : st.temp_files) all.push_back(&t);
  std::sort(all.begin(), all.end(), [](auto* a, auto* b) {
    return a->total_bytes != b->total_bytes ? a->total_bytes > b->total_bytes
                                            : a->normalized < b->normalized;
  });
  json list = json::array();
  for (std::size_t i = 0; i < all.size() && i < top; ++i) {
    list.push_back({{"query", all[i]->normalized}, {"count", all[i]->count},
                    {"total_bytes", all[i]->total_bytes}, {"max_bytes", all[i]->max_bytes},
                    {"sample_query", all[i]->sample_query}});
  }
  return {{"count", st.temp_file_count}, {"bytes", st.temp_file_bytes}, {"top", list}};
}

json ErrorsJson(const LogStats& st, std::size_t top) {
  std::vector<const ErrorStats*> all;
  for (const auto& [key, e] : st.errors) all.push_back(&e);
  std::stable_sort(all.begin(), all.end(), [](auto* a, auto* b) { return a->count > b->count; });
  json list = json::array();
  for (std::size_t i = 0; i < all.size() && i < top; ++i) {
    const ErrorStats& e = *all[i];
    list.push_back({{"severity", e.severity}, {"message", e.normalized}, {"count", e.count},
                    {"sample_message", e.sample_message}, {"sample_detail", e.sample_detail},
                    {"sample_statement", e.sample_statement},
                    {"first_time", TimeJson(e.first_time)}, {"last_time", TimeJson(e.last_time)}});
  }
  return list;
}

json HoursJson(const LogStats& st) {
  json list = json::array();
  for (const auto& [hour, h] : st.hours) {
    list.push_back({{"hour", FormatHour(hour)}, {"statements", h.statements},
                    {"statement_ms", Round3(h.statement_ms)}, {"errors", h.errors},
                    {"lock_waits", h.lock_waits}, {"deadlocks", h.deadlocks},
                    {"temp_files", h.temp_files}, {"checkpoints", h.checkpoints}});
  }
  return list;
}

std::string Ms(const json& v) { return fmt::format("{:.3f}", v.get<double>()); }

// The first lines of an auto_explain plan, indented; the rest is in the JSON and HTML reports.
std::string PlanExcerpt(std::string_view plan, std::string_view indent) {
  constexpr std::size_t kLines = 12;
  std::string out;
  std::size_t shown = 0, total = 0, pos = 0;
  while (pos < plan.size()) {
    std::size_t nl = plan.find('\n', pos);
    std::string_view line = plan.substr(pos, nl == std::string_view::npos ? plan.npos : nl - pos);
    pos = nl == std::string_view::npos ? plan.size() : nl + 1;
    if (line.empty()) continue;
    ++total;
    if (shown < kLines) {
      out += fmt::format("{}{}\n", indent, line);
      ++shown;
    }
  }
  if (total > shown) {
    out += fmt::format("{}... {} more line(s): --output json or --html has the whole plan\n",
                       indent, total - shown);
  }
  return out;
}

// The slowest execution of each listed statement as it ran: its literal text and, for the
// extended protocol, the parameters it was bound with (what a user pastes into `explain`).
std::string SlowestSamplesText(const json& top) {
  std::string out;
  for (const json& q : top) {
    const json& slow = q["slowest"];
    if (slow.is_null()) continue;
    out += fmt::format("  {}  {:.3f} ms at {} (pid {}, {}@{}): {}\n",
                       q["fingerprint"].get<std::string>(), slow["duration_ms"].get<double>(),
                       slow["time"].is_null() ? "-" : slow["time"].get<std::string>(),
                       slow["pid"].get<std::int64_t>(), slow["user"].get<std::string>(),
                       slow["database"].get<std::string>(),
                       OneLine(slow["query"].get<std::string>()).substr(0, 300));
    if (slow.contains("parameters")) {
      out += fmt::format("      parameters: {}\n", slow["parameters"].get<std::string>());
    }
    const json& with_plan = slow.contains("plan") ? slow : q.value("slowest_plan", json());
    if (with_plan.is_object() && with_plan.contains("plan")) {
      out += fmt::format("      auto_explain plan ({:.3f} ms):\n",
                         with_plan["duration_ms"].get<double>());
      out += PlanExcerpt(with_plan["plan"].get<std::string>(), "        ");
    }
  }
  if (out.empty()) return out;
  return "\nSlowest execution of each (with its parameters and auto_explain plan)\n" + out;
}

}  // namespace

json LogReportToJson(const LogReport& report, std::size_t top) {
  const LogStats& st = report.stats;
  json files = json::array();
  for (const LogFileInfo& f : report.files) {
    json j = {{"path", f.path.string()}, {"format", FormatName(f.format)},
              {"compression", CompressionName(f.compression)}, {"size", f.size}};
    if (f.format == LogFormat::kStderr) j["log_line_prefix"] = f.log_line_prefix;
    files.push_back(std::move(j));
  }
  const CheckpointStats& c = st.checkpoints;
  json out = {
      {"files", files},
      {"seconds", Round3(report.seconds)},
      {"jobs", report.jobs},
      {"bytes", st.bytes},
      {"lines", st.lines},
      {"entries", st.entries},
      {"unparsed_lines", st.unparsed_lines},
      {"first_time", TimeJson(st.first_time)},
      {"last_time", TimeJson(st.last_time)},
      {"connections", st.connections},
      {"disconnections", st.disconnections},
      {"autovacuums", st.autovacuums},
      {"autoanalyzes", st.autoanalyzes},
      {"statements", StatementsJson(st, top)},
      {"locks", LocksJson(st)},
      {"temp_files", TempFilesJson(st, top)},
      {"checkpoints",
       {{"started", c.started}, {"completed", c.completed}, {"reasons", c.reasons},
        {"buffers_written", c.buffers_written}, {"write_s", Round3(c.write_s)},
        {"sync_s", Round3(c.sync_s)}, {"total_s", Round3(c.total_s)},
        {"max_total_s", Round3(c.max_total_s)}}},
      {"errors", ErrorsJson(st, top)},
      {"hourly", HoursJson(st)},
  };
  return out;
}

std::string LogReportToText(const LogReport& report, std::size_t top) {
  json j = LogReportToJson(report, top);
  std::string out = fmt::format(
      "Log report: {} file(s), {} lines, {} messages ({} unparsed lines), {} .. {}, analysed in "
      "{:.2f} s with {} worker(s)\n",
      report.files.size(), j["lines"].get<std::uint64_t>(), j["entries"].get<std::uint64_t>(),
      j["unparsed_lines"].get<std::uint64_t>(), j["first_time"].is_null() ? "-" : j["first_time"].get<std::string>(),
      j["last_time"].is_null() ? "-" : j["last_time"].get<std::string>(), report.seconds,
      report.jobs);
  const json& s = j["statements"];
  out += fmt::format("\nStatements: {} executions of {} distinct statements, {:.3f} ms in total "
                     "(percentiles within {:.0f}%)\n",
                     s["executions"].get<std::uint64_t>(), s["distinct"].get<std::uint64_t>(),
                     s["total_ms"].get<double>(), QuantileSketch::kRelativeAccuracy * 100);
  std::vector<std::vector<std::string>> rows;
  for (const json& q : s["top"]) {
    rows.push_back({q["fingerprint"], std::to_string(q["count"].get<std::uint64_t>()),
                    Ms(q["total_ms"]), Ms(q["mean_ms"]), Ms(q["p50_ms"]), Ms(q["p95_ms"]),
                    Ms(q["p99_ms"]), Ms(q["max_ms"]),
                    fmt::format("{:.1f}%", q["share"].get<double>() * 100), q["query"]});
  }
  out += RenderTextTable({"fingerprint", "count", "total ms", "mean ms", "p50 ms", "p95 ms",
                          "p99 ms", "max ms", "share", "query"}, rows);
  out += SlowestSamplesText(s["top"]);
  rows.clear();
  for (const json& lw : j["locks"]["lock_waits"]) {
    rows.push_back({lw["lock"], std::to_string(lw["waits"].get<std::uint64_t>()),
                    Ms(lw["max_wait_ms"]), OneLine(lw["sample_query"].get<std::string>()),
                    OneLine(lw["sample_blocker_query"].get<std::string>())});
  }
  out += "\nLock waits (log_lock_waits)\n" +
         RenderTextTable({"lock", "waits", "max ms", "waiting query", "blocker's query"}, rows, 60);
  const json& dl = j["locks"]["deadlocks"];
  out += fmt::format("\nDeadlocks: {}\n", dl["count"].get<std::uint64_t>());
  for (const json& d : dl["events"]) {
    out += fmt::format("  {} database {} (victim pid {})\n",
                       d["time"].is_null() ? "-" : d["time"].get<std::string>(),
                       d["database"].get<std::string>(), d["victim_pid"].get<std::int64_t>());
    for (const json& p : d["processes"]) {
      out += fmt::format("    pid {} waits for {}, blocked by {}: {}\n", p["pid"].get<std::int64_t>(),
                         p["waits_for"].get<std::string>(), p["blocked_by"].get<std::int64_t>(),
                         OneLine(p["query"].get<std::string>()));
    }
  }
  const json& lt = j["locks"]["lock_timeouts"];
  out += fmt::format("\nLock timeouts: {}\n", lt["count"].get<std::uint64_t>());
  for (const json& t : lt["events"]) {
    out += fmt::format("  pid {}: {}  (blocked by pid {}: {})\n", t["pid"].get<std::int64_t>(),
                       OneLine(t["query"].get<std::string>()), t["blocker_pid"].get<std::int64_t>(),
                       OneLine(t["blocker_query"].get<std::string>()));
  }
  const json& tf = j["temp_files"];
  out += fmt::format("\nTemporary files: {} ({} bytes)\n", tf["count"].get<std::uint64_t>(),
                     tf["bytes"].get<std::uint64_t>());
  rows.clear();
  for (const json& t : tf["top"]) {
    rows.push_back({std::to_string(t["count"].get<std::uint64_t>()),
                    std::to_string(t["total_bytes"].get<std::uint64_t>()), t["query"]});
  }
  if (!rows.empty()) out += RenderTextTable({"files", "bytes", "query"}, rows);
  const json& c = j["checkpoints"];
  out += fmt::format("\nCheckpoints: {} started, {} completed, {} buffers written, write {:.3f} s, "
                     "sync {:.3f} s, longest {:.3f} s\n",
                     c["started"].get<std::uint64_t>(), c["completed"].get<std::uint64_t>(),
                     c["buffers_written"].get<std::uint64_t>(), c["write_s"].get<double>(),
                     c["sync_s"].get<double>(), c["max_total_s"].get<double>());
  rows.clear();
  for (const json& e : j["errors"]) {
    rows.push_back({e["severity"], std::to_string(e["count"].get<std::uint64_t>()), e["message"]});
  }
  out += "\nErrors and warnings\n" + RenderTextTable({"severity", "count", "message"}, rows, 100);
  rows.clear();
  for (const json& h : j["hourly"]) {
    rows.push_back({h["hour"], std::to_string(h["statements"].get<std::uint64_t>()),
                    Ms(h["statement_ms"]), std::to_string(h["errors"].get<std::uint64_t>()),
                    std::to_string(h["lock_waits"].get<std::uint64_t>()),
                    std::to_string(h["temp_files"].get<std::uint64_t>()),
                    std::to_string(h["checkpoints"].get<std::uint64_t>())});
  }
  out += "\nBy hour\n" + RenderTextTable({"hour", "statements", "ms", "errors", "lock waits",
                                          "temp files", "checkpoints"}, rows);
  return out;
}

}  // namespace dbmedic::diagnose
