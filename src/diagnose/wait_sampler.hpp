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

// A bounded history of samples (oldest dropped first), for the agent's continuous sampling: at
// most `max_samples` samples and as many rounds.
class ActiveSessionHistory {
 public:
  explicit ActiveSessionHistory(std::size_t max_samples) : max_samples_(max_samples) {}
  void Add(const std::vector<WaitSample>& round);
  // Samples taken at or after `since_ms` and the number of rounds they came from.
  SamplingRun Since(std::int64_t since_ms) const;
  std::size_t size() const { return samples_.size(); }

 private:
  std::size_t max_samples_;
  std::deque<WaitSample> samples_;
  std::deque<std::int64_t> rounds_;  // time of each round still (partly) held
};

nlohmann::json WaitProfileToJson(const WaitProfile& profile);

}  // namespace dbmedic::diagnose
