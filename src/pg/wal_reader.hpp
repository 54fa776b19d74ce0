// Sequential reader of PostgreSQL 15 WAL: validates page headers (magic, address, system
// identifier, segment size), reassembles records that continue across pages and segments, checks
// each record's CRC-32C and splits it into block references and main data. It never shells out
// to pg_waldump. Memory is bounded: one segment buffer plus one buffer as large as the largest
// record that spans pages.
//
// Where the WAL ends is a value, not an error: Next() returns nullptr and stop() says where and
// why (zeroed or recycled page, a missing segment, the requested end LSN). Damage is an error:
// Error(kCorrupt) for a bad CRC, a malformed record or a truncated segment; Error(kUnsupported)
// for WAL written by another PostgreSQL version; Error(kRepository) for a segment of another
// cluster. Every message names the exact LSN, and stop() records it too. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "pg/lsn.hpp"
#include "pg/wal_record.hpp"
#include "pg/wal_source.hpp"

namespace dbmedic::pg {

struct WalReaderOptions {
  // First record returned: the first that starts at or after this LSN (default: the first
  // complete record of the first segment of the source).
  std::optional<Lsn> start;
  // Records starting at or after this LSN are not returned.
  std::optional<Lsn> end;
  // The cluster the WAL must belong to (default: whatever the first segment says).
  std::optional<std::uint64_t> system_identifier;
  bool verify_crc = true;
};

enum class WalStopReason {
  kNotStopped,      // still reading
  kEndOfWal,        // zeroed or recycled page, or a zero-length record: nothing more was written
  kEndLsn,          // reached WalReaderOptions::end
  kMissingSegment,  // the next segment is not in the source (end of the archive or a gap)
  kError,           // Next() threw; detail holds the message
};

std::string_view WalStopReasonName(WalStopReason reason);

struct WalStop {
  WalStopReason reason = WalStopReason::kNotStopped;
  Lsn lsn;             // where reading stopped: the start of the record that could not be read
  std::string detail;  // human explanation, naming segment and LSN
};

class WalReader {
 public:
  // Throws Error(kNotFound) if the source has no segment at or before `options.start`.
  explicit WalReader(WalSource& source, WalReaderOptions options = {});

  // The next record, or nullptr at the end (see stop()). The record and its spans stay valid
  // until the next call. Throws as described above; after a throw, Next() keeps throwing.
  const WalRecord* Next();

  const WalStop& stop() const { return stop_; }
  // From the first long page header read; 0 before any segment was read.
  std::uint64_t system_identifier() const { return system_identifier_; }
  std::uint64_t segment_size() const { return seg_size_; }
  std::uint64_t segments_read() const { return segments_read_; }
  // LSN of the last record returned (0 before the first).
  Lsn last_record_lsn() const { return last_lsn_; }

 private:
  enum class PageState { kOk, kAbsent, kUnwritten };
  struct PageRef {
    PageState state = PageState::kAbsent;
    const std::byte* data = nullptr;  // whole page (kBlockSize bytes) when kOk
    std::uint32_t header_size = 0;
    std::uint16_t info = 0;
    std::uint32_t rem_len = 0;
  };

  const WalRecord* ReadNext();
  PageRef GetPage(Lsn page_lsn, Lsn record_lsn);
  bool LoadSegment(std::uint64_t segno);
  void ValidatePage(const std::byte* page, Lsn page_lsn, Lsn record_lsn, PageRef& ref);
  bool SkipContinuation();
  bool AssembleRecord(Lsn lsn, const PageRef& first_page, std::uint32_t total_length);
  void ValidateHeader(const std::byte* header, Lsn lsn);
  void CheckCrc(std::span<const std::byte> bytes, Lsn lsn);
  const WalRecord* Stop(WalStopReason reason, Lsn lsn, std::string detail);
  [[noreturn]] void Fail(const Error& error, Lsn lsn);
  std::string SegmentNameOf(Lsn lsn) const;

  WalSource& source_;
  WalReaderOptions options_;
  std::vector<WalSegmentRef> segments_;
  std::size_t next_segment_index_ = 0;
  std::uint64_t seg_size_ = 0;
  std::uint64_t system_identifier_ = 0;
  std::uint64_t segments_read_ = 0;

  std::optional<std::uint64_t> loaded_segno_;
  WalSegmentRef loaded_ref_;
  std::span<const std::byte> segment_;  // the loaded segment's bytes (owned by the source)
  std::size_t prefix_requested_ = 0;    // segment_ may hold only this many bytes (0: whole)
  std::uint64_t continuation_left_ = 0;  // bytes of the record being assembled still to read
  std::optional<Lsn> last_valid_page_;  // the page validated last (pages are read in order)
  std::vector<std::byte> assembly_;  // records that span pages

  Lsn next_lsn_;                 // where the next record starts
  Lsn last_lsn_;                 // previous record, for the xl_prev check
  bool started_ = false;
  std::span<const std::byte> record_bytes_;
  WalRecord record_;
  Lsn assembled_end_;
  WalStop stop_;
  std::optional<Error> error_;  // rethrown by Next() once reading failed
};

}  // namespace dbmedic::pg
