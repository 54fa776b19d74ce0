// `dbmedic demo`: the story a new user runs first, on a sandbox of its own. It shows every
// capability that exists, with real measurements: sample data, a full backup, verification, more
// writes archived as WAL, the loss of the data directory, the restore with replay of the archive,
// and proof that every committed row is back.
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
  bool data_matches = false;
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
