// Controls a PostgreSQL cluster on this machine through initdb / pg_ctl, run as the cluster's OS
// user when we are root (PostgreSQL refuses to run as root). Used by the sandbox, by restore
// --start and by the test harness.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/subprocess.hpp"

namespace dbmedic::pg {

namespace fs = std::filesystem;

// Directory holding initdb/pg_ctl/postgres for PostgreSQL 15: /usr/lib/postgresql/15/bin, else
// `pg_config --bindir`, else PATH. Throws Error(kNotFound) with an install hint.
fs::path FindPgBinDir();

struct ClusterSpec {
  fs::path data_dir;
  fs::path socket_dir;        // unix_socket_directories (created, owned by os_user)
  int port = 0;               // 0: pick a free loopback port
  std::string os_user;        // empty: "postgres" when root, else the current user
  fs::path bin_dir;           // empty: FindPgBinDir()
  fs::path log_file;          // empty: <data_dir>/../<name>.log beside the data directory
};

enum class StopMode { kSmart, kFast, kImmediate };

class LocalCluster {
 public:
  explicit LocalCluster(ClusterSpec spec);

  // initdb with data checksums (unless disabled), trust auth for local/loopback connections,
  // then writes `settings` into postgresql.auto.conf-like include `dbmedic.conf`.
  void InitDb(bool data_checksums = true, const std::vector<std::string>& extra_args = {});

  // Writes (replaces) the managed settings file conf.d-style: <data_dir>/dbmedic.conf included
  // from postgresql.conf. Always sets port, listen_addresses=127.0.0.1, unix_socket_directories.
  void WriteSettings(const std::map<std::string, std::string>& settings);

  // pg_ctl start -w; throws Error(kPostgres) with the tail of the server log on failure.
  void Start(std::chrono::seconds timeout = std::chrono::seconds(60));
  void Stop(StopMode mode = StopMode::kFast);
  bool IsRunning() const;                     // postmaster.pid present and process alive
  std::optional<int> PostmasterPid() const;

  // Waits until the server accepts connections (pg_isready-like via libpq).
  void WaitReady(std::chrono::seconds timeout = std::chrono::seconds(60)) const;

  // libpq conninfo over the unix socket.
  std::string ConnInfo(const std::string& dbname = "postgres",
                       const std::string& user = "postgres") const;

  // Runs a PostgreSQL client binary (psql, pgbench, pg_basebackup...) from bin_dir as os_user.
  // Returns stdout; throws Error(kPostgres) with stderr on a non-zero exit.
  std::string RunTool(const std::string& tool, const std::vector<std::string>& args) const;

  // Makes `path` (and parents created here) owned by the cluster's OS user.
  void GiveToOsUser(const fs::path& path) const;

  const ClusterSpec& spec() const { return spec_; }
  int port() const { return spec_.port; }
  const fs::path& data_dir() const { return spec_.data_dir; }
  const std::string& os_user() const { return spec_.os_user; }

 private:
  std::vector<std::string> PgCtl(const std::vector<std::string>& args) const;
  core::RunOptions AsOsUser() const;
  ClusterSpec spec_;
};

// Default OS user for a cluster: "postgres" when we are root, else the current user.
std::string DefaultOsUser();

}  // namespace dbmedic::pg
