// Per-resource-manager statistics of a stretch of WAL (dbmedic wal-scan), like
// pg_waldump --stats: records, record bytes and full-page-image bytes per rmgr.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "forensics/wal_runs.hpp"
#include "pg/wal_reader.hpp"

namespace dbmedic::forensics {

struct RmgrStats {
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;      // xl_tot_len
  std::uint64_t fpi_bytes = 0;  // page images inside those records
};

struct WalSummary {
  std::array<RmgrStats, 256> by_rmgr{};
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  std::uint64_t segments = 0;
  pg::Lsn first_lsn;
  pg::Lsn last_lsn;
  pg::Lsn end_lsn;  // end of the last record
  pg::WalStop stop;
  std::optional<int> error_exit_code;  // the scan stopped on damaged WAL
};

// Reads `reader` to its end; `each` (optional) sees every record. Damaged WAL is reported in
// the summary (stop, error_exit_code), not thrown; other errors are thrown.
WalSummary SummarizeWal(pg::WalReader& reader,
                        const std::function<void(const pg::WalRecord&)>& each = {});

// The same summary computed by `jobs` readers at once, each over its own source from
// `make_source`, taking runs of consecutive segments from a queue (a record that starts in a run is
// counted there, also when it continues into the next). Runs are merged in LSN order; a run that
// stops early (end of WAL, a gap, damage) ends the summary there, exactly as one reader would.
// `segments` counts the segments holding the records read.
WalSummary SummarizeWalInParallel(const WalSourceFactory& make_source,
                                  const pg::WalReaderOptions& options, int jobs);

nlohmann::json ToJson(const WalSummary& summary);

// One line per record, in the spirit of pg_waldump's (rmgr, lengths, xid, LSN, prev, blocks).
std::string DescribeRecord(const pg::WalRecord& record);

}  // namespace dbmedic::forensics
