// The fixed on-disk layouts of PostgreSQL 15 WAL, transcribed (not included) from Debian's
// postgresql-server-dev-15 headers, whose file and struct each constant names. We transcribe rather
// than include the server headers so that the decoder never depends on the server's build
// configuration macros and reads every field by explicit offset (bounds-checked, unaligned-safe).
// tests/unit/waldecoder/layout_test.cpp checks these numbers against the real headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace dbmedic::pg::wal {

// --- access/xlog_internal.h -------------------------------------------------------------------
inline constexpr std::uint16_t kPageMagicPg15 = 0xD110;  // XLOG_PAGE_MAGIC
inline constexpr std::uint32_t kBlockSize = 8192;        // XLOG_BLCKSZ (Debian default)
inline constexpr std::uint32_t kMaxAlign = 8;            // MAXIMUM_ALIGNOF on x86-64/arm64

// XLogPageHeaderData: xlp_magic u16 @0, xlp_info u16 @2, xlp_tli u32 @4, xlp_pageaddr u64 @8,
// xlp_rem_len u32 @16; SizeOfXLogShortPHD = MAXALIGN(20) = 24.
inline constexpr std::uint32_t kShortPageHeaderSize = 24;
// XLogLongPageHeaderData adds xlp_sysid u64 @24, xlp_seg_size u32 @32, xlp_xlog_blcksz u32 @36;
// SizeOfXLogLongPHD = 40.
inline constexpr std::uint32_t kLongPageHeaderSize = 40;

inline constexpr std::uint16_t kXlpFirstIsContRecord = 0x0001;  // XLP_FIRST_IS_CONTRECORD
inline constexpr std::uint16_t kXlpLongHeader = 0x0002;         // XLP_LONG_HEADER
inline constexpr std::uint16_t kXlpFirstIsOverwriteContRecord = 0x0008;
inline constexpr std::uint16_t kXlpAllFlags = 0x000F;           // XLP_ALL_FLAGS

// Valid wal_segment_size values: powers of two from 1 MB to 1 GB (IsValidWalSegSize).
bool IsValidSegmentSize(std::uint64_t size);

// --- access/xlogrecord.h ----------------------------------------------------------------------
// XLogRecord: xl_tot_len u32 @0, xl_xid u32 @4, xl_prev u64 @8, xl_info u8 @16, xl_rmid u8 @17,
// 2 bytes padding, xl_crc u32 @20. SizeOfXLogRecord = 24. The CRC covers the bytes after the
// header, then the header up to xl_crc.
inline constexpr std::uint32_t kRecordHeaderSize = 24;
inline constexpr std::uint32_t kRecordCrcOffset = 20;

inline constexpr std::uint8_t kXlrInfoMask = 0x0F;      // XLR_INFO_MASK
inline constexpr std::uint8_t kXlrRmgrInfoMask = 0xF0;  // XLR_RMGR_INFO_MASK

// XLogRecordBlockHeader: id u8, fork_flags u8, data_length u16 (4 bytes).
inline constexpr std::uint32_t kBlockHeaderSize = 4;
// XLogRecordBlockImageHeader: length u16, hole_offset u16, bimg_info u8 (5 bytes).
inline constexpr std::uint32_t kBlockImageHeaderSize = 5;
// XLogRecordBlockCompressHeader: hole_length u16.
inline constexpr std::uint32_t kBlockCompressHeaderSize = 2;
inline constexpr std::uint32_t kRelFileNodeSize = 12;  // RelFileNode: spcNode, dbNode, relNode

inline constexpr std::uint8_t kBkpBlockForkMask = 0x0F;   // BKPBLOCK_FORK_MASK
inline constexpr std::uint8_t kBkpBlockHasImage = 0x10;   // BKPBLOCK_HAS_IMAGE
inline constexpr std::uint8_t kBkpBlockHasData = 0x20;    // BKPBLOCK_HAS_DATA
inline constexpr std::uint8_t kBkpBlockWillInit = 0x40;   // BKPBLOCK_WILL_INIT
inline constexpr std::uint8_t kBkpBlockSameRel = 0x80;    // BKPBLOCK_SAME_REL
inline constexpr std::uint8_t kBkpImageHasHole = 0x01;    // BKPIMAGE_HAS_HOLE
inline constexpr std::uint8_t kBkpImageApply = 0x02;      // BKPIMAGE_APPLY
inline constexpr std::uint8_t kBkpImageCompressMask = 0x1C;  // PGLZ | LZ4 | ZSTD

inline constexpr std::uint8_t kMaxBlockId = 32;            // XLR_MAX_BLOCK_ID
inline constexpr std::uint8_t kBlockIdDataShort = 255;     // XLR_BLOCK_ID_DATA_SHORT
inline constexpr std::uint8_t kBlockIdDataLong = 254;      // XLR_BLOCK_ID_DATA_LONG
inline constexpr std::uint8_t kBlockIdOrigin = 253;        // XLR_BLOCK_ID_ORIGIN
inline constexpr std::uint8_t kBlockIdToplevelXid = 252;   // XLR_BLOCK_ID_TOPLEVEL_XID

// A record larger than this is treated as corrupt (PostgreSQL 15 caps records near 1 GB:
// XLogRecordMaxSize arrives in 16; AllocSizeIsValid bounds the reader in 15).
inline constexpr std::uint32_t kMaxRecordSize = 1020u * 1024u * 1024u;

// --- access/rmgrlist.h ------------------------------------------------------------------------
enum class Rmgr : std::uint8_t {
  kXlog = 0, kXact = 1, kSmgr = 2, kClog = 3, kDbase = 4, kTblspc = 5, kMultiXact = 6,
  kRelMap = 7, kStandby = 8, kHeap2 = 9, kHeap = 10, kBtree = 11, kHash = 12, kGin = 13,
  kGist = 14, kSeq = 15, kSpgist = 16, kBrin = 17, kCommitTs = 18, kReplOrigin = 19,
  kGeneric = 20, kLogicalMsg = 21,
};
inline constexpr std::uint8_t kMaxBuiltinRmgr = 21;       // RM_MAX_BUILTIN_ID
inline constexpr std::uint8_t kMinCustomRmgr = 128;       // RM_MIN_CUSTOM_ID

// pg_waldump's name for a resource manager ("Heap", "Transaction"), "custom###" for 128..255,
// nullopt for ids PostgreSQL 15 does not define.
std::optional<std::string_view> RmgrName(std::uint8_t rmid);

// --- catalog/pg_control.h (RM_XLOG_ID info codes) ---------------------------------------------
inline constexpr std::uint8_t kXlogCheckpointShutdown = 0x00;
inline constexpr std::uint8_t kXlogCheckpointOnline = 0x10;
inline constexpr std::uint8_t kXlogNoop = 0x20;  // XLOG_NOOP: redo does nothing
inline constexpr std::uint8_t kXlogSwitch = 0x40;
inline constexpr std::uint8_t kXlogFpi = 0xB0;
inline constexpr std::uint8_t kXlogFpiForHint = 0xA0;

// --- access/xact.h ----------------------------------------------------------------------------
inline constexpr std::uint8_t kXactOpMask = 0x70;          // XLOG_XACT_OPMASK
inline constexpr std::uint8_t kXactCommit = 0x00;
inline constexpr std::uint8_t kXactPrepare = 0x10;
inline constexpr std::uint8_t kXactAbort = 0x20;
inline constexpr std::uint8_t kXactCommitPrepared = 0x30;
inline constexpr std::uint8_t kXactAbortPrepared = 0x40;
inline constexpr std::uint8_t kXactAssignment = 0x50;
inline constexpr std::uint8_t kXactHasInfo = 0x80;         // XLOG_XACT_HAS_INFO
inline constexpr std::uint32_t kXinfoHasDbInfo = 1u << 0;
inline constexpr std::uint32_t kXinfoHasSubxacts = 1u << 1;
inline constexpr std::uint32_t kXinfoHasRelfilenodes = 1u << 2;
inline constexpr std::uint32_t kXinfoHasInvals = 1u << 3;
inline constexpr std::uint32_t kXinfoHasTwophase = 1u << 4;
inline constexpr std::uint32_t kXinfoHasOrigin = 1u << 5;
inline constexpr std::uint32_t kXinfoHasGid = 1u << 7;
inline constexpr std::uint32_t kXinfoHasDroppedStats = 1u << 8;
inline constexpr std::uint32_t kSharedInvalMessageSize = 16;  // SharedInvalidationMessage
inline constexpr std::uint32_t kXactStatsItemSize = 12;       // xl_xact_stats_item
inline constexpr std::uint32_t kXactOriginSize = 16;          // xl_xact_origin

// --- access/heapam_xlog.h ---------------------------------------------------------------------
inline constexpr std::uint8_t kHeapOpMask = 0x70;          // XLOG_HEAP_OPMASK
inline constexpr std::uint8_t kHeapInsert = 0x00;
inline constexpr std::uint8_t kHeapDelete = 0x10;
inline constexpr std::uint8_t kHeapUpdate = 0x20;
inline constexpr std::uint8_t kHeapTruncate = 0x30;
inline constexpr std::uint8_t kHeapHotUpdate = 0x40;
inline constexpr std::uint8_t kHeap2MultiInsert = 0x50;
inline constexpr std::uint32_t kHeapTruncateHeaderSize = 12;  // SizeOfHeapTruncate

// --- catalog/storage_xlog.h, utils/relmapper.h, commands/dbcommands_xlog.h --------------------
inline constexpr std::uint8_t kSmgrCreate = 0x10;          // xl_smgr_create: rnode, forkNum
inline constexpr std::uint8_t kSmgrTruncate = 0x20;        // xl_smgr_truncate: blkno, rnode, flags
inline constexpr std::uint8_t kRelmapUpdate = 0x00;        // xl_relmap_update: dbid, tsid, nbytes
inline constexpr std::uint32_t kRelmapUpdateHeaderSize = 12;
inline constexpr std::int32_t kRelMapFileMagic = 0x592717;  // RELMAPPER_FILEMAGIC (relmapper.c)
inline constexpr std::uint32_t kMaxMappings = 64;           // MAX_MAPPINGS (relmapper.c)
inline constexpr std::uint8_t kDbaseDrop = 0x20;            // xl_dbase_drop_rec

// TimestampTz: microseconds since 2000-01-01 00:00:00 UTC.
inline constexpr std::int64_t kPostgresEpochUnixSeconds = 946684800;

inline constexpr std::uint64_t MaxAlign(std::uint64_t x) {
  return (x + (kMaxAlign - 1)) & ~static_cast<std::uint64_t>(kMaxAlign - 1);
}

// PostgreSQL major version that wrote pages with this magic, for "unsupported WAL" messages.
std::optional<int> PostgresVersionOfPageMagic(std::uint16_t magic);

}  // namespace dbmedic::pg::wal
