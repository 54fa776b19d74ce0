#include "pg/wal_reader.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"
#include "pg/wal_bytes.hpp"
#include "pg/wal_crc32c.hpp"
#include "pg/wal_format.hpp"

namespace dbmedic::pg {

using wal::LoadAt;

std::string_view WalStopReasonName(WalStopReason reason) {
  switch (reason) {
    case WalStopReason::kNotStopped: return "not-stopped";
    case WalStopReason::kEndOfWal: return "end-of-wal";
    case WalStopReason::kEndLsn: return "end-lsn";
    case WalStopReason::kMissingSegment: return "missing-segment";
    case WalStopReason::kError: return "error";
  }
  return "unknown";
}

namespace {

constexpr std::uint64_t kPage = wal::kBlockSize;

Lsn PageStart(Lsn lsn) { return Lsn{lsn.value - lsn.value % kPage}; }

bool IsAllZero(const std::byte* p, std::size_t n) {
  return std::all_of(p, p + n, [](std::byte b) { return b == std::byte{0}; });
}

const char* kDamageHint =
    "records before this LSN are intact; restore the segment from another copy (archive or "
    "replica) to read past it";

}  // namespace

WalReader::WalReader(WalSource& source, WalReaderOptions options)
    : source_(source), options_(options), segments_(source.Segments()),
      seg_size_(source.segment_size()) {
  if (segments_.empty()) {
    throw Error(ErrorCode::kNotFound, fmt::format("no WAL segments in {}", source_.Describe()));
  }
  std::uint64_t first_segno = segments_.front().segno;
  if (options_.start) {
    std::uint64_t want = SegmentNumber(*options_.start, seg_size_);
    if (want < first_segno) {
      throw Error(ErrorCode::kNotFound,
                  fmt::format("start LSN {} is before the oldest segment {} in {}",
                              options_.start->ToString(), segments_.front().name,
                              source_.Describe()),
                  "pick a later --start or a source that still holds that WAL");
    }
    first_segno = want;
    next_lsn_ = PageStart(*options_.start);
  } else {
    next_lsn_ = SegmentStart(first_segno, seg_size_);
  }
  record_.blocks.reserve(wal::kMaxBlockId + 1);
}

std::string WalReader::SegmentNameOf(Lsn lsn) const {
  std::uint64_t segno = SegmentNumber(lsn, seg_size_);
  if (loaded_segno_ && *loaded_segno_ == segno) return loaded_ref_.name;
  TimelineId tli = segments_.empty() ? 1 : segments_.front().timeline;
  return WalSegmentName(tli, segno, seg_size_);
}

const WalRecord* WalReader::Stop(WalStopReason reason, Lsn lsn, std::string detail) {
  stop_ = {reason, lsn, std::move(detail)};
  return nullptr;
}

void WalReader::Fail(const Error& error, Lsn lsn) {
  stop_ = {WalStopReason::kError, lsn, error.what()};
  error_ = error;
  throw error;
}

bool WalReader::LoadSegment(std::uint64_t segno) {
  while (next_segment_index_ < segments_.size() &&
         segments_[next_segment_index_].segno < segno) {
    ++next_segment_index_;
  }
  if (next_segment_index_ >= segments_.size() || segments_[next_segment_index_].segno != segno) {
    return false;
  }
  loaded_ref_ = segments_[next_segment_index_++];
  prefix_requested_ = 0;
  if (continuation_left_ > 0 && options_.end && SegmentStart(segno, seg_size_) >= *options_.end) {
    // Past the end we were given, only the rest of the record being assembled is wanted: its
    // bytes, a page header per page, and a page more for where the next record would start.
    std::uint64_t pages = continuation_left_ / (kPage - wal::kLongPageHeaderSize) + 2;
    prefix_requested_ = static_cast<std::size_t>(std::min<std::uint64_t>(pages * kPage, seg_size_));
    segment_ = source_.LoadPrefix(loaded_ref_, prefix_requested_);
  } else {
    segment_ = source_.Load(loaded_ref_);
  }
  loaded_segno_ = segno;
  last_valid_page_.reset();
  ++segments_read_;
  return true;
}

WalReader::PageRef WalReader::GetPage(Lsn page_lsn, Lsn record_lsn) {
  PageRef ref;
  std::uint64_t segno = SegmentNumber(page_lsn, seg_size_);
  if ((!loaded_segno_ || *loaded_segno_ != segno) && !LoadSegment(segno)) return ref;
  std::uint64_t offset = page_lsn.value - SegmentStart(segno, seg_size_).value;
  if (offset + kPage > segment_.size() && prefix_requested_ != 0 &&
      segment_.size() >= prefix_requested_) {
    segment_ = source_.Load(loaded_ref_);  // wanted more than the prefix after all
    prefix_requested_ = 0;
  }
  if (offset + kPage > segment_.size()) {
    Fail(Error(ErrorCode::kCorrupt,
               fmt::format("WAL segment {} is truncated: it has {} of {} bytes, so the WAL "
                           "ends at {} inside the record at {}",
                           loaded_ref_.name, segment_.size(), seg_size_,
                           Lsn{SegmentStart(segno, seg_size_).value + segment_.size()}.ToString(),
                           record_lsn.ToString()),
               kDamageHint),
         record_lsn);
  }
  const std::byte* page = segment_.data() + offset;
  ref.data = page;
  ValidatePage(page, page_lsn, record_lsn, ref);
  return ref;
}

void WalReader::ValidatePage(const std::byte* page, Lsn page_lsn, Lsn record_lsn, PageRef& ref) {
  auto magic = LoadAt<std::uint16_t>(page, 0);
  ref.info = LoadAt<std::uint16_t>(page, 2);
  ref.rem_len = LoadAt<std::uint32_t>(page, 16);
  ref.header_size = (ref.info & wal::kXlpLongHeader) ? wal::kLongPageHeaderSize
                                                    : wal::kShortPageHeaderSize;
  if (last_valid_page_ && *last_valid_page_ == page_lsn) {
    ref.state = PageState::kOk;
    return;
  }
  if (magic == 0 && IsAllZero(page, wal::kShortPageHeaderSize)) {
    ref.state = PageState::kUnwritten;
    return;
  }
  auto where = [&] {
    return fmt::format("WAL segment {} page at {}", loaded_ref_.name, page_lsn.ToString());
  };
  if (magic != wal::kPageMagicPg15) {
    if (auto version = wal::PostgresVersionOfPageMagic(magic)) {
      Fail(Error(ErrorCode::kUnsupported,
                 fmt::format("{} was written by PostgreSQL {} (page magic {:#06x}); dbmedic reads "
                             "PostgreSQL 15 WAL (magic {:#06x})",
                             where(), *version, magic, wal::kPageMagicPg15),
                 "decode this WAL with the pg_waldump of that PostgreSQL version"),
           page_lsn);
    }
    Fail(Error(ErrorCode::kCorrupt,
               fmt::format("{} has an invalid magic number {:#06x}", where(), magic),
               kDamageHint),
         page_lsn);
  }
  if (ref.info & ~wal::kXlpAllFlags) {
    Fail(Error(ErrorCode::kCorrupt, fmt::format("{} has invalid info bits {:#06x}", where(),
                                                ref.info),
               kDamageHint),
         page_lsn);
  }
  bool segment_start = page_lsn.value % seg_size_ == 0;
  if (segment_start) {
    if (!(ref.info & wal::kXlpLongHeader)) {
      Fail(Error(ErrorCode::kCorrupt,
                 fmt::format("{} is the first page of a segment but has no long header", where()),
                 kDamageHint),
           page_lsn);
    }
    auto sysid = LoadAt<std::uint64_t>(page, 24);
    auto seg_size = LoadAt<std::uint32_t>(page, 32);
    auto blcksz = LoadAt<std::uint32_t>(page, 36);
    std::uint64_t expected = options_.system_identifier.value_or(system_identifier_);
    if (expected != 0 && sysid != expected) {
      Fail(Error(ErrorCode::kRepository,
                 fmt::format("WAL segment {} belongs to another cluster: system identifier {}, "
                             "expected {} (at {})",
                             loaded_ref_.name, sysid, expected, page_lsn.ToString()),
                 "keep the WAL of each cluster in its own directory; compare with "
                 "pg_controldata's 'Database system identifier'"),
           page_lsn);
    }
    if (seg_size != seg_size_ || blcksz != wal::kBlockSize) {
      Fail(Error(ErrorCode::kUnsupported,
                 fmt::format("{} says segment size {} and page size {}; expected {} and {}",
                             where(), seg_size, blcksz, seg_size_, wal::kBlockSize)),
           page_lsn);
    }
    if (system_identifier_ == 0) system_identifier_ = sysid;
  }
  auto pageaddr = LoadAt<std::uint64_t>(page, 8);
  if (pageaddr != page_lsn.value) {
    // A recycled segment still holds pages of older WAL: the written WAL ends before them.
    ref.state = PageState::kUnwritten;
    return;
  }
  (void)record_lsn;
  last_valid_page_ = page_lsn;
  ref.state = PageState::kOk;
}

void WalReader::ValidateHeader(const std::byte* header, Lsn lsn) {
  auto total = LoadAt<std::uint32_t>(header, 0);
  auto rmid = LoadAt<std::uint8_t>(header, 17);
  auto prev = LoadAt<std::uint64_t>(header, 8);
  if (total < wal::kRecordHeaderSize || total > wal::kMaxRecordSize) {
    Fail(Error(ErrorCode::kCorrupt,
               fmt::format("invalid record length at {}: {} bytes", lsn.ToString(), total),
               kDamageHint),
         lsn);
  }
  if (!wal::RmgrName(rmid)) {
    Fail(Error(ErrorCode::kCorrupt,
               fmt::format("invalid resource manager id {} in record at {}", rmid,
                           lsn.ToString()),
               kDamageHint),
         lsn);
  }
  if (started_ && last_lsn_.value != 0 && prev != last_lsn_.value) {
    Fail(Error(ErrorCode::kCorrupt,
               fmt::format("record at {} has incorrect prev-link {} (previous record is at {})",
                           lsn.ToString(), Lsn{prev}.ToString(), last_lsn_.ToString()),
               kDamageHint),
         lsn);
  }
}

void WalReader::CheckCrc(std::span<const std::byte> bytes, Lsn lsn) {
  std::uint32_t crc = Crc32cUpdate(kCrc32cInit, bytes.data() + wal::kRecordHeaderSize,
                                   bytes.size() - wal::kRecordHeaderSize);
  crc = Crc32cFinish(Crc32cUpdate(crc, bytes.data(), wal::kRecordCrcOffset));
  auto stored = LoadAt<std::uint32_t>(bytes.data(), wal::kRecordCrcOffset);
  if (crc != stored) {
    Fail(Error(ErrorCode::kCorrupt,
               fmt::format("incorrect CRC in WAL record at {} (segment {}): stored {:08x}, "
                           "computed {:08x}",
                           lsn.ToString(), SegmentNameOf(lsn), stored, crc),
               kDamageHint),
         lsn);
  }
}

// Skips the tail of a record that began before the first page we read (XLogFindNextRecord).
bool WalReader::SkipContinuation() {
  for (;;) {
    PageRef page = GetPage(next_lsn_, next_lsn_);
    if (page.state == PageState::kAbsent) {
      Stop(WalStopReason::kMissingSegment, next_lsn_,
           fmt::format("WAL segment {} is not in {}", SegmentNameOf(next_lsn_),
                       source_.Describe()));
      return false;
    }
    if (page.state == PageState::kUnwritten) {
      Stop(WalStopReason::kEndOfWal, next_lsn_,
           fmt::format("no WAL was written at {}", next_lsn_.ToString()));
      return false;
    }
    std::uint64_t room = kPage - page.header_size;
    if (!(page.info & wal::kXlpFirstIsContRecord)) {
      next_lsn_.value += page.header_size;
      return true;
    }
    if (page.rem_len < room) {
      next_lsn_.value = wal::MaxAlign(next_lsn_.value + page.header_size + page.rem_len);
      return true;
    }
    next_lsn_.value += kPage;
  }
}

const WalRecord* WalReader::Next() {
  if (error_) throw *error_;
  if (stop_.reason != WalStopReason::kNotStopped) return nullptr;
  for (;;) {
    const WalRecord* record = ReadNext();
    if (record == nullptr) return nullptr;
    if (options_.start && record->lsn < *options_.start) continue;
    return record;
  }
}

const WalRecord* WalReader::ReadNext() {
  if (!started_) {
    if (!SkipContinuation()) return nullptr;
    started_ = true;
  }
  Lsn lsn = next_lsn_;
  if (options_.end && lsn >= *options_.end && lsn.value % kPage != 0) {
    // The next record would start right here, on the page the last one ended on: no need to
    // look at it (GetPage below would say the same, kOk).
    return Stop(WalStopReason::kEndLsn, lsn,
                fmt::format("reached the end LSN {}", options_.end->ToString()));
  }
  PageRef page = GetPage(PageStart(lsn), lsn);
  if (page.state == PageState::kAbsent) {
    return Stop(WalStopReason::kMissingSegment, lsn,
                fmt::format("WAL segment {} is not in {}; reading stopped at {}",
                            SegmentNameOf(lsn), source_.Describe(), lsn.ToString()));
  }
  if (page.state == PageState::kUnwritten) {
    return Stop(WalStopReason::kEndOfWal, lsn,
                fmt::format("end of WAL at {}: the page in segment {} was never written (zeroed "
                            "or recycled)",
                            lsn.ToString(), SegmentNameOf(lsn)));
  }
  std::uint64_t in_page = lsn.value % kPage;
  if (in_page == 0) {
    if (page.info & wal::kXlpFirstIsContRecord) {
      Fail(Error(ErrorCode::kCorrupt,
                 fmt::format("page at {} continues a record, but a new record was expected there",
                             lsn.ToString()),
                 kDamageHint),
           lsn);
    }
    in_page = page.header_size;
    lsn.value += in_page;
    next_lsn_ = lsn;
  }
  if (options_.end && lsn >= *options_.end) {
    return Stop(WalStopReason::kEndLsn, lsn,
                fmt::format("reached the end LSN {}", options_.end->ToString()));
  }
  const std::byte* p = page.data + in_page;
  auto total = LoadAt<std::uint32_t>(p, 0);
  if (total == 0) {
    return Stop(WalStopReason::kEndOfWal, lsn,
                fmt::format("end of WAL at {}: no record was written there (segment {})",
                            lsn.ToString(), SegmentNameOf(lsn)));
  }
  std::uint64_t room = kPage - in_page;
  bool header_checked = room >= wal::kRecordHeaderSize;
  if (header_checked) {
    ValidateHeader(p, lsn);
  } else if (total < wal::kRecordHeaderSize || total > wal::kMaxRecordSize) {
    Fail(Error(ErrorCode::kCorrupt,
               fmt::format("invalid record length at {}: {} bytes", lsn.ToString(), total),
               kDamageHint),
         lsn);
  }
  Lsn end{lsn.value + total};
  if (total <= room) {
    record_bytes_ = {p, total};
  } else {
    if (!AssembleRecord(lsn, page, total)) return nullptr;
    record_bytes_ = {assembly_.data(), total};
    end = assembled_end_;
    if (!header_checked) ValidateHeader(assembly_.data(), lsn);
  }
  if (options_.verify_crc) CheckCrc(record_bytes_, lsn);

  const std::byte* h = record_bytes_.data();
  record_.lsn = lsn;
  record_.end_lsn = end;
  record_.total_length = total;
  record_.xid = LoadAt<std::uint32_t>(h, 4);
  record_.prev = Lsn{LoadAt<std::uint64_t>(h, 8)};
  record_.info = LoadAt<std::uint8_t>(h, 16);
  record_.rmid = LoadAt<std::uint8_t>(h, 17);
  try {
    DecodeRecordBody(record_bytes_, record_);
  } catch (const Error& e) {
    Fail(e, lsn);
  }
  last_lsn_ = lsn;
  next_lsn_ = Lsn{wal::MaxAlign(end.value)};
  if (record_.rmid == static_cast<std::uint8_t>(wal::Rmgr::kXlog) &&
      record_.rmgr_info() == wal::kXlogSwitch) {
    // The rest of the segment after a switch record is unused (xlogreader.c does the same).
    std::uint64_t next = next_lsn_.value + seg_size_ - 1;
    next_lsn_ = Lsn{next - next % seg_size_};
  }
  return &record_;
}

bool WalReader::AssembleRecord(Lsn lsn, const PageRef& first_page, std::uint32_t total) {
  std::uint64_t in_page = lsn.value % kPage;
  std::uint64_t got = kPage - in_page;
  // Grown page by page rather than sized from xl_tot_len up front: a damaged length must not
  // make us allocate up to 1 GB before we know the pages exist (found by the fuzzer).
  assembly_.clear();
  assembly_.insert(assembly_.end(), first_page.data + in_page, first_page.data + in_page + got);
  Lsn page_lsn{PageStart(lsn).value + kPage};
  Lsn end = page_lsn;
  while (got < total) {
    continuation_left_ = total - got;
    PageRef page = GetPage(page_lsn, lsn);
    continuation_left_ = 0;
    if (page.state == PageState::kAbsent) {
      Stop(WalStopReason::kMissingSegment, lsn,
           fmt::format("the record at {} continues into WAL segment {}, which is not in {}",
                       lsn.ToString(), SegmentNameOf(page_lsn), source_.Describe()));
      return false;
    }
    if (page.state == PageState::kUnwritten) {
      Stop(WalStopReason::kEndOfWal, lsn,
           fmt::format("end of WAL at {}: the record there is incomplete (its continuation at {} "
                       "was never written)",
                       lsn.ToString(), page_lsn.ToString()));
      return false;
    }
    if (!(page.info & wal::kXlpFirstIsContRecord) || page.rem_len != total - got) {
      Fail(Error(ErrorCode::kCorrupt,
                 fmt::format("the record at {} ({} bytes) should continue on page {} with {} "
                             "bytes, but that page says {} (continuation flag {})",
                             lsn.ToString(), total, page_lsn.ToString(), total - got,
                             page.rem_len, (page.info & wal::kXlpFirstIsContRecord) != 0),
                 kDamageHint),
           lsn);
    }
    std::uint64_t n = std::min<std::uint64_t>(total - got, kPage - page.header_size);
    const std::byte* piece = page.data + page.header_size;
    assembly_.insert(assembly_.end(), piece, piece + n);
    got += n;
    end = Lsn{page_lsn.value + page.header_size + n};
    page_lsn.value += kPage;
  }
  assembled_end_ = end;
  return true;
}

}  // namespace dbmedic::pg
