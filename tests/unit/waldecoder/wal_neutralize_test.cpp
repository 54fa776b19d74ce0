// NeutralizeRecords on synthetic WAL (wal_builder.hpp): the records asked for become XLOG_NOOP
// records of the same length that the reader accepts (CRC, xl_prev chain, page layout), every
// other record is untouched, and what cannot be verified or lies partly in another segment is
// left as it was.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "pg/wal_format.hpp"
#include "pg/wal_neutralize.hpp"
#include "pg/wal_reader.hpp"
#include "wal_builder.hpp"

namespace dbmedic::pg {
namespace {

using testing::WalBuilder;

const RelFileNode kSkipped{1663, 5, 16400};
const RelFileNode kKept{1663, 5, 16401};

std::vector<std::byte> Bytes(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 7 + 1);
  return v;
}

bool NamesSkipped(const WalRecord& r) {
  for (const WalBlockRef& b : r.blocks) {
    if (b.rnode != kSkipped) return false;
  }
  return true;
}

NeutralizeResult Neutralize(WalBuilder& wal, std::uint64_t segno) {
  return NeutralizeRecords(wal.segment(segno), SegmentStart(segno, WalBuilder::kSegSize),
                           NamesSkipped);
}

struct Seen {
  Lsn lsn;
  std::uint8_t rmid = 0;
  std::uint8_t info = 0;
  std::size_t blocks = 0;
  std::uint32_t length = 0;
};

std::vector<Seen> ReadAll(const WalBuilder& wal) {
  auto source = wal.Source();
  WalReader reader(*source);
  std::vector<Seen> out;
  while (const WalRecord* r = reader.Next()) {
    out.push_back({r->lsn, r->rmid, r->info, r->blocks.size(), r->total_length});
  }
  EXPECT_NE(reader.stop().reason, WalStopReason::kError) << reader.stop().detail;
  return out;
}

bool IsNoop(const Seen& s) {
  return s.rmid == static_cast<std::uint8_t>(wal::Rmgr::kXlog) && s.info == wal::kXlogNoop &&
         s.blocks == 0;
}

TEST(NeutralizeRecords, SkippedRelationsRecordsBecomeNoopsAtTheSameLsnsAndLengths) {
  WalBuilder wal;
  std::vector<bool> skipped;
  for (int i = 0; i < 3000; ++i) {  // ~100-byte records: many cross a page boundary
    const bool skip = i % 3 != 0;
    wal.Add(10, wal::kHeapDelete, 100 + i, Bytes(40 + i % 60), skip ? kSkipped : kKept, i);
    skipped.push_back(skip);
  }
  const std::vector<Seen> before = ReadAll(wal);
  ASSERT_EQ(before.size(), skipped.size());

  const NeutralizeResult result = Neutralize(wal, 1);
  EXPECT_EQ(result.records, 3000u);
  EXPECT_EQ(result.neutralized, 2000u);

  const std::vector<Seen> after = ReadAll(wal);
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].lsn, before[i].lsn);
    EXPECT_EQ(after[i].length, before[i].length);
    EXPECT_EQ(IsNoop(after[i]), static_cast<bool>(skipped[i])) << after[i].lsn.ToString();
    if (!skipped[i]) {
      EXPECT_EQ(after[i].rmid, 10);
    }
  }
}

TEST(NeutralizeRecords, RecordsWithoutBlocksOrWithAKeptBlockStay) {
  WalBuilder wal;
  wal.AddCommit(700, 1000, 5);                        // no blocks: a transaction's end
  wal.AddLarge(300);                                  // generic record without blocks
  wal.Add(10, wal::kHeapDelete, 701, Bytes(8), kKept, 1);
  const Lsn skipped = wal.Add(10, wal::kHeapDelete, 701, Bytes(8), kSkipped, 2);
  EXPECT_EQ(Neutralize(wal, 1).neutralized, 1u);
  for (const Seen& s : ReadAll(wal)) EXPECT_EQ(IsNoop(s), s.lsn == skipped) << s.lsn.ToString();
}

// Adds records until the next one starts at `offset` of the first segment (in its last page).
void FillTo(WalBuilder& wal, std::size_t offset) {
  while (WalBuilder::Offset(wal.position()) < WalBuilder::kSegSize - 8192) wal.AddLarge(1000);
  const std::size_t room = offset - WalBuilder::Offset(wal.position());
  ASSERT_EQ(room % 8, 0u);
  ASSERT_GE(room, 32u);
  // Total length 24 + 2 + n (short main data) or 24 + 5 + n (long), n = the payload.
  const std::size_t payload = room - 26 < 256 ? room - 26 : room - 29;
  wal.Add(20, 0, 1, Bytes(payload));
  ASSERT_EQ(WalBuilder::Offset(wal.position()), offset);
}

std::shared_ptr<const std::string> Copy(const std::vector<std::byte>& segment) {
  return std::make_shared<const std::string>(reinterpret_cast<const char*>(segment.data()),
                                             segment.size());
}

// Both segments rewritten with the other's original bytes, as `wal get` does.
void NeutralizeBoth(WalBuilder& wal) {
  const auto first = Copy(wal.segment(1));
  const auto second = Copy(wal.segment(2));
  NeutralizeRecords(wal.segment(1), SegmentStart(1, WalBuilder::kSegSize), NamesSkipped,
                    {.previous = {}, .next = [&] { return second; }});
  NeutralizeRecords(wal.segment(2), SegmentStart(2, WalBuilder::kSegSize), NamesSkipped,
                    {.previous = [&] { return first; }, .next = {}});
}

TEST(NeutralizeRecords, WithoutTheNextSegmentARecordCrossingIntoItIsLeftAsItIs) {
  WalBuilder wal;
  while (WalBuilder::Offset(wal.position()) < WalBuilder::kSegSize - 3000) wal.AddLarge(1000);
  const Lsn crossing = wal.Add(10, wal::kHeapDelete, 9, Bytes(6000), kSkipped, 1);
  const Lsn after = wal.Add(10, wal::kHeapDelete, 9, Bytes(8), kSkipped, 2);
  ASSERT_EQ(SegmentNumber(after, WalBuilder::kSegSize), 2u);

  EXPECT_EQ(Neutralize(wal, 1).neutralized, 0u);
  const NeutralizeResult second = Neutralize(wal, 2);  // without the previous segment either
  EXPECT_EQ(second.neutralized, 1u);
  for (const Seen& s : ReadAll(wal)) {
    if (s.lsn == crossing) {
      EXPECT_EQ(s.rmid, 10);
    }
    if (s.lsn == after) {
      EXPECT_TRUE(IsNoop(s));
    }
  }
}

TEST(NeutralizeRecords, ARecordCrossingASegmentBoundaryBecomesANoopFromBothSides) {
  WalBuilder wal;
  while (WalBuilder::Offset(wal.position()) < WalBuilder::kSegSize - 3000) wal.AddLarge(1000);
  const Lsn crossing = wal.Add(10, wal::kHeapDelete, 9, Bytes(6000), kSkipped, 1);
  const Lsn after = wal.Add(10, wal::kHeapDelete, 9, Bytes(8), kKept, 2);
  NeutralizeBoth(wal);
  bool seen = false;
  for (const Seen& s : ReadAll(wal)) {  // the reader checks the CRC across both segments
    if (s.lsn == crossing) {
      seen = true;
      EXPECT_TRUE(IsNoop(s));
    }
    if (s.lsn == after) {
      EXPECT_EQ(s.rmid, 10);
    }
  }
  EXPECT_TRUE(seen);
}

// Only xl_tot_len and xl_xid of the record are in the first segment: its rmgr, CRC and blocks
// are in the second, so each side needs the other's bytes to rewrite its own part.
TEST(NeutralizeRecords, ARecordWhoseHeaderIsSplitBetweenSegmentsBecomesANoop) {
  WalBuilder wal;
  FillTo(wal, WalBuilder::kSegSize - 8);
  const Lsn split = wal.Add(10, wal::kHeapDelete, 9, Bytes(300), kSkipped, 1);
  ASSERT_EQ(WalBuilder::Offset(split), WalBuilder::kSegSize - 8);
  wal.Add(10, wal::kHeapDelete, 9, Bytes(8), kKept, 2);
  NeutralizeBoth(wal);
  const std::vector<Seen> seen = ReadAll(wal);
  const auto it = std::find_if(seen.begin(), seen.end(), [&](const Seen& s) {
    return s.lsn == split;
  });
  ASSERT_NE(it, seen.end());
  EXPECT_TRUE(IsNoop(*it));
  EXPECT_EQ(seen.back().rmid, 10);
}

TEST(NeutralizeRecords, StopsAtARecordWhoseCrcIsWrongAndLeavesTheRestAsItWas) {
  WalBuilder wal;
  wal.Add(10, wal::kHeapDelete, 1, Bytes(8), kSkipped, 1);
  const Lsn bad = wal.Add(10, wal::kHeapDelete, 2, Bytes(16), kSkipped, 2);
  const Lsn last = wal.Add(10, wal::kHeapDelete, 3, Bytes(8), kSkipped, 3);
  wal.segment(1)[WalBuilder::Offset(bad) + 30] ^= std::byte{0x01};
  const std::vector<std::byte> original = wal.segment(1);

  const NeutralizeResult result = Neutralize(wal, 1);
  EXPECT_EQ(result.records, 1u);
  EXPECT_EQ(result.neutralized, 1u);
  const std::vector<std::byte>& now = wal.segment(1);
  const std::size_t from = WalBuilder::Offset(bad);
  EXPECT_TRUE(std::equal(now.begin() + static_cast<std::ptrdiff_t>(from), now.end(),
                         original.begin() + static_cast<std::ptrdiff_t>(from)))
      << "bytes from " << bad.ToString() << " on changed; " << last.ToString() << " too";
}

TEST(NeutralizeRecords, BytesThatAreNotAWholeSegmentAreLeftAlone) {
  WalBuilder wal;
  wal.Add(10, wal::kHeapDelete, 1, Bytes(8), kSkipped, 1);
  std::vector<std::byte> part(wal.segment(1).begin(), wal.segment(1).begin() + 8192);
  const std::vector<std::byte> original = part;
  EXPECT_EQ(NeutralizeRecords(part, SegmentStart(1, WalBuilder::kSegSize), NamesSkipped).records,
            0u);
  EXPECT_EQ(part, original);
}

}  // namespace
}  // namespace dbmedic::pg
