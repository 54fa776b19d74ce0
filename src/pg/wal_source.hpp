// Where WAL segments come from. The decoder reads whole segments through this interface, so a
// repository-backed source (files compressed with zstd or lz4) plugs in later without touching
// the decoder: it only has to list segments and fill a buffer with one segment's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/huge_buffer.hpp"
#include "pg/lsn.hpp"

namespace dbmedic::pg {

struct WalSegmentRef {
  TimelineId timeline = 0;
  std::uint64_t segno = 0;
  std::string name;  // 24-hex-digit file name
};

class WalSource {
 public:
  virtual ~WalSource() = default;

  // wal_segment_size of the cluster that wrote these segments.
  virtual std::uint64_t segment_size() const = 0;
  // The segments to decode in ascending segno, one per segno: the timeline is chosen by the
  // source (following the target timeline's history). Gaps are allowed: the reader stops there.
  virtual std::vector<WalSegmentRef> Segments() const = 0;
  // Fills `out` with the whole content of `ref` (resized to the bytes read). A short result is a
  // truncated segment, which the reader reports with its LSN. Throws Error(kIo/kNotFound).
  virtual void Read(const WalSegmentRef& ref, std::vector<std::byte>& out) = 0;
  // The whole content of `ref` as a view that stays valid until the next Load() (or the
  // source's destruction). The reader uses this; sources that can avoid a copy (a mapped file)
  // override it. The default reads into a buffer the source keeps.
  virtual std::span<const std::byte> Load(const WalSegmentRef& ref) {
    Read(ref, load_buffer_);
    return load_buffer_;
  }
  // Load() when only the first `bytes` of the segment are wanted (a reader finishing a record
  // that continues past the end of its stretch of WAL). Sources that can read less override it;
  // a result shorter than `bytes` is a truncated segment, one longer is fine.
  virtual std::span<const std::byte> LoadPrefix(const WalSegmentRef& ref, std::size_t bytes) {
    (void)bytes;
    return Load(ref);
  }
  // "directory /srv/wal", for messages.
  virtual std::string Describe() const = 0;

 private:
  std::vector<std::byte> load_buffer_;
};

// Parsed NNNNNNNN.history: for each ancestor timeline, the LSN where it ended (switchpoint).
struct TimelineHistoryEntry {
  TimelineId timeline = 0;
  Lsn end;
};
// Throws Error(kCorrupt) naming the line when the text is not a timeline history.
std::vector<TimelineHistoryEntry> ParseTimelineHistory(const std::string& text);

// Picks, for segment `segno`, the timeline of `history` (ancestors in order, then `target`)
// whose WAL covers the whole segment: the first ancestor that ended at or after the segment's
// end, else the target (the segment where a switch happened is read from the newer timeline).
TimelineId TimelineForSegment(std::uint64_t segno, std::uint64_t seg_size,
                              const std::vector<TimelineHistoryEntry>& history,
                              TimelineId target);

// Segments in a plain directory (pg_wal, or a copy of it): files named by segment. Timeline-
// aware: by default the highest timeline found is followed, through its .history file when one
// is present (else the highest timeline not above the target is taken per segment).
class DirectoryWalSource final : public WalSource {
 public:
  // Throws Error(kNotFound) if `dir` is missing or holds no WAL segment.
  explicit DirectoryWalSource(std::filesystem::path dir,
                              std::optional<TimelineId> timeline = std::nullopt);

  std::uint64_t segment_size() const override { return segment_size_; }
  std::vector<WalSegmentRef> Segments() const override { return segments_; }
  // Plain read() into the reader's reused buffer: mapping the file instead was measured 4x
  // slower on this project's VMs (page-table updates under paravirtualisation dominated).
  void Read(const WalSegmentRef& ref, std::vector<std::byte>& out) override;
  // Reads into a buffer of transparent huge pages that is never zero-filled: first touching a
  // 16 MB buffer in 4 kB pages cost as much as decoding a whole segment on these VMs.
  std::span<const std::byte> Load(const WalSegmentRef& ref) override;
  // Reads only the first `bytes`: a parallel scan's reader otherwise read a whole 16 MB segment
  // at the end of every run to finish its last record.
  std::span<const std::byte> LoadPrefix(const WalSegmentRef& ref, std::size_t bytes) override;
  std::string Describe() const override;
  TimelineId timeline() const { return timeline_; }

 private:
  // Huge pages, never zero-filled by us: first touches of 16 MB in 4 kB pages cost more than
  // reading the segment (core/huge_buffer.hpp).
  core::HugePageBuffer buffer_;
  std::filesystem::path dir_;
  std::uint64_t segment_size_ = kDefaultWalSegmentSize;
  TimelineId timeline_ = 0;
  std::vector<WalSegmentRef> segments_;
};

// Segments held in memory (tests, fuzzing, and callers that already decompressed WAL).
class MemoryWalSource final : public WalSource {
 public:
  explicit MemoryWalSource(std::uint64_t segment_size = kDefaultWalSegmentSize)
      : segment_size_(segment_size) {}
  void Put(TimelineId timeline, std::uint64_t segno, std::vector<std::byte> bytes);

  std::uint64_t segment_size() const override { return segment_size_; }
  std::vector<WalSegmentRef> Segments() const override;
  void Read(const WalSegmentRef& ref, std::vector<std::byte>& out) override;
  std::string Describe() const override { return "memory"; }

 private:
  std::uint64_t segment_size_;
  std::map<std::uint64_t, std::pair<TimelineId, std::vector<std::byte>>> segments_;
};

// Reads the segment size recorded in a segment's first page (XLogLongPageHeaderData), nullopt if
// the file is too short or the header is not a PostgreSQL 15 long header.
std::optional<std::uint64_t> ProbeSegmentSize(const std::filesystem::path& segment_file);

}  // namespace dbmedic::pg
