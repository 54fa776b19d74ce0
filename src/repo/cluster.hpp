// The cluster a repository belongs to, as the commands see it through the configuration:
// connecting (cluster.host/port/user/dbname), reading its identity, and opening the configured
// repository with the ownership check every command performs.
#pragma once

#include <string>

#include "core/config.hpp"
#include "pg/connection.hpp"
#include "repo/repository.hpp"

namespace dbmedic::repo {

struct ClusterIdentity {
  std::string system_identifier;
  int pg_version_num = 0;
  bool data_checksums = false;
};

// Connects to the configured cluster. Throws Error(kPostgres) with a hint to check it runs.
pg::Connection ConnectCluster(const core::Config& config);
ClusterIdentity ReadClusterIdentity(pg::Connection& conn);

// Codec settings from repository.compression / repository.compression_level.
CodecSettings CodecFromConfig(const core::Config& config);

// `dbmedic repo init`: binds the configured repository to the configured (running) cluster.
Repository InitRepository(const core::Config& config);
// Opens the configured repository (no cluster check: restore and verify work offline).
Repository OpenRepository(const core::Config& config);

}  // namespace dbmedic::repo
