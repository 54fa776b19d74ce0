// Real PostgreSQL 15 clusters for integration tests: initdb in a temporary directory (data
// checksums on by default), a free loopback port and a private unix socket directory, run as the
// `postgres` OS user when the tests run as root. Stopped (immediate) and removed by the destructor,
// and on SIGINT/SIGTERM of the test process.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "pg/connection.hpp"
#include "pg/local_cluster.hpp"

namespace dbmedic::testing {

namespace fs = std::filesystem;

struct TestClusterOptions {
  bool data_checksums = true;
  bool start = true;
  // postgresql.conf settings, e.g. {"wal_level","replica"}, {"archive_mode","on"}.
  std::map<std::string, std::string> settings;
};

class TestCluster {
 public:
  explicit TestCluster(TestClusterOptions options = {});
  ~TestCluster() noexcept;
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  pg::LocalCluster& cluster() { return cluster_; }
  pg::Connection Connect(const std::string& dbname = "postgres") const;
  std::string ConnInfo(const std::string& dbname = "postgres") const;
  void Sql(const std::string& sql, const std::string& dbname = "postgres") const;
  std::string Scalar(const std::string& sql, const std::string& dbname = "postgres") const;

  // The temporary root (mode 0755): data/, sock/, server.log live under it.
  const fs::path& root() const { return root_.path(); }
  const fs::path& data_dir() const { return cluster_.data_dir(); }
  const fs::path& socket_dir() const { return cluster_.spec().socket_dir; }
  int port() const { return cluster_.port(); }
  const std::string& os_user() const { return cluster_.os_user(); }

  // A new directory under root() owned by the cluster's OS user (for repositories, spools).
  fs::path MakeOwnedDir(const std::string& name) const;

 private:
  core::TempDir root_;
  pg::LocalCluster cluster_;
};

// md5 over every user table's rows in a stable order, per table: {"public.users": "9e1..."}.
// Used to prove a restored cluster serves the same data as the source.
std::map<std::string, std::string> DatabaseFingerprint(pg::Connection& conn);

// The built dbmedic binary (DBMEDIC_BINARY from CTest). Copied once, with the HTTP module beside
// it (libdbmedic_http.so), into a directory that the postgres OS user can traverse, so
// archive_command / restore_command can run it.
fs::path DbmedicBinary();

// Runs the built binary with args; captures output. `as_user` runs it as another OS user.
core::ProcessResult RunDbmedic(const std::vector<std::string>& args,
                               const core::RunOptions& options = {});

}  // namespace dbmedic::testing
