// The sandbox: a private PostgreSQL 15 cluster plus a local repository under one directory, with
// a config file that every other command accepts (`--config D/dbmedic.toml`), WAL archiving into
// the repository through `dbmedic wal push`, and the repository initialised. It is the embedded
// default a new user meets first; nothing in it touches a production server.
//
// Layout of D:  dbmedic.toml  pgdata/  sock/  repo/  bin/dbmedic  pgdata.log  .dbmedic-sandbox
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "pg/local_cluster.hpp"

namespace dbmedic::sandbox {

namespace fs = std::filesystem;

struct SandboxStatus {
  fs::path dir;
  fs::path config_file;
  fs::path data_dir;
  fs::path repository;
  bool created = false;
  bool running = false;
  int port = 0;
  std::string conninfo;  // libpq connection string over the private unix socket
  std::string os_user;
};

// Default location: /var/lib/dbmedic/sandbox for root, else $XDG_DATA_HOME (or
// ~/.local/share)/dbmedic/sandbox.
fs::path DefaultSandboxDir();

class Sandbox {
 public:
  explicit Sandbox(fs::path dir);

  // Creates the cluster, repository and config the first time; starts the cluster. Idempotent.
  // `self_binary` is copied into D/bin so that the server's OS user can run it from
  // archive_command. Throws Error(kConfig) if D cannot be reached by that user.
  SandboxStatus Up(const fs::path& self_binary);
  // Stops the cluster (fast shutdown); keeps everything on disk.
  void Down();
  // Stops and removes the whole directory. Refuses a directory that is not a sandbox.
  void Destroy();
  SandboxStatus Status() const;

  // After a restore into data_dir(): asks PostgreSQL to replay the WAL archive to its end through
  // `dbmedic wal get` (recovery.signal + restore_command), then promote onto a new timeline, so
  // the restored cluster loses nothing that reached the archive and never reuses WAL file names
  // already archived by its former life.
  void PrepareRecoveryToEndOfArchive() const;
  // The same, stopping just before transaction `xid` commits (recovery_target_xid, exclusive),
  // then promoting: "restore to just before the accident".
  void PrepareRecoveryBeforeXid(std::uint32_t xid) const;
  // restore_command that fetches WAL from the sandbox's repository (the copy of dbmedic in D/bin,
  // reachable by the server's OS user): for restores of the sandbox into other directories.
  std::string RestoreCommand() const;

  fs::path config_file() const { return dir_ / "dbmedic.toml"; }
  fs::path data_dir() const { return dir_ / "pgdata"; }

 private:
  bool IsSandbox() const;
  void Create(const fs::path& self_binary);
  void WriteConfigFile(int port) const;
  int ConfiguredPort() const;
  void InitRepositoryOnce(const pg::LocalCluster& cluster) const;
  void PrepareRecovery(const std::map<std::string, std::string>& target) const;

  fs::path dir_;
};

// The path of the running executable (/proc/self/exe).
fs::path SelfBinary();

}  // namespace dbmedic::sandbox
