// The clusters the agent watches: [[monitor_target]] sections of the config, or one target made
// of the cluster.* keys when there is none.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace dbmedic::monitor {

struct MonitorTarget {
  std::string name;
  std::string conninfo;                         // libpq key=value string or URI
  std::optional<std::filesystem::path> data_dir;  // for filesystem usage (data and pg_wal)
};

// Reads [[monitor_target]] (keys: name, conninfo | host/port/user/dbname, data_dir). Throws
// Error(kConfig) naming the section number and key for unknown keys, wrong types, a missing
// name, or duplicate names.
std::vector<MonitorTarget> LoadTargets(const core::Config& config);

// Adds connect_timeout and application_name to a conninfo (key=value or URI form).
std::string WithConnectOptions(const std::string& conninfo, int connect_timeout_seconds);

}  // namespace dbmedic::monitor
