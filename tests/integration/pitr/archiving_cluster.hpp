// A real PostgreSQL 15 cluster whose archive_command is `dbmedic wal push` into a repository
// bound to it (owned by the server's OS user, since archive_command runs as that user).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/fs.hpp"
#include "harness/test_cluster.hpp"
#include "repo/cluster.hpp"
#include "repo/repository.hpp"
#include "wal/archive.hpp"

namespace dbmedic::testing {

class ArchivingCluster {
 public:
  explicit ArchivingCluster(std::map<std::string, std::string> extra = {})
      : cluster_(Options(std::move(extra))) {
    repo_dir_ = cluster_.MakeOwnedDir("repo");
    config_ = std::make_unique<core::Config>(ConfigFor(repo_dir_));
    repo::InitRepository(*config_);
    GiveRepositoryToServer();
    cluster_.Sql(fmt::format("ALTER SYSTEM SET archive_command = {}",
                             pg::QuoteLiteral(PushCommand())));
    cluster_.Sql("SELECT pg_reload_conf()");
  }

  TestCluster& cluster() { return cluster_; }
  const fs::path& repo_dir() const { return repo_dir_; }
  const core::Config& config() const { return *config_; }

  std::string PushCommand() const {
    return fmt::format("{} wal push --repo {} %p", DbmedicBinary().string(), repo_dir_.string());
  }
  std::string GetCommand() const {
    return fmt::format("{} wal get --repo {} %f \"%p\"", DbmedicBinary().string(),
                       repo_dir_.string());
  }

  std::string RecoveryEndCommand() const {
    return fmt::format("{} wal recovery-end", DbmedicBinary().string());
  }

  // Files written by root (repo.json, backups) must stay readable by the server's user.
  void GiveRepositoryToServer() { cluster_.cluster().GiveToOsUser(repo_dir_); }

  core::Config ConfigFor(const fs::path& repo, std::map<std::string, std::string> extra = {}) const {
    std::map<std::string, std::string> overrides = {
        {"repository.path", repo.string()},
        {"cluster.host", cluster_.socket_dir().string()},
        {"cluster.port", std::to_string(cluster_.port())},
        {"cluster.user", "postgres"},
        {"cluster.os_user", cluster_.os_user()},
        {"backup.jobs", "2"},
    };
    for (auto& [k, v] : extra) overrides[k] = v;
    return core::Config::Load(std::nullopt, overrides, {});
  }

  // Switches the WAL segment and waits until that segment is archived; returns its name.
  std::string SwitchAndWait() {
    const std::string name = cluster_.Scalar("SELECT pg_walfile_name(pg_switch_wal())");
    WaitArchived(name);
    return name;
  }

  void WaitArchived(const std::string& name) const {
    const repo::Repository repository = repo::OpenRepository(*config_);
    const wal::WalArchive archive(repository, repository.info().codec);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!archive.Find(name)) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << name << " was never archived";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

 private:
  static TestClusterOptions Options(std::map<std::string, std::string> extra) {
    TestClusterOptions o;
    o.settings = {{"wal_level", "replica"}, {"archive_mode", "on"},
                  {"track_commit_timestamp", "on"}, {"max_wal_size", "256MB"}};
    for (auto& [k, v] : extra) o.settings[k] = v;
    return o;
  }

  TestCluster cluster_;
  fs::path repo_dir_;
  std::unique_ptr<core::Config> config_;
};

}  // namespace dbmedic::testing
