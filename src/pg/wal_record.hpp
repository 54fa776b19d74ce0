// One decoded WAL record: the XLogRecord header fields, its block references and its main data,
// as PostgreSQL 15's xlogreader.c splits them (DecodeXLogRecord). Byte spans point into buffers
// owned by the WalReader and stay valid until its next call to Next().
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pg/lsn.hpp"

namespace dbmedic::pg {

using TransactionId = std::uint32_t;
using Oid = std::uint32_t;

// Physical identity of a relation's files: tablespace / database / relfilenode (RelFileNode).
struct RelFileNode {
  Oid spc = 0;
  Oid db = 0;
  Oid rel = 0;
  auto operator<=>(const RelFileNode&) const = default;
  std::string ToString() const;  // "1663/5/16384", as pg_waldump prints it
};

struct RelFileNodeHash {
  std::size_t operator()(const RelFileNode& r) const noexcept {
    return std::hash<std::uint64_t>()((std::uint64_t{r.db} << 32) ^ r.rel ^
                                      (std::uint64_t{r.spc} << 17));
  }
};

// A block reference (XLogRecordBlockHeader and what follows it).
struct WalBlockRef {
  std::uint8_t id = 0;
  std::uint8_t fork = 0;  // 0 main, 1 fsm, 2 vm, 3 init
  RelFileNode rnode;
  std::uint32_t block = 0;
  bool has_image = false;
  bool apply_image = false;
  bool will_init = false;
  std::span<const std::byte> image;  // possibly compressed page image
  std::span<const std::byte> data;   // block data
};

struct WalRecord {
  Lsn lsn;          // start of the record (ReadRecPtr)
  Lsn end_lsn;      // first byte after the record (EndRecPtr, before alignment)
  Lsn prev;         // xl_prev
  std::uint32_t total_length = 0;  // xl_tot_len
  TransactionId xid = 0;           // xl_xid (a subtransaction's own xid, if any)
  std::uint8_t info = 0;           // xl_info
  std::uint8_t rmid = 0;           // xl_rmid
  std::optional<TransactionId> toplevel_xid;  // XLR_BLOCK_ID_TOPLEVEL_XID (wal_level=logical)
  std::optional<std::uint16_t> origin;        // XLR_BLOCK_ID_ORIGIN
  std::vector<WalBlockRef> blocks;            // in block-id order
  std::span<const std::byte> main_data;

  std::uint8_t rmgr_info() const { return info & 0xF0; }
  bool IsRmgr(std::uint8_t id) const { return rmid == id; }
};

// Splits a whole record (header included, CRC already checked) into blocks and main data, like
// DecodeXLogRecord. Throws Error(kCorrupt) naming `record.lsn` and what is malformed. `record`
// must already hold lsn/end_lsn; the spans refer into `bytes`.
void DecodeRecordBody(std::span<const std::byte> bytes, WalRecord& record);

}  // namespace dbmedic::pg
