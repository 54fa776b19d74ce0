// Running other programs (initdb, pg_ctl, psql...). The child can be dropped to another OS user
// (PostgreSQL refuses to run as root), gets a clean argv (no shell), and its output is captured.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dbmedic::core {

struct RunOptions {
  // When set and we are root, the child runs as this OS user (setgid/initgroups/setuid).
  std::optional<std::string> as_user;
  std::filesystem::path cwd;                       // empty: inherit
  std::map<std::string, std::string> env;          // added to / overriding the inherited env
  std::optional<std::string> stdin_data;           // piped to the child's stdin, else /dev/null
  std::chrono::milliseconds timeout{0};            // 0: no limit; else SIGKILL and Error(kTimeout)
  bool capture_output = true;                      // false: child inherits stdout/stderr
  bool detach = false;                             // new session (survives our process group)
};

struct ProcessResult {
  int exit_code = 0;         // exit status, or 128 + signal number
  std::string out;
  std::string err;
  bool ok() const { return exit_code == 0; }
};

// Runs argv[0] (looked up in PATH if it has no slash) and waits. Throws Error(kIo) if it cannot
// be started, Error(kTimeout) past the timeout. A non-zero exit is a value, not an exception.
ProcessResult RunProcess(const std::vector<std::string>& argv, const RunOptions& options = {});

// Like RunProcess, but throws Error(`code`) with the command, its exit code and its stderr when
// the exit code is not zero.
ProcessResult RunChecked(const std::vector<std::string>& argv, const RunOptions& options = {});

// Joins argv into a display string (quotes arguments with spaces) for messages and logs.
std::string DescribeCommand(const std::vector<std::string>& argv);

// Finds a free TCP port on 127.0.0.1 (bind to port 0, read it back, close).
int FindFreeTcpPort();

}  // namespace dbmedic::core
