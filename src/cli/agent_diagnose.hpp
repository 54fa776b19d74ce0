// Wires the diagnose module into the monitoring agent. monitor and diagnose are siblings and never
// include each other; this CLI file joins them through the agent's extension points:
//   - a pg_stat_statements sampler per target (a monitor::Collector): snapshots every
//     diagnose.snapshot_interval, the last diagnose.snapshot_keep kept in memory and (first
//     target) saved to diagnose.snapshot_file, so `top-queries --since` finds them;
//   - a wait-event sampler per target: pg_stat_activity every diagnose.wait_sample_interval
//     into an active-session history of the last diagnose.wait_history_window (at most
//     diagnose.wait_history_samples samples), plus the
//     dbmedic_pg_wait_samples_total counters;
//   - routes /api/top-queries and /api/waits for the dashboard.
#pragma once

#include "core/config.hpp"
#include "monitor/agent.hpp"

namespace dbmedic::cli {

// Adds the samplers and routes for every target of `agent`. Call before agent.Start().
// Throws Error(kConfig) if the diagnose.* settings the agent uses are invalid (for --check too).
void CheckDiagnoseSettings(const core::Config& config);

void AttachDiagnose(monitor::Agent& agent, const core::Config& config);

}  // namespace dbmedic::cli
