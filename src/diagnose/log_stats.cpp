#include "diagnose/log_stats.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "diagnose/fingerprint.hpp"

namespace dbmedic::diagnose {
namespace {

constexpr std::string_view kUnknownStatement = "(statement not in the log)";

double ParseDouble(std::string_view s) {
  double value = 0;
  std::from_chars(s.data(), s.data() + s.size(), value);
  return value;
}

std::int64_t ParseInt(std::string_view s) {
  std::int64_t value = 0;
  std::from_chars(s.data(), s.data() + s.size(), value);
  return value;
}

// The number right after `key` in `text` ("write=0.003 s" with key "write="), 0 if absent.
double NumberAfter(std::string_view text, std::string_view key) {
  std::size_t pos = text.find(key);
  return pos == std::string_view::npos ? 0 : ParseDouble(text.substr(pos + key.size()));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// The statement text of an auto_explain plan (text or JSON format).
std::string QueryOfPlan(std::string_view plan) {
  plan = Trim(plan);
  if (plan.starts_with("{")) {
    constexpr std::string_view kKey = "\"Query Text\": \"";
    std::size_t pos = plan.find(kKey);
    if (pos == std::string_view::npos) return {};
    std::string out;
    for (std::size_t i = pos + kKey.size(); i < plan.size() && plan[i] != '"'; ++i) {
      if (plan[i] == '\\' && i + 1 < plan.size()) {
        char c = plan[++i];
        out.push_back(c == 'n' ? '\n' : c == 't' ? '\t' : c);
      } else {
        out.push_back(plan[i]);
      }
    }
    return out;
  }
  constexpr std::string_view kKey = "Query Text: ";
  std::size_t pos = plan.find(kKey);
  if (pos == std::string_view::npos) return {};
  std::string_view rest = plan.substr(pos + kKey.size());
  std::size_t end = 0;
  while (end < rest.size()) {  // the query ends where the first plan node line starts
    std::size_t nl = rest.find('\n', end);
    std::size_t next = nl == std::string_view::npos ? rest.size() : nl + 1;
    std::string_view following = rest.substr(next, rest.find('\n', next) - next);
    if (nl == std::string_view::npos || following.find("(cost=") != std::string_view::npos ||
        following.find("(actual") != std::string_view::npos) {
      end = nl == std::string_view::npos ? rest.size() : nl;
      break;
    }
    end = next;
  }
  return std::string(rest.substr(0, end));
}

// "Process holding the lock: 1235. Wait queue: 1234." -> 1235.
std::int64_t HolderFromDetail(std::string_view detail) {
  std::size_t pos = detail.find("holding the lock: ");
  if (pos == std::string_view::npos) return 0;
  return ParseInt(detail.substr(pos + 18));
}

// "transaction 745" -> "transaction"; "tuple (0,1) of relation 16384 of database 5" -> "tuple".
std::string_view ObjectKind(std::string_view object) {
  std::size_t end = object.find_first_of("0123456789([");
  return Trim(object.substr(0, end));
}

}  // namespace

void Timing::Add(double ms) {
  min_ms = count == 0 ? ms : std::min(min_ms, ms);
  ++count;
  total_ms += ms;
  max_ms = std::max(max_ms, ms);
  sketch.Add(ms);
}

void Timing::Merge(const Timing& other) {
  if (other.count == 0) return;
  min_ms = count == 0 ? other.min_ms : std::min(min_ms, other.min_ms);
  count += other.count;
  total_ms += other.total_ms;
  max_ms = std::max(max_ms, other.max_ms);
  sketch.Merge(other.sketch);
}

double Timing::Quantile(double q) const {
  if (count == 0) return 0;
  return std::clamp(sketch.Quantile(q), min_ms, max_ms);
}

HourStats& LogAnalyzer::Hour(std::int64_t time) {
  std::int64_t hour = time - ((time % 3600) + 3600) % 3600;
  return stats_.hours[hour];
}

void LogAnalyzer::Consume(const LogEntry& e) {
  if (e.time != 0) {
    if (stats_.first_time == 0 || e.time < stats_.first_time) stats_.first_time = e.time;
    stats_.last_time = std::max(stats_.last_time, e.time);
  }
  switch (e.severity) {
    case Severity::kLog: OnLog(e, e.message); break;
    case Severity::kError: case Severity::kFatal: case Severity::kPanic:
    case Severity::kWarning:
      OnProblem(e);
      break;
    default: break;
  }
}

void LogAnalyzer::OnLog(const LogEntry& e, std::string_view msg) {
  if (msg.starts_with("duration: ")) return OnDuration(e, msg.substr(10));
  if (msg.starts_with("statement: ")) {
    pending_statement_[e.pid].assign(msg.substr(11));
    return;
  }
  if (msg.starts_with("process ")) {
    if (msg.find(" still waiting for ") != std::string_view::npos) return OnLockWait(e, msg, false);
    if (msg.find(" acquired ") != std::string_view::npos) return OnLockWait(e, msg, true);
    return;
  }
  if (msg.starts_with("temporary file: ")) return OnTempFile(e, msg);
  if (msg.starts_with("checkpoint ") || msg.starts_with("restartpoint ")) {
    if (msg.find(" complete: ") != std::string_view::npos) Hour(e.time).checkpoints++;
    return OnCheckpoint(msg);
  }
  if (msg.starts_with("connection authorized")) {
    ++stats_.connections;
  } else if (msg.starts_with("disconnection: ")) {
    ++stats_.disconnections;
    last_statement_.erase(e.pid);
    pending_statement_.erase(e.pid);
    blocker_of_.erase(e.pid);
  } else if (msg.starts_with("automatic vacuum of table")) {
    ++stats_.autovacuums;
  } else if (msg.starts_with("automatic analyze of table")) {
    ++stats_.autoanalyzes;
  }
}

void LogAnalyzer::OnDuration(const LogEntry& e, std::string_view rest) {
  std::size_t ms_end = rest.find(" ms");
  if (ms_end == std::string_view::npos) return;
  double ms = ParseDouble(rest.substr(0, ms_end));
  rest.remove_prefix(ms_end + 3);
  if (rest.empty()) {  // log_duration: the statement came earlier from log_statement
    auto it = pending_statement_.find(e.pid);
    if (it == pending_statement_.end()) return;
    std::string sql = std::move(it->second);
    pending_statement_.erase(it);
    return OnStatement(e, ms, sql, false, {});
  }
  if (!rest.starts_with("  ")) return;
  rest.remove_prefix(2);
  if (rest.starts_with("statement: ")) return OnStatement(e, ms, rest.substr(11), false, {});
  if (rest.starts_with("execute ")) {
    std::size_t colon = rest.find(": ");
    if (colon == std::string_view::npos) return;
    return OnStatement(e, ms, rest.substr(colon + 2), false, {});
  }
  if (rest.starts_with("parse ") || rest.starts_with("bind ")) {
    ++stats_.parse_bind_durations;
    return;
  }
  if (rest.starts_with("plan:")) {
    std::string_view plan = Trim(rest.substr(5));
    std::string sql = QueryOfPlan(plan);
    if (!sql.empty()) OnStatement(e, ms, sql, true, plan);
  }
}

void LogAnalyzer::OnStatement(const LogEntry& e, double ms, std::string_view sql, bool is_plan,
                              std::string_view plan) {
  std::string normalized = NormalizeQuery(sql);
  StatementStats& st = stats_.statements[FingerprintOf(normalized)];
  if (st.normalized.empty()) st.normalized = std::move(normalized);
  StatementSample& slowest = is_plan ? st.slowest_plan : st.slowest;
  (is_plan ? st.plan_timing : st.timing).Add(ms);
  if (ms > slowest.duration_ms) {
    slowest.duration_ms = ms;
    slowest.query.assign(sql);
    std::string_view detail = e.detail;
    slowest.parameters.assign(detail.starts_with("parameters: ") ? detail.substr(12)
                                                                  : std::string_view());
    slowest.plan.assign(plan);
    slowest.time = e.time;
    slowest.pid = e.pid;
    slowest.database = e.database;
    slowest.user = e.user;
  }
  if (is_plan) return;
  std::int64_t hour = e.time - ((e.time % 3600) + 3600) % 3600;
  ++st.hourly[hour];
  HourStats& h = Hour(e.time);
  ++h.statements;
  h.statement_ms += ms;
  Resolve(e.pid, sql);
  Remember(e.pid, sql);
}

void LogAnalyzer::Remember(std::int64_t pid, std::string_view sql) {
  if (last_statement_.size() >= kMaxRemembered) last_statement_.clear();
  last_statement_[pid].assign(sql);
}

std::string LogAnalyzer::LastStatementOf(std::int64_t pid) const {
  auto it = last_statement_.find(pid);
  return it == last_statement_.end() ? std::string() : it->second;
}

void LogAnalyzer::Resolve(std::int64_t pid, std::string_view sql) {
  auto it = awaiting_.find(pid);
  if (it == awaiting_.end()) return;
  Awaiting& a = it->second;
  if (a.temp_files > 0) AddTempFiles(sql, a.temp_files, a.temp_bytes, a.temp_bytes);
  for (const std::string& key : a.lock_keys) {
    LockWaitStats& lw = stats_.lock_waits[key];
    if (lw.sample_query.empty()) lw.sample_query.assign(sql);
  }
  awaiting_.erase(it);
}

void LogAnalyzer::AddTempFiles(std::string_view sql, std::uint64_t files, std::uint64_t bytes,
                               std::uint64_t max_bytes) {
  std::string normalized = sql.empty() ? std::string(kUnknownStatement) : NormalizeQuery(sql);
  TempFileStats& t = stats_.temp_files[FingerprintOf(normalized)];
  if (t.normalized.empty()) t.normalized = std::move(normalized);
  t.count += files;
  t.total_bytes += bytes;
  t.max_bytes = std::max(t.max_bytes, max_bytes);
  if (t.sample_query.empty()) t.sample_query.assign(sql);
}

void LogAnalyzer::Finish() {
  for (auto& [pid, a] : awaiting_) {
    if (a.temp_files > 0) AddTempFiles({}, a.temp_files, a.temp_bytes, a.temp_bytes);
  }
  awaiting_.clear();
}

void LogAnalyzer::OnLockWait(const LogEntry& e, std::string_view msg, bool acquired) {
  // "process 1234 still waiting for ShareLock on transaction 745 after 1000.071 ms"
  std::string_view marker = acquired ? " acquired " : " still waiting for ";
  std::size_t pos = msg.find(marker);
  std::string_view rest = msg.substr(pos + marker.size());
  std::size_t on = rest.find(" on ");
  std::size_t after = rest.rfind(" after ");
  if (on == std::string_view::npos || after == std::string_view::npos || after < on) return;
  std::string_view mode = rest.substr(0, on);
  std::string_view kind = ObjectKind(rest.substr(on + 4, after - on - 4));
  double ms = ParseDouble(rest.substr(after + 7));
  std::string key = std::string(mode) + " on " + std::string(kind);
  LockWaitStats& lw = stats_.lock_waits[key];
  lw.lock = key;
  lw.max_wait_ms = std::max(lw.max_wait_ms, ms);
  std::int64_t waiter = ParseInt(msg.substr(8));
  if (acquired) {
    ++lw.acquired;
    lw.acquired_total_ms += ms;
    return;
  }
  ++lw.waits;
  ++Hour(e.time).lock_waits;
  std::int64_t holder = HolderFromDetail(e.detail);
  if (holder != 0) {
    blocker_of_[waiter] = holder;
    if (lw.sample_blocker_pid == 0) {
      lw.sample_blocker_pid = holder;
      lw.sample_blocker_query = LastStatementOf(holder);
    }
  }
  std::string_view sql = e.statement;
  if (sql.empty()) {
    auto it = pending_statement_.find(waiter);
    if (it != pending_statement_.end()) sql = it->second;
  }
  if (!sql.empty()) {
    if (lw.sample_query.empty()) lw.sample_query.assign(sql);
  } else {
    awaiting_[waiter].lock_keys.push_back(key);
  }
}

void LogAnalyzer::OnTempFile(const LogEntry& e, std::string_view msg) {
  std::size_t pos = msg.rfind(", size ");
  if (pos == std::string_view::npos) return;
  auto bytes = static_cast<std::uint64_t>(ParseInt(msg.substr(pos + 7)));
  ++stats_.temp_file_count;
  stats_.temp_file_bytes += bytes;
  ++Hour(e.time).temp_files;
  if (!e.statement.empty()) return AddTempFiles(e.statement, 1, bytes, bytes);
  Awaiting& a = awaiting_[e.pid];
  ++a.temp_files;
  a.temp_bytes += bytes;
}

void LogAnalyzer::OnCheckpoint(std::string_view msg) {
  CheckpointStats& c = stats_.checkpoints;
  std::size_t pos = msg.find(" starting: ");
  if (pos != std::string_view::npos) {
    ++c.started;
    ++c.reasons[std::string(Trim(msg.substr(pos + 11)))];
    return;
  }
  if (msg.find(" complete: ") == std::string_view::npos) return;
  ++c.completed;
  c.buffers_written += static_cast<std::uint64_t>(NumberAfter(msg, "wrote "));
  c.write_s += NumberAfter(msg, "write=");
  c.sync_s += NumberAfter(msg, "sync=");
  double total = NumberAfter(msg, "total=");
  c.total_s += total;
  c.max_total_s = std::max(c.max_total_s, total);
}

void LogAnalyzer::OnProblem(const LogEntry& e) {
  std::string_view severity = SeverityName(e.severity);
  std::string normalized = NormalizeMessage(e.message);
  std::string key = std::string(severity) + ": " + normalized;
  ErrorStats& err = stats_.errors[key];
  if (err.count++ == 0) {
    err.severity = severity;
    err.normalized = std::move(normalized);
    err.sample_message = e.message;
    err.sample_detail = e.detail;
    err.sample_statement = e.statement;
    err.first_time = e.time;
  }
  err.last_time = std::max(err.last_time, e.time);
  // A failed statement has no duration line: what waited for it resolves here.
  if (!e.statement.empty()) Resolve(e.pid, e.statement);
  if (e.severity != Severity::kWarning) ++Hour(e.time).errors;
  if (e.severity != Severity::kError) return;
  // stderr logs append " at character N" where csvlog has a column for it.
  std::string_view msg = e.message;
  if (msg.starts_with("deadlock detected")) return OnDeadlock(e);
  if (msg.starts_with("canceling statement due to lock timeout")) return OnLockTimeout(e);
}

void LogAnalyzer::OnDeadlock(const LogEntry& e) {
  ++stats_.deadlock_count;
  ++Hour(e.time).deadlocks;
  if (stats_.deadlocks.size() >= LogStats::kMaxDeadlocks) return;
  Deadlock d;
  d.time = e.time;
  d.database = e.database;
  d.victim_pid = e.pid;
  // DETAIL: "Process A waits for M on X; blocked by process B." lines, then "Process A: SQL".
  Side* current_query = nullptr;
  auto side_of = [&](std::int64_t pid) -> Side& {
    for (Side& s : d.processes) {
      if (s.pid == pid) return s;
    }
    d.processes.push_back(Side{pid, {}, 0, {}});
    return d.processes.back();
  };
  std::string_view detail = e.detail;
  while (!detail.empty()) {
    std::size_t nl = detail.find('\n');
    std::string_view line = detail.substr(0, nl);
    detail = nl == std::string_view::npos ? std::string_view() : detail.substr(nl + 1);
    if (line.starts_with("Process ")) {
      std::string_view rest = line.substr(8);
      std::int64_t pid = ParseInt(rest);
      std::size_t digits = rest.find_first_not_of("0123456789");
      rest = digits == std::string_view::npos ? std::string_view() : rest.substr(digits);
      if (rest.starts_with(" waits for ")) {
        Side& s = side_of(pid);
        std::size_t semi = rest.find("; blocked by process ");
        s.waits_for = std::string(rest.substr(11, semi == std::string_view::npos
                                                        ? std::string_view::npos
                                                        : semi - 11));
        if (semi != std::string_view::npos) s.blocked_by = ParseInt(rest.substr(semi + 21));
        current_query = nullptr;
        continue;
      }
      if (rest.starts_with(": ")) {
        current_query = &side_of(pid);
        current_query->query = std::string(rest.substr(2));
        continue;
      }
    }
    if (current_query != nullptr) {
      current_query->query.push_back('\n');
      current_query->query.append(line);
    }
  }
  for (Side& s : d.processes) {
    if (s.query.empty() && s.pid == e.pid) s.query = e.statement;
  }
  stats_.deadlocks.push_back(std::move(d));
}

void LogAnalyzer::OnLockTimeout(const LogEntry& e) {
  ++stats_.lock_timeout_count;
  if (stats_.lock_timeouts.size() >= LogStats::kMaxLockTimeouts) return;
  LockTimeout t;
  t.time = e.time;
  t.pid = e.pid;
  t.database = e.database;
  t.query = e.statement;
  auto it = blocker_of_.find(e.pid);
  if (it != blocker_of_.end()) {
    t.blocker_pid = it->second;
    t.blocker_query = LastStatementOf(it->second);
  }
  stats_.lock_timeouts.push_back(std::move(t));
}

void LogStats::Merge(LogStats&& later) {
  bytes += later.bytes;
  lines += later.lines;
  entries += later.entries;
  unparsed_lines += later.unparsed_lines;
  if (later.first_time != 0 && (first_time == 0 || later.first_time < first_time)) {
    first_time = later.first_time;
  }
  last_time = std::max(last_time, later.last_time);
  connections += later.connections;
  disconnections += later.disconnections;
  autovacuums += later.autovacuums;
  autoanalyzes += later.autoanalyzes;
  parse_bind_durations += later.parse_bind_durations;
  for (auto& [fp, st] : later.statements) {
    auto [it, inserted] = statements.try_emplace(fp, std::move(st));
    if (inserted) continue;
    StatementStats& mine = it->second;
    mine.timing.Merge(st.timing);
    mine.plan_timing.Merge(st.plan_timing);
    if (st.slowest.duration_ms > mine.slowest.duration_ms) mine.slowest = std::move(st.slowest);
    if (st.slowest_plan.duration_ms > mine.slowest_plan.duration_ms) {
      mine.slowest_plan = std::move(st.slowest_plan);
    }
    for (auto [hour, n] : st.hourly) mine.hourly[hour] += n;
  }
  for (auto& [key, lw] : later.lock_waits) {
    auto [it, inserted] = lock_waits.try_emplace(key, std::move(lw));
    if (inserted) continue;
    LockWaitStats& mine = it->second;
    mine.waits += lw.waits;
    mine.acquired += lw.acquired;
    mine.acquired_total_ms += lw.acquired_total_ms;
    mine.max_wait_ms = std::max(mine.max_wait_ms, lw.max_wait_ms);
    if (mine.sample_query.empty()) mine.sample_query = std::move(lw.sample_query);
    if (mine.sample_blocker_pid == 0) {
      mine.sample_blocker_pid = lw.sample_blocker_pid;
      mine.sample_blocker_query = std::move(lw.sample_blocker_query);
    }
  }
  deadlock_count += later.deadlock_count;
  for (Deadlock& d : later.deadlocks) {
    if (deadlocks.size() < kMaxDeadlocks) deadlocks.push_back(std::move(d));
  }
  lock_timeout_count += later.lock_timeout_count;
  for (LockTimeout& t : later.lock_timeouts) {
    if (lock_timeouts.size() < kMaxLockTimeouts) lock_timeouts.push_back(std::move(t));
  }
  temp_file_count += later.temp_file_count;
  temp_file_bytes += later.temp_file_bytes;
  for (auto& [fp, t] : later.temp_files) {
    auto [it, inserted] = temp_files.try_emplace(fp, std::move(t));
    if (inserted) continue;
    it->second.count += t.count;
    it->second.total_bytes += t.total_bytes;
    it->second.max_bytes = std::max(it->second.max_bytes, t.max_bytes);
  }
  CheckpointStats& c = checkpoints;
  c.started += later.checkpoints.started;
  c.completed += later.checkpoints.completed;
  for (auto& [reason, n] : later.checkpoints.reasons) c.reasons[reason] += n;
  c.buffers_written += later.checkpoints.buffers_written;
  c.write_s += later.checkpoints.write_s;
  c.sync_s += later.checkpoints.sync_s;
  c.total_s += later.checkpoints.total_s;
  c.max_total_s = std::max(c.max_total_s, later.checkpoints.max_total_s);
  for (auto& [key, err] : later.errors) {
    auto [it, inserted] = errors.try_emplace(key, std::move(err));
    if (inserted) continue;
    it->second.count += err.count;
    it->second.last_time = std::max(it->second.last_time, err.last_time);
  }
  for (auto& [hour, h] : later.hours) {
    HourStats& mine = hours[hour];
    mine.statements += h.statements;
    mine.statement_ms += h.statement_ms;
    mine.errors += h.errors;
    mine.lock_waits += h.lock_waits;
    mine.deadlocks += h.deadlocks;
    mine.temp_files += h.temp_files;
    mine.checkpoints += h.checkpoints;
  }
}

}  // namespace dbmedic::diagnose
