// The reader on synthetic WAL (wal_builder.hpp): record boundaries, continuation across pages and
// segments, and every kind of bad input, each stopping at an exact LSN.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <utility>

#include "core/error.hpp"
#include "pg/wal_format.hpp"
#include "pg/wal_reader.hpp"
#include "wal_builder.hpp"

namespace dbmedic::pg {
namespace {

using testing::WalBuilder;

std::vector<std::byte> Bytes(std::size_t n, std::uint8_t fill = 0xAB) {
  return std::vector<std::byte>(n, std::byte{fill});
}

// Reads everything; returns the LSNs of the records.
std::vector<Lsn> ReadAll(WalReader& reader) {
  std::vector<Lsn> lsns;
  while (const WalRecord* r = reader.Next()) lsns.push_back(r->lsn);
  return lsns;
}

// Runs `fn`, expecting Error(code) whose message contains `text`.
template <typename F>
void ExpectError(F&& fn, ErrorCode code, const std::string& text) {
  try {
    fn();
    FAIL() << "no error thrown; expected: " << text;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(WalReader, ReturnsRecordsWithTheirHeaderFields) {
  WalBuilder wal;
  Lsn a = wal.Add(10, 0x00, 700, Bytes(3), RelFileNode{1663, 5, 16384}, 7);
  Lsn b = wal.Add(1, 0x00, 700, Bytes(8));
  auto source = wal.Source();
  WalReader reader(*source);
  const WalRecord* r = reader.Next();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->lsn, a);
  EXPECT_EQ(r->xid, 700u);
  EXPECT_EQ(r->rmid, 10);
  ASSERT_EQ(r->blocks.size(), 1u);
  EXPECT_EQ(r->blocks[0].rnode, (RelFileNode{1663, 5, 16384}));
  EXPECT_EQ(r->blocks[0].block, 7u);
  EXPECT_EQ(r->main_data.size(), 3u);
  r = reader.Next();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->lsn, b);
  EXPECT_EQ(r->prev, a);
  EXPECT_EQ(reader.system_identifier(), WalBuilder::kSysId);
}

TEST(WalReader, EndOfWrittenWalIsAStopNotAnError) {
  WalBuilder wal;
  wal.Add(1, 0x00, 1, Bytes(8));
  Lsn end = wal.position();
  auto source = wal.Source();
  WalReader reader(*source);
  EXPECT_EQ(ReadAll(reader).size(), 1u);
  EXPECT_EQ(reader.stop().reason, WalStopReason::kEndOfWal);
  EXPECT_EQ(reader.stop().lsn, end);
  EXPECT_EQ(reader.Next(), nullptr);
}

TEST(WalReader, ReassemblesARecordSpanningPages) {
  WalBuilder wal;
  wal.Add(1, 0, 1, Bytes(8));
  Lsn big = wal.AddLarge(30000);
  Lsn after = wal.Add(1, 0, 2, Bytes(8));
  auto source = wal.Source();
  WalReader reader(*source);
  ASSERT_NE(reader.Next(), nullptr);
  const WalRecord* r = reader.Next();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->lsn, big);
  ASSERT_EQ(r->main_data.size(), 30000u);
  for (std::size_t i = 0; i < 30000; i += 997) {
    EXPECT_EQ(r->main_data[i], static_cast<std::byte>(i * 31 + 7)) << i;
  }
  r = reader.Next();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->lsn, after);
}

TEST(WalReader, ReassemblesARecordSpanningSegments) {
  WalBuilder wal;
  while (WalBuilder::Offset(wal.position()) < WalBuilder::kSegSize - 5000) wal.AddLarge(1000);
  Lsn big = wal.AddLarge(20000);
  Lsn after = wal.Add(1, 0, 2, Bytes(8));
  ASSERT_EQ(SegmentNumber(after, WalBuilder::kSegSize), 2u);
  auto source = wal.Source();
  WalReader reader(*source);
  auto lsns = ReadAll(reader);
  ASSERT_GE(lsns.size(), 2u);
  EXPECT_EQ(lsns[lsns.size() - 2], big);
  EXPECT_EQ(lsns.back(), after);
  EXPECT_EQ(reader.segments_read(), 2u);
}

// Serves LoadPrefix() with exactly the bytes asked for, and records which loads were made.
class PrefixRecordingSource final : public WalSource {
 public:
  explicit PrefixRecordingSource(std::unique_ptr<MemoryWalSource> inner)
      : inner_(std::move(inner)) {}
  std::uint64_t segment_size() const override { return inner_->segment_size(); }
  std::vector<WalSegmentRef> Segments() const override { return inner_->Segments(); }
  void Read(const WalSegmentRef& ref, std::vector<std::byte>& out) override {
    inner_->Read(ref, out);
  }
  std::span<const std::byte> Load(const WalSegmentRef& ref) override {
    full_loads.push_back(ref.segno);
    return inner_->Load(ref);
  }
  std::span<const std::byte> LoadPrefix(const WalSegmentRef& ref, std::size_t bytes) override {
    prefix_loads.emplace_back(ref.segno, bytes);
    std::span<const std::byte> all = inner_->Load(ref);
    return all.first(std::min(bytes, all.size()));
  }
  std::string Describe() const override { return "prefix test source"; }

  std::vector<std::uint64_t> full_loads;
  std::vector<std::pair<std::uint64_t, std::size_t>> prefix_loads;

 private:
  std::unique_ptr<MemoryWalSource> inner_;
};

TEST(WalReader, PastItsEndLsnTheReaderLoadsOnlyThePrefixThatFinishesItsLastRecord) {
  WalBuilder wal;
  while (WalBuilder::Offset(wal.position()) < WalBuilder::kSegSize - 5000) wal.AddLarge(1000);
  Lsn big = wal.AddLarge(20000);
  Lsn after = wal.Add(1, 0, 2, Bytes(8));
  ASSERT_EQ(SegmentNumber(after, WalBuilder::kSegSize), 2u);
  PrefixRecordingSource source(wal.Source());
  WalReaderOptions options;
  options.end = SegmentStart(2, WalBuilder::kSegSize);
  WalReader reader(source, options);
  auto lsns = ReadAll(reader);
  ASSERT_FALSE(lsns.empty());
  EXPECT_EQ(lsns.back(), big);
  EXPECT_EQ(reader.stop().reason, WalStopReason::kEndLsn);
  EXPECT_EQ(reader.stop().lsn, after);
  EXPECT_EQ(source.full_loads, (std::vector<std::uint64_t>{1}));
  ASSERT_EQ(source.prefix_loads.size(), 1u);
  EXPECT_EQ(source.prefix_loads[0].first, 2u);
  EXPECT_LT(source.prefix_loads[0].second, WalBuilder::kSegSize / 8);
}

TEST(WalReader, WithoutAnEndLsnTheNextSegmentIsLoadedWhole) {
  WalBuilder wal;
  while (WalBuilder::Offset(wal.position()) < WalBuilder::kSegSize - 5000) wal.AddLarge(1000);
  wal.AddLarge(20000);
  Lsn after = wal.Add(1, 0, 2, Bytes(8));
  PrefixRecordingSource source(wal.Source());
  WalReader reader(source);
  auto lsns = ReadAll(reader);
  EXPECT_EQ(lsns.back(), after);
  EXPECT_EQ(source.full_loads, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_TRUE(source.prefix_loads.empty());
}

TEST(WalReader, SwitchRecordSkipsToTheNextSegment) {
  WalBuilder wal;
  wal.AddSwitch();
  Lsn next = wal.Add(1, 0, 3, Bytes(8));
  EXPECT_EQ(next, Lsn{SegmentStart(2, WalBuilder::kSegSize).value + wal::kLongPageHeaderSize});
  auto source = wal.Source();
  WalReader reader(*source);
  auto lsns = ReadAll(reader);
  ASSERT_EQ(lsns.size(), 2u);
  EXPECT_EQ(lsns[1], next);
}

TEST(WalReader, StartsAtTheFirstRecordAtOrAfterTheStartLsn) {
  WalBuilder wal;
  wal.AddLarge(10000);  // spans into the second page, so that page starts with a continuation
  Lsn b = wal.Add(1, 0, 2, Bytes(8));
  Lsn c = wal.Add(1, 0, 3, Bytes(8));
  auto source = wal.Source();
  WalReaderOptions options;
  options.start = Lsn{b.value + 1};
  options.end = Lsn{c.value + 1};
  WalReader reader(*source, options);
  auto lsns = ReadAll(reader);
  ASSERT_EQ(lsns.size(), 1u);
  EXPECT_EQ(lsns[0], c);
  EXPECT_EQ(reader.stop().reason, WalStopReason::kEndLsn);
}

TEST(WalReader, BadCrcStopsAtThatRecord) {
  WalBuilder wal;
  Lsn a = wal.Add(1, 0, 1, Bytes(8));
  Lsn bad = wal.Add(1, 0, 2, Bytes(16));
  wal.Add(1, 0, 3, Bytes(8));
  wal.segment(1)[WalBuilder::Offset(bad) + 30] ^= std::byte{0x01};
  auto source = wal.Source();
  WalReader reader(*source);
  ASSERT_EQ(reader.Next()->lsn, a);
  ExpectError([&] { reader.Next(); }, ErrorCode::kCorrupt,
              "incorrect CRC in WAL record at " + bad.ToString() +
                  " (segment 000000010000000000000001)");
  EXPECT_EQ(reader.stop().reason, WalStopReason::kError);
  EXPECT_EQ(reader.stop().lsn, bad);
  ExpectError([&] { reader.Next(); }, ErrorCode::kCorrupt, "incorrect CRC");  // stays failed
}

TEST(WalReader, TruncatedSegmentNamesTheLsnWhereDataEnds) {
  WalBuilder wal;
  wal.Add(1, 0, 1, Bytes(8));
  Lsn big = wal.AddLarge(20000);
  wal.segment(1).resize(16384);  // two pages: the record continues into the missing third
  auto source = wal.Source();
  WalReader reader(*source);
  ASSERT_NE(reader.Next(), nullptr);
  ExpectError([&] { reader.Next(); }, ErrorCode::kCorrupt,
              "WAL segment 000000010000000000000001 is truncated: it has 16384 of 1048576 bytes, "
              "so the WAL ends at 0/104000 inside the record at " + big.ToString());
  EXPECT_EQ(reader.stop().lsn, big);
}

TEST(WalReader, GarbageRecordHeaderIsCorruptionAtItsLsn) {
  WalBuilder wal;
  wal.Add(1, 0, 1, Bytes(8));
  Lsn bad = wal.Add(1, 0, 2, Bytes(8));
  std::mt19937 rng(7);
  auto& seg = wal.segment(1);
  for (int i = 0; i < 24; ++i) seg[WalBuilder::Offset(bad) + i] = static_cast<std::byte>(rng());
  auto source = wal.Source();
  WalReader reader(*source);
  ASSERT_NE(reader.Next(), nullptr);
  ExpectError([&] { reader.Next(); }, ErrorCode::kCorrupt, bad.ToString());
  EXPECT_EQ(reader.stop().lsn, bad);
}

TEST(WalReader, GarbageSegmentIsAnInvalidMagicNumber) {
  auto source = std::make_unique<MemoryWalSource>(WalBuilder::kSegSize);
  std::vector<std::byte> junk(WalBuilder::kSegSize);
  std::mt19937 rng(11);
  for (auto& b : junk) b = static_cast<std::byte>(rng() | 1);
  source->Put(1, 1, junk);
  WalReader reader(*source);
  ExpectError([&] { reader.Next(); }, ErrorCode::kCorrupt,
              "WAL segment 000000010000000000000001 page at 0/100000 has an invalid magic number");
}

TEST(WalReader, WalOfAnotherVersionIsUnsupported) {
  WalBuilder wal;
  wal.Add(1, 0, 1, Bytes(8));
  WalBuilder::Put<std::uint16_t>(wal.segment(1), 0, 0xD10D);
  auto source = wal.Source();
  WalReader reader(*source);
  ExpectError([&] { reader.Next(); }, ErrorCode::kUnsupported,
              "page at 0/100000 was written by PostgreSQL 14 (page magic 0xd10d); dbmedic reads "
              "PostgreSQL 15 WAL");
}

TEST(WalReader, SegmentOfAnotherClusterIsRefusedAtItsFirstPage) {
  WalBuilder wal;
  while (SegmentNumber(wal.position(), WalBuilder::kSegSize) < 2) wal.AddLarge(4000);
  wal.Add(1, 0, 9, Bytes(8));
  WalBuilder::Put<std::uint64_t>(wal.segment(2), 24, 42);  // another system identifier
  auto source = wal.Source();
  WalReader reader(*source);
  ExpectError([&] { ReadAll(reader); }, ErrorCode::kRepository,
              "WAL segment 000000010000000000000002 belongs to another cluster: system "
              "identifier 42, expected " + std::to_string(WalBuilder::kSysId) + " (at 0/200000)");
}

TEST(WalReader, ExpectedSystemIdentifierIsCheckedOnTheFirstSegment) {
  WalBuilder wal;
  wal.Add(1, 0, 1, Bytes(8));
  auto source = wal.Source();
  WalReaderOptions options;
  options.system_identifier = 99;
  WalReader reader(*source, options);
  ExpectError([&] { reader.Next(); }, ErrorCode::kRepository, "expected 99");
}

TEST(WalReader, MissingNextSegmentStopsInsideTheRecordThatNeedsIt) {
  WalBuilder wal;
  while (WalBuilder::Offset(wal.position()) < WalBuilder::kSegSize - 3000) wal.AddLarge(1000);
  Lsn big = wal.AddLarge(20000);
  auto source = std::make_unique<MemoryWalSource>(WalBuilder::kSegSize);
  source->Put(1, 1, wal.segment(1));
  WalReader reader(*source);
  ReadAll(reader);
  EXPECT_EQ(reader.stop().reason, WalStopReason::kMissingSegment);
  EXPECT_EQ(reader.stop().lsn, big);
  EXPECT_NE(reader.stop().detail.find("continues into WAL segment 000000010000000000000002"),
            std::string::npos)
      << reader.stop().detail;
}

TEST(WalReader, StartBeforeTheOldestSegmentIsNotFound) {
  WalBuilder wal(3);
  wal.Add(1, 0, 1, Bytes(8));
  auto source = wal.Source();
  WalReaderOptions options;
  options.start = Lsn{0x100000};
  ExpectError([&] { WalReader reader(*source, options); }, ErrorCode::kNotFound,
              "start LSN 0/100000 is before the oldest segment 000000010000000000000003");
}

TEST(WalReader, MalformedBlockHeaderIsCorruption) {
  WalBuilder wal;
  std::vector<std::byte> body = {std::byte{40}, std::byte{0}, std::byte{0}, std::byte{0}};
  Lsn bad = wal.AddRaw(10, 0, 5, body);  // block id 40 > XLR_MAX_BLOCK_ID
  auto source = wal.Source();
  WalReader reader(*source);
  ExpectError([&] { reader.Next(); }, ErrorCode::kCorrupt,
              "malformed WAL record at " + bad.ToString() + ": invalid block id 40");
}

}  // namespace
}  // namespace dbmedic::pg
