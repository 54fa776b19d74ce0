// Active-session history: samples of pg_stat_activity's active sessions and their wait events,
// taken every `interval`, and the profile they add up to (estimated time = samples x interval)
// by wait event, by query and, for lock waits, by relation. SampleActivity is one read;
// ActiveSessionHistory is a bounded ring the agent can keep filling for the dashboard. Not
// thread-safe: the owner serialises Add and reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "diagnose/string_pool.hpp"
#include "pg/connection.hpp"

namespace dbmedic::diagnose {

struct WaitSample {
  std::int64_t time_ms = 0;  // when the sample was taken (system clock)
  std::int64_t pid = 0;
  std::string database;
  std::string user;
  std::string wait_event_type;  // "CPU" when the session is active without a wait event
  std::string wait_event;       // "CPU" likewise
  std::int64_t query_id = 0;    // 0 when compute_query_id is off
  std::string query;
  std::string relation;  // for Lock waits: the relation concerned, when pg_locks names one
};

// One sample of every active session except this connection's.
std::vector<WaitSample> SampleActivity(pg::Connection& conn);

struct WaitShare {
  std::string key;
  std::uint64_t samples = 0;
  double seconds = 0;  // samples x interval
  double share = 0;    // of all samples
  std::string detail;  // by query: the wait event seen most; by event: its type
};

struct WaitProfile {
  std::uint64_t samples = 0;    // session samples
  std::uint64_t snapshots = 0;  // sampling rounds
  double interval_s = 0;
  double duration_s = 0;
  double average_active = 0;  // sessions active per round on average
  std::vector<WaitShare> by_event;
  std::vector<WaitShare> by_query;
  std::vector<WaitShare> by_relation;  // lock waits only
};

// Adds the samples up; `snapshots` is the number of rounds taken (empty rounds count too).
WaitProfile ProfileWaits(const std::vector<WaitSample>& samples, std::uint64_t snapshots,
                         std::chrono::milliseconds interval, std::size_t limit);

// Samples every `interval` for `duration` (or until `stop`), returns all samples and the rounds.
struct SamplingRun {
  std::vector<WaitSample> samples;
  std::uint64_t snapshots = 0;
};
SamplingRun SampleFor(pg::Connection& conn, std::chrono::milliseconds duration,
                      std::chrono::milliseconds interval, std::stop_token stop = {});

// The agent's history of samples for the dashboard: the samples of the last `window` (older ones
// dropped at each round), and at most `max_samples` of them (the oldest dropped first) as a hard
// bound under heavy load. A time window, not only a count, so that its memory reaches its steady
// state after `window` whatever the load (a count alone fills in minutes when busy and in hours
// when quiet). Samples are kept compactly: their strings are pooled, each distinct value once.
class ActiveSessionHistory {
 public:
  ActiveSessionHistory(std::size_t max_samples, std::chrono::milliseconds window);
  ActiveSessionHistory(const ActiveSessionHistory&) = delete;
  ActiveSessionHistory& operator=(const ActiveSessionHistory&) = delete;
  ~ActiveSessionHistory();

  // One sampling round taken at `round_ms` (system clock; the samples' own times are kept).
  void Add(const std::vector<WaitSample>& round, std::int64_t round_ms);
  // Same, at the round's first sample's time (now when the round is empty).
  void Add(const std::vector<WaitSample>& round);
  // Samples taken at or after `since_ms` and the number of rounds they came from.
  SamplingRun Since(std::int64_t since_ms) const;
  std::size_t size() const { return samples_.size(); }
  std::size_t rounds() const { return rounds_.size(); }
  std::size_t distinct_strings() const { return strings_.size(); }

 private:
  struct Stored {
    std::int64_t time_ms = 0;
    std::int64_t pid = 0;
    std::int64_t query_id = 0;
    const std::string* database = nullptr;  // all pooled in strings_
    const std::string* user = nullptr;
    const std::string* wait_event_type = nullptr;
    const std::string* wait_event = nullptr;
    const std::string* query = nullptr;
    const std::string* relation = nullptr;
  };
  Stored Store(const WaitSample& s);
  WaitSample Load(const Stored& s) const;
  void DropOldestSample();

  std::size_t max_samples_;
  std::chrono::milliseconds window_;
  StringPool strings_;
  std::deque<Stored> samples_;
  std::deque<std::int64_t> rounds_;  // time of each round still held
};

nlohmann::json WaitProfileToJson(const WaitProfile& profile);

}  // namespace dbmedic::diagnose
