#include "demo/demo.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include <fmt/format.h>

#include <atomic>
#include <exception>
#include <mutex>
#include <random>
#include <set>
#include <vector>

#include "backup/backup.hpp"
#include "backup/verify.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "forensics/catalog_store.hpp"
#include "forensics/incident_scanner.hpp"
#include "pg/relation_catalog.hpp"
#include "pg/wal_decoders.hpp"
#include "pg/wal_reader.hpp"
#include "pg/connection.hpp"
#include "pg/local_cluster.hpp"
#include "repo/cluster.hpp"
#include "restore/restore.hpp"
#include "sandbox/sandbox.hpp"
#include "wal/archive.hpp"
#include "wal/archive_wal_source.hpp"

namespace dbmedic::demo {
namespace {

namespace fs = std::filesystem;
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
  conn.Exec("ANALYZE");  // row estimates, so incidents can say how many rows a DROP took
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

// The application: a session that keeps inserting a user, then an order, one transaction each,
// and remembers what the server acknowledged (the oracle the rescue is checked against).
struct WorkloadTally {
  std::vector<std::int64_t> users;   // ids acknowledged
  std::vector<std::int64_t> orders;  // ids acknowledged, in order
  int user_failures = 0;             // inserts refused once users is gone
  int order_failures = 0;            // e.g. chosen as the deadlock victim during the DROP
};

class Workload {
 public:
  Workload(const std::string& conninfo, const DemoOptions& options)
      : thread_([this, conninfo, options] { Run(conninfo, options); }) {}
  ~Workload() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  WorkloadTally Stop() {
    stop_ = true;
    thread_.join();
    if (error_) std::rethrow_exception(error_);
    return tally_;
  }
  std::size_t OrdersAcked() {
    std::lock_guard lock(mutex_);
    return tally_.orders.size();
  }

 private:
  void Run(const std::string& conninfo, const DemoOptions& options) {
    try {
      auto conn = pg::Connection::Open(conninfo);
      for (std::int64_t i = 1; !stop_; ++i) {
        const std::int64_t user = options.users + i;
        const std::int64_t order = options.orders + i;
        try {
          conn.Exec(fmt::format("INSERT INTO users VALUES ({0}, 'new{0}@example.com', "
                                "md5('{0}'), now(), 0)",
                                user));
          std::lock_guard lock(mutex_);
          tally_.users.push_back(user);
        } catch (const Error&) {
          std::lock_guard lock(mutex_);
          ++tally_.user_failures;
        }
        // An order can fail too: while the DROP ... CASCADE takes its locks, the deadlock
        // detector may pick this insert (it locks orders, then users for the foreign key).
        // Like a real application, count it as not acknowledged and go on.
        try {
          conn.Exec(fmt::format("INSERT INTO orders VALUES ({0}, 1 + {0} % {1}, 19.99, 'new', "
                                "now())",
                                order, options.users));
          std::lock_guard lock(mutex_);
          tally_.orders.push_back(order);
        } catch (const Error&) {
          std::lock_guard lock(mutex_);
          ++tally_.order_failures;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  WorkloadTally tally_;
  std::exception_ptr error_;
  std::thread thread_;
};

struct Accident {
  std::uint32_t xid = 0;
  std::size_t orders_acked_before = 0;  // acknowledged before the DROP was sent
};

// The DROP ... CASCADE locks users, then orders (to drop its foreign key), while each order
// insert locks orders, then users: the deadlock detector may cancel the DROP, which a person at
// a psql prompt would simply run again.
Accident DropUsers(pg::Connection& conn, Workload& workload) {
  for (int attempt = 1;; ++attempt) {
    Accident accident;
    accident.orders_acked_before = workload.OrdersAcked();
    try {
      conn.Exec("BEGIN");
      accident.xid = static_cast<std::uint32_t>(conn.Exec("SELECT txid_current()").GetInt(0, 0));
      conn.Exec("DROP TABLE users CASCADE");
      conn.Exec("COMMIT");
      return accident;
    } catch (const Error& e) {
      conn.Exec("ROLLBACK");
      if (attempt == 5 || std::string(e.what()).find("deadlock") == std::string::npos) throw;
    }
  }
}

// What `dbmedic incidents --table users` does: the repository's WAL archive, named through the
// repository's catalog plus the running cluster's.
forensics::Incident FindDropOfUsers(const repo::Repository& repository,
                                    const std::string& conninfo,
                                    const std::function<void(const std::string&)>& say) {
  pg::RelationCatalog catalog = forensics::LoadRepositoryCatalog(repository);
  catalog.Add(pg::CaptureClusterCatalog(conninfo));
  const wal::WalArchive archive(repository, repository.info().codec);
  wal::ArchiveWalSource source(archive);
  pg::WalReaderOptions reader_options;
  reader_options.system_identifier = std::stoull(repository.info().system_identifier);
  pg::WalReader reader(source, reader_options);
  forensics::IncidentOptions incident_options;
  incident_options.table = "users";
  const forensics::IncidentReport report =
      forensics::FindIncidents(reader, &catalog, incident_options);
  say(fmt::format("   scanned {} records in {} segments ({} .. {})", report.records,
                  report.segments, report.first_lsn.ToString(), report.last_lsn.ToString()));
  if (report.incidents.empty()) {
    throw Error(ErrorCode::kNotFound, "demo: no incident on users found in the WAL archive",
                fmt::format("the scan stopped at {}: {}", report.stop.lsn.ToString(),
                            report.stop.detail));
  }
  for (const auto& i : report.incidents) {
    for (const auto& r : i.relations) {
      const std::string rows =
          r.rows_known ? fmt::format("{}{} rows", r.rows_estimated ? "~" : "", r.rows)
                       : std::string("rows unknown");
      say(fmt::format("   {}  xid {}  commit LSN {}  {} {} ({})  {} transactions after it",
                      pg::FormatPgTimestamp(i.commit_time), i.xid, i.commit_lsn.ToString(),
                      forensics::IncidentKindName(r.action), r.name, rows, i.later_commits));
    }
  }
  return report.incidents.back();
}

void Check(pg::Connection& conn, const WorkloadTally& tally, const Accident& accident,
           const forensics::Incident& incident, DemoResult& result) {
  (void)incident;
  std::set<std::int64_t> users;
  pg::Result u = conn.Exec("SELECT id FROM users");
  for (int i = 0; i < u.rows(); ++i) users.insert(u.GetInt(i, 0));
  result.users_restored = users.size();
  for (std::int64_t id : tally.users) result.users_missing += users.contains(id) ? 0 : 1;
  std::set<std::int64_t> orders;
  pg::Result o = conn.Exec(fmt::format("SELECT id FROM orders WHERE id > {}",
                                       tally.orders.empty() ? 0 : tally.orders.front() - 1));
  for (int i = 0; i < o.rows(); ++i) orders.insert(o.GetInt(i, 0));
  for (std::size_t i = 0; i < tally.orders.size(); ++i) {
    const bool present = orders.contains(tally.orders[i]);
    if (i < accident.orders_acked_before) {
      result.orders_before_missing += present ? 0 : 1;
    } else {
      result.orders_after_discarded += present ? 0 : 1;
    }
  }
}

}  // namespace

DemoResult RunDemo(const DemoOptions& options) {
  auto say = [&](const std::string& line) {
    if (options.say) options.say(line);
  };
  DemoResult result;
  sandbox::Sandbox box(options.dir);
  box.Destroy();  // the demo always starts from nothing (refuses a directory that is not ours)

  say("1. Sandbox: a private PostgreSQL 15 cluster and a local repository, archiving its WAL");
  auto status = box.Up(options.self_binary);
  say(fmt::format("   cluster on port {} (data {}), repository {}", status.port,
                  status.data_dir.string(), status.repository.string()));
  auto config = LoadConfig(box);
  auto conn = pg::Connection::Open(status.conninfo);

  say(fmt::format("2. Sample data: users ({} rows) and orders ({} rows)", options.users,
                  options.orders));
  LoadSampleData(conn, options);

  say("3. Full backup (online: the cluster keeps serving), with a snapshot of the catalog");
  auto start = Clock::now();
  auto backup = backup::RunBackup(config);
  result.backup_seconds = SecondsSince(start);
  result.backup_label = backup.manifest.label;
  result.database_bytes = backup.manifest.database_size;
  result.repository_bytes = backup.manifest.repository_size;
  auto repository = repo::OpenRepository(config);
  auto captured = forensics::CaptureIntoRepository(repository, status.conninfo);
  say(fmt::format("   backup {}: {} of data stored as {} in {:.2f} s; {} relations named in the "
                  "repository's catalog",
                  result.backup_label, Bytes(static_cast<double>(result.database_bytes)),
                  Bytes(static_cast<double>(result.repository_bytes)), result.backup_seconds,
                  captured.relations));

  say("4. Verify: every stored chunk's SHA-256 recomputed");
  auto verified = backup::VerifyBackups(repository, result.backup_label,
                                        static_cast<int>(std::thread::hardware_concurrency()));
  say(fmt::format("   {} files, {} checked: {}", verified.files_checked,
                  Bytes(static_cast<double>(verified.bytes_checked)),
                  verified.ok() ? "no missing, truncated or altered file" : "PROBLEMS FOUND"));
  if (!verified.ok()) throw Error(ErrorCode::kCorrupt, "demo: the fresh backup did not verify");

  say("5. Business goes on: new users and orders, one transaction each, from another session");
  Workload workload(status.conninfo, options);
  std::mt19937 rng(std::random_device{}());
  const int accident_ms = 2000 + static_cast<int>(rng() % 3000);
  std::this_thread::sleep_for(std::chrono::milliseconds(accident_ms));

  say("6. The accident, at a moment nobody wrote down: DROP TABLE users CASCADE");
  const Accident accident = DropUsers(conn, workload);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // orders keep coming meanwhile
  const WorkloadTally tally = workload.Stop();
  say(fmt::format("   the application had {} users and {} orders acknowledged before the drop; "
                  "{} orders acknowledged after it; {} user inserts failed after it",
                  tally.users.size(), accident.orders_acked_before, tally.orders.size() -
                  accident.orders_acked_before, tally.user_failures));
  WaitUntilArchived(conn, say);

  say("7. Find it: dbmedic incidents (reads the WAL archive, names tables from the catalog)");
  const forensics::Incident incident = FindDropOfUsers(repository, status.conninfo, say);
  result.incident_xid = incident.xid;
  result.incident_found = incident.xid == accident.xid;
  say(fmt::format("   -> transaction {}, the one the accident ran ({}): {}", incident.xid,
                  accident.xid, result.incident_found ? "found exactly" : "NOT THE SAME"));
  if (!result.incident_found) {
    throw Error(ErrorCode::kInternal, "demo: incidents did not find the accident's transaction");
  }

  say(fmt::format("8. The rescue: restore the backup and replay the archive up to just before "
                  "transaction {} (dbmedic restore --before-incident {})",
                  incident.xid, incident.xid));
  pg::LocalCluster cluster(
      {.data_dir = status.data_dir, .socket_dir = status.dir / "sock", .port = status.port,
       .os_user = status.os_user, .bin_dir = {}, .log_file = status.dir / "pgdata.log"});
  cluster.Stop(pg::StopMode::kFast);
  const fs::path damaged = status.dir / "pgdata.damaged";
  fs::rename(status.data_dir, damaged);
  say(fmt::format("   the damaged data directory is kept as {}", damaged.string()));
  start = Clock::now();
  restore::RestoreOptions restore_options;
  restore_options.target_dir = status.data_dir;
  auto restored = restore::RestoreBackup(config, restore_options);
  result.restore_seconds = restored.seconds;
  box.PrepareRecoveryBeforeXid(incident.xid);
  cluster.Start();
  WaitUntilPromoted(cluster);
  result.rto_seconds = SecondsSince(start);

  say("9. Proof");
  conn = pg::Connection::Open(status.conninfo);
  Check(conn, tally, accident, incident, result);
  say(fmt::format("   users: {} rows; every one of the {} users acknowledged before the drop is "
                  "back ({} missing)",
                  result.users_restored, tally.users.size(), result.users_missing));
  say(fmt::format("   orders acknowledged before the drop: all back ({} missing)",
                  result.orders_before_missing));
  say(fmt::format("   committed transactions lost: {} before the drop; the drop itself and the "
                  "{} transactions committed after it ({} orders the application wrote after "
                  "the drop) are not replayed: a whole-cluster restore turns every table back",
                  result.users_missing + result.orders_before_missing, incident.later_commits,
                  result.orders_after_discarded));
  say(fmt::format("   restore {:.2f} s, restore + replay + promote (RTO) {:.2f} s, timeline {}",
                  result.restore_seconds, result.rto_seconds,
                  conn.Scalar("SELECT timeline_id FROM pg_control_checkpoint()")));
  result.data_matches = result.users_missing == 0 && result.orders_before_missing == 0 &&
                        result.users_restored > 0;
  if (options.cleanup) box.Destroy();
  return result;
}

}  // namespace dbmedic::demo
