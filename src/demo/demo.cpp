#include "demo/demo.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

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
#include "rescue/scratch_cluster.hpp"
#include "rescue/undo.hpp"
#include "restore/recovery_target.hpp"
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
        // Like a real application, count it as not acknowledged and go on. The lock is held
        // across the insert, so OrdersAcked() never misses an order already committed.
        std::lock_guard lock(mutex_);
        try {
          conn.Exec(fmt::format("INSERT INTO orders VALUES ({0}, 1 + {0} % {1}, 19.99, 'new', "
                                "now())",
                                order, options.users));
          tally_.orders.push_back(order);
        } catch (const Error&) {
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
  std::size_t orders_acked_before = 0;  // committed before the DROP was sent
  // Orders from this index on were sent after the DROP had committed; those between the two
  // were in flight during it (either side of it) and are left out of both counts.
  std::size_t orders_acked_after = 0;
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
      accident.orders_acked_after = workload.OrdersAcked();
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

// Which acknowledged rows a cluster holds: the oracle both rescues are checked against.
struct Presence {
  std::uint64_t users_rows = 0;
  std::uint64_t users_missing = 0;          // acknowledged before the drop, absent
  std::uint64_t orders_before_missing = 0;  // acknowledged before the drop, absent
  std::uint64_t orders_after_present = 0;   // acknowledged after the drop, present
};

std::set<std::int64_t> Ids(pg::Connection& conn, const std::string& sql) {
  std::set<std::int64_t> ids;
  pg::Result r = conn.Exec(sql);
  for (int i = 0; i < r.rows(); ++i) ids.insert(r.GetInt(i, 0));
  return ids;
}

Presence Check(pg::Connection& conn, const WorkloadTally& tally, const Accident& accident) {
  Presence p;
  const std::set<std::int64_t> users = Ids(conn, "SELECT id FROM users");
  p.users_rows = users.size();
  for (std::int64_t id : tally.users) p.users_missing += users.contains(id) ? 0 : 1;
  const std::set<std::int64_t> orders =
      Ids(conn, fmt::format("SELECT id FROM orders WHERE id > {}",
                            tally.orders.empty() ? 0 : tally.orders.front() - 1));
  for (std::size_t i = 0; i < tally.orders.size(); ++i) {
    const bool present = orders.contains(tally.orders[i]);
    if (i < accident.orders_acked_before) {
      p.orders_before_missing += present ? 0 : 1;
    } else if (i >= accident.orders_acked_after) {
      p.orders_after_present += present ? 1 : 0;
    }
  }
  return p;
}

rescue::ScratchOptions SideClusterBefore(const sandbox::Sandbox& box,
                                         const sandbox::SandboxStatus& status,
                                         std::uint32_t xid) {
  rescue::ScratchOptions side;
  side.target.kind = restore::TargetKind::kXid;
  side.target.text = std::to_string(xid);
  side.target.inclusive = false;
  side.target.action = restore::TargetAction::kPromote;
  side.restore_command = box.RestoreCommand();
  side.os_user = status.os_user;
  side.parent_dir = status.dir;  // inside the sandbox, removed with the side cluster
  side.start_timeout = std::chrono::seconds(300);
  return side;
}

// The classic way: the whole cluster restored to just before the drop (into a side directory,
// so the live cluster keeps running for the undo that follows).
void ClassicRestore(const repo::Repository& repository, const restore::ArchiveView& archive,
                    const rescue::ScratchOptions& side, const WorkloadTally& tally,
                    const Accident& accident, DemoResult& result) {
  rescue::ScratchCluster restored(repository, archive, side);
  result.restore_seconds = restored.result().restore.seconds;
  result.rto_seconds = restored.result().rto_seconds;
  auto conn = pg::Connection::Open(restored.ConnInfo());
  const Presence p = Check(conn, tally, accident);
  result.users_restored = p.users_rows;
  result.users_missing = p.users_missing;
  result.orders_before_missing = p.orders_before_missing;
  result.orders_after_discarded =
      tally.orders.size() - accident.orders_acked_after - p.orders_after_present;
}

// The recommended way: undo brings users back into the live cluster, in one transaction.
void UndoDrop(const repo::Repository& repository, const DemoOptions& options,
              const sandbox::SandboxStatus& status, rescue::ScratchOptions side,
              const WorkloadTally& tally, const Accident& accident, DemoResult& result) {
  rescue::UndoRequest request;
  request.tables = {"public.users"};
  request.database = "postgres";
  request.live_conninfo = status.conninfo;
  request.side = std::move(side);
  const pg::RelationCatalog catalog = forensics::LoadRepositoryCatalog(repository);
  request.catalog = &catalog;  // the side cluster restores only what undo reads
  const rescue::UndoResult undone = rescue::RunUndo(
      repository, [&] { return options.load_archive(repository); }, request);
  DemoUndo& u = result.undo;
  u.seconds = undone.total_seconds;
  for (const rescue::TableOutcome& o : undone.outcomes) {
    u.rows_brought_back += o.inserted;
    u.foreign_keys_restored.insert(u.foreign_keys_restored.end(), o.foreign_keys_added.begin(),
                                   o.foreign_keys_added.end());
  }
  auto conn = pg::Connection::Open(status.conninfo);
  const Presence p = Check(conn, tally, accident);
  u.users_acknowledged = tally.users.size();
  u.users_missing = p.users_missing;
  u.orders_before_missing = p.orders_before_missing;
  u.orders_after_drop.assign(tally.orders.begin() + static_cast<std::ptrdiff_t>(
                                                        accident.orders_acked_after),
                             tally.orders.end());
  u.orders_after_drop_present = p.orders_after_present;
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
                  "{} orders sent and acknowledged after it ({} in flight during it); {} user "
                  "inserts failed after it",
                  tally.users.size(), accident.orders_acked_before,
                  tally.orders.size() - accident.orders_acked_after,
                  accident.orders_acked_after - accident.orders_acked_before,
                  tally.user_failures));
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

  const rescue::ScratchOptions side = SideClusterBefore(box, status, incident.xid);
  say(fmt::format("8. The classic rescue: restore the whole cluster to just before transaction {} "
                  "(dbmedic restore --before-incident {}), here into a side directory",
                  incident.xid, incident.xid));
  ClassicRestore(repository, options.load_archive(repository), side, tally, accident, result);
  say(fmt::format("   users: {} rows, every one of the {} acknowledged before the drop is back "
                  "({} missing); orders acknowledged before the drop: {} missing",
                  result.users_restored, tally.users.size(), result.users_missing,
                  result.orders_before_missing));
  say(fmt::format("   but every table went back in time: the {} transactions committed after "
                  "the drop are lost, among them {} orders the application wrote after it",
                  incident.later_commits, result.orders_after_discarded));
  say(fmt::format("   restore {:.2f} s, restore + replay + promote (RTO) {:.2f} s; side "
                  "directory removed",
                  result.restore_seconds, result.rto_seconds));

  say(fmt::format("9. The recommended rescue: dbmedic undo {}: users alone is brought back into "
                  "the LIVE cluster, in one transaction, from a side cluster", incident.xid));
  UndoDrop(repository, options, status, side, tally, accident, result);
  const DemoUndo& u = result.undo;
  say(fmt::format("   {} users rows brought back with their indexes, constraints and grants; "
                  "foreign key(s) restored: {}",
                  u.rows_brought_back,
                  u.foreign_keys_restored.empty() ? std::string("none")
                                                  : fmt::format("{}", fmt::join(
                                                        u.foreign_keys_restored, ", "))));
  say(fmt::format("   proof on the live cluster: {} of the {} users acknowledged before the drop "
                  "missing; {} of the {} orders written after the drop still there ({:.2f} s)",
                  u.users_missing, u.users_acknowledged, u.orders_after_drop_present,
                  u.orders_after_drop.size(), u.seconds));
  result.conninfo = status.conninfo;
  result.data_matches = result.users_missing == 0 && result.orders_before_missing == 0 &&
                        result.users_restored > 0 && u.users_missing == 0 &&
                        u.orders_before_missing == 0 &&
                        u.orders_after_drop_present == u.orders_after_drop.size() &&
                        u.rows_brought_back > 0;
  if (options.cleanup) box.Destroy();
  return result;
}

}  // namespace dbmedic::demo
