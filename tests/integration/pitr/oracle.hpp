// The PITR checker's oracle, shared by its suites: writers that run transactions and record, for
// every one whose COMMIT returned, its commit time, xid, the WAL insert positions bracketing its
// commit record and its rows; the restored cluster left running by RestoreToTarget(start); and
// the comparison of a restored ledger with what the oracle expects at a target. Commit records'
// exact LSNs are unknown to SQL, so a transaction whose bracket straddles the stop point is
// "either", and checked only for atomicity.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "harness/test_cluster.hpp"
#include "pg/local_cluster.hpp"
#include "pg/lsn.hpp"
#include "restore/pitr_restore.hpp"

namespace dbmedic::testing {

struct Tx {
  std::int64_t id = 0;
  std::int64_t xid = 0;
  std::int64_t commit_micros = 0;
  pg::Lsn before;  // insert position inside the transaction, before its commit record
  pg::Lsn after;   // insert position after COMMIT returned (max when the server died first)
  int rows = 0;
};

enum class Expect { kPresent, kAbsent, kEither };

struct WriterOptions {
  int writer = 0;
  int transactions = 150;
  // A crash test: a lost connection ends the writer quietly instead of failing the test.
  bool until_crash = false;
};

// Runs transactions into `ledger (tx bigint, n int, payload text)`; appends each one whose COMMIT
// returned to `out` and counts it in `committed`.
inline void Writer(const TestCluster& c, const WriterOptions& o, std::vector<Tx>& out,
                   std::atomic<int>& committed) {
  try {
    pg::Connection conn = c.Connect();
    for (int i = 0; i < o.transactions; ++i) {
      Tx tx;
      tx.id = o.writer * 100000 + i;
      tx.rows = 1 + i % 4;
      conn.Exec("BEGIN");
      pg::Result r = conn.Exec("SELECT pg_current_wal_insert_lsn()::text, txid_current()");
      tx.before = pg::Lsn::Parse(r.Get(0, 0));
      tx.xid = r.GetInt(0, 1);
      conn.Exec(fmt::format("INSERT INTO ledger SELECT {}, g, md5(g::text) FROM "
                            "generate_series(1, {}) g",
                            tx.id, tx.rows));
      conn.Exec("COMMIT");
      tx.after = pg::Lsn{~0ull};
      try {
        pg::Result a = conn.Exec(fmt::format(
            "SELECT pg_current_wal_insert_lsn()::text, (extract(epoch FROM "
            "pg_xact_commit_timestamp(xmin)) * 1000000)::bigint FROM ledger WHERE tx = {} LIMIT 1",
            tx.id));
        tx.after = pg::Lsn::Parse(a.Get(0, 0));
        tx.commit_micros = a.GetInt(0, 1);
      } catch (const Error&) {
        if (!o.until_crash) throw;
      }
      out.push_back(tx);
      ++committed;
      if (tx.after.value == ~0ull) return;
    }
  } catch (const Error& e) {
    if (!o.until_crash) ADD_FAILURE() << "writer " << o.writer << ": " << e.what();
  }
}

// A restored cluster left running by RestoreToTarget(start); stopped, and its socket directory
// removed, at the end of the test.
class Restored {
 public:
  Restored(const restore::PitrResult& r, const fs::path& data_dir, std::string os_user)
      : cluster_(Spec(r, data_dir, std::move(os_user))) {}
  ~Restored() {
    try {
      cluster_.Stop(pg::StopMode::kImmediate);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not stop restored cluster: " << e.what();
    }
    std::error_code ec;
    fs::remove_all(cluster_.spec().socket_dir, ec);
  }
  Restored(const Restored&) = delete;
  Restored& operator=(const Restored&) = delete;

  std::map<std::int64_t, int> LedgerRows() const {
    pg::Connection conn = pg::Connection::Open(cluster_.ConnInfo());
    pg::Result r = conn.Exec("SELECT tx, count(*) FROM ledger GROUP BY tx");
    std::map<std::int64_t, int> out;
    for (int i = 0; i < r.rows(); ++i) out[r.GetInt(i, 0)] = static_cast<int>(r.GetInt(i, 1));
    return out;
  }
  pg::Connection Connect() const { return pg::Connection::Open(cluster_.ConnInfo()); }
  const pg::LocalCluster& cluster() const { return cluster_; }

 private:
  static pg::ClusterSpec Spec(const restore::PitrResult& r, const fs::path& data_dir,
                              std::string os_user) {
    pg::ClusterSpec spec;
    spec.data_dir = data_dir;
    spec.socket_dir = r.socket_dir;
    spec.port = r.port;
    spec.os_user = std::move(os_user);
    return spec;
  }
  pg::LocalCluster cluster_;
};

// Compares the restored ledger with the oracle; returns how many transactions were decided.
inline int Compare(const std::vector<Tx>& txs, const std::map<std::int64_t, int>& rows,
                   const std::function<Expect(const Tx&)>& expect) {
  int decided = 0;
  for (const Tx& tx : txs) {
    const auto it = rows.find(tx.id);
    const int found = it == rows.end() ? 0 : it->second;
    EXPECT_TRUE(found == 0 || found == tx.rows) << "transaction " << tx.id << " is torn";
    switch (expect(tx)) {
      case Expect::kPresent:
        EXPECT_EQ(found, tx.rows) << "transaction " << tx.id << " committed before the target";
        ++decided;
        break;
      case Expect::kAbsent:
        EXPECT_EQ(found, 0) << "transaction " << tx.id << " committed after the target";
        ++decided;
        break;
      case Expect::kEither:
        break;
    }
  }
  return decided;
}

// Recovery stops before the first commit record (in WAL order) whose time is after the target:
// a transaction with an earlier time is present when its commit precedes every later-timed
// commit's bracket, absent when it follows one, else either.
inline std::function<Expect(const Tx&)> TimeOracle(const std::vector<Tx>& txs,
                                                   std::int64_t target) {
  pg::Lsn min_before{~0ull}, min_after{~0ull};
  for (const Tx& b : txs) {
    if (b.commit_micros <= target) continue;
    min_before = std::min(min_before, b.before);
    min_after = std::min(min_after, b.after);
  }
  return [=](const Tx& a) {
    if (a.commit_micros > target) return Expect::kAbsent;
    if (a.after <= min_before) return Expect::kPresent;
    if (a.before >= min_after) return Expect::kAbsent;
    return Expect::kEither;
  };
}

// Exclusive LSN target: records starting before it are replayed, none from it on.
inline std::function<Expect(const Tx&)> LsnOracle(pg::Lsn target) {
  return [=](const Tx& a) {
    if (a.after <= target) return Expect::kPresent;
    if (a.before >= target) return Expect::kAbsent;
    return Expect::kEither;
  };
}

// Restores lose a suffix, never a hole: no transaction is present whose commit certainly came
// after the commit of one that is missing. Returns the committed transactions missing.
inline int LostSuffix(const std::vector<Tx>& txs, const std::map<std::int64_t, int>& rows) {
  pg::Lsn first_missing_after{~0ull};
  int lost = 0;
  for (const Tx& tx : txs) {
    const auto it = rows.find(tx.id);
    const int found = it == rows.end() ? 0 : it->second;
    EXPECT_TRUE(found == 0 || found == tx.rows) << "transaction " << tx.id << " is torn";
    if (found == 0) {
      ++lost;
      first_missing_after = std::min(first_missing_after, tx.after);
    }
  }
  for (const Tx& tx : txs) {
    if (rows.contains(tx.id)) {
      EXPECT_LT(tx.before, first_missing_after)
          << "transaction " << tx.id << " is present although an earlier one is lost";
    }
  }
  return lost;
}

}  // namespace dbmedic::testing
