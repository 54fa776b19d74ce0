// The incremental rules that need no server: which files are judged page by page, which pages
// are stored, and the backup type names.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "backup/incremental.hpp"
#include "backup/page_checksum.hpp"
#include "backup/page_delta.hpp"
#include "core/error.hpp"

namespace dbmedic::backup {
namespace {

// A page whose header carries `lsn` (pd_lsn: xlogid, xrecoff, little-endian on this machine).
std::string PageWithLsn(std::uint64_t lsn) {
  std::string page(kPageSize, '\0');
  const auto hi = static_cast<std::uint32_t>(lsn >> 32);
  const auto lo = static_cast<std::uint32_t>(lsn);
  std::memcpy(page.data(), &hi, 4);
  std::memcpy(page.data() + 4, &lo, 4);
  page[12] = 24;  // pd_lower: not a new (all-zero) page
  return page;
}

constexpr PageBase kBase{0x5000000, 4 * kPageSize};

TEST(IsRelationMainFork, MainForksOfEveryLocationQualify) {
  EXPECT_TRUE(IsRelationMainFork("base/5/16384"));
  EXPECT_TRUE(IsRelationMainFork("base/5/16384.3"));
  EXPECT_TRUE(IsRelationMainFork("global/1262"));
  EXPECT_TRUE(IsRelationMainFork("pg_tblspc/16385/PG_15_202209061/5/16386"));
}

TEST(IsRelationMainFork, OtherForksAndFilesDoNot) {
  EXPECT_FALSE(IsRelationMainFork("base/5/16384_fsm"));
  EXPECT_FALSE(IsRelationMainFork("base/5/16384_vm"));
  EXPECT_FALSE(IsRelationMainFork("base/5/16384_init"));
  EXPECT_FALSE(IsRelationMainFork("global/pg_control"));
  EXPECT_FALSE(IsRelationMainFork("base/5/PG_VERSION"));
  EXPECT_FALSE(IsRelationMainFork("pg_xact/0000"));
  EXPECT_FALSE(IsRelationMainFork("base/5/pg_filenode.map"));
}

TEST(PageChanged, APageOlderThanTheReferenceStartIsNotStored) {
  const std::string page = PageWithLsn(0x4FFFFFF);
  EXPECT_FALSE(PageChanged(page.data(), kPageSize, 1, kBase));
}

TEST(PageChanged, APageAtOrAfterTheReferenceStartIsStored) {
  EXPECT_TRUE(PageChanged(PageWithLsn(0x5000000).data(), kPageSize, 1, kBase));
  EXPECT_TRUE(PageChanged(PageWithLsn(0x7000000).data(), kPageSize, 1, kBase));
}

TEST(PageChanged, APageBeyondTheReferenceCopyIsStored) {
  EXPECT_TRUE(PageChanged(PageWithLsn(1).data(), kPageSize, 4, kBase));
}

TEST(PageChanged, AnAllZeroPageIsStored) {
  const std::string zero(kPageSize, '\0');
  EXPECT_TRUE(PageChanged(zero.data(), kPageSize, 0, kBase));
}

TEST(PageChanged, APartialLastPageIsStored) {
  EXPECT_TRUE(PageChanged(PageWithLsn(1).data(), 4096, 0, kBase));
}

TEST(BackupType, NamesRoundTrip) {
  for (BackupType t : {BackupType::kFull, BackupType::kDiff, BackupType::kIncr}) {
    EXPECT_EQ(ParseBackupType(BackupTypeName(t)), t);
  }
  EXPECT_EQ(BackupTypeLetter(BackupType::kIncr), 'I');
}

TEST(BackupType, AnUnknownTypeIsAUsageError) {
  try {
    ParseBackupType("incremental");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_STREQ(e.what(), "unknown backup type 'incremental'");
  }
}

}  // namespace
}  // namespace dbmedic::backup
