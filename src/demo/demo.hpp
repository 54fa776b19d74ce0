// `dbmedic demo`: the story a new user runs first, on a sandbox of its own, with real
// measurements: sample data, a full backup (with a catalog snapshot), verification, an
// application writing users and orders, an accidental `DROP TABLE users CASCADE` at a random
// moment, `incidents` finding that transaction in the WAL archive, then the two ways back:
// - the classic one, a whole-cluster restore to just before it (into a side directory here):
//   every user is back, but so is every other table, so the orders written after the drop are
//   gone;
// - the recommended one, `undo`: users is brought back into the LIVE cluster in one transaction
//   (rescue::RunUndo), and the orders written after the drop are still there.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "repo/repository.hpp"
#include "restore/pitr_window.hpp"

namespace dbmedic::demo {

struct DemoOptions {
  std::filesystem::path dir;          // sandbox directory of the demo (recreated)
  std::filesystem::path self_binary;  // copied into the sandbox for archive_command
  std::int64_t users = 100000;
  std::int64_t orders = 400000;
  bool cleanup = false;  // destroy the sandbox at the end
  // Describes the repository's WAL archive (the CLI reads it through the wal module).
  std::function<restore::ArchiveView(const repo::Repository&)> load_archive;
  // Receives the story line by line (the CLI prints it).
  std::function<void(const std::string&)> say;
};

// What `undo` did to the live cluster, checked against the application's acknowledgements.
struct DemoUndo {
  std::int64_t rows_brought_back = 0;  // users rows inserted by undo
  std::uint64_t users_acknowledged = 0;  // workload users acknowledged before the drop
  std::uint64_t users_missing = 0;     // of those, not in the live cluster after undo (goal: 0)
  std::uint64_t orders_before_missing = 0;       // acknowledged before the drop, not live
  std::vector<std::int64_t> orders_after_drop;   // ids acknowledged after the drop
  std::uint64_t orders_after_drop_present = 0;   // of those, still in the live cluster
  std::vector<std::string> foreign_keys_restored;
  double seconds = 0;  // the whole undo: side cluster, plan, one transaction
};

struct DemoResult {
  // Every user and order acknowledged before the accident is in the rescued cluster, and after
  // undo every order acknowledged after it is still in the live one.
  bool data_matches = false;
  bool incident_found = false;     // incidents named the very transaction the accident ran
  std::uint32_t incident_xid = 0;
  std::uint64_t users_restored = 0;
  std::uint64_t users_missing = 0;          // acknowledged users not back (goal: 0)
  std::uint64_t orders_before_missing = 0;  // orders acknowledged before the drop, not back
  std::uint64_t orders_after_discarded = 0; // orders committed after the drop (not replayed)
  double backup_seconds = 0;
  double restore_seconds = 0;   // files restored (whole-cluster restore)
  double rto_seconds = 0;       // restore + replay until the restored cluster is promoted
  DemoUndo undo;
  std::string conninfo;         // the sandbox cluster (the live one)
  std::uint64_t database_bytes = 0;
  std::uint64_t repository_bytes = 0;
  std::string backup_label;
};

// Runs the story. Throws Error when a step fails (the message names the step).
DemoResult RunDemo(const DemoOptions& options);

}  // namespace dbmedic::demo
