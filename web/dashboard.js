// dbmedic dashboard: charts over the agent's history (/api/series), the alert list
// (/api/alerts), top queries (/api/top-queries) and the wait profile (/api/waits). Plain JS and SVG drawn here; no external code (the agent may have no internet).
"use strict";

const CHARTS = [
  { id: "cpu", title: "CPU (fraction of all cores)", name: "dbmedic_host_cpu_usage_ratio",
    match: ["mode=~user|system|iowait|steal"], label: (l) => l.mode },
  { id: "iops-read", title: "Disk reads per second", name: "dbmedic_host_disk_reads_per_second",
    label: (l) => l.device },
  { id: "iops-write", title: "Disk writes per second", name: "dbmedic_host_disk_writes_per_second",
    label: (l) => l.device },
  { id: "tps", title: "Transactions per second", name: "dbmedic_pg_transactions_per_second",
    label: (l) => l.target },
  { id: "connections", title: "Connections by state", name: "dbmedic_pg_connections",
    label: (l) => l.target + " " + l.state },
  { id: "replication-lag", title: "Replication lag (replay, seconds)",
    name: "dbmedic_pg_replication_lag_seconds", match: ["kind=replay"],
    label: (l) => l.target + " \u2192 " + l.standby },
  { id: "rpo", title: "RPO (seconds of WAL not archived)", name: "dbmedic_pg_rpo_seconds",
    label: (l) => l.target },
];

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
  "#17becf", "#7f7f7f", "#bcbd22"];
const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 460, HEIGHT = 180, PAD_LEFT = 48, PAD_BOTTOM = 18, PAD_TOP = 6;

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

function formatValue(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
  if (a >= 10 || v === 0) return v.toFixed(0);
  return v.toPrecision(2);
}

function formatTime(ms) {
  const d = new Date(ms);
  return d.toTimeString().slice(0, 5);
}

// Draws every series of one chart; returns the number of points drawn.
function drawChart(panel, spec, series) {
  const old = panel.querySelector("svg");
  if (old) old.remove();
  const legend = panel.querySelector(".legend");
  legend.textContent = "";
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    preserveAspectRatio: "none", "data-chart": spec.id });
  let points = 0, tMin = Infinity, tMax = -Infinity, vMax = 0;
  for (const s of series) {
    for (const [t, v] of s.points) {
      tMin = Math.min(tMin, t); tMax = Math.max(tMax, t); vMax = Math.max(vMax, v);
    }
  }
  if (vMax <= 0) vMax = 1;
  if (!isFinite(tMin)) { tMin = Date.now() - 1000; tMax = Date.now(); }
  if (tMax <= tMin) { tMin -= 1000; tMax += 1000; }
  const x = (t) => PAD_LEFT + (t - tMin) / (tMax - tMin) * (WIDTH - PAD_LEFT - 4);
  const y = (v) => HEIGHT - PAD_BOTTOM - v / vMax * (HEIGHT - PAD_BOTTOM - PAD_TOP);
  for (let i = 0; i <= 4; i++) {
    const v = vMax * i / 4, yy = y(v);
    chart.append(svg("line", { class: "grid", x1: PAD_LEFT, x2: WIDTH, y1: yy, y2: yy }));
    const label = svg("text", { x: PAD_LEFT - 4, y: yy + 3, "text-anchor": "end" });
    label.textContent = formatValue(v);
    chart.append(label);
  }
  for (const [t, anchor] of (isFinite(tMin) ? [[tMin, "start"], [tMax, "end"]] : [])) {
    const label = svg("text", { x: x(t), y: HEIGHT - 4, "text-anchor": anchor });
    label.textContent = formatTime(t);
    chart.append(label);
  }
  chart.append(svg("line", { class: "axis", x1: PAD_LEFT, x2: PAD_LEFT, y1: PAD_TOP,
    y2: HEIGHT - PAD_BOTTOM }));
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const coords = s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    if (coords.length === 1) coords.push(coords[0]);
    chart.append(svg("polyline", { points: coords.join(" "), stroke: color,
      "data-series": spec.label(s.labels) }));
    if (s.points.length > 0) {  // the latest point, visible even when it is the only one
      const [t, v] = s.points[s.points.length - 1];
      chart.append(svg("circle", { cx: x(t), cy: y(v), r: 2.5, fill: color }));
    }
    points += s.points.length;
    const item = document.createElement("span");
    item.style.setProperty("--c", color);
    item.textContent = spec.label(s.labels);
    legend.append(item);
  });
  chart.setAttribute("data-points", String(points));
  panel.querySelector(".empty").hidden = points > 0;
  panel.insertBefore(chart, legend);
  return points;
}

function makePanel(spec) {
  const panel = document.createElement("div");
  panel.className = "panel";
  panel.id = "panel-" + spec.id;
  panel.innerHTML = `<h3></h3><p class="empty">no data yet</p><div class="legend"></div>`;
  panel.querySelector("h3").textContent = spec.title;
  document.getElementById("charts").append(panel);
  return panel;
}

async function fetchJson(url) {
  const res = await fetch(url, { credentials: "same-origin" });
  if (!res.ok) throw new Error(url + ": HTTP " + res.status);
  return res.json();
}

async function refreshCharts(range) {
  await Promise.all(CHARTS.map(async (spec) => {
    const params = new URLSearchParams({ name: spec.name, since: range });
    for (const m of spec.match || []) params.append("match", m);
    try {
      const series = await fetchJson("api/series?" + params);
      drawChart(document.getElementById("panel-" + spec.id), spec, series);
    } catch (e) {
      console.error(e);
    }
  }));
}

async function refreshAlerts() {
  const body = document.querySelector("#alerts tbody");
  const alerts = await fetchJson("api/alerts");
  body.textContent = "";
  const order = { firing: 0, pending: 1, resolved: 2 };
  alerts.sort((a, b) => order[a.state] - order[b.state]);
  for (const a of alerts) {
    const row = document.createElement("tr");
    row.className = "alert state-" + a.state;
    const since = a.state === "resolved" ? a.resolved_at
      : a.state === "firing" ? a.fired_at : a.active_since;
    for (const text of [a.state, a.alertname, a.labels.severity, a.summary, since]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    body.append(row);
  }
  if (alerts.length === 0) {
    body.innerHTML = `<tr class="none"><td colspan="5">no alerts</td></tr>`;
  }
}

// Fills a table body with rows of cell texts; the table's data-rows says how many (for tests).
function fillTable(id, rows, noteId, note) {
  const table = document.getElementById(id);
  const body = table.querySelector("tbody");
  body.textContent = "";
  for (const cells of rows) {
    const row = document.createElement("tr");
    for (const cell of cells) {
      const td = document.createElement("td");
      if (cell instanceof Node) td.append(cell); else td.textContent = cell;
      row.append(td);
    }
    body.append(row);
  }
  table.setAttribute("data-rows", String(rows.length));
  document.getElementById(noteId).textContent = note;
}

function shareBar(share) {
  const bar = document.createElement("span");
  bar.className = "bar";
  bar.style.width = Math.round(share * 100) + "px";
  return bar;
}

async function refreshTopQueries(range) {
  try {
    const top = await fetchJson("api/top-queries?" + new URLSearchParams({ since: range }));
    const rows = top.statements.map((q) => [q.query.replace(/\s+/g, " ").slice(0, 160), q.calls,
      q.total_ms.toFixed(1), q.mean_ms.toFixed(2), q.rows, (q.share * 100).toFixed(1) + "%"]);
    fillTable("top-queries", rows, "top-queries-note",
      `${top.total_calls} calls, ${top.total_ms.toFixed(0)} ms over the last ` +
      `${Math.round(top.interval_s)} s (target ${top.target})`);
  } catch (e) {
    fillTable("top-queries", [], "top-queries-note", "no data: " + e.message);
  }
}

async function refreshWaits(range) {
  try {
    const w = await fetchJson("api/waits?" + new URLSearchParams({ since: range }));
    const rows = w.by_event.map((e) => [e.event, e.detail, e.seconds.toFixed(1),
      (e.share * 100).toFixed(1) + "%", shareBar(e.share)]);
    fillTable("waits", rows, "waits-note",
      `${w.samples} session samples in ${w.snapshots} rounds, ` +
      `${w.average_active_sessions.toFixed(2)} active sessions on average (target ${w.target})`);
  } catch (e) {
    fillTable("waits", [], "waits-note", "no data: " + e.message);
  }
}

async function refresh() {
  const range = document.getElementById("range").value;
  await Promise.all([refreshCharts(range), refreshAlerts().catch((e) => console.error(e)),
    refreshTopQueries(range), refreshWaits(range)]);
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  document.body.setAttribute("data-rendered", "true");
}

CHARTS.forEach(makePanel);
document.getElementById("range").addEventListener("change", refresh);
refresh();
setInterval(refresh, 15000);
