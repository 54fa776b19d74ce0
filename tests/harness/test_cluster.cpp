#include "harness/test_cluster.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::testing {
namespace {

// Postmaster pids of the live clusters, so that an interrupted test run (SIGINT/SIGTERM) does not
// leave servers behind. Fixed-size and lock-free: the signal handler may only call kill().
constexpr int kMaxClusters = 64;
std::atomic<int> g_pids[kMaxClusters];

void OnSignal(int sig) {
  for (auto& p : g_pids) {
    int pid = p.load();
    if (pid > 0) ::kill(pid, SIGQUIT);  // immediate shutdown
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void InstallHandlersOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    ::signal(SIGINT, OnSignal);
    ::signal(SIGTERM, OnSignal);
    ::signal(SIGPIPE, SIG_IGN);
  });
}

void Track(int pid, bool add) {
  for (auto& p : g_pids) {
    int expected = add ? 0 : pid;
    if (p.compare_exchange_strong(expected, add ? pid : 0)) return;
  }
}

pg::ClusterSpec SpecUnder(const fs::path& root) {
  pg::ClusterSpec spec;
  spec.data_dir = root / "data";
  spec.socket_dir = root / "sock";
  spec.log_file = root / "server.log";
  return spec;
}

}  // namespace

TestCluster::TestCluster(TestClusterOptions options)
    : root_("dbmedic-test"), cluster_(SpecUnder(root_.path())) {
  InstallHandlersOnce();
  cluster_.InitDb(options.data_checksums, {"--no-sync"});  // a test cluster need not survive a crash
  std::map<std::string, std::string> settings = {
      {"fsync", "off"},  // test speed; durability of the test server itself is not under test
      {"shared_buffers", "32MB"},
      {"max_wal_senders", "10"},
      {"log_line_prefix", "%m [%p] %q%u@%d "},
  };
  for (const auto& [k, v] : options.settings) settings[k] = v;
  cluster_.WriteSettings(settings);
  if (options.start) {
    cluster_.Start();
    if (auto pid = cluster_.PostmasterPid()) Track(*pid, true);
  }
}

TestCluster::~TestCluster() noexcept {
  try {
    if (auto pid = cluster_.PostmasterPid()) Track(*pid, false);
    cluster_.Stop(pg::StopMode::kImmediate);
  } catch (const std::exception& e) {
    fmt::print(stderr, "warning: could not stop test cluster {}: {}\n",
               cluster_.data_dir().string(), e.what());
  }
}

pg::Connection TestCluster::Connect(const std::string& dbname) const {
  return pg::Connection::Open(ConnInfo(dbname));
}

std::string TestCluster::ConnInfo(const std::string& dbname) const {
  return cluster_.ConnInfo(dbname);
}

void TestCluster::Sql(const std::string& sql, const std::string& dbname) const {
  auto conn = Connect(dbname);
  conn.Exec(sql);
}

std::string TestCluster::Scalar(const std::string& sql, const std::string& dbname) const {
  auto conn = Connect(dbname);
  return conn.Scalar(sql);
}

fs::path TestCluster::MakeOwnedDir(const std::string& name) const {
  fs::path dir = root() / name;
  core::MakeDirs(dir, 0755);
  cluster_.GiveToOsUser(dir);
  return dir;
}

std::map<std::string, std::string> DatabaseFingerprint(pg::Connection& conn) {
  auto tables = conn.Exec(
      "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') "
      "AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1");
  std::map<std::string, std::string> out;
  for (int i = 0; i < tables.rows(); ++i) {
    std::string table = tables.GetString(i, 0);
    out[table] = conn.Scalar(fmt::format(
        "SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), "
        "'') FROM {} t",
        table));
  }
  return out;
}

fs::path DbmedicBinary() {
  static const fs::path copy = [] {
    const char* built = std::getenv("DBMEDIC_BINARY");
    if (!built || !*built) {
      throw Error(ErrorCode::kNotFound, "DBMEDIC_BINARY is not set",
                  "run the tests through ctest, which sets it to the built binary");
    }
    // The postgres OS user runs archive_command/restore_command: the binary must be reachable.
    static core::TempDir dir("dbmedic-bin");
    fs::path dest = dir.path() / "dbmedic";
    fs::copy_file(built, dest, fs::copy_options::overwrite_existing);
    fs::permissions(dest, fs::perms(0755));
    // The HTTP module dbmedic opens from its own directory (monitor/http_transport.hpp).
    fs::path module = fs::path(built).parent_path() / "libdbmedic_http.so";
    if (fs::exists(module)) {
      fs::copy_file(module, dir.path() / module.filename(), fs::copy_options::overwrite_existing);
      fs::permissions(dir.path() / module.filename(), fs::perms(0755));
    }
    return dest;
  }();
  return copy;
}

core::ProcessResult RunDbmedic(const std::vector<std::string>& args,
                               const core::RunOptions& options) {
  std::vector<std::string> argv = {DbmedicBinary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return core::RunProcess(argv, options);
}

}  // namespace dbmedic::testing
