#include "pg/wal_decoders.hpp"

#include <ctime>

#include <fmt/format.h>

#include "core/error.hpp"
#include "pg/wal_bytes.hpp"
#include "pg/wal_format.hpp"

namespace dbmedic::pg {

using wal::ByteReader;

namespace {

constexpr auto kXactId = static_cast<std::uint8_t>(wal::Rmgr::kXact);
constexpr auto kHeapId = static_cast<std::uint8_t>(wal::Rmgr::kHeap);
constexpr auto kHeap2Id = static_cast<std::uint8_t>(wal::Rmgr::kHeap2);
constexpr auto kSmgrId = static_cast<std::uint8_t>(wal::Rmgr::kSmgr);
constexpr auto kRelmapId = static_cast<std::uint8_t>(wal::Rmgr::kRelMap);
constexpr auto kDbaseId = static_cast<std::uint8_t>(wal::Rmgr::kDbase);

// Runs `decode` and adds the record's LSN and type to any error it throws.
template <typename F>
auto WithRecordContext(const WalRecord& record, std::string_view what, F&& decode) {
  try {
    return decode();
  } catch (const Error& e) {
    throw e.WithContext(fmt::format("{} record at {}", what, record.lsn.ToString()));
  }
}

RelFileNode ReadRelFileNode(ByteReader& in) {
  RelFileNode r;
  r.spc = in.Read<std::uint32_t>();
  r.db = in.Read<std::uint32_t>();
  r.rel = in.Read<std::uint32_t>();
  return r;
}

// The optional parts of a commit or abort record, in the order ParseCommitRecord and
// ParseAbortRecord (xactdesc.c) read them.
void ReadXactInfo(ByteReader& in, std::uint8_t info, bool is_commit, XactRecord& out) {
  std::uint32_t xinfo = (info & wal::kXactHasInfo) ? in.Read<std::uint32_t>() : 0;
  if (xinfo & wal::kXinfoHasDbInfo) {
    out.db = in.Read<std::uint32_t>();
    out.tablespace = in.Read<std::uint32_t>();
  }
  if (xinfo & wal::kXinfoHasSubxacts) {
    std::size_t n = in.ReadCount(4);
    for (std::size_t i = 0; i < n; ++i) out.subxacts.push_back(in.Read<std::uint32_t>());
  }
  if (xinfo & wal::kXinfoHasRelfilenodes) {
    std::size_t n = in.ReadCount(wal::kRelFileNodeSize);
    for (std::size_t i = 0; i < n; ++i) out.dropped_files.push_back(ReadRelFileNode(in));
  }
  if (xinfo & wal::kXinfoHasDroppedStats) {
    std::size_t n = in.ReadCount(wal::kXactStatsItemSize);
    for (std::size_t i = 0; i < n; ++i) {
      DroppedStat s;
      s.kind = in.Read<std::int32_t>();
      s.db = in.Read<std::uint32_t>();
      s.object = in.Read<std::uint32_t>();
      out.dropped_stats.push_back(s);
    }
  }
  if (is_commit && (xinfo & wal::kXinfoHasInvals)) {
    std::size_t n = in.ReadCount(wal::kSharedInvalMessageSize);
    in.Skip(n * wal::kSharedInvalMessageSize);
    out.invalidations = static_cast<std::uint32_t>(n);
  }
  if (xinfo & wal::kXinfoHasTwophase) {
    out.xid = in.Read<std::uint32_t>();
    if (xinfo & wal::kXinfoHasGid) out.gid = in.ReadCString();
  }
  if (xinfo & wal::kXinfoHasOrigin) {
    out.origin_lsn = Lsn{in.Read<std::uint64_t>()};
    in.Skip(8);  // origin_timestamp
  }
}

}  // namespace

std::optional<XactRecord> DecodeXact(const WalRecord& record) {
  if (record.rmid != kXactId) return std::nullopt;
  std::uint8_t op = record.info & wal::kXactOpMask;
  XactRecord out;
  out.xid = record.xid;
  switch (op) {
    case wal::kXactCommit: out.kind = XactKind::kCommit; break;
    case wal::kXactAbort: out.kind = XactKind::kAbort; break;
    case wal::kXactCommitPrepared: out.kind = XactKind::kCommitPrepared; break;
    case wal::kXactAbortPrepared: out.kind = XactKind::kAbortPrepared; break;
    case wal::kXactPrepare: out.kind = XactKind::kPrepare; return out;
    case wal::kXactAssignment: out.kind = XactKind::kAssignment; break;
    default: return std::nullopt;  // invalidations
  }
  return WithRecordContext(record, "transaction", [&] {
    ByteReader in(record.main_data, "main data");
    if (out.kind == XactKind::kAssignment) {
      out.xid = in.Read<std::uint32_t>();
      std::size_t n = in.ReadCount(4);
      for (std::size_t i = 0; i < n; ++i) out.subxacts.push_back(in.Read<std::uint32_t>());
      return out;
    }
    out.time = in.Read<std::int64_t>();
    bool is_commit = out.kind == XactKind::kCommit || out.kind == XactKind::kCommitPrepared;
    ReadXactInfo(in, record.info, is_commit, out);
    return out;
  });
}

std::optional<HeapChange> DecodeHeapChange(const WalRecord& record) {
  HeapChange out;
  std::uint8_t op = record.info & wal::kHeapOpMask;
  if (record.rmid == kHeapId) {
    switch (op) {
      case wal::kHeapInsert: out.op = HeapOp::kInsert; break;
      case wal::kHeapDelete: out.op = HeapOp::kDelete; break;
      case wal::kHeapUpdate: out.op = HeapOp::kUpdate; break;
      case wal::kHeapHotUpdate: out.op = HeapOp::kHotUpdate; break;
      default: return std::nullopt;
    }
  } else if (record.rmid == kHeap2Id && op == wal::kHeap2MultiInsert) {
    out.op = HeapOp::kMultiInsert;
    out.rows = WithRecordContext(record, "heap multi-insert", [&] {
      ByteReader in(record.main_data, "main data");
      in.Skip(2);  // flags u8 + padding: ntuples is a u16 at offset 2
      return static_cast<std::uint32_t>(in.Read<std::uint16_t>());
    });
  } else {
    return std::nullopt;
  }
  if (record.blocks.empty()) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("heap record at {} has no block reference", record.lsn.ToString()));
  }
  out.rel = record.blocks.front().rnode;
  return out;
}

std::optional<HeapTruncate> DecodeHeapTruncate(const WalRecord& record) {
  if (record.rmid != kHeapId || (record.info & wal::kHeapOpMask) != wal::kHeapTruncate) {
    return std::nullopt;
  }
  return WithRecordContext(record, "heap truncate", [&] {
    ByteReader in(record.main_data, "main data");
    HeapTruncate out;
    out.db = in.Read<std::uint32_t>();
    auto n = in.Read<std::uint32_t>();
    out.flags = in.Read<std::uint8_t>();
    in.Skip(3);  // padding up to relids (SizeOfHeapTruncate = 12)
    if (n > in.remaining() / 4) {
      throw Error(ErrorCode::kCorrupt, fmt::format("impossible relation count {}", n));
    }
    for (std::uint32_t i = 0; i < n; ++i) out.relation_oids.push_back(in.Read<std::uint32_t>());
    return out;
  });
}

std::optional<SmgrCreate> DecodeSmgrCreate(const WalRecord& record) {
  if (record.rmid != kSmgrId || record.rmgr_info() != wal::kSmgrCreate) return std::nullopt;
  return WithRecordContext(record, "storage create", [&] {
    ByteReader in(record.main_data, "main data");
    SmgrCreate out;
    out.rel = ReadRelFileNode(in);
    out.fork = in.Read<std::int32_t>();
    return out;
  });
}

std::optional<SmgrTruncate> DecodeSmgrTruncate(const WalRecord& record) {
  if (record.rmid != kSmgrId || record.rmgr_info() != wal::kSmgrTruncate) return std::nullopt;
  return WithRecordContext(record, "storage truncate", [&] {
    ByteReader in(record.main_data, "main data");
    SmgrTruncate out;
    out.blocks = in.Read<std::uint32_t>();
    out.rel = ReadRelFileNode(in);
    out.flags = in.Read<std::int32_t>();
    return out;
  });
}

std::optional<RelmapUpdate> DecodeRelmapUpdate(const WalRecord& record) {
  if (record.rmid != kRelmapId || record.rmgr_info() != wal::kRelmapUpdate) return std::nullopt;
  return WithRecordContext(record, "relation map", [&] {
    ByteReader in(record.main_data, "main data");
    RelmapUpdate out;
    out.db = in.Read<std::uint32_t>();
    out.tablespace = in.Read<std::uint32_t>();
    auto nbytes = in.Read<std::int32_t>();
    ByteReader map(in.Take(nbytes < 0 ? in.remaining() + 1 : static_cast<std::size_t>(nbytes)),
                   "relation map file");
    if (map.Read<std::int32_t>() != wal::kRelMapFileMagic) {
      throw Error(ErrorCode::kCorrupt, "relation map file has a wrong magic number");
    }
    auto count = map.Read<std::int32_t>();
    if (count < 0 || static_cast<std::uint32_t>(count) > wal::kMaxMappings) {
      throw Error(ErrorCode::kCorrupt, fmt::format("relation map has {} mappings", count));
    }
    for (std::int32_t i = 0; i < count; ++i) {
      Oid oid = map.Read<std::uint32_t>();
      Oid filenode = map.Read<std::uint32_t>();
      out.mappings.emplace_back(oid, filenode);
    }
    return out;
  });
}

std::optional<DatabaseDrop> DecodeDatabaseDrop(const WalRecord& record) {
  if (record.rmid != kDbaseId || record.rmgr_info() != wal::kDbaseDrop) return std::nullopt;
  return WithRecordContext(record, "drop database", [&] {
    ByteReader in(record.main_data, "main data");
    DatabaseDrop out;
    out.db = in.Read<std::uint32_t>();
    std::size_t n = in.ReadCount(4);
    for (std::size_t i = 0; i < n; ++i) out.tablespaces.push_back(in.Read<std::uint32_t>());
    return out;
  });
}

double PgTimestampToUnix(std::int64_t timestamp) {
  return static_cast<double>(wal::kPostgresEpochUnixSeconds) +
         static_cast<double>(timestamp) / 1e6;
}

std::string FormatPgTimestamp(std::int64_t timestamp) {
  std::int64_t seconds = timestamp / 1000000;
  std::int64_t micros = timestamp % 1000000;
  if (micros < 0) {
    micros += 1000000;
    seconds -= 1;
  }
  std::time_t unix_seconds = static_cast<std::time_t>(seconds + wal::kPostgresEpochUnixSeconds);
  std::tm tm{};
  gmtime_r(&unix_seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
}

}  // namespace dbmedic::pg
