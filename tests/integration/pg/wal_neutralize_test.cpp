// NeutralizeRecords on real PostgreSQL 15 WAL, read back by Debian's pg_waldump: the records of
// the skipped table become XLOG NOOP records that PostgreSQL's own reader accepts (CRC, xl_prev
// chain, page headers), at the same LSNs, and the other table's records are untouched.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "harness/test_cluster.hpp"
#include "pg/lsn.hpp"
#include "pg/wal_neutralize.hpp"

namespace dbmedic::pg {
namespace {

namespace fs = std::filesystem;

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string WaldumpOf(const fs::path& dir, Lsn start, Lsn end) {
  const auto r = core::RunProcess({"/usr/lib/postgresql/15/bin/pg_waldump", "-p", dir.string(),
                                   "-s", start.ToString(), "-e", end.ToString()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(WalNeutralize, PgWaldumpReadsTheRewrittenSegmentsWithTheSkippedTableAsNoops) {
  testing::TestCluster c(testing::TestClusterOptions{
      .settings = {{"wal_level", "replica"}, {"wal_keep_size", "1GB"}}});
  c.Sql("CREATE TABLE skipped (id int PRIMARY KEY, t text);"
        "CREATE TABLE kept (id int PRIMARY KEY, t text); CHECKPOINT");
  const std::string skipped_file = c.Scalar("SELECT pg_relation_filenode('skipped')");
  const std::string skipped_index = c.Scalar("SELECT pg_relation_filenode('skipped_pkey')");
  const std::string kept_file = c.Scalar("SELECT pg_relation_filenode('kept')");
  const std::string db = c.Scalar("SELECT oid FROM pg_database WHERE datname = current_database()");
  const Lsn start = Lsn::Parse(c.Scalar("SELECT pg_current_wal_lsn()"));
  // Inserts (full-page images first, then heap and index records), updates, a 20 kB row that
  // spans pages, and enough WAL to fill more than one segment.
  c.Sql("INSERT INTO skipped SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 60000) g;"
        "INSERT INTO kept SELECT g, md5(g::text) FROM generate_series(1, 5000) g;"
        "UPDATE skipped SET t = t || 'x' WHERE id % 10 = 0;"
        "INSERT INTO skipped VALUES (0, repeat('z', 20000));"
        "UPDATE kept SET t = 'y' WHERE id <= 100");
  const Lsn end = Lsn::Parse(c.Scalar("SELECT pg_current_wal_insert_lsn()"));
  c.Sql("SELECT pg_switch_wal()");

  const core::TempDir original("neutralize-orig");
  const core::TempDir rewritten("neutralize-new");
  ASSERT_GT(SegmentNumber(end), SegmentNumber(start)) << "the workload filled one segment only";
  for (std::uint64_t segno = SegmentNumber(start); segno <= SegmentNumber(end); ++segno) {
    const std::string name = WalSegmentName(1, segno);
    fs::copy_file(c.data_dir() / "pg_wal" / name, original.path() / name);
  }
  // Each segment rewritten on its own, with its neighbours' original bytes (as `wal get` does).
  auto original_of = [&](std::uint64_t segno) -> std::shared_ptr<const std::string> {
    const fs::path file = original.path() / WalSegmentName(1, segno);
    if (!fs::exists(file)) return nullptr;
    return std::make_shared<const std::string>(core::ReadFile(file));
  };
  for (std::uint64_t segno = SegmentNumber(start); segno <= SegmentNumber(end); ++segno) {
    std::string bytes = *original_of(segno);
    const NeutralizeResult r = NeutralizeRecords(
        {reinterpret_cast<std::byte*>(bytes.data()), bytes.size()}, SegmentStart(segno),
        [&](const WalRecord& record) {
          for (const WalBlockRef& b : record.blocks) {
            const std::string rel = std::to_string(b.rnode.rel);
            if (rel != skipped_file && rel != skipped_index) return false;
          }
          return true;
        },
        {.previous = [&] { return original_of(segno - 1); },
         .next = [&] { return original_of(segno + 1); }});
    EXPECT_GT(r.records, 0u) << segno;
    core::AtomicWriteFile(rewritten.path() / WalSegmentName(1, segno), bytes);
  }

  const std::string before = WaldumpOf(original.path(), start, end);
  const std::string after = WaldumpOf(rewritten.path(), start, end);
  const std::string skipped_ref = fmt::format("/{}/{} ", db, skipped_file);
  const std::string kept_ref = fmt::format("/{}/{} ", db, kept_file);
  ASSERT_GT(Count(before, skipped_ref), 1000u);
  EXPECT_EQ(Count(before, "desc: NOOP"), 0u);
  EXPECT_GT(Count(after, "desc: NOOP"), 1000u);
  // Nothing is left of the skipped table, also where a record crosses a segment boundary.
  EXPECT_EQ(Count(after, skipped_ref), 0u);
  EXPECT_EQ(Count(after, kept_ref), Count(before, kept_ref));
  EXPECT_EQ(Count(after, "\n"), Count(before, "\n")) << "every record is still there";
}

}  // namespace
}  // namespace dbmedic::pg
