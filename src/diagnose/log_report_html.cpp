// The self-contained HTML page of log-report: inline CSS and SVG, no scripts, no external files.
#include <algorithm>

#include <fmt/format.h>

#include "diagnose/log_report.hpp"
#include "diagnose/text_table.hpp"

namespace dbmedic::diagnose {
namespace {

using nlohmann::json;

constexpr std::string_view kStyle = R"(
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.9em;width:100%}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;white-space:nowrap}
code,pre{font-family:ui-monospace,monospace;font-size:.85em;white-space:pre-wrap}
.bar{fill:#4a78b5}.axis{font-size:10px;fill:#555}
)";

std::string Str(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{:.3f}", v.get<double>());
  return v.dump();
}

std::string Cell(const json& v, bool numeric = false) {
  return fmt::format("<td{}>{}</td>", numeric ? " class=n" : "", HtmlEscape(Str(v)));
}

std::string Code(const std::string& text) { return "<td><code>" + HtmlEscape(text) + "</code></td>"; }

std::string HourlyChart(const json& hours) {
  if (hours.empty()) return "<p>No timed events.</p>";
  double max = 1;
  for (const json& h : hours) max = std::max(max, static_cast<double>(h["statements"].get<std::uint64_t>()));
  const double bar = 18, height = 120;
  std::string svg = fmt::format("<svg width=\"{}\" height=\"{}\" role=\"img\">",
                                // room for the first hour's label under a short chart
                                static_cast<int>(std::max(160.0, bar * static_cast<double>(hours.size()) + 40)),
                                static_cast<int>(height + 30));
  double x = 30;
  for (const json& h : hours) {
    double v = static_cast<double>(h["statements"].get<std::uint64_t>());
    double bh = height * v / max;
    svg += fmt::format("<rect class=bar x=\"{:.0f}\" y=\"{:.0f}\" width=\"{:.0f}\" height=\"{:.0f}\">"
                       "<title>{}: {} statements</title></rect>",
                       x, height - bh, bar - 3, bh, HtmlEscape(h["hour"].get<std::string>()),
                       h["statements"].get<std::uint64_t>());
    x += bar;
  }
  svg += fmt::format("<text class=axis x=\"0\" y=\"10\">{:.0f}</text>", max);
  svg += fmt::format("<text class=axis x=\"30\" y=\"{:.0f}\">{}</text>", height + 14,
                     HtmlEscape(hours.front()["hour"].get<std::string>()));
  return svg + "</svg>";
}

std::string StatementsTable(const json& s) {
  std::string out =
      "<table><tr><th>fingerprint</th><th>count</th><th>total ms</th><th>mean ms</th><th>p50</th>"
      "<th>p95</th><th>p99</th><th>max ms</th><th>share</th><th>query / slowest sample</th></tr>";
  for (const json& q : s["top"]) {
    out += "<tr>" + Cell(q["fingerprint"]) + Cell(q["count"], true) + Cell(q["total_ms"], true) +
           Cell(q["mean_ms"], true) + Cell(q["p50_ms"], true) + Cell(q["p95_ms"], true) +
           Cell(q["p99_ms"], true) + Cell(q["max_ms"], true) +
           fmt::format("<td class=n>{:.1f}%</td>", q["share"].get<double>() * 100) + "<td><code>" +
           HtmlEscape(q["query"].get<std::string>()) + "</code>";
    const json& slow = q["slowest"];
    if (!slow.is_null()) {
      out += fmt::format("<details><summary>slowest: {:.3f} ms at {} (pid {}, {}@{})</summary><pre>{}",
                         slow["duration_ms"].get<double>(), HtmlEscape(Str(slow["time"])),
                         slow["pid"].get<std::int64_t>(), HtmlEscape(Str(slow["user"])),
                         HtmlEscape(Str(slow["database"])),
                         HtmlEscape(slow["query"].get<std::string>()));
      if (slow.contains("parameters")) out += "\n-- parameters: " + HtmlEscape(Str(slow["parameters"]));
      if (slow.contains("plan")) out += "\n\n" + HtmlEscape(Str(slow["plan"]));
      out += "</pre></details>";
    }
    out += "</td></tr>";
  }
  return out + "</table>";
}

std::string LocksSection(const json& locks) {
  std::string out = "<h2>Lock waits</h2><table><tr><th>lock</th><th>waits</th><th>max ms</th>"
                    "<th>waiting query</th><th>blocker's query</th></tr>";
  for (const json& lw : locks["lock_waits"]) {
    out += "<tr>" + Cell(lw["lock"]) + Cell(lw["waits"], true) + Cell(lw["max_wait_ms"], true) +
           Code(lw["sample_query"]) + Code(lw["sample_blocker_query"]) + "</tr>";
  }
  out += "</table>";
  out += fmt::format("<h2>Deadlocks ({})</h2>", locks["deadlocks"]["count"].get<std::uint64_t>());
  for (const json& d : locks["deadlocks"]["events"]) {
    out += fmt::format("<p>{} in database {}, victim pid {}</p><table><tr><th>pid</th>"
                       "<th>waits for</th><th>blocked by</th><th>query</th></tr>",
                       HtmlEscape(Str(d["time"])), HtmlEscape(Str(d["database"])),
                       d["victim_pid"].get<std::int64_t>());
    for (const json& p : d["processes"]) {
      out += "<tr>" + Cell(p["pid"], true) + Cell(p["waits_for"]) + Cell(p["blocked_by"], true) +
             Code(p["query"]) + "</tr>";
    }
    out += "</table>";
  }
  out += fmt::format("<h2>Lock timeouts ({})</h2><table><tr><th>time</th><th>pid</th><th>query</th>"
                     "<th>blocker</th><th>blocker's query</th></tr>",
                     locks["lock_timeouts"]["count"].get<std::uint64_t>());
  for (const json& t : locks["lock_timeouts"]["events"]) {
    out += "<tr>" + Cell(t["time"]) + Cell(t["pid"], true) + Code(t["query"]) +
           Cell(t["blocker_pid"], true) + Code(t["blocker_query"]) + "</tr>";
  }
  return out + "</table>";
}

std::string RestSection(const json& j) {
  std::string out = fmt::format("<h2>Temporary files ({}, {} bytes)</h2><table><tr><th>files</th>"
                                "<th>bytes</th><th>max bytes</th><th>query</th></tr>",
                                j["temp_files"]["count"].get<std::uint64_t>(),
                                j["temp_files"]["bytes"].get<std::uint64_t>());
  for (const json& t : j["temp_files"]["top"]) {
    out += "<tr>" + Cell(t["count"], true) + Cell(t["total_bytes"], true) +
           Cell(t["max_bytes"], true) + Code(t["query"]) + "</tr>";
  }
  out += "</table>";
  const json& c = j["checkpoints"];
  out += fmt::format("<h2>Checkpoints</h2><p>{} started, {} completed, {} buffers written; write "
                     "{:.3f} s, sync {:.3f} s, longest {:.3f} s. Reasons: {}</p>",
                     c["started"].get<std::uint64_t>(), c["completed"].get<std::uint64_t>(),
                     c["buffers_written"].get<std::uint64_t>(), c["write_s"].get<double>(),
                     c["sync_s"].get<double>(), c["max_total_s"].get<double>(),
                     HtmlEscape(c["reasons"].dump()));
  out += "<h2>Errors and warnings</h2><table><tr><th>severity</th><th>count</th><th>message</th>"
         "<th>sample statement</th></tr>";
  for (const json& e : j["errors"]) {
    out += "<tr>" + Cell(e["severity"]) + Cell(e["count"], true) + Code(e["message"]) +
           Code(e["sample_statement"]) + "</tr>";
  }
  out += "</table><h2>By hour</h2><table><tr><th>hour</th><th>statements</th><th>ms</th>"
         "<th>errors</th><th>lock waits</th><th>deadlocks</th><th>temp files</th>"
         "<th>checkpoints</th></tr>";
  for (const json& h : j["hourly"]) {
    out += "<tr>" + Cell(h["hour"]) + Cell(h["statements"], true) + Cell(h["statement_ms"], true) +
           Cell(h["errors"], true) + Cell(h["lock_waits"], true) + Cell(h["deadlocks"], true) +
           Cell(h["temp_files"], true) + Cell(h["checkpoints"], true) + "</tr>";
  }
  return out + "</table>";
}

}  // namespace

std::string LogReportToHtml(const LogReport& report, std::size_t top) {
  json j = LogReportToJson(report, top);
  std::string files;
  for (const json& f : j["files"]) files += HtmlEscape(f["path"].get<std::string>()) + " ";
  std::string out = fmt::format(
      "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>dbmedic log report</title>"
      "<style>{}</style></head><body><h1>dbmedic log report</h1><p>Files: {}<br>{} lines, {} "
      "messages, {} .. {}; {} connections.</p>",
      kStyle, files, j["lines"].get<std::uint64_t>(), j["entries"].get<std::uint64_t>(),
      HtmlEscape(Str(j["first_time"])), HtmlEscape(Str(j["last_time"])),
      j["connections"].get<std::uint64_t>());
  const json& s = j["statements"];
  out += fmt::format("<h2>Statements per hour</h2>{}<h2>Slowest statements by total time ({} "
                     "executions, {} distinct)</h2><p>Percentiles from a log-bucket sketch, "
                     "within {:.0f}%.</p>",
                     HourlyChart(j["hourly"]), s["executions"].get<std::uint64_t>(),
                     s["distinct"].get<std::uint64_t>(), QuantileSketch::kRelativeAccuracy * 100);
  out += StatementsTable(s) + LocksSection(j["locks"]) + RestSection(j);
  return out + "</body></html>\n";
}

}  // namespace dbmedic::diagnose
