// Undo's WAL filter: which blocks it skips, and its file.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "wal/wal_filter.hpp"

namespace dbmedic::wal {
namespace {

pg::WalBlockRef Block(pg::Oid db, pg::Oid rel) {
  pg::WalBlockRef b;
  b.rnode = {1663, db, rel};
  return b;
}

TEST(WalFilter, SkipsListedFilesOfItsDatabaseAndEveryOtherDatabaseButNeverSharedCatalogs) {
  const WalFilter filter{16384, {16390, 16400}};
  EXPECT_TRUE(filter.Skips(Block(16384, 16390)));
  EXPECT_TRUE(filter.Skips(Block(16384, 16400)));
  EXPECT_FALSE(filter.Skips(Block(16384, 16395))) << "a file not listed (the table undo reads)";
  EXPECT_FALSE(filter.Skips(Block(16384, 1259))) << "a catalog";
  EXPECT_TRUE(filter.Skips(Block(5, 16395))) << "another database";
  EXPECT_FALSE(filter.Skips(Block(0, 1262))) << "a shared catalog";
}

TEST(WalFilter, FileRoundTripsAndSortsTheList) {
  const core::TempDir dir;
  const WalFilter written{16384, {16400, 16390}};
  core::AtomicWriteFile(dir.path() / "f.json", written.ToJson());
  const WalFilter read = WalFilter::Load(dir.path() / "f.json");
  EXPECT_EQ(read.database, 16384u);
  EXPECT_EQ(read.skipped_relfilenodes, (std::vector<pg::Oid>{16390, 16400}));
}

TEST(WalFilter, AFileThatIsNotAFilterIsAConfigErrorNamingIt) {
  const core::TempDir dir;
  core::AtomicWriteFile(dir.path() / "f.json", R"({"version": 2})");
  try {
    WalFilter::Load(dir.path() / "f.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_NE(std::string(e.what()).find("f.json' is not a WAL filter file"), std::string::npos)
        << e.what();
  }
}

TEST(WalFilter, ANonSegmentFileIsNotRewritten) {
  const WalFilter filter{16384, {}};
  std::string history = "1\t0/3000000\tno recovery target specified\n";
  const std::string before = history;
  EXPECT_EQ(filter.Apply("00000002.history", history).records, 0u);
  EXPECT_EQ(history, before);
}

}  // namespace
}  // namespace dbmedic::wal
