// What the WAL archive covers: per timeline, the archived segments, the ranges that are missing
// between them (gaps: recovery cannot cross them), and the time of the last transaction in the
// newest segment. `info`, `check` and PITR's window refusal are built from this.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pg/lsn.hpp"
#include "wal/archive.hpp"

namespace dbmedic::wal {

struct SegmentGap {
  std::uint64_t first_segno = 0;  // first missing segment
  std::uint64_t last_segno = 0;   // last missing segment
};

struct TimelineCoverage {
  pg::TimelineId timeline = 0;
  std::set<std::uint64_t> segnos;  // archived segment numbers on this timeline
  std::vector<SegmentGap> gaps;    // missing segments between the first and the last
  bool has_history = false;        // NNNNNNNN.history archived (timelines > 1)
  std::uint64_t partial_files = 0;
  std::uint64_t stored_bytes = 0;
};

struct ArchiveCatalog {
  std::map<pg::TimelineId, TimelineCoverage> timelines;
  std::uint64_t files = 0;
  std::uint64_t stored_bytes = 0;
  std::uint64_t raw_bytes = 0;
};

ArchiveCatalog BuildCatalog(const std::vector<ArchivedFile>& files);

// The newest archived segment of `timeline` (nullopt when there is none).
std::optional<ArchivedFile> NewestSegment(const WalArchive& archive, pg::TimelineId timeline);

// The last commit (or abort) record in the archived segment `file`: LSN and time (microseconds
// since the Unix epoch). nullopt when the segment holds none. Throws Error(kCorrupt) for a
// damaged segment.
struct LastTransaction {
  pg::Lsn lsn;
  std::int64_t unix_micros = 0;
};
std::optional<LastTransaction> FindLastTransaction(const WalArchive& archive,
                                                   const ArchivedFile& file);

// "2026-11-29 13:04:05.123456+00"
std::string FormatUnixMicros(std::int64_t unix_micros);

}  // namespace dbmedic::wal
