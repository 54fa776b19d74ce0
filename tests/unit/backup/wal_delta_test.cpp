// The WAL-summary side of incremental backups without a server: which relation a file path is,
// which rule a summary gives a main fork, the block set, the records that change the rules, and
// the pages CopySummarisedPages reads and stores.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>

#include "backup/page_checksum.hpp"
#include "backup/wal_delta.hpp"
#include "core/fs.hpp"
#include "pg/wal_block_summary.hpp"
#include "pg/wal_format.hpp"
#include "storage/memory_storage.hpp"

namespace dbmedic::backup {
namespace {

TEST(RelationFileOf, NamesTablespaceDatabaseRelationAndSegment) {
  auto base = RelationFileOf("base/5/16384.2");
  ASSERT_TRUE(base);
  EXPECT_EQ(base->rnode, (pg::RelFileNode{1663, 5, 16384}));
  EXPECT_EQ(base->segment, 2u);
  auto global = RelationFileOf("global/1262");
  ASSERT_TRUE(global);
  EXPECT_EQ(global->rnode, (pg::RelFileNode{1664, 0, 1262}));
  EXPECT_EQ(global->segment, 0u);
  auto spc = RelationFileOf("pg_tblspc/16385/PG_15_202209061/5/16386");
  ASSERT_TRUE(spc);
  EXPECT_EQ(spc->rnode, (pg::RelFileNode{16385, 5, 16386}));
}

TEST(RelationFileOf, OtherForksAndFilesAreNotRelations) {
  EXPECT_FALSE(RelationFileOf("base/5/16384_fsm"));
  EXPECT_FALSE(RelationFileOf("base/5/16384_vm.1"));
  EXPECT_FALSE(RelationFileOf("global/pg_control"));
  EXPECT_FALSE(RelationFileOf("pg_wal/000000010000000000000001"));
}

TEST(SummaryWorthReading, UpToFourSegmentsAlwaysAndBeyondThatUpToAQuarterOfTheData) {
  constexpr std::uint64_t kMiB = 1 << 20;
  EXPECT_TRUE(SummaryWorthReading(64 * kMiB, 1 * kMiB));
  EXPECT_FALSE(SummaryWorthReading(65 * kMiB, 1 * kMiB));
  EXPECT_TRUE(SummaryWorthReading(80 * kMiB, 750 * kMiB));   // pgbench-50, 1% in one range
  EXPECT_FALSE(SummaryWorthReading(576 * kMiB, 750 * kMiB)); // pgbench-50, 1% scattered
}

pg::BlockSummary SummaryOf(pg::RelFileNode rel, std::initializer_list<std::uint32_t> blocks) {
  pg::BlockSummary s;
  for (std::uint32_t b : blocks) s.changed[rel].Add(b);
  for (auto& [r, set] : s.changed) set.Compact();
  return s;
}

constexpr pg::RelFileNode kRel{1663, 5, 16384};

TEST(PlanFromSummary, NamedBlocksAreMadeRelativeToTheSegmentFile) {
  const pg::BlockSummary s = SummaryOf(kRel, {7, 3, kPagesPerSegment + 1, 3});
  WalPlan first = PlanFromSummary(s, "base/5/16384");
  EXPECT_EQ(first.rule, WalRule::kSummarised);
  EXPECT_EQ(first.blocks, (std::vector<std::uint32_t>{3, 7}));
  WalPlan second = PlanFromSummary(s, "base/5/16384.1");
  EXPECT_EQ(second.rule, WalRule::kSummarised);
  EXPECT_EQ(second.blocks, (std::vector<std::uint32_t>{1}));
}

TEST(PlanFromSummary, AnUnchangedRelationReadsNothingNamed) {
  const WalPlan plan = PlanFromSummary(SummaryOf(kRel, {1}), "base/5/99999");
  EXPECT_EQ(plan.rule, WalRule::kSummarised);
  EXPECT_TRUE(plan.blocks.empty());
}

TEST(PlanFromSummary, ARecreatedRelationIsCopiedWhole) {
  pg::BlockSummary s = SummaryOf(kRel, {1});
  s.recreated.insert(kRel);
  EXPECT_EQ(PlanFromSummary(s, "base/5/16384.3").rule, WalRule::kWhole);
}

TEST(PlanFromSummary, EveryFileOfARecreatedDatabaseIsCopiedWhole) {
  pg::BlockSummary s;
  s.recreated_databases.insert(5);
  EXPECT_EQ(PlanFromSummary(s, "base/5/1259").rule, WalRule::kWhole);
  EXPECT_EQ(PlanFromSummary(s, "pg_tblspc/16385/PG_15_202209061/5/16386").rule, WalRule::kWhole);
  EXPECT_EQ(PlanFromSummary(s, "base/6/1259").rule, WalRule::kSummarised);
}

TEST(PlanFromSummary, ATruncatedRelationIsReadPageByPage) {
  pg::BlockSummary s = SummaryOf(kRel, {1});
  s.truncated.insert(kRel);
  EXPECT_EQ(PlanFromSummary(s, "base/5/16384").rule, WalRule::kPageScan);
}

TEST(BlockSet, KeepsDistinctBlocksSortedAcrossCompactions) {
  pg::BlockSet set;
  for (int round = 0; round < 5; ++round) {
    for (std::uint32_t b = 20000; b-- > 0;) set.Add(b % 7000);
  }
  set.Compact();
  ASSERT_EQ(set.blocks().size(), 7000u);
  for (std::uint32_t i = 0; i < 7000; ++i) EXPECT_EQ(set.blocks()[i], i);
}

// A record of `rmid` / `info` with `main_data` (held by the caller).
pg::WalRecord RecordOf(pg::wal::Rmgr rmid, std::uint8_t info, const std::vector<std::uint32_t>& data) {
  pg::WalRecord r;
  r.rmid = static_cast<std::uint8_t>(rmid);
  r.info = info;
  r.main_data = std::as_bytes(std::span(data));
  return r;
}

TEST(AddRecordToSummary, BlockReferencesOfTheMainForkAreCollected) {
  pg::WalRecord r = RecordOf(pg::wal::Rmgr::kHeap, 0, {});
  pg::WalBlockRef main;
  main.rnode = kRel;
  main.block = 42;
  pg::WalBlockRef fsm = main;
  fsm.fork = 1;
  fsm.block = 2;
  r.blocks = {main, fsm};
  pg::BlockSummary s;
  pg::AddRecordToSummary(r, s);
  s.changed[kRel].Compact();
  EXPECT_EQ(s.changed[kRel].blocks(), (std::vector<std::uint32_t>{42}));
  EXPECT_EQ(s.block_references, 2u);
  EXPECT_FALSE(s.unusable);
}

TEST(AddRecordToSummary, StorageCreateAndTruncateMarkTheRelation) {
  pg::BlockSummary s;
  const std::vector<std::uint32_t> create = {1663, 5, 16384, 0};
  pg::AddRecordToSummary(RecordOf(pg::wal::Rmgr::kSmgr, pg::wal::kSmgrCreate, create), s);
  const std::vector<std::uint32_t> truncate = {10, 1663, 5, 16390, 7};
  pg::AddRecordToSummary(RecordOf(pg::wal::Rmgr::kSmgr, pg::wal::kSmgrTruncate, truncate), s);
  EXPECT_TRUE(s.recreated.contains(kRel));
  EXPECT_TRUE(s.truncated.contains((pg::RelFileNode{1663, 5, 16390})));
  EXPECT_FALSE(s.unusable);
}

TEST(AddRecordToSummary, DatabaseCreateByFileCopyMarksTheDatabase) {
  pg::BlockSummary s;
  const std::vector<std::uint32_t> copy = {16400, 1663, 1, 1663};  // db, spc, src db, src spc
  pg::AddRecordToSummary(RecordOf(pg::wal::Rmgr::kDbase, 0x00, copy), s);
  EXPECT_TRUE(s.recreated_databases.contains(16400u));
}

TEST(AddRecordToSummary, ATablespaceRecordMakesTheSummaryUnusable) {
  pg::BlockSummary s;
  const std::vector<std::uint32_t> spc = {16385};
  pg::AddRecordToSummary(RecordOf(pg::wal::Rmgr::kTblspc, 0x00, spc), s);
  ASSERT_TRUE(s.unusable);
  EXPECT_NE(s.unusable->find("tablespace"), std::string::npos);
}

TEST(AddRecordToSummary, WalLevelMinimalMakesTheSummaryUnusable) {
  pg::BlockSummary s;
  // xl_parameter_change: MaxConnections, max_worker_processes, max_wal_senders,
  // max_prepared_xacts, max_locks_per_xact, wal_level (0 = minimal), two bools.
  const std::vector<std::uint32_t> change = {100, 8, 0, 0, 64, 0, 0};
  pg::AddRecordToSummary(RecordOf(pg::wal::Rmgr::kXlog, 0x60, change), s);
  ASSERT_TRUE(s.unusable);
  EXPECT_NE(s.unusable->find("minimal"), std::string::npos);
  pg::BlockSummary replica;
  const std::vector<std::uint32_t> to_replica = {100, 8, 10, 0, 64, 1, 0};
  pg::AddRecordToSummary(RecordOf(pg::wal::Rmgr::kXlog, 0x60, to_replica), replica);
  EXPECT_FALSE(replica.unusable);
}

std::string PageOf(char fill) { return std::string(kPageSize, fill); }

// A 10-page file whose reference held 6 pages; the WAL named blocks 1 and 3: pages 1, 3 and
// 6..9 are read and stored, in that order.
TEST(CopySummarisedPages, ReadsTheNamedBlocksAndThoseBeyondTheReference) {
  core::TempDir dir("wal-delta");
  std::string content;
  for (int i = 0; i < 10; ++i) content += PageOf(static_cast<char>('a' + i));
  core::AtomicWriteFile(dir.path() / "16384", content, 0600);
  storage::MemoryStorage storage;
  CopySettings settings{"20261130-000000I", {repo::Compression::kNone, 1}, 0};
  SourceFile source;
  source.path = dir.path() / "16384";
  repo::FileEntry file;
  file.path = "base/5/16384";
  file.chunks.push_back({});
  file.chunks[0].size = content.size();
  std::optional<repo::PageOverlay> overlay;
  std::atomic<bool> vanished{false};
  std::uint64_t pages = 0;
  const std::uint64_t stored = CopySummarisedPages(storage, settings, source,
                                                   PageBase{0, 6 * kPageSize}, {1, 3}, file, 0,
                                                   overlay, vanished, pages);
  ASSERT_TRUE(overlay);
  EXPECT_EQ(pages, 6u);
  EXPECT_EQ(stored, 6 * kPageSize);
  using Runs = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
  EXPECT_EQ(overlay->runs, (Runs{{1, 1}, {3, 1}, {6, 4}}));
  EXPECT_EQ(storage.ReadAll(overlay->chunk.object),
            PageOf('b') + PageOf('d') + PageOf('g') + PageOf('h') + PageOf('i') + PageOf('j'));
  EXPECT_EQ(file.chunks[0].size, content.size());
  EXPECT_FALSE(vanished.load());
}

TEST(CopySummarisedPages, NothingNamedAndNoGrowthStoresNothing) {
  core::TempDir dir("wal-delta");
  core::AtomicWriteFile(dir.path() / "16384", PageOf('a') + PageOf('b'), 0600);
  storage::MemoryStorage storage;
  CopySettings settings{"20261130-000000I", {repo::Compression::kNone, 1}, 0};
  SourceFile source;
  source.path = dir.path() / "16384";
  repo::FileEntry file;
  file.path = "base/5/16384";
  file.chunks.push_back({});
  file.chunks[0].size = 2 * kPageSize;
  std::optional<repo::PageOverlay> overlay;
  std::atomic<bool> vanished{false};
  std::uint64_t pages = 0;
  EXPECT_EQ(CopySummarisedPages(storage, settings, source, PageBase{0, 2 * kPageSize}, {}, file,
                                0, overlay, vanished, pages),
            0u);
  EXPECT_FALSE(overlay);
  EXPECT_EQ(pages, 0u);
}

TEST(CopySummarisedPages, AVanishedFileIsReportedNotThrown) {
  core::TempDir dir("wal-delta");
  storage::MemoryStorage storage;
  CopySettings settings{"20261130-000000I", {repo::Compression::kNone, 1}, 0};
  SourceFile source;
  source.path = dir.path() / "gone";
  repo::FileEntry file;
  file.path = "base/5/16384";
  file.chunks.push_back({});
  file.chunks[0].size = kPageSize;
  std::optional<repo::PageOverlay> overlay;
  std::atomic<bool> vanished{false};
  std::uint64_t pages = 0;
  CopySummarisedPages(storage, settings, source, PageBase{0, 0}, {0}, file, 0, overlay, vanished,
                      pages);
  EXPECT_TRUE(vanished.load());
  EXPECT_FALSE(overlay);
}

}  // namespace
}  // namespace dbmedic::backup
