// Decoders of the record types dbmedic's forensics reads: transaction commit/abort (xid, time,
// subtransactions, dropped relation files), heap changes (per relation), heap TRUNCATE, storage
// create/truncate, relation map updates, DROP DATABASE. Layouts: access/xact.h,
// access/heapam_xlog.h, catalog/storage_xlog.h, utils/relmapper.h, commands/dbcommands_xlog.h
// (PostgreSQL 15), transcribed in wal_format.hpp. Each decoder returns nullopt for records of
// other types and throws Error(kCorrupt) naming the record's LSN when the payload is malformed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pg/wal_record.hpp"

namespace dbmedic::pg {

enum class XactKind { kCommit, kAbort, kCommitPrepared, kAbortPrepared, kPrepare, kAssignment };

struct DroppedStat {
  std::int32_t kind = 0;  // PgStat_Kind
  Oid db = 0;
  Oid object = 0;
};

struct XactRecord {
  XactKind kind = XactKind::kCommit;
  TransactionId xid = 0;  // the transaction that ended (for prepared ones: the prepared xid)
  std::int64_t time = 0;  // TimestampTz: microseconds since 2000-01-01 UTC (0 for assignment)
  Oid db = 0;             // from xl_xact_dbinfo, 0 when absent
  Oid tablespace = 0;
  std::vector<TransactionId> subxacts;
  std::vector<RelFileNode> dropped_files;  // files removed at commit/abort
  std::vector<DroppedStat> dropped_stats;
  std::uint32_t invalidations = 0;
  std::string gid;  // two-phase commit identifier
  std::optional<Lsn> origin_lsn;
};
std::optional<XactRecord> DecodeXact(const WalRecord& record);

enum class HeapOp { kInsert, kMultiInsert, kDelete, kUpdate, kHotUpdate };
struct HeapChange {
  HeapOp op = HeapOp::kInsert;
  RelFileNode rel;         // the relation of block 0 (the new tuple's page for updates)
  std::uint32_t rows = 1;  // tuples affected (multi-insert: ntuples)
};
// Heap / Heap2 row changes (not TRUNCATE, not locks/pruning).
std::optional<HeapChange> DecodeHeapChange(const WalRecord& record);

struct HeapTruncate {  // only logged at wal_level=logical
  Oid db = 0;
  std::uint8_t flags = 0;  // XLH_TRUNCATE_CASCADE 1, XLH_TRUNCATE_RESTART_SEQS 2
  std::vector<Oid> relation_oids;
};
std::optional<HeapTruncate> DecodeHeapTruncate(const WalRecord& record);

struct SmgrCreate {
  RelFileNode rel;
  std::int32_t fork = 0;
};
std::optional<SmgrCreate> DecodeSmgrCreate(const WalRecord& record);

struct SmgrTruncate {
  RelFileNode rel;
  std::uint32_t blocks = 0;  // new length in blocks
  std::int32_t flags = 0;
};
std::optional<SmgrTruncate> DecodeSmgrTruncate(const WalRecord& record);

struct RelmapUpdate {
  Oid db = 0;  // 0: the shared map
  Oid tablespace = 0;
  std::vector<std::pair<Oid, Oid>> mappings;  // catalog oid -> relfilenode
};
std::optional<RelmapUpdate> DecodeRelmapUpdate(const WalRecord& record);

struct DatabaseDrop {
  Oid db = 0;
  std::vector<Oid> tablespaces;
};
std::optional<DatabaseDrop> DecodeDatabaseDrop(const WalRecord& record);

// "2026-11-29T12:34:56.123456Z" for a TimestampTz.
std::string FormatPgTimestamp(std::int64_t timestamp);
// Unix seconds (with fraction) of a TimestampTz.
double PgTimestampToUnix(std::int64_t timestamp);

}  // namespace dbmedic::pg
