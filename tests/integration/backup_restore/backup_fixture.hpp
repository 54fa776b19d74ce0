// Shared set-up of the backup integration tests: one real PostgreSQL cluster with pgbench data,
// a users/orders pair, an unlogged table and a tablespace, plus a repository bound to it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/error.hpp"
#include "pg/local_cluster.hpp"
#include "repo/cluster.hpp"
#include "repo/repository.hpp"
#include "testing_helpers.hpp"
#include "harness/test_cluster.hpp"

namespace dbmedic::testing {

// Config for `cluster` and repository `repo_dir`, as the CLI would build it from flags.
inline core::Config ConfigFor(const TestCluster& cluster, const fs::path& repo_dir,
                              std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> overrides = {
      {"repository.path", repo_dir.string()},
      {"cluster.host", cluster.socket_dir().string()},
      {"cluster.port", std::to_string(cluster.port())},
      {"cluster.user", "postgres"},
      {"cluster.os_user", cluster.os_user()},
      {"backup.jobs", "2"},
      {"backup.chunk_size", "1MiB"},  // small, so that pgbench's table is split into chunks
  };
  for (auto& [k, v] : extra) overrides[k] = v;
  return core::Config::Load(std::nullopt, overrides, {});
}

inline void LoadSampleData(TestCluster& c, const fs::path& tablespace_dir) {
  c.cluster().RunTool("pgbench", {"-i", "-s", "1", "-q", "-h", c.socket_dir().string(), "-p",
                                  std::to_string(c.port()), "-U", "postgres", "postgres"});
  c.Sql("CREATE TABLE users (id int PRIMARY KEY, name text, created timestamptz)");
  c.Sql("INSERT INTO users SELECT g, md5(g::text), now() - g * interval '1 minute' "
        "FROM generate_series(1, 5000) g");
  c.Sql("CREATE TABLE orders (id bigserial PRIMARY KEY, user_id int REFERENCES users, "
        "amount numeric(12,2))");
  c.Sql("INSERT INTO orders (user_id, amount) SELECT 1 + g % 5000, g * 1.25 "
        "FROM generate_series(1, 20000) g");
  c.Sql("CREATE UNLOGGED TABLE scratch (id int, note text)");
  c.Sql("INSERT INTO scratch SELECT g, 'lost on restore' FROM generate_series(1, 1000) g");
  c.Sql("CREATE TABLESPACE extra LOCATION '" + tablespace_dir.string() + "'");
  c.Sql("CREATE TABLE archive_items (id int, payload text) TABLESPACE extra");
  c.Sql("INSERT INTO archive_items SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 3000) g");
  c.Sql("CHECKPOINT");
}

// Starts a restored data directory on its own port and socket (its postgresql.conf still names
// the original's) and returns the running cluster.
inline std::unique_ptr<pg::LocalCluster> StartRestored(const fs::path& data_dir, const fs::path& root) {
  pg::ClusterSpec spec;
  spec.data_dir = data_dir;
  spec.socket_dir = root / (data_dir.filename().string() + "-sock");
  core::MakeDirs(spec.socket_dir, 0755);
  auto cluster = std::make_unique<pg::LocalCluster>(spec);
  cluster->GiveToOsUser(spec.socket_dir);
  cluster->WriteSettings({{"fsync", "off"}, {"shared_buffers", "32MB"}});
  cluster->Start();
  return cluster;
}

}  // namespace dbmedic::testing
