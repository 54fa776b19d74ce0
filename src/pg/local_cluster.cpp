#include "pg/local_cluster.hpp"

#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/subprocess.hpp"
#include "pg/connection.hpp"

namespace dbmedic::pg {
namespace {

constexpr const char* kSettingsFile = "dbmedic.conf";

std::string Tail(const fs::path& file, size_t max_lines) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  size_t from = lines.size() > max_lines ? lines.size() - max_lines : 0;
  std::string out;
  for (size_t i = from; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

std::string QuoteConfValue(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace

std::string DefaultOsUser() { return core::IsRoot() ? "postgres" : core::CurrentUser().name; }

fs::path FindPgBinDir() {
  std::error_code ec;
  for (const char* dir : {"/usr/lib/postgresql/15/bin"}) {
    if (fs::exists(fs::path(dir) / "pg_ctl", ec)) return dir;
  }
  try {
    auto r = core::RunProcess({"pg_config", "--bindir"});
    std::string dir = r.out.substr(0, r.out.find('\n'));
    if (r.ok() && fs::exists(fs::path(dir) / "pg_ctl", ec)) return dir;
  } catch (const Error&) {
    // pg_config is optional; fall through to the error below.
  }
  throw Error(ErrorCode::kNotFound, "PostgreSQL 15 server binaries (pg_ctl, initdb) not found",
              "install Debian's postgresql-15 (scripts/setup.sh does) or set cluster.bin_dir");
}

LocalCluster::LocalCluster(ClusterSpec spec) : spec_(std::move(spec)) {
  if (spec_.os_user.empty()) spec_.os_user = DefaultOsUser();
  if (spec_.bin_dir.empty()) spec_.bin_dir = FindPgBinDir();
  if (spec_.port == 0) spec_.port = core::FindFreeTcpPort();
  if (spec_.log_file.empty()) {
    spec_.log_file = spec_.data_dir.parent_path() / (spec_.data_dir.filename().string() + ".log");
  }
}

void LocalCluster::GiveToOsUser(const fs::path& path) const {
  if (!core::IsRoot()) return;
  auto user = core::LookupUser(spec_.os_user);
  if (!user) {
    throw Error(ErrorCode::kConfig, fmt::format("OS user '{}' does not exist", spec_.os_user),
                "install postgresql-15 (it creates the postgres user) or set cluster.os_user");
  }
  core::ChownRecursive(path, user->uid, user->gid);
}

void LocalCluster::InitDb(bool data_checksums, const std::vector<std::string>& extra_args) {
  core::MakeDirs(spec_.data_dir.parent_path(), 0755);
  core::MakeDirs(spec_.data_dir, 0700);
  GiveToOsUser(spec_.data_dir);
  std::vector<std::string> argv = {(spec_.bin_dir / "initdb").string(),
                                   "-D", spec_.data_dir.string(),
                                   "-U", "postgres",
                                   "--auth=trust",
                                   "--encoding=UTF8",
                                   "--locale=C.UTF-8",
                                   "--no-instructions"};
  if (data_checksums) argv.push_back("--data-checksums");
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  core::RunOptions opts = AsOsUser();
  auto r = core::RunProcess(argv, opts);
  if (!r.ok()) {
    throw Error(ErrorCode::kPostgres,
                fmt::format("initdb of '{}' failed (exit {}): {}", spec_.data_dir.string(),
                            r.exit_code, r.err),
                "check that the directory is empty and writable by OS user " + spec_.os_user);
  }
  std::ofstream(spec_.data_dir / "postgresql.conf", std::ios::app)
      << "\n# Settings managed by dbmedic\ninclude_if_exists = '" << kSettingsFile << "'\n";
  WriteSettings({});
}

void LocalCluster::WriteSettings(const std::map<std::string, std::string>& settings) {
  core::MakeDirs(spec_.socket_dir, 0755);
  GiveToOsUser(spec_.socket_dir);
  std::map<std::string, std::string> all = settings;
  all["port"] = std::to_string(spec_.port);
  all["unix_socket_directories"] = spec_.socket_dir.string();
  all.emplace("listen_addresses", "127.0.0.1");
  std::ostringstream out;
  out << "# Written by dbmedic; replaced on every change. Edit via the dbmedic config.\n";
  for (const auto& [k, v] : all) out << k << " = " << QuoteConfValue(v) << "\n";
  fs::path path = spec_.data_dir / kSettingsFile;
  core::AtomicWriteFile(path, out.str(), 0600);
  GiveToOsUser(path);
  // A restored copy keeps the original postgresql.conf; make sure it includes our file.
  std::string conf = core::ReadFile(spec_.data_dir / "postgresql.conf");
  if (conf.find(std::string("include_if_exists = '") + kSettingsFile) == std::string::npos) {
    std::ofstream(spec_.data_dir / "postgresql.conf", std::ios::app)
        << "\n# Settings managed by dbmedic\ninclude_if_exists = '" << kSettingsFile << "'\n";
  }
}

core::RunOptions LocalCluster::AsOsUser() const {
  core::RunOptions opts;
  opts.as_user = spec_.os_user;
  opts.cwd = "/";  // the OS user may not be allowed into our working directory
  return opts;
}

std::vector<std::string> LocalCluster::PgCtl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {(spec_.bin_dir / "pg_ctl").string(), "-D",
                                   spec_.data_dir.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

void LocalCluster::Start(std::chrono::seconds timeout) {
  if (!fs::exists(spec_.log_file)) {
    core::MakeDirs(spec_.log_file.parent_path(), 0755);
    std::ofstream(spec_.log_file).flush();
  }
  GiveToOsUser(spec_.log_file);
  core::RunOptions opts = AsOsUser();
  auto r = core::RunProcess(PgCtl({"-l", spec_.log_file.string(), "-w", "-t",
                                   std::to_string(timeout.count()), "start"}),
                            opts);
  if (!r.ok()) {
    throw Error(ErrorCode::kPostgres,
                fmt::format("unable to start PostgreSQL in '{}' (port {}): {}\nlast lines of {}:\n{}",
                            spec_.data_dir.string(), spec_.port, r.out + r.err,
                            spec_.log_file.string(), Tail(spec_.log_file, 15)),
                "read the server log named above");
  }
}

void LocalCluster::Stop(StopMode mode) {
  if (!IsRunning()) return;
  const char* m = mode == StopMode::kSmart ? "smart" : mode == StopMode::kFast ? "fast" : "immediate";
  core::RunOptions opts = AsOsUser();
  auto r = core::RunProcess(PgCtl({"-m", m, "-w", "-t", "120", "stop"}), opts);
  if (!r.ok() && IsRunning()) {
    throw Error(ErrorCode::kPostgres,
                fmt::format("unable to stop PostgreSQL in '{}': {}", spec_.data_dir.string(),
                            r.out + r.err));
  }
}

std::optional<int> LocalCluster::PostmasterPid() const {
  std::ifstream in(spec_.data_dir / "postmaster.pid");
  int pid = 0;
  if (!(in >> pid) || pid <= 0) return std::nullopt;
  return pid;
}

bool LocalCluster::IsRunning() const {
  auto pid = PostmasterPid();
  return pid && ::kill(*pid, 0) == 0;
}

void LocalCluster::WaitReady(std::chrono::seconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      Connection::Open(ConnInfo());
      return;
    } catch (const Error& e) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw Error(ErrorCode::kTimeout,
                    fmt::format("PostgreSQL in '{}' did not accept connections within {} s: {}",
                                spec_.data_dir.string(), timeout.count(), e.what()));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string LocalCluster::ConnInfo(const std::string& dbname, const std::string& user) const {
  return pg::ConnInfo(spec_.socket_dir.string(), spec_.port, user, dbname);
}

std::string LocalCluster::RunTool(const std::string& tool,
                                  const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {(spec_.bin_dir / tool).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  core::RunOptions opts = AsOsUser();
  auto r = core::RunProcess(argv, opts);
  if (!r.ok()) {
    throw Error(ErrorCode::kPostgres, fmt::format("{} failed (exit {}): {}",
                                                  core::DescribeCommand(argv), r.exit_code,
                                                  r.err.empty() ? r.out : r.err));
  }
  return r.out;
}

}  // namespace dbmedic::pg
