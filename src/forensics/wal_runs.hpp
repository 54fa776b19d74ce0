// Reading WAL on every core: the segments are cut into runs of consecutive segments, a queue
// hands runs to `jobs` readers (each with its own source, so one segment buffer per job), and
// each run's result is handed back in LSN order on the calling thread as soon as every earlier
// run has been handed back. wal-scan (statistics) and incidents both read WAL this way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "pg/wal_reader.hpp"
#include "pg/wal_source.hpp"

namespace dbmedic::forensics {

using WalSourceFactory = std::function<std::unique_ptr<pg::WalSource>()>;

class WalRunScan {
 public:
  // Plans the runs between `options.start` and `options.end` (the whole source by default).
  WalRunScan(const WalSourceFactory& make_source, const pg::WalReaderOptions& options, int jobs);

  std::size_t runs() const { return runs_.size(); }
  std::uint64_t segment_size() const { return segment_size_; }

  // Calls `scan(k, reader)` for every run k on the worker threads (reader positioned on the
  // run; a record that starts in the run is read there, also when it continues into the next
  // run's segments), and `merge(k)` on this thread in run order. `merge` returns false to end
  // the scan there (a run that stopped early: later runs are not wanted). A run whose `scan`
  // threw is rethrown when its turn to merge comes. Finished runs waiting for their turn are
  // limited to a few per job, so what they hold stays bounded whatever the WAL size.
  void Run(const std::function<void(std::size_t run, pg::WalReader& reader)>& scan,
           const std::function<bool(std::size_t run)>& merge);

 private:
  WalSourceFactory make_source_;
  std::unique_ptr<pg::WalSource> first_source_;
  std::uint64_t segment_size_ = 0;
  int jobs_ = 1;
  std::vector<pg::WalReaderOptions> runs_;
};

}  // namespace dbmedic::forensics
