#include "pg/wal_neutralize.hpp"

#include <cstring>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "pg/wal_bytes.hpp"
#include "pg/wal_crc32c.hpp"
#include "pg/wal_format.hpp"

namespace dbmedic::pg {
namespace {

using wal::kBlockSize;
using wal::LoadAt;

// One segment's bytes (read only: the rewrite writes through its own span) and where they
// start in the WAL.
struct SegmentView {
  std::span<const std::byte> bytes;
  Lsn start;
};

// Where one part of a record lies: in which segment (-1 previous, 0 this one, +1 next) and where.
struct Piece {
  int segment = 0;
  std::size_t offset = 0;
  std::size_t length = 0;
};

// The header size of the page at `offset` when it is a page of `seg` as written for this pass
// of the WAL (magic, address, the continuation flag and length as expected); nullopt otherwise.
std::optional<std::uint32_t> PageHeader(const SegmentView& seg, std::size_t offset,
                                        bool continuation, std::uint32_t rem_len) {
  const std::byte* page = seg.bytes.data() + offset;
  if (LoadAt<std::uint16_t>(page, 0) != wal::kPageMagicPg15) return std::nullopt;
  if (LoadAt<std::uint64_t>(page, 8) != seg.start.value + offset) return std::nullopt;
  const std::uint16_t info = LoadAt<std::uint16_t>(page, 2);
  if (((info & wal::kXlpFirstIsContRecord) != 0) != continuation) return std::nullopt;
  if (continuation && LoadAt<std::uint32_t>(page, 16) != rem_len) return std::nullopt;
  return (info & wal::kXlpLongHeader) ? wal::kLongPageHeaderSize : wal::kShortPageHeaderSize;
}

// Collects the pieces of `remaining` record bytes in `seg` from `pos` (inside a page, after its
// header). Returns the bytes still missing at the end of the segment (0: the record ends here,
// `next` is the offset after it), or nullopt when a page on the way is not valid.
std::optional<std::uint32_t> CollectPieces(const SegmentView& seg, int tag, std::size_t pos,
                                           std::uint32_t remaining, std::vector<Piece>& pieces,
                                           std::size_t& next) {
  while (true) {
    const std::size_t page_end = (pos / kBlockSize + 1) * kBlockSize;
    const std::size_t take = std::min<std::size_t>(remaining, page_end - pos);
    pieces.push_back({tag, pos, take});
    remaining -= static_cast<std::uint32_t>(take);
    pos += take;
    if (remaining == 0) break;
    if (pos >= seg.bytes.size()) return remaining;
    const auto header = PageHeader(seg, pos, true, remaining);
    if (!header) return std::nullopt;
    pos += *header;
  }
  next = static_cast<std::size_t>(wal::MaxAlign(pos));
  return 0;
}

// The rest of a record whose first part ended `seg`'s predecessor: `missing` bytes from the
// start of `seg`. False when they are not all there (a record spanning three segments) or a page
// is not valid.
bool ContinueInto(const SegmentView& seg, int tag, std::uint32_t missing,
                  std::vector<Piece>& pieces) {
  const auto header = PageHeader(seg, 0, true, missing);
  if (!header) return false;
  std::size_t next = 0;
  const auto left = CollectPieces(seg, tag, *header, missing, pieces, next);
  return left && *left == 0;
}

// Start of the next record at or after `pos`: skips a page header when `pos` is at a page
// boundary. nullopt at the end of the segment or of the valid WAL.
std::optional<std::size_t> RecordStart(const SegmentView& seg, std::size_t pos) {
  if (pos >= seg.bytes.size()) return std::nullopt;
  if (pos % kBlockSize != 0) return pos;
  const auto header = PageHeader(seg, pos, false, 0);
  if (!header) return std::nullopt;
  return pos + *header;
}

std::optional<std::uint32_t> RecordLength(const SegmentView& seg, std::size_t pos) {
  const std::uint32_t total = LoadAt<std::uint32_t>(seg.bytes.data(), pos);
  if (total < wal::kRecordHeaderSize || total > wal::kMaxRecordSize) return std::nullopt;
  return total;
}

// Offset of the first record that starts in `seg` (after the end of one continued from the
// previous segment), or nullopt. `continued` gets the bytes of that continuation (0: none).
std::optional<std::size_t> FirstRecord(const SegmentView& seg, std::uint32_t& continued) {
  const std::byte* page = seg.bytes.data();
  if (LoadAt<std::uint16_t>(page, 0) != wal::kPageMagicPg15) return std::nullopt;
  const bool is_continued = (LoadAt<std::uint16_t>(page, 2) & wal::kXlpFirstIsContRecord) != 0;
  continued = is_continued ? LoadAt<std::uint32_t>(page, 16) : 0;
  const auto header = PageHeader(seg, 0, is_continued, continued);
  if (!header) return std::nullopt;
  if (continued == 0) return *header;
  std::vector<Piece> ignored;
  std::size_t next = 0;
  const auto left = CollectPieces(seg, 0, *header, continued, ignored, next);
  if (!left || *left != 0) return std::nullopt;  // continued beyond this segment too
  return next;
}

// The pieces in `seg` of the record that starts in it and continues into the next segment, and
// the bytes it still needs there; nullopt when there is none (or the walk meets invalid WAL).
struct Crossing {
  std::vector<Piece> pieces;
  std::uint32_t missing = 0;
};
std::optional<Crossing> LastRecordCrossing(const SegmentView& seg, int tag) {
  std::uint32_t continued = 0;
  std::optional<std::size_t> pos = FirstRecord(seg, continued);
  while (pos && (pos = RecordStart(seg, *pos))) {
    const auto total = RecordLength(seg, *pos);
    if (!total) return std::nullopt;
    Crossing crossing;
    std::size_t next = 0;
    const auto left = CollectPieces(seg, tag, *pos, *total, crossing.pieces, next);
    if (!left) return std::nullopt;
    if (*left > 0) {
      crossing.missing = *left;
      return crossing;
    }
    pos = next;
  }
  return std::nullopt;
}

std::uint32_t RecordCrc(std::span<const std::byte> record) {
  std::uint32_t crc = Crc32cUpdate(kCrc32cInit, record.data() + wal::kRecordHeaderSize,
                                   record.size() - wal::kRecordHeaderSize);
  crc = Crc32cUpdate(crc, record.data(), wal::kRecordCrcOffset);
  return Crc32cFinish(crc);
}

// The same-length XLOG_NOOP for `record`: header fields kept but rmgr and info; a body of only
// main data (zeros), which is what DecodeXLogRecord expects of a record without blocks. A pure
// function of the original record, so that two segments holding parts of it agree.
void MakeNoop(std::span<std::byte> record) {
  const std::size_t body = record.size() - wal::kRecordHeaderSize;
  record[16] = std::byte{wal::kXlogNoop};
  record[17] = std::byte{static_cast<std::uint8_t>(wal::Rmgr::kXlog)};
  record[18] = record[19] = std::byte{0};
  std::memset(record.data() + wal::kRecordHeaderSize, 0, body);
  std::byte* b = record.data() + wal::kRecordHeaderSize;
  if (body - 2 <= 255) {
    b[0] = std::byte{wal::kBlockIdDataShort};
    b[1] = std::byte{static_cast<std::uint8_t>(body - 2)};
  } else {
    b[0] = std::byte{wal::kBlockIdDataLong};
    const auto length = static_cast<std::uint32_t>(body - 5);
    std::memcpy(b + 1, &length, sizeof length);
  }
  const std::uint32_t crc = RecordCrc(record);
  std::memcpy(record.data() + wal::kRecordCrcOffset, &crc, sizeof crc);
}

// Rewrites records given as pieces in up to three segments; only the pieces of segment 0 are
// written back (the neighbours are read-only originals).
class Rewriter {
 public:
  Rewriter(std::span<std::byte> self, std::span<const std::byte> previous,
           const std::function<bool(const WalRecord&)>& neutralize, NeutralizeResult& result)
      : self_(self), previous_(previous), neutralize_(neutralize), result_(result) {}

  // False when the record's CRC does not match (the caller stops there).
  bool Handle(const std::vector<Piece>& pieces, Lsn lsn) {
    // Most records lie within one page: checked and rewritten where they are, without a copy.
    const bool in_place = pieces.size() == 1 && pieces[0].segment == 0;
    std::span<std::byte> record;
    if (in_place) {
      record = self_.subspan(pieces[0].offset, pieces[0].length);
    } else {
      bytes_.clear();
      for (const Piece& p : pieces) {
        const std::byte* from = Segment(p.segment).data() + p.offset;
        bytes_.insert(bytes_.end(), from, from + p.length);
      }
      record = bytes_;
    }
    if (RecordCrc(record) != LoadAt<std::uint32_t>(record.data(), wal::kRecordCrcOffset)) {
      return false;
    }
    ++result_.records;
    if (!Decode(record, lsn) || record.size() < wal::kRecordHeaderSize + 2 ||
        !OnlyChangesItsBlocks(record_) || !neutralize_(record_)) {
      return true;
    }
    MakeNoop(record);
    if (!in_place) {
      std::size_t from = 0;
      for (const Piece& p : pieces) {
        if (p.segment == 0) {
          std::memcpy(self_.data() + p.offset, bytes_.data() + from, p.length);
        }
        from += p.length;
      }
    }
    ++result_.neutralized;
    result_.bytes += record.size();
    return true;
  }

  const WalRecord& record() const { return record_; }
  void set_next(std::span<const std::byte> next) { next_ = next; }

 private:
  std::span<const std::byte> Segment(int tag) const {
    return tag < 0 ? previous_ : tag > 0 ? next_ : std::span<const std::byte>(self_);
  }

  bool Decode(std::span<const std::byte> bytes, Lsn lsn) {
    record_.lsn = lsn;
    record_.end_lsn = Lsn{lsn.value + bytes.size()};  // only for messages; pages not counted
    record_.total_length = static_cast<std::uint32_t>(bytes.size());
    record_.xid = LoadAt<std::uint32_t>(bytes.data(), 4);
    record_.prev = Lsn{LoadAt<std::uint64_t>(bytes.data(), 8)};
    record_.info = LoadAt<std::uint8_t>(bytes.data(), 16);
    record_.rmid = LoadAt<std::uint8_t>(bytes.data(), 17);
    try {
      DecodeRecordBody(bytes, record_);
      return true;
    } catch (const Error&) {
      return false;  // not a record this code understands: PostgreSQL will judge it
    }
  }

  std::span<std::byte> self_;
  std::span<const std::byte> previous_, next_;
  const std::function<bool(const WalRecord&)>& neutralize_;
  NeutralizeResult& result_;
  std::vector<std::byte> bytes_;
  WalRecord record_;
};

std::span<const std::byte> BytesOf(const std::shared_ptr<const std::string>& s) {
  if (!s) return {};
  return {reinterpret_cast<const std::byte*>(s->data()), s->size()};
}

// The record continued from the previous segment into the start of `self`, if any.
void HandleContinuation(const SegmentView& self, std::uint32_t continued,
                        const std::shared_ptr<const std::string>& previous, Rewriter& rewriter) {
  if (continued == 0 || !previous || previous->size() != self.bytes.size()) return;
  const SegmentView prev{BytesOf(previous), Lsn{self.start.value - self.bytes.size()}};
  std::optional<Crossing> crossing = LastRecordCrossing(prev, -1);
  if (!crossing || crossing->missing != continued) return;
  if (!ContinueInto(self, 0, continued, crossing->pieces)) return;
  rewriter.Handle(crossing->pieces, Lsn{prev.start.value + crossing->pieces.front().offset});
}

}  // namespace

bool OnlyChangesItsBlocks(const WalRecord& record) {
  if (record.blocks.empty() || record.toplevel_xid || record.origin) return false;
  switch (static_cast<wal::Rmgr>(record.rmid)) {
    case wal::Rmgr::kXlog:
      return record.rmgr_info() == wal::kXlogFpi || record.rmgr_info() == wal::kXlogFpiForHint;
    case wal::Rmgr::kHeap:
    case wal::Rmgr::kHeap2:
    case wal::Rmgr::kBtree:
    case wal::Rmgr::kHash:
    case wal::Rmgr::kGin:
    case wal::Rmgr::kGist:
    case wal::Rmgr::kSeq:
    case wal::Rmgr::kSpgist:
    case wal::Rmgr::kBrin:
    case wal::Rmgr::kGeneric:
      return true;
    default:
      return false;
  }
}

NeutralizeResult NeutralizeRecords(std::span<std::byte> segment, Lsn segment_start,
                                   const std::function<bool(const WalRecord&)>& neutralize,
                                   const WalNeighbors& neighbors) {
  NeutralizeResult result;
  if (!wal::IsValidSegmentSize(segment.size())) return result;
  const SegmentView self{segment, segment_start};
  const auto previous = neighbors.previous ? neighbors.previous() : nullptr;
  std::shared_ptr<const std::string> next;  // fetched only if a record crosses into it
  Rewriter rewriter(segment, BytesOf(previous), neutralize, result);

  std::uint32_t continued = 0;
  std::optional<std::size_t> pos = FirstRecord(self, continued);
  if (pos) HandleContinuation(self, continued, previous, rewriter);
  while (pos && (pos = RecordStart(self, *pos))) {
    const auto total = RecordLength(self, *pos);
    if (!total) break;  // end of the written WAL
    std::vector<Piece> pieces;
    std::size_t next_pos = 0;
    const auto missing = CollectPieces(self, 0, *pos, *total, pieces, next_pos);
    if (!missing) break;
    const Lsn lsn{segment_start.value + *pos};
    if (*missing > 0) {  // the last record, continued in the next segment
      next = neighbors.next ? neighbors.next() : nullptr;
      if (!next || next->size() != segment.size()) break;
      const SegmentView after{BytesOf(next), Lsn{segment_start.value + segment.size()}};
      if (!ContinueInto(after, 1, *missing, pieces)) break;
      rewriter.set_next(after.bytes);
      rewriter.Handle(pieces, lsn);
      break;
    }
    if (!rewriter.Handle(pieces, lsn)) break;
    const WalRecord& r = rewriter.record();
    if (r.lsn == lsn && r.IsRmgr(static_cast<std::uint8_t>(wal::Rmgr::kXlog)) &&
        r.rmgr_info() == wal::kXlogSwitch) {
      break;  // the rest of the segment is unused
    }
    pos = next_pos;
  }
  return result;
}

}  // namespace dbmedic::pg
