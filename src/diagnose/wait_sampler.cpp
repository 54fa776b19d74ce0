#include "diagnose/wait_sampler.hpp"

#include <algorithm>
#include <map>
#include <thread>

#include "diagnose/fingerprint.hpp"

namespace dbmedic::diagnose {
namespace {

using nlohmann::json;

// Lock waits: the relation of the ungranted lock, else of the tuple lock the waiter holds while
// it waits for the row's transaction.
constexpr std::string_view kSampleSql = R"SQL(
SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8 AS time_ms, a.pid,
       coalesce(a.datname, '') AS datname, coalesce(a.usename, '') AS usename,
       coalesce(a.wait_event_type, 'CPU') AS wait_event_type,
       coalesce(a.wait_event, 'CPU') AS wait_event, coalesce(a.query_id, 0) AS query_id,
       left(coalesce(a.query, ''), 4000) AS query,
       CASE WHEN a.wait_event_type = 'Lock' THEN
         (SELECT l.relation::regclass::text FROM pg_locks l
           WHERE l.pid = a.pid AND l.relation IS NOT NULL AND (NOT l.granted OR l.locktype = 'tuple')
           ORDER BY l.granted LIMIT 1)
       END AS relation
FROM pg_stat_activity a
WHERE a.state = 'active' AND a.pid <> pg_backend_pid()
)SQL";

std::vector<WaitShare> Rank(std::map<std::string, WaitShare>& groups, std::uint64_t total,
                            double interval_s, std::size_t limit) {
  std::vector<WaitShare> out;
  for (auto& [key, w] : groups) {
    w.key = key;
    w.seconds = static_cast<double>(w.samples) * interval_s;
    w.share = total ? static_cast<double>(w.samples) / static_cast<double>(total) : 0;
    out.push_back(std::move(w));
  }
  std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.samples > b.samples; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

json SharesJson(const std::vector<WaitShare>& shares, std::string_view key_name) {
  json out = json::array();
  for (const auto& s : shares) {
    out.push_back({{std::string(key_name), s.key}, {"samples", s.samples},
                   {"seconds", s.seconds}, {"share", s.share}, {"detail", s.detail}});
  }
  return out;
}

}  // namespace

std::vector<WaitSample> SampleActivity(pg::Connection& conn) {
  pg::Result r = conn.ExecPrepared(kSampleSql);
  std::vector<WaitSample> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    WaitSample s;
    s.time_ms = r.GetInt(i, 0);
    s.pid = r.GetInt(i, 1);
    s.database = r.GetString(i, 2);
    s.user = r.GetString(i, 3);
    s.wait_event_type = r.GetString(i, 4);
    s.wait_event = r.GetString(i, 5);
    s.query_id = r.GetInt(i, 6);
    s.query = r.GetString(i, 7);
    s.relation = r.GetString(i, 8);
    out.push_back(std::move(s));
  }
  return out;
}

WaitProfile ProfileWaits(const std::vector<WaitSample>& samples, std::uint64_t snapshots,
                         std::chrono::milliseconds interval, std::size_t limit) {
  WaitProfile p;
  p.samples = samples.size();
  p.snapshots = snapshots;
  p.interval_s = std::chrono::duration<double>(interval).count();
  p.duration_s = static_cast<double>(snapshots) * p.interval_s;
  p.average_active = snapshots ? static_cast<double>(samples.size()) / static_cast<double>(snapshots) : 0;
  std::map<std::string, WaitShare> events, queries, relations;
  std::map<std::string, std::map<std::string, std::uint64_t>> query_events;
  std::uint64_t lock_samples = 0;
  for (const auto& s : samples) {
    std::string event = s.wait_event_type == s.wait_event ? s.wait_event
                                                          : s.wait_event_type + ":" + s.wait_event;
    WaitShare& e = events[event];
    ++e.samples;
    e.detail = s.wait_event_type;
    std::string query = NormalizeQuery(s.query);
    ++queries[query].samples;
    ++query_events[query][event];
    if (s.wait_event_type == "Lock") {
      ++lock_samples;
      ++relations[s.relation.empty() ? "(no relation: " + s.wait_event + ")" : s.relation].samples;
      relations[s.relation.empty() ? "(no relation: " + s.wait_event + ")" : s.relation].detail =
          s.wait_event;
    }
  }
  for (auto& [query, w] : queries) {
    auto& ev = query_events[query];
    auto top = std::max_element(ev.begin(), ev.end(),
                                [](auto& a, auto& b) { return a.second < b.second; });
    w.detail = top->first;
  }
  p.by_event = Rank(events, p.samples, p.interval_s, limit);
  p.by_query = Rank(queries, p.samples, p.interval_s, limit);
  p.by_relation = Rank(relations, lock_samples, p.interval_s, limit);
  return p;
}

SamplingRun SampleFor(pg::Connection& conn, std::chrono::milliseconds duration,
                      std::chrono::milliseconds interval, std::stop_token stop) {
  SamplingRun run;
  auto start = std::chrono::steady_clock::now();
  auto next = start;
  while (!stop.stop_requested() && std::chrono::steady_clock::now() - start < duration) {
    std::vector<WaitSample> round = SampleActivity(conn);
    ++run.snapshots;
    for (auto& s : round) run.samples.push_back(std::move(s));
    next += interval;
    auto now = std::chrono::steady_clock::now();
    if (next > now) std::this_thread::sleep_for(next - now);
    else next = now;  // a slow round: do not try to catch up with a burst
  }
  return run;
}

ActiveSessionHistory::ActiveSessionHistory(std::size_t max_samples,
                                           std::chrono::milliseconds window)
    : max_samples_(max_samples), window_(window) {}

ActiveSessionHistory::~ActiveSessionHistory() {
  while (!samples_.empty()) DropOldestSample();
}

ActiveSessionHistory::Stored ActiveSessionHistory::Store(const WaitSample& s) {
  return {s.time_ms,
          s.pid,
          s.query_id,
          strings_.Acquire(s.database),
          strings_.Acquire(s.user),
          strings_.Acquire(s.wait_event_type),
          strings_.Acquire(s.wait_event),
          strings_.Acquire(s.query),
          strings_.Acquire(s.relation)};
}

WaitSample ActiveSessionHistory::Load(const Stored& s) const {
  WaitSample out;
  out.time_ms = s.time_ms;
  out.pid = s.pid;
  out.database = *s.database;
  out.user = *s.user;
  out.wait_event_type = *s.wait_event_type;
  out.wait_event = *s.wait_event;
  out.query_id = s.query_id;
  out.query = *s.query;
  out.relation = *s.relation;
  return out;
}

void ActiveSessionHistory::DropOldestSample() {
  const Stored& s = samples_.front();
  for (const std::string* v :
       {s.database, s.user, s.wait_event_type, s.wait_event, s.query, s.relation}) {
    strings_.Release(v);
  }
  samples_.pop_front();
}

void ActiveSessionHistory::Add(const std::vector<WaitSample>& round) {
  std::int64_t t = round.empty() ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count()
                                 : round.front().time_ms;
  Add(round, t);
}

void ActiveSessionHistory::Add(const std::vector<WaitSample>& round, std::int64_t round_ms) {
  rounds_.push_back(round_ms);
  for (const auto& s : round) samples_.push_back(Store(s));
  std::int64_t cutoff = round_ms - window_.count();
  bool capped = false;
  while (!samples_.empty() &&
         (samples_.size() > max_samples_ || samples_.front().time_ms < cutoff)) {
    capped = capped || samples_.size() > max_samples_;
    DropOldestSample();
  }
  while (rounds_.size() > 1 && rounds_.front() < cutoff) rounds_.pop_front();
  // Rounds whose samples the cap dropped no longer count (the profile's average would be off).
  if (capped) {
    std::int64_t oldest = samples_.empty() ? round_ms : samples_.front().time_ms;
    while (rounds_.size() > 1 && rounds_.front() < oldest) rounds_.pop_front();
  }
  // Quiet rounds add no samples: the window bounds them, and the cap too when the window is
  // longer than the cap's worth of rounds; samples older than the oldest round kept go as well.
  while (rounds_.size() > max_samples_) rounds_.pop_front();
  while (!samples_.empty() && samples_.front().time_ms < rounds_.front()) DropOldestSample();
}

SamplingRun ActiveSessionHistory::Since(std::int64_t since_ms) const {
  SamplingRun run;
  for (const auto& s : samples_) {
    if (s.time_ms >= since_ms) run.samples.push_back(Load(s));
  }
  for (std::int64_t r : rounds_) {
    if (r >= since_ms) ++run.snapshots;
  }
  return run;
}

json WaitProfileToJson(const WaitProfile& p) {
  return {{"samples", p.samples},           {"snapshots", p.snapshots},
          {"interval_s", p.interval_s},     {"duration_s", p.duration_s},
          {"average_active_sessions", p.average_active},
          {"by_event", SharesJson(p.by_event, "event")},
          {"by_query", SharesJson(p.by_query, "query")},
          {"by_relation", SharesJson(p.by_relation, "relation")}};
}

}  // namespace dbmedic::diagnose
