// S3Storage against a real S3-compatible server (s3rver), directly and through a fault proxy:
// objects, listing, multipart uploads, addressing styles, bad credentials, a missing bucket,
// HTTP 500s, slow responses and a server that dies.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/error.hpp"
#include "fault_proxy.hpp"
#include "harness/s3_server.hpp"
#include "storage/s3_storage.hpp"

namespace dbmedic::testing {
namespace {

using storage::S3Settings;
using storage::S3Storage;

std::vector<std::string> DirectoryNames(const storage::Storage& storage, std::string_view dir) {
  std::vector<std::string> names;
  for (const storage::DirectoryInfo& d : storage.ListDirectories(dir)) names.push_back(d.name);
  return names;
}

template <typename F>
Error Catch(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an Error";
  return Error(ErrorCode::kInternal, "none");
}

class S3StorageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new S3Server(); }
  static void TearDownTestSuite() { delete server_; }
  void SetUp() override {
    if (!server_->running()) server_->Start();
  }

  // Each test gets its own key prefix (tests share the server, never objects).
  S3Settings Settings(std::string endpoint = {}) {
    S3Settings s;
    s.endpoint = endpoint.empty() ? server_->endpoint() : endpoint;
    s.bucket = server_->bucket();
    s.uri_style = storage::S3UriStyle::kPath;
    s.prefix = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    s.credentials = {"S3RVER", "S3RVER", ""};
    s.retries = 2;
    s.retry_base = std::chrono::milliseconds(10);
    s.timeout = std::chrono::seconds(5);
    return s;
  }

  static S3Server* server_;
};

S3Server* S3StorageTest::server_ = nullptr;

TEST_F(S3StorageTest, WriteListReadRemove) {
  S3Storage s3(Settings());
  s3.WriteAtomic("backup/L/manifest.json", "{}");
  s3.WriteAtomic("backup/L/data/base/1/1259", std::string(1000, 'x'));
  s3.WriteAtomic("archive/00000001/x", "w");
  const auto listed = s3.List("backup");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].path, "L/data/base/1/1259");
  EXPECT_EQ(listed[0].size, 1000u);
  EXPECT_EQ(listed[1].path, "L/manifest.json");
  EXPECT_EQ(s3.ReadAll("backup/L/data/base/1/1259"), std::string(1000, 'x'));
  EXPECT_TRUE(s3.Exists("archive/00000001/x"));
  s3.RemoveTree("backup");
  EXPECT_TRUE(s3.List("backup").empty());
  s3.Remove("archive/00000001/x");
  EXPECT_FALSE(s3.Exists("archive/00000001/x"));
  s3.Remove("archive/00000001/x");  // a missing object is not an error
}

// Backup labels: the directories one level down, also those holding only deeper objects (an
// interrupted backup's chunks).
TEST_F(S3StorageTest, ListDirectoriesNamesTheCommonPrefixesOneLevelDown) {
  S3Storage s3(Settings());
  s3.WriteAtomic("dirs/B/manifest.json", "{}");
  s3.WriteAtomic("dirs/A/data/base/1/1259", "x");
  s3.WriteAtomic("dirs/A/data/base/1/1260", "y");
  s3.WriteAtomic("dirs/file", "not a directory");
  EXPECT_EQ(DirectoryNames(s3, "dirs"), (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(DirectoryNames(s3, "dirs/A/data"), (std::vector<std::string>{"base"}));
  EXPECT_TRUE(DirectoryNames(s3, "nothing").empty());
  const auto marked = s3.ListDirectories("dirs", "manifest.json");
  ASSERT_EQ(marked.size(), 2u);
  EXPECT_FALSE(marked[0].holds_marker);
  EXPECT_TRUE(marked[1].holds_marker);
  s3.RemoveTree("dirs");
}

TEST_F(S3StorageTest, ListingPagesPastAThousandObjects) {
  S3Storage s3(Settings());
  for (int i = 0; i < 1005; ++i) s3.WriteAtomic(fmt::format("many/{:04}", i), "o");
  const auto listed = s3.List("many");
  ASSERT_EQ(listed.size(), 1005u);
  EXPECT_EQ(listed.front().path, "0000");
  EXPECT_EQ(listed.back().path, "1004");
}

TEST_F(S3StorageTest, AnUncommittedWriteLeavesNothing) {
  S3Storage s3(Settings());
  {
    auto out = s3.OpenWrite("backup/L/data/x");
    out->Write("partial");
  }
  EXPECT_FALSE(s3.Exists("backup/L/data/x"));
  EXPECT_TRUE(s3.List("").empty());
}

TEST_F(S3StorageTest, LargeObjectsGoUpInParts) {
  S3Settings settings = Settings();
  settings.part_size = 1 << 20;
  FaultProxy proxy(server_->port());
  settings.endpoint = proxy.endpoint();
  S3Storage s3(settings);
  std::string data;
  for (int i = 0; i < (5 << 19); ++i) data += static_cast<char>('a' + i % 26);  // 2.5 MiB
  {
    auto out = s3.OpenWrite("big");
    for (std::size_t at = 0; at < data.size(); at += 100000) out->Write(data.substr(at, 100000));
    out->Commit();
  }
  EXPECT_EQ(proxy.uploads.load(), 3);  // three parts
  EXPECT_EQ(s3.ReadAll("big"), data);
  EXPECT_EQ(s3.List("")[0].size, data.size());
}

TEST_F(S3StorageTest, AnAbandonedMultipartUploadIsNotListed) {
  S3Settings settings = Settings();
  settings.part_size = 1 << 20;
  S3Storage s3(settings);
  {
    auto out = s3.OpenWrite("big");
    out->Write(std::string(3 << 20, 'p'));  // two parts uploaded, never completed
  }
  EXPECT_FALSE(s3.Exists("big"));
  EXPECT_TRUE(s3.List("").empty());
}

TEST_F(S3StorageTest, VirtualHostAddressingWorks) {
  // s3rver takes BUCKET.s3.<service endpoint> as virtual-host addressing (curl resolves any
  // *.localhost name to the loopback address).
  S3Settings settings = Settings("http://s3.localhost:" + std::to_string(server_->port()));
  settings.uri_style = storage::S3UriStyle::kHost;
  S3Storage s3(settings);
  s3.WriteAtomic("a/b", "vhost");
  EXPECT_EQ(s3.ReadAll("a/b"), "vhost");
  EXPECT_EQ(s3.List("a").size(), 1u);
}

TEST_F(S3StorageTest, AMissingObjectIsNotFound) {
  S3Storage s3(Settings());
  const Error e = Catch([&] { s3.ReadAll("nothing/here"); });
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_STREQ(e.what(), fmt::format("object 's3://{}/AMissingObjectIsNotFound/nothing/here' "
                                     "does not exist",
                                     server_->bucket())
                             .c_str());
}

// s3rver checks access key ids but not V4 signatures (the signature itself is checked against
// AWS's published example in unit_offsite).
TEST_F(S3StorageTest, WrongCredentialsAreAConfigError) {
  S3Settings settings = Settings();
  settings.credentials = {"NOT-A-KEY", "S3RVER", ""};
  S3Storage s3(settings);
  const Error e = Catch([&] { s3.WriteAtomic("x", "y"); });
  EXPECT_EQ(e.code(), ErrorCode::kConfig);
  EXPECT_NE(std::string(e.what()).find("HTTP 403 InvalidAccessKeyId"), std::string::npos)
      << e.what();
}

TEST_F(S3StorageTest, AMissingBucketIsARepositoryError) {
  S3Settings settings = Settings();
  settings.bucket = "no-such-bucket";
  S3Storage s3(settings);
  const Error e = Catch([&] { s3.List(""); });
  EXPECT_EQ(e.code(), ErrorCode::kRepository);
  EXPECT_NE(std::string(e.what()).find("NoSuchBucket"), std::string::npos) << e.what();
  EXPECT_EQ(e.hint(), "create the bucket 'no-such-bucket' or fix s3.bucket");
}

TEST_F(S3StorageTest, Http500IsRetried) {
  FaultProxy proxy(server_->port());
  S3Storage s3(Settings(proxy.endpoint()));
  proxy.fail_next = 2;
  s3.WriteAtomic("x", "after two 500s");
  EXPECT_EQ(proxy.failed.load(), 2);
  EXPECT_EQ(s3.ReadAll("x"), "after two 500s");
}

TEST_F(S3StorageTest, Http500BeyondTheRetriesIsANetworkError) {
  FaultProxy proxy(server_->port());
  S3Storage s3(Settings(proxy.endpoint()));
  proxy.fail_next = 3;
  const Error e = Catch([&] { s3.WriteAtomic("x", "never"); });
  EXPECT_EQ(e.code(), ErrorCode::kNetwork);
  EXPECT_NE(std::string(e.what()).find("failed after 3 attempts: HTTP 500 InternalError"),
            std::string::npos)
      << e.what();
  proxy.fail_next = 0;
  EXPECT_FALSE(s3.Exists("x"));
}

TEST_F(S3StorageTest, ASlowResponseTimesOutAndIsRetried) {
  FaultProxy proxy(server_->port());
  S3Settings settings = Settings(proxy.endpoint());
  settings.timeout = std::chrono::seconds(1);
  settings.part_size = 1 << 20;
  S3Storage s3(settings);
  proxy.delay = std::chrono::milliseconds(3000);
  proxy.delay_next = 1;
  s3.WriteAtomic("slow", "eventually");
  EXPECT_GE(proxy.requests.load(), 2);
  EXPECT_EQ(s3.ReadAll("slow"), "eventually");
}

TEST_F(S3StorageTest, AStoppedServerIsANetworkErrorAndARestartRecovers) {
  S3Storage s3(Settings());
  s3.WriteAtomic("before", "1");
  server_->Stop();
  const Error e = Catch([&] { s3.WriteAtomic("during", "2"); });
  EXPECT_EQ(e.code(), ErrorCode::kNetwork);
  EXPECT_NE(std::string(e.what()).find("failed after 3 attempts"), std::string::npos);
  server_->Start();
  EXPECT_EQ(s3.ReadAll("before"), "1");
  EXPECT_FALSE(s3.Exists("during"));
}

}  // namespace
}  // namespace dbmedic::testing
