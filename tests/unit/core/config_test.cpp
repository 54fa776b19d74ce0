#include <gtest/gtest.h>

#include <fstream>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"

namespace dbmedic::core {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::filesystem::path Write(const std::string& text) {
    auto path = dir_.path() / "dbmedic.toml";
    std::ofstream(path) << text;
    return path;
  }
  TempDir dir_{"config-test"};
};

TEST_F(ConfigTest, DefaultsApplyWithoutFile) {
  auto config = Config::Load(std::nullopt, {}, {});
  EXPECT_EQ(config.String("repository.compression"), "zstd");
  EXPECT_EQ(config.Int("cluster.port"), 5432);
  EXPECT_EQ(config.Source("cluster.port"), "default");
}

TEST_F(ConfigTest, PrecedenceIsOptionThenEnvThenFileThenDefault) {
  auto file = Write("[cluster]\nport = 6000\nuser = \"fromfile\"\ndbname = \"filedb\"\n");
  auto config = Config::Load(file, {{"cluster.port", "6002"}},
                             {{"DBMEDIC_CLUSTER_PORT", "6001"}, {"DBMEDIC_CLUSTER_USER", "env"}});
  EXPECT_EQ(config.Int("cluster.port"), 6002);
  EXPECT_EQ(config.Source("cluster.port"), "option --pg-port");
  EXPECT_EQ(config.String("cluster.user"), "env");
  EXPECT_EQ(config.Source("cluster.user"), "environment DBMEDIC_CLUSTER_USER");
  EXPECT_EQ(config.String("cluster.dbname"), "filedb");
  EXPECT_EQ(config.Source("cluster.dbname"), "file " + file.string() + ":4");
}

TEST_F(ConfigTest, UnknownKeyIsRefusedWithFileAndLine) {
  auto file = Write("[cluster]\nport = 6000\n\n[repository]\npaht = \"/x\"\n");
  try {
    Config::Load(file, {}, {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_EQ(std::string(e.what()),
              "config file '" + file.string() + "' line 5: unknown key 'repository.paht'");
  }
}

TEST_F(ConfigTest, WrongTypeIsRefusedNamingKeyAndLine) {
  auto file = Write("[cluster]\nport = \"fivefourthreetwo\"\n");
  try {
    Config::Load(file, {}, {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_EQ(std::string(e.what()),
              "config file '" + file.string() + "' line 2: 'cluster.port' must be an integer");
  }
}

TEST_F(ConfigTest, OutOfRangeAndBadEnumAreRefused) {
  auto file = Write("[cluster]\nport = 70000\n");
  EXPECT_THROW(Config::Load(file, {}, {}), Error);
  try {
    Config::Load(std::nullopt, {}, {{"DBMEDIC_REPOSITORY_COMPRESSION", "gzip"}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "environment DBMEDIC_REPOSITORY_COMPRESSION: 'repository.compression': 'gzip' is "
              "not one of zstd|lz4|none");
  }
}

TEST_F(ConfigTest, MissingRequiredValueNamesAllWaysToSetIt) {
  auto config = Config::Load(std::nullopt, {}, {});
  try {
    config.Path("repository.path");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_EQ(std::string(e.what()), "missing required value 'repository.path'");
    EXPECT_EQ(e.hint(),
              "set path in the [repository] section of the config file, pass --repo, or set "
              "DBMEDIC_REPOSITORY_PATH");
  }
}

TEST_F(ConfigTest, RelativePathsInFileAreRelativeToTheFile) {
  auto file = Write("[repository]\npath = \"repo\"\n");
  auto config = Config::Load(file, {}, {});
  EXPECT_EQ(config.Path("repository.path"), dir_.path() / "repo");
}

TEST_F(ConfigTest, SyntaxErrorNamesLine) {
  auto file = Write("[cluster]\nport = = 1\n");
  try {
    Config::Load(file, {}, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
}

TEST_F(ConfigTest, MissingExplicitFileIsAnError) {
  EXPECT_THROW(Config::Load(dir_.path() / "nope.toml", {}, {}), Error);
}

TEST(ParseTest, DurationsAndSizes) {
  EXPECT_EQ(ParseDuration("250ms").count(), 250);
  EXPECT_EQ(ParseDuration("30s").count(), 30000);
  EXPECT_EQ(ParseDuration("5m").count(), 300000);
  EXPECT_EQ(ParseDuration("1h").count(), 3600000);
  EXPECT_THROW(ParseDuration("soon"), Error);
  EXPECT_EQ(ParseSize("4096"), 4096u);
  EXPECT_EQ(ParseSize("16MB"), 16u * 1024 * 1024);
  EXPECT_EQ(ParseSize("1GiB"), 1024u * 1024 * 1024);
  EXPECT_THROW(ParseSize("12 parsecs"), Error);
}

}  // namespace
}  // namespace dbmedic::core
