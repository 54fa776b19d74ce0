// The checks a restore drill runs on the restored cluster: a full read of every relation with
// storage in every database that accepts connections (whole rows, so TOASTed values are fetched
// and decompressed), row counts, and amcheck's bt_index_check on every valid btree index when
// the amcheck extension is available to the server.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "rescue/drill_record.hpp"

namespace dbmedic::rescue {

struct CheckSummary {
  std::vector<RelationCheck> checks;
  bool amcheck = false;
  std::uint64_t relations = 0;
  std::uint64_t indexes = 0;
  std::int64_t rows = 0;
  std::uint64_t failures = 0;
};

// `conninfo_for(dbname)` connects to one database of the restored (promoted) cluster. Failures
// of single relations are collected, not thrown; a database that cannot be connected to is a
// failure of that database. Throws Error(kPostgres) only when the cluster itself is unreachable.
CheckSummary CheckRestoredCluster(const std::function<std::string(const std::string&)>& conninfo_for);

}  // namespace dbmedic::rescue
