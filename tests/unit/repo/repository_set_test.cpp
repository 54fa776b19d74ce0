// Repositories 2..N from [[repositories]] entries (repo/repository_set.hpp): their keys, their
// defaults (nothing inherited from repository 1), --repo N selection and the errors that name
// the entry.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "repo/repository_set.hpp"

namespace dbmedic::repo {
namespace {

class RepositorySetTest : public ::testing::Test {
 protected:
  std::filesystem::path Write(const std::string& text) {
    auto path = dir_.path() / "dbmedic.toml";
    std::ofstream(path) << text;
    return path;
  }
  core::Config Load(const std::string& text,
                    const std::map<std::string, std::string>& overrides = {}) {
    return core::Config::Load(Write(text), overrides, {});
  }
  core::TempDir dir_{"repository-set-test"};
};

TEST_F(RepositorySetTest, ASingleRepositorySectionIsRepositoryOne) {
  const auto repos = ConfiguredRepositories(Load("[repository]\npath = \"/r1\"\n"));
  ASSERT_EQ(repos.size(), 1u);
  EXPECT_EQ(repos[0].index, 1);
  EXPECT_EQ(repos[0].config.String("repository.path"), "/r1");
  EXPECT_EQ(repos[0].Describe(), "repository 1 (/r1)");
}

TEST_F(RepositorySetTest, EntriesAreTheNextRepositoriesWithTheirOwnKeysAndDefaults) {
  const auto repos = ConfiguredRepositories(Load(
      "[repository]\npath = \"/r1\"\ncompression = \"lz4\"\n[retention]\nkeep_full = 2\n"
      "[[repositories]]\nrepository.path = \"rel\"\n"
      "[[repositories]]\nrepository.type = \"s3\"\nrepository.path = \"/p\"\n"
      "s3.bucket = \"b\"\ns3.endpoint = \"http://h:9\"\nretention.keep_full = 8\n"));
  ASSERT_EQ(repos.size(), 3u);
  EXPECT_EQ(repos[1].index, 2);
  // Relative paths are relative to the config file, as for [repository].
  EXPECT_EQ(repos[1].config.String("repository.path"), (dir_.path() / "rel").string());
  EXPECT_EQ(repos[1].config.String("repository.compression"), "zstd");
  EXPECT_FALSE(repos[1].config.Has("retention.keep_full"));
  EXPECT_EQ(repos[2].config.Int("retention.keep_full"), 8);
  EXPECT_EQ(repos[2].Describe(), "repository 3 (s3://b/p at http://h:9)");
  // Everything outside the repository's sections is shared.
  EXPECT_EQ(repos[2].config.Int("cluster.port"), repos[0].config.Int("cluster.port"));
}

TEST_F(RepositorySetTest, SubTablesWorkLikeDottedKeys) {
  const auto repos = ConfiguredRepositories(
      Load("[[repositories]]\n[repositories.repository]\npath = \"/r2\"\ntype = \"s3\"\n"
           "[repositories.s3]\nbucket = \"b2\"\n"));
  ASSERT_EQ(repos.size(), 2u);
  EXPECT_EQ(repos[1].config.String("s3.bucket"), "b2");
  EXPECT_EQ(repos[1].config.String("repository.type"), "s3");
}

TEST_F(RepositorySetTest, TheEnvironmentOfRepositoryNHasItsOwnPrefix) {
  ::setenv("DBMEDIC_REPO2_REPOSITORY_PASSPHRASE", "two", 1);
  const auto repos = ConfiguredRepositories(Load("[[repositories]]\nrepository.path = \"/r2\"\n"));
  ::unsetenv("DBMEDIC_REPO2_REPOSITORY_PASSPHRASE");
  EXPECT_EQ(repos[1].config.String("repository.passphrase"), "two");
  EXPECT_FALSE(repos[0].config.Has("repository.passphrase"));
}

TEST_F(RepositorySetTest, CommandLineOptionsGoToTheSelectedRepository) {
  const std::string text =
      "[repository]\npath = \"/r1\"\n[[repositories]]\nrepository.path = \"/r2\"\n";
  const core::Config config = Load(text, {{"retention.keep_full", "3"}});
  const RepositoryConfig second = SelectRepository(config, 2);
  EXPECT_EQ(second.config.Int("retention.keep_full"), 3);
  EXPECT_EQ(second.config.String("repository.path"), "/r2");
  // Without --repo N they are repository 1's.
  EXPECT_FALSE(ConfiguredRepositories(config)[1].config.Has("retention.keep_full"));
}

TEST_F(RepositorySetTest, SelectingAMissingRepositoryIsAUsageError) {
  try {
    SelectRepository(Load("[[repositories]]\nrepository.path = \"/r2\"\n"), 3);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUsage);
    EXPECT_EQ(std::string(e.what()),
              "there is no repository 3: repositories 1..2 are configured");
  }
}

TEST_F(RepositorySetTest, AKeyOutsideTheRepositorySectionsNamesTheEntry) {
  const auto file = Write("[[repositories]]\nrepository.path = \"/r2\"\n"
                          "[[repositories]]\ncluster.port = 5\n");
  try {
    ConfiguredRepositories(core::Config::Load(file, {}, {}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_EQ(std::string(e.what()), "config file '" + file.string() +
                                         "' line 4: [[repositories]] entry 2 (repository 3): "
                                         "unknown key 'cluster'");
  }
}

TEST_F(RepositorySetTest, AWrongTypeInAnEntryNamesTheEntryAndLine) {
  const auto file = Write("[[repositories]]\nretention.keep_full = \"many\"\n");
  try {
    ConfiguredRepositories(core::Config::Load(file, {}, {}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_EQ(std::string(e.what()), "config file '" + file.string() +
                                         "' line 2: [[repositories]] entry 1 (repository 2): "
                                         "'retention.keep_full' must be an integer");
  }
}

TEST_F(RepositorySetTest, RepositoriesMustBeAnArrayOfTables) {
  try {
    ConfiguredRepositories(Load("repositories = 2\n"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_NE(std::string(e.what()).find("'repositories' must be an array of tables"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace dbmedic::repo
