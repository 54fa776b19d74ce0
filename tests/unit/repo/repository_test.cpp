// Repository metadata: repo.json and manifests saved and loaded, sealed with their checksum;
// damaged, foreign or too-new metadata refused; the catalog lists only committed manifests.
#include <gtest/gtest.h>

#include <memory>

#include "core/error.hpp"
#include <unistd.h>

#include "repo/chunk_reader.hpp"
#include "repo/lock.hpp"
#include "repo/manifest.hpp"
#include "repo/metadata.hpp"
#include "repo/parallel.hpp"
#include "repo/repository.hpp"
#include "storage/memory_storage.hpp"

namespace dbmedic::repo {
namespace {

using storage::MemoryStorage;

RepoInfo Info(std::string sysid = "7300000000000000001") {
  RepoInfo info;
  info.system_identifier = std::move(sysid);
  info.pg_version_num = 150020;
  info.codec = {Compression::kZstd, 3};
  info.created = 1700000000;
  return info;
}

// A memory storage that stays reachable by the test after the repository takes ownership.
struct SharedMemory {
  MemoryStorage* raw = nullptr;
  std::unique_ptr<storage::Storage> Make() {
    auto s = std::make_unique<MemoryStorage>();
    raw = s.get();
    return s;
  }
};

Manifest SampleManifest(const std::string& label) {
  Manifest m;
  m.label = label;
  m.start_lsn = "0/2000028";
  m.stop_lsn = "0/2000100";
  m.start_time = 1700000000;
  m.stop_time = 1700000010;
  m.timeline = 1;
  m.system_identifier = "7300000000000000001";
  m.pg_version_num = 150020;
  m.tool_version = "0.1.0";
  m.data_checksums = true;
  m.chunk_size = 8;
  m.directories = {{"base", 0700}, {"base/1", 0700}};
  m.tablespaces = {{"16384", "/srv/ts1"}};
  FileEntry f;
  f.path = "base/1/1259";
  f.size = 12;
  f.chunks = {{0, 8, 20, "aa"}, {8, 4, 15, "bb"}};
  f.sha256 = CombineChunkChecksums(f.chunks);
  m.files.push_back(f);
  return m;
}

template <typename Fn>
Error Catch(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no exception";
  return Error(ErrorCode::kInternal, "none");
}

bool Contains(const Error& e, std::string_view text) {
  return std::string(e.what()).find(text) != std::string::npos;
}

TEST(Metadata, SealedDocumentRoundTrips) {
  nlohmann::json content = {{"a", 1}, {"b", "two"}};
  EXPECT_EQ(UnsealMetadata(SealMetadata(content), "x"), content);
}

TEST(Metadata, AlteredContentIsRefused) {
  std::string text = SealMetadata({{"a", 1}});
  text.replace(text.find("\"a\": 1"), 6, "\"a\": 2");
  const Error e = Catch([&] { UnsealMetadata(text, "repo/x.json"); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(Contains(e, "metadata file 'repo/x.json' is damaged: checksum")) << e.what();
}

TEST(Metadata, NonJsonIsRefused) {
  const Error e = Catch([&] { UnsealMetadata("{\"checksum\": \"ab", "m.json"); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(Contains(e, "not valid JSON")) << e.what();
}

TEST(Manifest, JsonRoundTripKeepsEveryField) {
  const Manifest m = SampleManifest("20261129-120000F");
  const Manifest back = ManifestFromJson(ManifestToJson(m), "m");
  EXPECT_EQ(ManifestToJson(back), ManifestToJson(m));
  EXPECT_EQ(back.files.at(0).chunks.at(1).offset, 8u);
  EXPECT_EQ(back.tablespaces.at(0).location, "/srv/ts1");
}

TEST(Manifest, MissingFieldIsCorrupt) {
  nlohmann::json j = ManifestToJson(SampleManifest("L"));
  j.erase("stop_lsn");
  const Error e = Catch([&] { ManifestFromJson(j, "backup/L/manifest.json"); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(Contains(e, "manifest 'backup/L/manifest.json' is malformed")) << e.what();
}

TEST(Manifest, ChunkObjectNames) {
  Manifest m = SampleManifest("L");
  EXPECT_EQ(ChunkObjectPath("L", m.files[0], 1, Compression::kZstd), "backup/L/data/base/1/1259.part1.zst");
  m.files[0].chunks.resize(1);
  EXPECT_EQ(ChunkObjectPath("L", m.files[0], 0, Compression::kNone), "backup/L/data/base/1/1259");
}

TEST(RepositoryLock, SecondHolderIsAConflictNamingTheFirst) {
  const Repository repo = Repository::Init(std::make_unique<MemoryStorage>(), Info());
  const RepositoryLock held = LockRepository(repo, "expire");
  const Error e = Catch([&] { LockRepository(repo, "backup"); });
  EXPECT_EQ(e.code(), ErrorCode::kConflict);
  EXPECT_TRUE(Contains(e, "repository 'memory:' is locked by 'dbmedic expire' (pid " +
                              std::to_string(::getpid()) + " on host "))
      << e.what();
  EXPECT_TRUE(Contains(e, " UTC)")) << e.what();
  EXPECT_TRUE(e.hint().find("run 'dbmedic backup' again") != std::string::npos) << e.hint();
}

TEST(RepositoryLock, ReleasedLockCanBeTakenAgain) {
  const Repository repo = Repository::Init(std::make_unique<MemoryStorage>(), Info());
  { const RepositoryLock first = LockRepository(repo, "backup"); }
  const RepositoryLock second = LockRepository(repo, "backup");
  EXPECT_EQ(HolderFromText(repo.storage().ReadAll(std::string(kLockPath))).command, "backup");
}

TEST(RepositoryLock, HolderTextRoundTripsAndGarbageGivesNoPid) {
  const LockHolder h{42, "db1", "backup", "2026-11-29 15:04:05 UTC"};
  const LockHolder back = HolderFromText(HolderToText(h));
  EXPECT_EQ(back.pid, 42);
  EXPECT_EQ(back.host, "db1");
  EXPECT_EQ(back.command, "backup");
  EXPECT_EQ(back.since, "2026-11-29 15:04:05 UTC");
  EXPECT_EQ(HolderFromText("").pid, 0);
  EXPECT_EQ(HolderFromText("not json").pid, 0);
}

TEST(Repository, InitThenOpenReadsTheSameInfo) {
  SharedMemory mem;
  const Repository created = Repository::Init(mem.Make(), Info());
  auto storage = std::make_unique<MemoryStorage>();
  storage->Put("repo.json", mem.raw->ReadAll("repo.json"));
  const Repository repo = Repository::Open(std::move(storage));
  EXPECT_EQ(repo.info().system_identifier, "7300000000000000001");
  EXPECT_EQ(repo.info().pg_version_num, 150020);
  EXPECT_EQ(repo.info().format_version, kFormatVersion);
  EXPECT_EQ(repo.info().codec.compression, Compression::kZstd);
}

TEST(Repository, OpenWithoutRepoJsonAsksForInit) {
  const Error e = Catch([] { Repository::Open(std::make_unique<MemoryStorage>()); });
  EXPECT_EQ(e.code(), ErrorCode::kRepository);
  EXPECT_TRUE(Contains(e, "repo.json is missing")) << e.what();
  EXPECT_NE(e.hint().find("dbmedic repo init"), std::string::npos);
}

TEST(Repository, NewerFormatIsUnsupported) {
  auto storage = std::make_unique<MemoryStorage>();
  storage->Put("repo.json", SealMetadata({{"format_version", kFormatVersion + 1},
                                          {"system_identifier", "1"}, {"pg_version_num", 150000},
                                          {"compression", "zstd"}, {"compression_level", 3},
                                          {"created", 0}}));
  const Error e = Catch([&] { Repository::Open(std::move(storage)); });
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  EXPECT_TRUE(Contains(e, "has format version 2, this dbmedic reads up to 1")) << e.what();
}

TEST(Repository, DamagedRepoJsonIsCorrupt) {
  auto storage = std::make_unique<MemoryStorage>();
  std::string text = SealMetadata({{"format_version", 1}});
  text[text.size() / 2] ^= 1;
  storage->Put("repo.json", text);
  const Error e = Catch([&] { Repository::Open(std::move(storage)); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
}

TEST(Repository, OtherClusterIsRefusedNamingBothIdentifiers) {
  const Repository repo = Repository::Init(std::make_unique<MemoryStorage>(), Info("111"));
  const Error e = Catch([&] { repo.CheckCluster("222"); });
  EXPECT_EQ(e.code(), ErrorCode::kRepository);
  EXPECT_TRUE(Contains(e, "belongs to the cluster with system identifier 111, not to this "
                          "cluster (system identifier 222)")) << e.what();
  repo.CheckCluster("111");
}

TEST(Repository, InitTwiceIsAConflict) {
  auto storage = std::make_unique<MemoryStorage>();
  storage->Put("repo.json", SealMetadata({{"format_version", 1}, {"system_identifier", "5"},
                                          {"pg_version_num", 150000}, {"compression", "zstd"},
                                          {"compression_level", 3}, {"created", 0}}));
  const Error e = Catch([&] { Repository::Init(std::move(storage), Info("5")); });
  EXPECT_EQ(e.code(), ErrorCode::kConflict);
  EXPECT_TRUE(Contains(e, "already initialised")) << e.what();
}

TEST(Repository, InitOverAnotherClustersRepositoryNamesBoth) {
  auto storage = std::make_unique<MemoryStorage>();
  storage->Put("repo.json", SealMetadata({{"format_version", 1}, {"system_identifier", "5"},
                                          {"pg_version_num", 150000}, {"compression", "zstd"},
                                          {"compression_level", 3}, {"created", 0}}));
  const Error e = Catch([&] { Repository::Init(std::move(storage), Info("6")); });
  EXPECT_EQ(e.code(), ErrorCode::kRepository);
}

TEST(Repository, InitInNonEmptyDirectoryIsAConflict) {
  auto storage = std::make_unique<MemoryStorage>();
  storage->Put("some/file", "x");
  const Error e = Catch([&] { Repository::Init(std::move(storage), Info()); });
  EXPECT_EQ(e.code(), ErrorCode::kConflict);
  EXPECT_TRUE(Contains(e, "is not empty and holds no repository")) << e.what();
}

TEST(Repository, CatalogListsOnlyBackupsWithManifest) {
  SharedMemory mem;
  Repository repo = Repository::Init(mem.Make(), Info());
  repo.SaveManifest(SampleManifest("20261129-100000F"));
  mem.raw->Put("backup/20261129-110000F/data/base/1/1259.zst", "x");  // interrupted
  repo.SaveManifest(SampleManifest("20261129-120000F"));
  EXPECT_EQ(repo.ListBackups(), (std::vector<std::string>{"20261129-100000F", "20261129-120000F"}));
  EXPECT_EQ(repo.ListIncomplete(), (std::vector<std::string>{"20261129-110000F"}));
  EXPECT_EQ(repo.LatestBackup(), "20261129-120000F");
  repo.RemoveBackup("20261129-110000F");
  EXPECT_TRUE(repo.ListIncomplete().empty());
}

TEST(Repository, LoadManifestRoundTrips) {
  Repository repo = Repository::Init(std::make_unique<MemoryStorage>(), Info());
  const Manifest m = SampleManifest("L1");
  repo.SaveManifest(m);
  EXPECT_EQ(ManifestToJson(repo.LoadManifest("L1")), ManifestToJson(m));
}

TEST(Repository, UnknownLabelIsNotFound) {
  const Repository repo = Repository::Init(std::make_unique<MemoryStorage>(), Info());
  const Error e = Catch([&] { repo.LoadManifest("nope"); });
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_TRUE(Contains(e, "backup 'nope' does not exist")) << e.what();
}

TEST(Repository, DamagedManifestIsCorrupt) {
  SharedMemory mem;
  Repository repo = Repository::Init(mem.Make(), Info());
  repo.SaveManifest(SampleManifest("L1"));
  std::string text = mem.raw->ReadAll("backup/L1/manifest.json");
  text.replace(text.find("0/2000100"), 9, "0/2000200");
  mem.raw->Put("backup/L1/manifest.json", text);
  const Error e = Catch([&] { repo.LoadManifest("L1"); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(Contains(e, "backup/L1/manifest.json' is damaged")) << e.what();
}

class ChunkReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    manifest_.label = "L";
    manifest_.compression = Compression::kZstd;
    file_.path = "base/1/42";
    const std::string raw(10000, 'r');
    const std::string stored = Compress({Compression::kZstd, 3}, raw);
    file_.size = raw.size();
    file_.chunks = {{0, raw.size(), stored.size(), Sha256Hex(raw)}};
    object_ = ChunkObjectPath("L", file_, 0, Compression::kZstd);
    storage_.Put(object_, stored);
  }
  MemoryStorage storage_;
  Manifest manifest_;
  FileEntry file_;
  std::string object_;
};

TEST_F(ChunkReaderTest, GoodChunkReadsBack) {
  const FetchedChunk c = FetchChunk(storage_, manifest_, file_, 0);
  EXPECT_FALSE(c.fault);
  EXPECT_EQ(c.raw, std::string(10000, 'r'));
}

TEST_F(ChunkReaderTest, MissingObject) {
  storage_.Remove(object_);
  EXPECT_EQ(FetchChunk(storage_, manifest_, file_, 0).fault, ChunkFault::kMissing);
}

TEST_F(ChunkReaderTest, TruncatedObject) {
  storage_.Put(object_, storage_.ReadAll(object_).substr(0, 5));
  EXPECT_EQ(FetchChunk(storage_, manifest_, file_, 0).fault, ChunkFault::kTruncated);
}

TEST_F(ChunkReaderTest, AlteredContentFailsTheChecksum) {
  const std::string other = Compress({Compression::kZstd, 3}, std::string(10000, 's'));
  file_.chunks[0].stored_size = other.size();
  storage_.Put(object_, other);
  const FetchedChunk c = FetchChunk(storage_, manifest_, file_, 0);
  EXPECT_EQ(c.fault, ChunkFault::kAltered);
  EXPECT_NE(c.detail.find("SHA-256"), std::string::npos) << c.detail;
}

TEST_F(ChunkReaderTest, OrThrowNamesBackupFileAndObject) {
  storage_.Remove(object_);
  const Error e = Catch([&] { FetchChunkOrThrow(storage_, manifest_, file_, 0); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(Contains(e, "backup L: file 'base/1/42' is missing in the repository ('memory:backup/L/data/base/1/42.zst'")) << e.what();
}

TEST(RunParallel, RunsEveryTask) {
  std::vector<int> done(1000, 0);
  RunParallel(done.size(), 4, [&](std::size_t i) { done[i] = 1; });
  EXPECT_EQ(std::count(done.begin(), done.end(), 1), 1000);
}

TEST(RunParallel, RethrowsTheFirstError) {
  const Error e = Catch([] {
    RunParallel(100, 3, [](std::size_t i) {
      if (i == 7) throw Error(ErrorCode::kDiskFull, "task 7 failed");
    });
  });
  EXPECT_EQ(e.code(), ErrorCode::kDiskFull);
  EXPECT_STREQ(e.what(), "task 7 failed");
}

}  // namespace
}  // namespace dbmedic::repo
