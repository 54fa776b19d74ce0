// A real S3-compatible server for tests: s3rver (npm, installed by scripts/install-s3rver.sh)
// started on a free loopback port with its data in a temporary directory and one bucket.
// Stop() kills it (SIGKILL, as a crash would); Start() again serves the same data. The
// destructor kills it. Credentials: access key S3RVER, secret S3RVER (s3rver's fixed pair).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/fs.hpp"

namespace dbmedic::testing {

class S3Server {
 public:
  explicit S3Server(std::string bucket = "dbmedic-test");
  ~S3Server() noexcept;
  S3Server(const S3Server&) = delete;
  S3Server& operator=(const S3Server&) = delete;

  void Start();
  void Stop() noexcept;
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  const std::string& bucket() const { return bucket_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Config overrides for a repository in this server's bucket under `prefix`, reached through
  // `endpoint` (default: the server itself; a fault proxy passes its own).
  std::map<std::string, std::string> RepositoryConfig(const std::string& prefix,
                                                      std::string endpoint = {}) const;
  // The same as command-line arguments (secrets through the environment: S3Env()).
  std::vector<std::string> RepositoryArgs(const std::string& prefix,
                                          std::string endpoint = {}) const;
  static std::map<std::string, std::string> S3Env();

  // The s3rver executable (DBMEDIC_S3RVER, else /opt/dbmedic-s3rver/node_modules/.bin/s3rver).
  static std::filesystem::path Executable();

 private:
  std::string bucket_;
  core::TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound and released; a race with other processes is possible).
int FreePort();

}  // namespace dbmedic::testing
