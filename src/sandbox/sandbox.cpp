#include "sandbox/sandbox.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "pg/local_cluster.hpp"

namespace dbmedic::sandbox {
namespace {

constexpr const char* kMarker = ".dbmedic-sandbox";

pg::ClusterSpec SpecFor(const fs::path& dir, int port) {
  pg::ClusterSpec spec;
  spec.data_dir = dir / "pgdata";
  spec.socket_dir = dir / "sock";
  spec.log_file = dir / "pgdata.log";
  spec.port = port;
  return spec;
}

// Server settings of the sandbox: what a production cluster protected by dbmedic would have.
std::map<std::string, std::string> ServerSettings(const fs::path& dir) {
  return {
      {"wal_level", "replica"},
      {"max_wal_senders", "10"},
      {"max_replication_slots", "10"},
      {"shared_preload_libraries", "pg_stat_statements"},
      {"track_io_timing", "on"},
      {"log_lock_waits", "on"},
      {"log_line_prefix", "%m [%p] %q%u@%d "},
      {"log_checkpoints", "on"},
      {"log_temp_files", "0"},
      {"shared_buffers", "128MB"},
      // WAL archiving through dbmedic: the binary copied into the sandbox (reachable by the
      // server's OS user) pushes each segment into the sandbox repository. archive_timeout
      // bounds the RPO of archive_command mode when the cluster is quiet.
      {"archive_mode", "on"},
      {"archive_command", fmt::format("{} --config {} wal push %p", (dir / "bin" / "dbmedic").string(),
                                      (dir / "dbmedic.toml").string())},
      {"archive_timeout", "60s"},
      {"cluster_name", "dbmedic-sandbox"},
  };
}

}  // namespace

fs::path DefaultSandboxDir() {
  if (core::IsRoot()) return "/var/lib/dbmedic/sandbox";
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return fs::path(xdg) / "dbmedic" / "sandbox";
  }
  return core::CurrentUser().home / ".local" / "share" / "dbmedic" / "sandbox";
}

fs::path SelfBinary() { return fs::read_symlink("/proc/self/exe"); }

Sandbox::Sandbox(fs::path dir) : dir_(fs::absolute(std::move(dir)).lexically_normal()) {}

bool Sandbox::IsSandbox() const { return fs::exists(dir_ / kMarker); }

int Sandbox::ConfiguredPort() const {
  auto config = core::Config::Load(config_file(), {}, {});
  return static_cast<int>(config.Int("cluster.port"));
}

void Sandbox::WriteConfigFile(int port) const {
  std::string text = fmt::format(
      "# dbmedic sandbox: a private PostgreSQL cluster and a local repository.\n"
      "# Every dbmedic command works on it with --config {file}\n\n"
      "[cluster]\n"
      "name = \"sandbox\"\n"
      "data_dir = \"{data}\"\n"
      "host = \"{sock}\"\n"
      "port = {port}\n"
      "user = \"postgres\"\n"
      "dbname = \"postgres\"\n"
      "os_user = \"{os_user}\"\n\n"
      "[repository]\n"
      "path = \"{repo}\"\n"
      "compression = \"zstd\"\n"
      "compression_level = 3\n\n"
      "[monitor]\n"
      "history_path = \"{history}\"\n",
      fmt::arg("file", config_file().string()), fmt::arg("data", (dir_ / "pgdata").string()),
      fmt::arg("sock", (dir_ / "sock").string()), fmt::arg("port", port),
      fmt::arg("os_user", pg::DefaultOsUser()), fmt::arg("repo", (dir_ / "repo").string()),
      fmt::arg("history", (dir_ / "monitor.db").string()));
  core::AtomicWriteFile(config_file(), text, 0644);
}

void Sandbox::Create(const fs::path& self_binary) {
  if (fs::exists(dir_) && !fs::is_empty(dir_)) {
    throw Error(ErrorCode::kConflict,
                fmt::format("'{}' exists and is not a dbmedic sandbox", dir_.string()),
                "choose another directory with --dir, or empty this one");
  }
  core::MakeDirs(dir_, 0755);
  if (core::IsRoot() && !core::IsTraversableByOthers(dir_)) {
    throw Error(ErrorCode::kConfig,
                fmt::format("the sandbox directory '{}' cannot be reached by the OS user '{}' "
                            "(a parent directory is not world-traversable)",
                            dir_.string(), pg::DefaultOsUser()),
                "choose a directory under /tmp or /var/lib with --dir");
  }
  spdlog::info("creating sandbox in {}", dir_.string());
  pg::LocalCluster cluster(SpecFor(dir_, 0));
  cluster.InitDb(true);
  cluster.WriteSettings(ServerSettings(dir_));
  fs::path repo = dir_ / "repo";
  core::MakeDirs(repo, 0750);
  cluster.GiveToOsUser(repo);  // archive_command runs as the server's OS user
  core::MakeDirs(dir_ / "bin", 0755);
  fs::copy_file(self_binary, dir_ / "bin" / "dbmedic", fs::copy_options::overwrite_existing);
  fs::permissions(dir_ / "bin" / "dbmedic", fs::perms(0755));
  WriteConfigFile(cluster.port());
  core::AtomicWriteFile(dir_ / kMarker, "dbmedic sandbox\n");
}

// Binds the sandbox repository to the cluster the first time. Runs the sandbox's own copy of the
// binary as the server's OS user, so that the repository's files belong to the user whose
// archive_command writes WAL into it.
void Sandbox::InitRepositoryOnce(const pg::LocalCluster& cluster) const {
  if (fs::exists(dir_ / "repo" / "repo.json")) return;
  core::RunOptions opts;
  opts.as_user = cluster.os_user();
  opts.cwd = "/";
  auto r = core::RunProcess({(dir_ / "bin" / "dbmedic").string(), "--config",
                             config_file().string(), "--log-level", "warn", "repo", "init"},
                            opts);
  if (!r.ok()) {
    throw Error(ErrorCode::kRepository,
                fmt::format("unable to initialise the sandbox repository '{}': {}",
                            (dir_ / "repo").string(), r.err),
                "run: dbmedic --config " + config_file().string() + " repo init");
  }
}

SandboxStatus Sandbox::Up(const fs::path& self_binary) {
  if (!IsSandbox()) Create(self_binary);
  // Keep the copied binary current, so archive_command runs the same version as the caller.
  std::error_code ec;
  fs::copy_file(self_binary, dir_ / "bin" / "dbmedic", fs::copy_options::overwrite_existing, ec);
  pg::LocalCluster cluster(SpecFor(dir_, ConfiguredPort()));
  if (!cluster.IsRunning()) {
    cluster.WriteSettings(ServerSettings(dir_));
    spdlog::info("starting sandbox cluster on port {}", cluster.port());
    cluster.Start();
  }
  InitRepositoryOnce(cluster);
  return Status();
}

void Sandbox::Down() {
  if (!IsSandbox()) {
    throw Error(ErrorCode::kNotFound, fmt::format("no sandbox in '{}'", dir_.string()),
                "create one with: dbmedic sandbox up --dir " + dir_.string());
  }
  pg::LocalCluster cluster(SpecFor(dir_, ConfiguredPort()));
  cluster.Stop(pg::StopMode::kFast);
}

void Sandbox::Destroy() {
  if (!fs::exists(dir_)) return;
  if (!IsSandbox()) {
    throw Error(ErrorCode::kConflict,
                fmt::format("refusing to remove '{}': it is not a dbmedic sandbox (no {} file)",
                            dir_.string(), kMarker),
                "remove it by hand if you are sure");
  }
  if (fs::exists(config_file())) {
    pg::LocalCluster cluster(SpecFor(dir_, ConfiguredPort()));
    cluster.Stop(pg::StopMode::kImmediate);
  }
  fs::remove_all(dir_);
}

void Sandbox::PrepareRecoveryToEndOfArchive() const { PrepareRecovery({}); }

void Sandbox::PrepareRecoveryBeforeXid(std::uint32_t xid) const {
  PrepareRecovery({{"recovery_target_xid", std::to_string(xid)},
                   {"recovery_target_inclusive", "off"},
                   {"recovery_target_action", "promote"}});
}

std::string Sandbox::RestoreCommand() const {
  return fmt::format("{} --config {} wal get %f %p", (dir_ / "bin" / "dbmedic").string(),
                     config_file().string());
}

void Sandbox::PrepareRecovery(const std::map<std::string, std::string>& target) const {
  pg::LocalCluster cluster(SpecFor(dir_, ConfiguredPort()));
  auto settings = ServerSettings(dir_);
  for (const auto& [key, value] : target) settings[key] = value;
  settings["restore_command"] = RestoreCommand();
  settings["recovery_target_timeline"] = "latest";
  cluster.WriteSettings(settings);
  fs::path signal = data_dir() / "recovery.signal";
  core::AtomicWriteFile(signal, "", 0600);
  cluster.GiveToOsUser(signal);
}

SandboxStatus Sandbox::Status() const {
  SandboxStatus status;
  status.dir = dir_;
  status.config_file = config_file();
  status.data_dir = dir_ / "pgdata";
  status.repository = dir_ / "repo";
  status.created = IsSandbox();
  if (!status.created) return status;
  pg::LocalCluster cluster(SpecFor(dir_, ConfiguredPort()));
  status.running = cluster.IsRunning();
  status.port = cluster.port();
  status.conninfo = cluster.ConnInfo();
  status.os_user = cluster.os_user();
  return status;
}

}  // namespace dbmedic::sandbox
