// Parallel wal-scan: the CPU work (CRC-32C, record parsing) and the copy out of the page cache
// split over cores by segment runs; one reader alone leaves the second core idle.
#include <algorithm>
#include <atomic>
#include <thread>

#include "forensics/wal_summary.hpp"

namespace dbmedic::forensics {
namespace {

struct Run {
  pg::WalReaderOptions options;
  WalSummary summary;
  std::exception_ptr failure;
};

// Cuts the segments between the options' start and end into `jobs` runs of about equal size.
std::vector<Run> PlanRuns(const pg::WalSource& source, const pg::WalReaderOptions& options,
                          int jobs) {
  const std::uint64_t seg_size = source.segment_size();
  std::vector<std::uint64_t> segnos;
  for (const pg::WalSegmentRef& ref : source.Segments()) {
    if (options.start && ref.segno < pg::SegmentNumber(*options.start, seg_size)) continue;
    if (options.end && pg::SegmentStart(ref.segno, seg_size) >= *options.end) continue;
    segnos.push_back(ref.segno);
  }
  const std::size_t runs = std::clamp<std::size_t>(static_cast<std::size_t>(jobs), 1,
                                                   std::max<std::size_t>(segnos.size(), 1));
  std::vector<Run> plan(runs);
  for (std::size_t k = 0; k < runs; ++k) {
    plan[k].options = options;
    if (k > 0) plan[k].options.start = pg::SegmentStart(segnos[k * segnos.size() / runs], seg_size);
    if (k + 1 < runs) {
      plan[k].options.end = pg::SegmentStart(segnos[(k + 1) * segnos.size() / runs], seg_size);
    }
  }
  return plan;
}

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

WalSummary SummarizeWalInParallel(
    const std::function<std::unique_ptr<pg::WalSource>()>& make_source,
    const pg::WalReaderOptions& options, int jobs) {
  std::unique_ptr<pg::WalSource> first_source = make_source();
  const std::uint64_t seg_size = first_source->segment_size();
  const int workers = std::max(jobs, 1);
  // More runs than workers, taken from a queue: WAL is uneven (a run of full-page images costs
  // more than one of small updates), so equal static shares would leave a core idle at the end.
  std::vector<Run> runs = PlanRuns(*first_source, options, workers * 4);
  std::atomic<std::size_t> next_run{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, source = w == 0 ? std::move(first_source) : nullptr]() mutable {
      for (std::size_t k; (k = next_run.fetch_add(1)) < runs.size();) {
        try {
          if (!source) source = make_source();
          pg::WalReader reader(*source, runs[k].options);
          runs[k].summary = SummarizeWal(reader);
        } catch (...) {
          runs[k].failure = std::current_exception();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();

  WalSummary merged;
  for (std::size_t k = 0; k < runs.size(); ++k) {
    if (runs[k].failure) std::rethrow_exception(runs[k].failure);
    Merge(merged, runs[k].summary);
    const bool last = k + 1 == runs.size();
    if (!last && runs[k].summary.stop.reason != pg::WalStopReason::kEndLsn) break;
  }
  if (merged.records > 0) {
    merged.segments = pg::SegmentNumber(pg::Lsn{merged.end_lsn.value - 1}, seg_size) -
                      pg::SegmentNumber(merged.first_lsn, seg_size) + 1;
  }
  return merged;
}

}  // namespace dbmedic::forensics
