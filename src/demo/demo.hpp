// `dbmedic demo`: the story a new user runs first, on a sandbox of its own, with real
// measurements: sample data, a full backup (with a catalog snapshot), verification, an
// application writing users and orders, an accidental `DROP TABLE users CASCADE` at a random
// moment, `incidents` finding that transaction in the WAL archive, the restore to just before it,
// and proof that every user and order acknowledged before the drop is back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace dbmedic::demo {

struct DemoOptions {
  std::filesystem::path dir;          // sandbox directory of the demo (recreated)
  std::filesystem::path self_binary;  // copied into the sandbox for archive_command
  std::int64_t users = 100000;
  std::int64_t orders = 400000;
  bool cleanup = false;  // destroy the sandbox at the end
  // Receives the story line by line (the CLI prints it).
  std::function<void(const std::string&)> say;
};

struct DemoResult {
  // Every user and order acknowledged before the accident is in the rescued cluster.
  bool data_matches = false;
  bool incident_found = false;     // incidents named the very transaction the accident ran
  std::uint32_t incident_xid = 0;
  std::uint64_t users_restored = 0;
  std::uint64_t users_missing = 0;          // acknowledged users not back (goal: 0)
  std::uint64_t orders_before_missing = 0;  // orders acknowledged before the drop, not back
  std::uint64_t orders_after_discarded = 0; // orders committed after the drop (not replayed)
  double backup_seconds = 0;
  double restore_seconds = 0;   // files restored
  double rto_seconds = 0;       // restore + start until the cluster answers
  std::uint64_t database_bytes = 0;
  std::uint64_t repository_bytes = 0;
  std::string backup_label;
};

// Runs the story. Throws Error when a step fails (the message names the step).
DemoResult RunDemo(const DemoOptions& options);

}  // namespace dbmedic::demo
