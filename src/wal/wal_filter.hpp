// A WAL filter for a throwaway cluster that reads only some relations (undo's side cluster):
// the relations whose changes it may skip, kept in a small JSON file that `wal get` and its
// prefetcher apply to every segment they hand to PostgreSQL (pg/wal_neutralize.hpp says how a
// record is skipped, and why replay stays correct for everything else).
//
// A block is skipped when it belongs to another database than `database` (none of their files
// were restored), or to one of `skipped_relfilenodes` of `database` (restored as sparse zeros).
// Shared catalogs (database 0) and every relation file not listed are always replayed, so a
// relation created after the backup, or a catalog rewritten under a new file, is replayed.
//
// File format (version 1): {"version": 1, "database": 16384, "skipped_relfilenodes": [16390, ...]}
#pragma once

#include <cstdint>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pg/wal_neutralize.hpp"
#include "pg/wal_record.hpp"
#include "wal/archive.hpp"

namespace dbmedic::wal {

struct WalFilter {
  pg::Oid database = 0;
  std::vector<pg::Oid> skipped_relfilenodes;  // sorted

  // Throws Error(kConfig) naming the file when it cannot be read or is not a filter.
  static WalFilter Load(const std::filesystem::path& file);
  std::string ToJson() const;

  bool Skips(const pg::WalBlockRef& block) const;
  // Neutralizes, in `content` (the whole segment `name`), every record all of whose blocks are
  // skipped; `neighbors` give the original segments around it (records crossing a boundary).
  // Not a segment name (.history, .partial...): nothing is done.
  pg::NeutralizeResult Apply(std::string_view name, std::string& content,
                             const pg::WalNeighbors& neighbors = {}) const;
};

// Segment-sized buffers handed out again and again instead of allocated per segment: on these
// VMs the first touch of a fresh 4 kB page costs 12-15 us, 50-60 ms for a 16 MB buffer, more
// than decompressing and hashing the segment. New buffers are advised for transparent huge
// pages (2 MB faults). A buffer goes back to the pool when its last shared_ptr goes; the pool
// must outlive every buffer it handed out. Thread-safe.
class SegmentBufferPool {
 public:
  // A buffer of `size` bytes (content unspecified).
  std::shared_ptr<std::string> Take(std::size_t size);

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<std::string>> free_;  // guarded by mu_
};

// A filter applied to the segments one process fetches from the archive (`wal get`, the
// prefetcher). Each segment is read from the archive once: the original content of the last few
// is kept, because a record crossing a segment boundary needs its neighbour's original bytes,
// and a segment being read by one thread is waited for, not read again, by another (the
// prefetcher fetches consecutive segments in parallel). Thread-safe.
class ArchiveWalFilter {
 public:
  // `stats`: file to which each Get appends "<records> <bytes>" skipped (none when empty).
  ArchiveWalFilter(const WalArchive& archive, WalFilter filter, std::filesystem::path stats = {});
  // WalArchive::Get with the filter applied: false when the archive has no `name`.
  bool Get(const std::string& name, const std::filesystem::path& dest);

 private:
  std::shared_ptr<const std::string> Original(const std::string& name);
  std::shared_ptr<const std::string> ReadOriginal(const std::string& name);

  SegmentBufferPool pool_;  // first: outlives the buffers kept in recent_
  const WalArchive& archive_;
  WalFilter filter_;
  std::filesystem::path stats_;
  std::mutex mu_;
  std::condition_variable read_;
  std::deque<std::pair<std::string, std::shared_ptr<const std::string>>> recent_;  // guarded
  std::set<std::string> reading_;                                                // guarded
};

}  // namespace dbmedic::wal
