// Parallel wal-scan: the CPU work (CRC-32C, record parsing) and the copy out of the page cache
// split over cores by segment runs (forensics/wal_runs.hpp); one reader alone leaves the second
// core idle.
#include <optional>

#include "forensics/wal_runs.hpp"
#include "forensics/wal_summary.hpp"

namespace dbmedic::forensics {
namespace {

void Merge(WalSummary& into, const WalSummary& run) {
  if (run.records > 0) {
    if (into.records == 0) into.first_lsn = run.first_lsn;
    into.last_lsn = run.last_lsn;
    into.end_lsn = run.end_lsn;
  }
  into.records += run.records;
  into.bytes += run.bytes;
  for (std::size_t id = 0; id < into.by_rmgr.size(); ++id) {
    into.by_rmgr[id].records += run.by_rmgr[id].records;
    into.by_rmgr[id].bytes += run.by_rmgr[id].bytes;
    into.by_rmgr[id].fpi_bytes += run.by_rmgr[id].fpi_bytes;
  }
  into.stop = run.stop;
  into.error_exit_code = run.error_exit_code;
}

}  // namespace

WalSummary SummarizeWalInParallel(const WalSourceFactory& make_source,
                                  const pg::WalReaderOptions& options, int jobs) {
  WalRunScan scan(make_source, options, jobs);
  std::vector<std::optional<WalSummary>> results(scan.runs());
  WalSummary merged;
  scan.Run([&](std::size_t k, pg::WalReader& reader) { results[k] = SummarizeWal(reader); },
           [&](std::size_t k) {
             Merge(merged, *results[k]);
             const bool more = results[k]->stop.reason == pg::WalStopReason::kEndLsn;
             results[k].reset();
             return more;
           });
  if (merged.records > 0) {
    merged.segments = pg::SegmentNumber(pg::Lsn{merged.end_lsn.value - 1}, scan.segment_size()) -
                      pg::SegmentNumber(merged.first_lsn, scan.segment_size()) + 1;
  }
  return merged;
}

}  // namespace dbmedic::forensics
