// Where `incidents`, `restore --before-incident` (and undo) read destructive transactions from:
// a WAL directory (--wal-dir) or, by default, the repository's WAL archive, named through the
// repository's relation catalog (or --catalog FILE) plus, when reachable, a snapshot of the
// running cluster's catalog. The CLI is where the wal and forensics siblings meet.
#pragma once

#include <optional>
#include <string>

#include "cli/command.hpp"
#include "forensics/incident_scanner.hpp"
#include "pg/lsn.hpp"

namespace dbmedic::cli {

struct IncidentScan {
  forensics::IncidentReport report;
  std::string source;          // "WAL archive /srv/repo/archive", "directory '/x'"
  std::size_t catalog_snapshots = 0;
  bool live_snapshot = false;  // the running cluster's catalog was read too
  std::string live_snapshot_note;  // why not, when it was not
};

IncidentScan ScanForIncidents(Context& ctx, const forensics::IncidentOptions& options,
                              std::optional<pg::TimelineId> timeline);

// The newest incident of `scan` (optionally the one with transaction `xid`); throws
// Error(kTarget) naming what was looked for, with the incidents found as the hint.
const forensics::Incident& PickIncident(const IncidentScan& scan,
                                        std::optional<pg::TransactionId> xid,
                                        const std::optional<std::string>& table);

// "DROP public.users (~10000 rows)" for messages.
std::string DescribeIncident(const forensics::Incident& incident);

}  // namespace dbmedic::cli
