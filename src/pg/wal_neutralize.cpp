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

// Where one record's bytes lie in the segment: its header's page and, when it crosses pages, the
// continuation pieces after the following pages' headers.
struct Piece {
  std::size_t offset = 0;
  std::size_t length = 0;
};

class SegmentWalker {
 public:
  SegmentWalker(std::span<std::byte> segment, Lsn start) : seg_(segment), start_(start) {}

  // The header size of the page at `page_offset` when it is a page of this segment as written
  // for this pass of the WAL (magic, address, the continuation flag as expected); nullopt ends
  // the walk.
  std::optional<std::uint32_t> PageHeader(std::size_t page_offset, bool continuation,
                                          std::uint32_t rem_len) const {
    const std::byte* page = seg_.data() + page_offset;
    if (LoadAt<std::uint16_t>(page, 0) != wal::kPageMagicPg15) return std::nullopt;
    if (LoadAt<std::uint64_t>(page, 8) != start_.value + page_offset) return std::nullopt;
    const std::uint16_t info = LoadAt<std::uint16_t>(page, 2);
    if (((info & wal::kXlpFirstIsContRecord) != 0) != continuation) return std::nullopt;
    if (continuation && LoadAt<std::uint32_t>(page, 16) != rem_len) return std::nullopt;
    return (info & wal::kXlpLongHeader) ? wal::kLongPageHeaderSize : wal::kShortPageHeaderSize;
  }

  // Offset of the first record that starts in this segment (after a record continued from the
  // previous one), or nullopt.
  std::optional<std::size_t> FirstRecord() const {
    const std::byte* page = seg_.data();
    if (LoadAt<std::uint16_t>(page, 0) != wal::kPageMagicPg15) return std::nullopt;
    const bool continued = (LoadAt<std::uint16_t>(page, 2) & wal::kXlpFirstIsContRecord) != 0;
    std::uint32_t remaining = continued ? LoadAt<std::uint32_t>(page, 16) : 0;
    auto header = PageHeader(0, continued, remaining);
    std::size_t pos = header.value_or(0);
    if (!header) return std::nullopt;
    while (remaining > 0) {
      const std::size_t page_end = (pos / kBlockSize + 1) * kBlockSize;
      const std::size_t take = std::min<std::size_t>(remaining, page_end - pos);
      remaining -= static_cast<std::uint32_t>(take);
      pos += take;
      if (remaining == 0) break;
      if (pos >= seg_.size()) return std::nullopt;  // continued beyond this segment too
      header = PageHeader(pos, true, remaining);
      if (!header) return std::nullopt;
      pos += *header;
    }
    return static_cast<std::size_t>(wal::MaxAlign(pos));
  }

  // The pieces of the record at `pos`; nullopt when it does not end in this segment or a page
  // on the way is not valid. `next` gets the offset after the record.
  std::optional<std::vector<Piece>> RecordPieces(std::size_t pos, std::uint32_t total,
                                                 std::size_t& next) const {
    std::vector<Piece> pieces;
    std::uint32_t remaining = total;
    while (true) {
      const std::size_t page_end = (pos / kBlockSize + 1) * kBlockSize;
      const std::size_t take = std::min<std::size_t>(remaining, page_end - pos);
      pieces.push_back({pos, take});
      remaining -= static_cast<std::uint32_t>(take);
      pos += take;
      if (remaining == 0) break;
      if (pos >= seg_.size()) return std::nullopt;
      const auto header = PageHeader(pos, true, remaining);
      if (!header) return std::nullopt;
      pos += *header;
    }
    next = static_cast<std::size_t>(wal::MaxAlign(pos));
    return pieces;
  }

  // Start of the next record at or after `pos`: skips a page header when `pos` is at a page
  // boundary. nullopt at the end of the segment or of the valid WAL.
  std::optional<std::size_t> RecordStart(std::size_t pos) const {
    if (pos >= seg_.size()) return std::nullopt;
    if (pos % kBlockSize != 0) return pos;
    const auto header = PageHeader(pos, false, 0);
    if (!header) return std::nullopt;
    return pos + *header;
  }

  std::span<std::byte> segment() const { return seg_; }
  Lsn start() const { return start_; }

 private:
  std::span<std::byte> seg_;
  Lsn start_;
};

std::uint32_t RecordCrc(const std::vector<std::byte>& record) {
  std::uint32_t crc = Crc32cUpdate(kCrc32cInit, record.data() + wal::kRecordHeaderSize,
                                   record.size() - wal::kRecordHeaderSize);
  crc = Crc32cUpdate(crc, record.data(), wal::kRecordCrcOffset);
  return Crc32cFinish(crc);
}

// The same-length XLOG_NOOP for `record`: header fields kept but rmgr and info; a body of only
// main data (zeros), which is what DecodeXLogRecord expects of a record without blocks.
void MakeNoop(std::vector<std::byte>& record) {
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

void Gather(std::span<const std::byte> seg, const std::vector<Piece>& pieces,
            std::vector<std::byte>& out) {
  out.clear();
  for (const Piece& p : pieces) out.insert(out.end(), seg.begin() + p.offset,
                                           seg.begin() + p.offset + p.length);
}

void Scatter(const std::vector<std::byte>& record, const std::vector<Piece>& pieces,
             std::span<std::byte> seg) {
  std::size_t from = 0;
  for (const Piece& p : pieces) {
    std::memcpy(seg.data() + p.offset, record.data() + from, p.length);
    from += p.length;
  }
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
                                   const std::function<bool(const WalRecord&)>& neutralize) {
  NeutralizeResult result;
  if (!wal::IsValidSegmentSize(segment.size())) return result;
  const SegmentWalker walker(segment, segment_start);
  std::optional<std::size_t> pos = walker.FirstRecord();
  std::vector<std::byte> bytes;
  WalRecord record;
  while (pos && (pos = walker.RecordStart(*pos))) {
    const std::uint32_t total = LoadAt<std::uint32_t>(segment.data(), *pos);
    if (total < wal::kRecordHeaderSize || total > wal::kMaxRecordSize) break;  // end of WAL
    std::size_t next = 0;
    const auto pieces = walker.RecordPieces(*pos, total, next);
    if (!pieces) break;  // continues into the next segment: left as it is
    Gather(segment, *pieces, bytes);
    if (RecordCrc(bytes) != LoadAt<std::uint32_t>(bytes.data(), wal::kRecordCrcOffset)) break;
    ++result.records;
    record.lsn = Lsn{segment_start.value + *pos};
    record.end_lsn = Lsn{segment_start.value + pieces->back().offset + pieces->back().length};
    record.total_length = total;
    record.xid = LoadAt<std::uint32_t>(bytes.data(), 4);
    record.prev = Lsn{LoadAt<std::uint64_t>(bytes.data(), 8)};
    record.info = LoadAt<std::uint8_t>(bytes.data(), 16);
    record.rmid = LoadAt<std::uint8_t>(bytes.data(), 17);
    try {
      DecodeRecordBody(bytes, record);
    } catch (const Error&) {
      break;  // not a record this walker understands: leave the rest to PostgreSQL
    }
    if (total >= wal::kRecordHeaderSize + 2 && OnlyChangesItsBlocks(record) &&
        neutralize(record)) {
      MakeNoop(bytes);
      Scatter(bytes, *pieces, segment);
      ++result.neutralized;
      result.bytes += total;
    }
    if (record.IsRmgr(static_cast<std::uint8_t>(wal::Rmgr::kXlog)) &&
        record.rmgr_info() == wal::kXlogSwitch) {
      break;  // the rest of the segment is unused
    }
    pos = next;
  }
  return result;
}

}  // namespace dbmedic::pg
