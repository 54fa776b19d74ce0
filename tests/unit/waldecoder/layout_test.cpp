// wal_format.hpp transcribes PostgreSQL 15's WAL layouts instead of including the server
// headers. This test compiles a tiny C program against the real headers
// (postgresql-server-dev-15) and compares every size, offset and flag we rely on.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "pg/wal_format.hpp"

namespace dbmedic::pg::wal {
namespace {

constexpr const char* kProgram = R"C(
#include "postgres.h"
#include "access/xlog_internal.h"
#include "access/xlogrecord.h"
#include "access/xact.h"
#include "access/heapam_xlog.h"
#include "catalog/storage_xlog.h"
#include "utils/relmapper.h"
#include "commands/dbcommands_xlog.h"
#include "catalog/pg_control.h"
#include <stdio.h>
#undef printf
#define P(name) printf("%lld %s\n", (long long)(name), #name)
int main(void) {
  P(XLOG_PAGE_MAGIC); P(XLOG_BLCKSZ); P(MAXIMUM_ALIGNOF);
  P(SizeOfXLogShortPHD); P(SizeOfXLogLongPHD);
  P(offsetof(XLogPageHeaderData, xlp_pageaddr)); P(offsetof(XLogPageHeaderData, xlp_rem_len));
  P(offsetof(XLogLongPageHeaderData, xlp_sysid)); P(offsetof(XLogLongPageHeaderData, xlp_seg_size));
  P(offsetof(XLogLongPageHeaderData, xlp_xlog_blcksz));
  P(XLP_FIRST_IS_CONTRECORD); P(XLP_LONG_HEADER); P(XLP_ALL_FLAGS);
  P(SizeOfXLogRecord); P(offsetof(XLogRecord, xl_crc)); P(offsetof(XLogRecord, xl_prev));
  P(offsetof(XLogRecord, xl_info)); P(offsetof(XLogRecord, xl_rmid));
  P(SizeOfXLogRecordBlockHeader); P(SizeOfXLogRecordBlockImageHeader);
  P(SizeOfXLogRecordBlockCompressHeader); P(sizeof(RelFileNode));
  P(BKPBLOCK_HAS_IMAGE); P(BKPBLOCK_HAS_DATA); P(BKPBLOCK_WILL_INIT); P(BKPBLOCK_SAME_REL);
  P(XLR_MAX_BLOCK_ID); P(XLR_BLOCK_ID_DATA_SHORT); P(XLR_BLOCK_ID_DATA_LONG);
  P(XLR_BLOCK_ID_ORIGIN); P(XLR_BLOCK_ID_TOPLEVEL_XID);
  P(RM_HEAP_ID); P(RM_XACT_ID); P(RM_SMGR_ID); P(RM_RELMAP_ID); P(RM_DBASE_ID); P(RM_MAX_BUILTIN_ID);
  P(XLOG_SWITCH); P(XLOG_NOOP); P(XLOG_XACT_HAS_INFO); P(XACT_XINFO_HAS_DROPPED_STATS);
  P(sizeof(xl_xact_stats_item)); P(sizeof(SharedInvalidationMessage)); P(sizeof(xl_xact_origin));
  P(XLOG_HEAP_DELETE); P(XLOG_HEAP_HOT_UPDATE); P(XLOG_HEAP2_MULTI_INSERT); P(SizeOfHeapTruncate);
  P(offsetof(xl_heap_multi_insert, ntuples)); P(XLOG_SMGR_CREATE); P(XLOG_DBASE_DROP);
  return 0;
}
)C";

std::map<std::string, long long> ServerValues() {
  core::TempDir dir("layout");
  std::ofstream(dir.path() / "layout.c") << kProgram;
  core::RunChecked({"cc", "-I/usr/include/postgresql/15/server", "-o",
                    (dir.path() / "layout").string(), (dir.path() / "layout.c").string()});
  auto run = core::RunChecked({(dir.path() / "layout").string()});
  std::map<std::string, long long> values;
  std::istringstream in(run.out);
  std::string name;
  long long value;
  while (in >> value && std::getline(in >> std::ws, name)) values[name] = value;
  return values;
}

TEST(WalLayout, TranscribedConstantsMatchPostgres15Headers) {
  auto v = ServerValues();
  EXPECT_EQ(v["XLOG_PAGE_MAGIC"], kPageMagicPg15);
  EXPECT_EQ(v["XLOG_BLCKSZ"], kBlockSize);
  EXPECT_EQ(v["MAXIMUM_ALIGNOF"], kMaxAlign);
  EXPECT_EQ(v["SizeOfXLogShortPHD"], kShortPageHeaderSize);
  EXPECT_EQ(v["SizeOfXLogLongPHD"], kLongPageHeaderSize);
  EXPECT_EQ(v["offsetof(XLogPageHeaderData, xlp_pageaddr)"], 8);
  EXPECT_EQ(v["offsetof(XLogPageHeaderData, xlp_rem_len)"], 16);
  EXPECT_EQ(v["offsetof(XLogLongPageHeaderData, xlp_sysid)"], 24);
  EXPECT_EQ(v["offsetof(XLogLongPageHeaderData, xlp_seg_size)"], 32);
  EXPECT_EQ(v["offsetof(XLogLongPageHeaderData, xlp_xlog_blcksz)"], 36);
  EXPECT_EQ(v["XLP_FIRST_IS_CONTRECORD"], kXlpFirstIsContRecord);
  EXPECT_EQ(v["XLP_LONG_HEADER"], kXlpLongHeader);
  EXPECT_EQ(v["XLP_ALL_FLAGS"], kXlpAllFlags);
  EXPECT_EQ(v["SizeOfXLogRecord"], kRecordHeaderSize);
  EXPECT_EQ(v["offsetof(XLogRecord, xl_crc)"], kRecordCrcOffset);
  EXPECT_EQ(v["offsetof(XLogRecord, xl_prev)"], 8);
  EXPECT_EQ(v["offsetof(XLogRecord, xl_info)"], 16);
  EXPECT_EQ(v["offsetof(XLogRecord, xl_rmid)"], 17);
  EXPECT_EQ(v["SizeOfXLogRecordBlockHeader"], kBlockHeaderSize);
  EXPECT_EQ(v["SizeOfXLogRecordBlockImageHeader"], kBlockImageHeaderSize);
  EXPECT_EQ(v["SizeOfXLogRecordBlockCompressHeader"], kBlockCompressHeaderSize);
  EXPECT_EQ(v["sizeof(RelFileNode)"], kRelFileNodeSize);
  EXPECT_EQ(v["BKPBLOCK_HAS_IMAGE"], kBkpBlockHasImage);
  EXPECT_EQ(v["BKPBLOCK_HAS_DATA"], kBkpBlockHasData);
  EXPECT_EQ(v["BKPBLOCK_WILL_INIT"], kBkpBlockWillInit);
  EXPECT_EQ(v["BKPBLOCK_SAME_REL"], kBkpBlockSameRel);
  EXPECT_EQ(v["XLR_MAX_BLOCK_ID"], kMaxBlockId);
  EXPECT_EQ(v["XLR_BLOCK_ID_DATA_SHORT"], kBlockIdDataShort);
  EXPECT_EQ(v["XLR_BLOCK_ID_DATA_LONG"], kBlockIdDataLong);
  EXPECT_EQ(v["XLR_BLOCK_ID_ORIGIN"], kBlockIdOrigin);
  EXPECT_EQ(v["XLR_BLOCK_ID_TOPLEVEL_XID"], kBlockIdToplevelXid);
  EXPECT_EQ(v["RM_HEAP_ID"], static_cast<int>(Rmgr::kHeap));
  EXPECT_EQ(v["RM_XACT_ID"], static_cast<int>(Rmgr::kXact));
  EXPECT_EQ(v["RM_SMGR_ID"], static_cast<int>(Rmgr::kSmgr));
  EXPECT_EQ(v["RM_RELMAP_ID"], static_cast<int>(Rmgr::kRelMap));
  EXPECT_EQ(v["RM_DBASE_ID"], static_cast<int>(Rmgr::kDbase));
  EXPECT_EQ(v["RM_MAX_BUILTIN_ID"], kMaxBuiltinRmgr);
  EXPECT_EQ(v["XLOG_SWITCH"], kXlogSwitch);
  EXPECT_EQ(v["XLOG_NOOP"], kXlogNoop);
  EXPECT_EQ(v["XLOG_XACT_HAS_INFO"], kXactHasInfo);
  EXPECT_EQ(v["XACT_XINFO_HAS_DROPPED_STATS"], kXinfoHasDroppedStats);
  EXPECT_EQ(v["sizeof(xl_xact_stats_item)"], kXactStatsItemSize);
  EXPECT_EQ(v["sizeof(SharedInvalidationMessage)"], kSharedInvalMessageSize);
  EXPECT_EQ(v["sizeof(xl_xact_origin)"], kXactOriginSize);
  EXPECT_EQ(v["XLOG_HEAP_DELETE"], kHeapDelete);
  EXPECT_EQ(v["XLOG_HEAP_HOT_UPDATE"], kHeapHotUpdate);
  EXPECT_EQ(v["XLOG_HEAP2_MULTI_INSERT"], kHeap2MultiInsert);
  EXPECT_EQ(v["SizeOfHeapTruncate"], kHeapTruncateHeaderSize);
  EXPECT_EQ(v["offsetof(xl_heap_multi_insert, ntuples)"], 2);
  EXPECT_EQ(v["XLOG_SMGR_CREATE"], kSmgrCreate);
  EXPECT_EQ(v["XLOG_DBASE_DROP"], kDbaseDrop);
}

}  // namespace
}  // namespace dbmedic::pg::wal
