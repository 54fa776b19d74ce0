// Named restore points: `dbmedic restore-point NAME` calls pg_create_restore_point() and records
// the point (LSN, time, timeline) in the repository, so `restore --to-name NAME` can pick the
// backup before it and refuse a name the archive cannot reach. Layout:
//   restore-point/<name>.json   sealed metadata (see repo/metadata.hpp)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"
#include "repo/repository.hpp"

namespace dbmedic::wal {

struct RestorePoint {
  std::string name;
  std::string lsn;
  std::int64_t unix_micros = 0;
  std::uint32_t timeline = 0;
};

// Creates the point on the server (and switches the WAL segment so it is archived soon), then
// records it. Throws Error(kUsage) for an empty name or one longer than 63 bytes,
// Error(kConflict) for a name already recorded, Error(kPostgres) when the server refuses.
RestorePoint CreateRestorePoint(pg::Connection& conn, const repo::Repository& repository,
                                const std::string& name);

std::optional<RestorePoint> FindRestorePoint(const repo::Repository& repository,
                                             const std::string& name);
std::vector<RestorePoint> ListRestorePoints(const repo::Repository& repository);

}  // namespace dbmedic::wal
