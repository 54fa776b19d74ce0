#include "demo/demo.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "backup/backup.hpp"
#include "backup/verify.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "pg/connection.hpp"
#include "pg/local_cluster.hpp"
#include "repo/cluster.hpp"
#include "restore/restore.hpp"
#include "sandbox/sandbox.hpp"

namespace dbmedic::demo {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (bytes >= 1024 && u < 3) {
    bytes /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", bytes, units[u]);
}

// Row count and md5 of every row of each sample table, in a stable order.
std::map<std::string, std::string> Fingerprint(pg::Connection& conn) {
  std::map<std::string, std::string> out;
  for (const char* table : {"users", "orders"}) {
    out[table] = conn.Scalar(fmt::format(
        "SELECT count(*) || ' rows, md5 ' || md5(string_agg(t::text, '|' ORDER BY t.id)) "
        "FROM {} t",
        table));
  }
  return out;
}

void LoadSampleData(pg::Connection& conn, const DemoOptions& options) {
  conn.Exec(
      "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL,"
      " created_at timestamptz NOT NULL, balance numeric(12,2) NOT NULL)");
  conn.Exec(
      "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users,"
      " amount numeric(12,2) NOT NULL, status text NOT NULL, placed_at timestamptz NOT NULL)");
  conn.Exec(fmt::format(
      "INSERT INTO users SELECT g, 'user' || g || '@example.com', md5(g::text),"
      " timestamptz '2026-01-01' + g * interval '37 seconds', (g % 1000) * 1.5"
      " FROM generate_series(1, {}) g",
      options.users));
  conn.Exec(fmt::format(
      "INSERT INTO orders SELECT g, 1 + (g::bigint * 7919) % {}, (g % 500) + 0.99,"
      " (ARRAY['new','paid','shipped','returned'])[1 + g % 4],"
      " timestamptz '2026-02-01' + g * interval '11 seconds'"
      " FROM generate_series(1, {}) g",
      options.users, options.orders));
  conn.Exec("CHECKPOINT");
}

// Switches to a new WAL segment and waits until the archiver has pushed it into the repository,
// so that everything committed so far is recoverable from the repository alone.
void WaitUntilArchived(pg::Connection& conn, const std::function<void(const std::string&)>& say) {
  std::string segment = conn.Scalar("SELECT pg_walfile_name(pg_switch_wal())");
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (conn.Scalar("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") < segment) {
    if (Clock::now() > deadline) {
      throw Error(ErrorCode::kTimeout,
                  fmt::format("demo: WAL segment {} was not archived within 60 s", segment),
                  "look at the sandbox server log (pgdata.log) for archive_command errors");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  say(fmt::format("   WAL up to segment {} archived into the repository (dbmedic wal push)",
                  segment));
}

// Waits until recovery has replayed the archive and the server accepts writes.
void WaitUntilPromoted(const pg::LocalCluster& cluster) {
  cluster.WaitReady(std::chrono::seconds(300));
  auto conn = pg::Connection::Open(cluster.ConnInfo());
  auto deadline = Clock::now() + std::chrono::seconds(300);
  while (conn.Scalar("SELECT pg_is_in_recovery()") == "t") {
    if (Clock::now() > deadline) {
      throw Error(ErrorCode::kTimeout, "demo: the restored cluster did not finish recovery in 300 s",
                  "look at the sandbox server log (pgdata.log)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

core::Config LoadConfig(const sandbox::Sandbox& box) {
  return core::Config::Load(box.config_file(), {}, {});
}

}  // namespace

DemoResult RunDemo(const DemoOptions& options) {
  auto say = [&](const std::string& line) {
    if (options.say) options.say(line);
  };
  DemoResult result;
  sandbox::Sandbox box(options.dir);
  box.Destroy();  // the demo always starts from nothing (refuses a directory that is not ours)

  say("1. Sandbox: a private PostgreSQL 15 cluster and a local repository");
  auto status = box.Up(options.self_binary);
  say(fmt::format("   cluster on port {} (data {}), repository {}", status.port,
                  status.data_dir.string(), status.repository.string()));
  auto config = LoadConfig(box);
  auto conn = pg::Connection::Open(status.conninfo);

  say(fmt::format("2. Sample data: users ({} rows) and orders ({} rows)", options.users,
                  options.orders));
  LoadSampleData(conn, options);
  auto before = Fingerprint(conn);
  for (const auto& [table, print] : before) say(fmt::format("   {:<7} {}", table, print));

  say("3. Full backup (online: the cluster keeps serving)");
  auto start = Clock::now();
  auto backup = backup::RunBackup(config);
  result.backup_seconds = SecondsSince(start);
  result.backup_label = backup.manifest.label;
  result.database_bytes = backup.manifest.database_size;
  result.repository_bytes = backup.manifest.repository_size;
  say(fmt::format("   backup {}: {} of data stored as {} in {:.2f} s", result.backup_label,
                  Bytes(static_cast<double>(result.database_bytes)),
                  Bytes(static_cast<double>(result.repository_bytes)), result.backup_seconds));

  say("4. Verify: every stored chunk's SHA-256 recomputed");
  auto repository = repo::OpenRepository(config);
  auto verified = backup::VerifyBackups(repository, result.backup_label,
                                        static_cast<int>(std::thread::hardware_concurrency()));
  say(fmt::format("   {} files, {} checked: {}", verified.files_checked,
                  Bytes(static_cast<double>(verified.bytes_checked)),
                  verified.ok() ? "no missing, truncated or altered file" : "PROBLEMS FOUND"));
  if (!verified.ok()) throw Error(ErrorCode::kCorrupt, "demo: the fresh backup did not verify");

  say("5. Business goes on after the backup: 200 more orders, one transaction each");
  conn = pg::Connection::Open(status.conninfo);
  for (int i = 1; i <= 200; ++i) {
    conn.Exec(fmt::format(
        "INSERT INTO orders VALUES ({0}, 1 + {0} % {1}, 9.99, 'new', now())", options.orders + i,
        options.users));
  }
  before = Fingerprint(conn);
  WaitUntilArchived(conn, say);

  say("6. The accident: the server dies and its data directory is lost");
  pg::LocalCluster cluster(
      {.data_dir = status.data_dir, .socket_dir = status.dir / "sock", .port = status.port,
       .os_user = status.os_user, .bin_dir = {}, .log_file = status.dir / "pgdata.log"});
  cluster.Stop(pg::StopMode::kImmediate);
  std::filesystem::remove_all(status.data_dir);
  say(fmt::format("   rm -rf {}", status.data_dir.string()));

  say("7. The rescue: restore the backup, replay the WAL archive to its end, promote");
  start = Clock::now();
  restore::RestoreOptions restore_options;
  restore_options.target_dir = status.data_dir;
  auto restored = restore::RestoreBackup(config, restore_options);
  result.restore_seconds = restored.seconds;
  box.PrepareRecoveryToEndOfArchive();
  cluster.Start();
  WaitUntilPromoted(cluster);
  result.rto_seconds = SecondsSince(start);
  conn = pg::Connection::Open(status.conninfo);
  auto after = Fingerprint(conn);
  result.data_matches = after == before;
  for (const auto& [table, print] : after) say(fmt::format("   {:<7} {}", table, print));
  say(fmt::format("   timeline {} after promotion", conn.Scalar(
      "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")));
  say(fmt::format("   data {} the moment of the accident (backup + archived WAL): restore {:.2f} s,"
                  " restore + replay + promote (RTO) {:.2f} s",
                  result.data_matches ? "identical to" : "DIFFERENT FROM",
                  result.restore_seconds, result.rto_seconds));
  if (options.cleanup) box.Destroy();
  return result;
}

}  // namespace dbmedic::demo
