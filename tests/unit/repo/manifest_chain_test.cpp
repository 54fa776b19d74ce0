// Manifests of differential / incremental backups: the additive fields round-trip, manifests
// written before them still load as full backups, references and page overlays locate the
// objects of the backups that hold them, and a chain with a missing backup is refused.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "repo/backup_chain.hpp"
#include "repo/manifest.hpp"
#include "repo/repository.hpp"
#include "storage/memory_storage.hpp"

namespace dbmedic::repo {
namespace {

Manifest Full(const std::string& label) {
  Manifest m;
  m.label = label;
  m.start_lsn = "0/2000028";
  m.stop_lsn = "0/2000100";
  m.timeline = 1;
  m.system_identifier = "7300000000000000001";
  m.pg_version_num = 150020;
  m.tool_version = "test";
  FileEntry f;
  f.path = "base/5/16384";
  f.size = 16384;
  f.chunks.push_back(ChunkEntry{0, 16384, 100, "aa"});
  m.files.push_back(f);
  return m;
}

Manifest IncrOf(const Manifest& full, const std::string& label) {
  Manifest m = Full(label);
  m.type = m.requested_type = "incr";
  m.reference = full.label;
  m.chain = {full.label};
  FileEntry& f = m.files[0];
  f.chunks[0] = AsReference(full.files[0].chunks[0], LocateChunk(full, full.files[0], 0));
  PageOverlay o;
  o.chunk = ChunkEntry{8192, 8192, 20, "bb"};
  o.chunk.object = OverlayObjectPath(label, f, 0, Compression::kZstd);
  o.runs = {{1, 1}};
  f.pages.push_back(o);
  return m;
}

TEST(ManifestChain, AnIncrRoundTripsThroughJson) {
  const Manifest full = Full("20261129-100000F");
  const Manifest incr = IncrOf(full, "20261129-110000I");
  const Manifest back = ManifestFromJson(ManifestToJson(incr), "test");
  EXPECT_EQ(back.type, "incr");
  EXPECT_EQ(back.reference, full.label);
  EXPECT_EQ(back.chain, std::vector<std::string>{full.label});
  ASSERT_EQ(back.files[0].pages.size(), 1u);
  EXPECT_EQ(back.files[0].pages[0].runs, (std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, 1}}));
  EXPECT_EQ(back.files[0].chunks[0].backup, full.label);
  EXPECT_EQ(ManifestToJson(back), ManifestToJson(incr));
}

TEST(ManifestChain, AManifestWithoutTheNewFieldsLoadsAsAFullBackup) {
  nlohmann::json j = ManifestToJson(Full("20261129-100000F"));
  j.erase("requested_type");
  j.erase("reference");
  j.erase("chain");
  const Manifest m = ManifestFromJson(j, "old");
  EXPECT_EQ(m.type, "full");
  EXPECT_EQ(m.requested_type, "full");
  EXPECT_TRUE(m.reference.empty());
  EXPECT_TRUE(m.files[0].pages.empty());
  EXPECT_FALSE(ManifestToJson(m)["files"][0].contains("pages"));
}

TEST(ManifestChain, AnIncrWithoutReferenceIsMalformed) {
  nlohmann::json j = ManifestToJson(IncrOf(Full("20261129-100000F"), "20261129-110000I"));
  j["reference"] = "";
  try {
    ManifestFromJson(j, "m.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_STREQ(e.what(), "manifest 'm.json' is malformed: a incr backup without a reference");
  }
}

TEST(ManifestChain, ReferencesLocateTheObjectsOfTheBackupHoldingThem) {
  const Manifest full = Full("20261129-100000F");
  const Manifest incr = IncrOf(full, "20261129-110000I");
  const ChunkLocation chunk = LocateChunk(incr, incr.files[0], 0);
  EXPECT_EQ(chunk.backup, full.label);
  EXPECT_EQ(chunk.object, "backup/20261129-100000F/data/base/5/16384.zst");
  const ChunkLocation overlay = LocateOverlay(incr, incr.files[0].pages[0]);
  EXPECT_EQ(overlay.backup, incr.label);
  EXPECT_EQ(overlay.object, "backup/20261129-110000I/data/base/5/16384.pages0.zst");
  EXPECT_EQ(ReferencedBackups(incr), std::vector<std::string>{full.label});
  // A second incr inherits the first one's overlay as a reference to the first incr.
  const PageOverlay inherited{AsReference(incr.files[0].pages[0].chunk, overlay), {{1, 1}}};
  EXPECT_EQ(LocateOverlay(Full("x"), inherited).backup, incr.label);
}

TEST(ManifestChain, ACompleteChainPassesAndAMissingBackupIsNamed) {
  Repository repository = Repository::Init(std::make_unique<storage::MemoryStorage>(), [] {
    RepoInfo info;
    info.system_identifier = "7300000000000000001";
    info.pg_version_num = 150020;
    return info;
  }());
  const Manifest full = Full("20261129-100000F");
  const Manifest incr = IncrOf(full, "20261129-110000I");
  repository.SaveManifest(full);
  repository.SaveManifest(incr);
  EXPECT_EQ(MissingFromChain(repository, incr), std::nullopt);
  repository.RemoveBackup(full.label);
  EXPECT_EQ(MissingFromChain(repository, incr), full.label);
  try {
    CheckChain(repository, incr);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("backup 20261129-110000I (incr) is based on backup "
                                         "20261129-100000F, which is missing"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace dbmedic::repo
