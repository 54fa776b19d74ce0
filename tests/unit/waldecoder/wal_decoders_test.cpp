#include <gtest/gtest.h>

#include "core/error.hpp"
#include "forensics/incident_scanner.hpp"
#include "pg/wal_decoders.hpp"
#include "pg/wal_reader.hpp"
#include "wal_builder.hpp"

namespace dbmedic::pg {
namespace {

using testing::WalBuilder;

TEST(WalDecoders, CommitCarriesTimeDatabaseSubxactsAndDroppedFiles) {
  WalBuilder wal;
  wal.AddCommit(800, 123456789, 5, {801, 802}, {{1663, 5, 16400}, {1663, 5, 16403}});
  auto source = wal.Source();
  WalReader reader(*source);
  auto xact = DecodeXact(*reader.Next());
  ASSERT_TRUE(xact);
  EXPECT_EQ(xact->kind, XactKind::kCommit);
  EXPECT_EQ(xact->xid, 800u);
  EXPECT_EQ(xact->time, 123456789);
  EXPECT_EQ(xact->db, 5u);
  EXPECT_EQ(xact->subxacts, (std::vector<TransactionId>{801, 802}));
  ASSERT_EQ(xact->dropped_files.size(), 2u);
  EXPECT_EQ(xact->dropped_files[1], (RelFileNode{1663, 5, 16403}));
}

TEST(WalDecoders, TruncatedCommitPayloadIsCorruptionNamingTheRecord) {
  WalBuilder wal;
  std::vector<std::byte> main(12);  // xact_time + xinfo saying "subxacts follow", but none do
  WalBuilder::Put<std::uint32_t>(main, 8, wal::kXinfoHasSubxacts);
  Lsn lsn = wal.Add(1, wal::kXactCommit | wal::kXactHasInfo, 5, main);
  auto source = wal.Source();
  WalReader reader(*source);
  const WalRecord* r = reader.Next();
  try {
    DecodeXact(*r);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_EQ(std::string(e.what()),
              "transaction record at " + lsn.ToString() +
                  ": main data is truncated: needs 4 bytes at offset 12 but only 0 remain");
  }
}

TEST(WalDecoders, HeapDeleteNamesTheRelationOfBlockZero) {
  WalBuilder wal;
  wal.AddHeapDelete(900, {1663, 5, 16384});
  auto source = wal.Source();
  WalReader reader(*source);
  auto change = DecodeHeapChange(*reader.Next());
  ASSERT_TRUE(change);
  EXPECT_EQ(change->op, HeapOp::kDelete);
  EXPECT_EQ(change->rel, (RelFileNode{1663, 5, 16384}));
  EXPECT_EQ(change->rows, 1u);
}

TEST(WalDecoders, OtherRecordTypesAreNotDecoded) {
  WalBuilder wal;
  wal.AddHeapDelete(900, {1663, 5, 16384});
  auto source = wal.Source();
  WalReader reader(*source);
  const WalRecord* r = reader.Next();
  EXPECT_FALSE(DecodeXact(*r));
  EXPECT_FALSE(DecodeSmgrCreate(*r));
  EXPECT_FALSE(DecodeRelmapUpdate(*r));
}

TEST(WalDecoders, FormatsPostgresTimestampsInUtc) {
  EXPECT_EQ(FormatPgTimestamp(0), "2000-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatPgTimestamp(-1), "1999-12-31T23:59:59.999999Z");
  EXPECT_EQ(forensics::ParseTimestamp("2000-01-01T00:00:01.5Z"), 1500000);
  EXPECT_EQ(forensics::ParseTimestamp("2000-01-01 02:00:00+02"), 0);
  EXPECT_EQ(forensics::ParseTimestamp("2000-01-02"), 86400000000);
}

TEST(WalDecoders, UnreadableTimeIsAUsageError) {
  try {
    forensics::ParseTimestamp("yesterday");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_EQ(std::string(e.what()), "cannot read 'yesterday' as a time");
  }
}

}  // namespace
}  // namespace dbmedic::pg
