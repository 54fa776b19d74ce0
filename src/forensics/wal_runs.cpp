#include "forensics/wal_runs.hpp"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace dbmedic::forensics {
namespace {

// Runs are at most this many segments: a run's result (e.g. the commits it saw) grows with its
// size, and results wait for their turn to merge, so their size bounds the memory.
constexpr std::size_t kMaxRunSegments = 8;

// Cuts the segments between the options' start and end into runs of about equal size: several
// per job, because WAL is uneven (a run of full-page images costs more than one of small
// updates) and equal static shares would leave a core idle at the end.
std::vector<pg::WalReaderOptions> PlanRuns(const pg::WalSource& source,
                                           const pg::WalReaderOptions& options, int jobs) {
  const std::uint64_t seg_size = source.segment_size();
  std::vector<std::uint64_t> segnos;
  for (const pg::WalSegmentRef& ref : source.Segments()) {
    if (options.start && ref.segno < pg::SegmentNumber(*options.start, seg_size)) continue;
    if (options.end && pg::SegmentStart(ref.segno, seg_size) >= *options.end) continue;
    segnos.push_back(ref.segno);
  }
  std::size_t wanted = std::max<std::size_t>(static_cast<std::size_t>(jobs) * 4,
                                             (segnos.size() + kMaxRunSegments - 1) /
                                                 kMaxRunSegments);
  const std::size_t runs = std::clamp<std::size_t>(wanted, 1, std::max<std::size_t>(segnos.size(), 1));
  std::vector<pg::WalReaderOptions> plan(runs, options);
  for (std::size_t k = 0; k < runs; ++k) {
    if (k > 0) plan[k].start = pg::SegmentStart(segnos[k * segnos.size() / runs], seg_size);
    if (k + 1 < runs) plan[k].end = pg::SegmentStart(segnos[(k + 1) * segnos.size() / runs], seg_size);
  }
  return plan;
}

}  // namespace

WalRunScan::WalRunScan(const WalSourceFactory& make_source, const pg::WalReaderOptions& options,
                       int jobs)
    : make_source_(make_source), first_source_(make_source()),
      segment_size_(first_source_->segment_size()), jobs_(std::max(jobs, 1)),
      runs_(PlanRuns(*first_source_, options, jobs_)) {}

void WalRunScan::Run(const std::function<void(std::size_t run, pg::WalReader& reader)>& scan,
                     const std::function<bool(std::size_t run)>& merge) {
  const std::size_t window = static_cast<std::size_t>(jobs_) * 2;
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t next = 0;    // the next run to hand to a worker
  std::size_t merged = 0;  // runs merged so far
  bool stop = false;
  std::vector<char> done(runs_.size(), 0);
  std::vector<std::exception_ptr> failures(runs_.size());

  auto work = [&](std::unique_ptr<pg::WalSource> source) {
    for (;;) {
      std::size_t k;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return stop || next >= runs_.size() || next < merged + window; });
        if (stop || next >= runs_.size()) return;
        k = next++;
      }
      try {
        if (!source) source = make_source_();
        pg::WalReader reader(*source, runs_[k]);
        scan(k, reader);
      } catch (...) {
        failures[k] = std::current_exception();
      }
      {
        std::lock_guard lock(mutex);
        done[k] = 1;
      }
      changed.notify_all();
    }
  };
  std::vector<std::jthread> threads;
  auto finish = [&] {
    {
      std::lock_guard lock(mutex);
      stop = true;
    }
    changed.notify_all();
    threads.clear();  // joins
  };
  for (int w = 0; w < jobs_; ++w) {
    threads.emplace_back(work, w == 0 ? std::move(first_source_) : nullptr);
  }
  try {
    for (std::size_t k = 0; k < runs_.size(); ++k) {
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return done[k] != 0; });
      }
      if (failures[k]) std::rethrow_exception(failures[k]);
      const bool more = merge(k);
      {
        std::lock_guard lock(mutex);
        merged = k + 1;
      }
      changed.notify_all();
      if (!more) break;
    }
  } catch (...) {
    finish();
    throw;
  }
  finish();
}

}  // namespace dbmedic::forensics
