// A collector reads one source (the host, one PostgreSQL cluster) and returns metric families.
// The CollectorRunner calls Collect() from one thread only, so a collector never has more than
// one query in flight; collectors keep state between calls (previous counters, connections).
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
