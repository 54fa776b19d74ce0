// A collector reads one source (the host, one PostgreSQL cluster) and returns metric families.
// The agent runs each collector on its own thread and calls Collect() from that thread only, so a
// collector never has more than one query in flight and a slow one never delays the others;
// collectors keep state between calls (previous counters, connections). Other modules' samplers
// join the agent through Agent::AddCollector with this interface.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "monitor/metric.hpp"

namespace dbmedic::monitor {

struct CollectResult {
  Snapshot families;
  // Set when the collection failed (in part): counted in dbmedic_collector_errors_total. The
  // families collected so far (e.g. dbmedic_pg_up 0) are still published.
  std::optional<std::string> error;
  // The error was a timeout (statement or lock timeout, connect timeout): also counted in
  // dbmedic_collector_timeouts_total.
  bool timed_out = false;
};

class Collector {
 public:
  virtual ~Collector() = default;
  // Stable identity, used as the "collector" label: "host", "postgres:main".
  virtual std::string name() const = 0;
  virtual std::chrono::milliseconds interval() const = 0;
  // Must not throw: failures are reported in CollectResult::error.
  virtual CollectResult Collect() = 0;
};

}  // namespace dbmedic::monitor
