#include "diagnose/blocking_tree.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "diagnose/text_table.hpp"

namespace dbmedic::diagnose {
namespace {

using nlohmann::json;

constexpr std::string_view kSessionsSql = R"SQL(
WITH s AS (
  SELECT a.pid, pg_blocking_pids(a.pid) AS blockers FROM pg_stat_activity a
), involved AS (
  SELECT pid FROM s WHERE cardinality(blockers) > 0
  UNION SELECT unnest(blockers) FROM s
)
SELECT a.pid, coalesce(a.usename, '') AS usename, coalesce(a.datname, '') AS datname,
       coalesce(a.application_name, '') AS app, coalesce(a.client_addr::text, 'local') AS client,
       coalesce(a.state, '') AS state, coalesce(a.wait_event_type, '') AS wait_event_type,
       coalesce(a.wait_event, '') AS wait_event, coalesce(a.query, '') AS query,
       coalesce(extract(epoch FROM now() - a.state_change), 0)::float8 AS state_seconds,
       coalesce(extract(epoch FROM now() - a.xact_start), -1)::float8 AS xact_seconds,
       coalesce(to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'), '')
         AS state_since,
       s.blockers::text AS blockers,
       l.locktype, l.mode, l.relation::regclass::text AS relation, l.page, l.tuple,
       l.transactionid::text AS xid, l.virtualxid, l.classid, l.objid, l.objsubid,
       t.row_relation, t.row_page, t.row_tuple,
       coalesce(extract(epoch FROM now() - l.waitstart), 0)::float8 AS wait_seconds
FROM pg_stat_activity a
JOIN s ON s.pid = a.pid
LEFT JOIN LATERAL (SELECT * FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted LIMIT 1) l
  ON true
LEFT JOIN LATERAL (SELECT t.relation::regclass::text AS row_relation, t.page AS row_page,
                          t.tuple AS row_tuple
                   FROM pg_locks t WHERE t.pid = a.pid AND t.granted AND t.locktype = 'tuple'
                   LIMIT 1) t
  ON l.locktype = 'transactionid'
WHERE a.pid IN (SELECT pid FROM involved)
ORDER BY a.pid
)SQL";

// Prepared transactions holding a granted lock on an object a session blocked by pid 0 waits
// for. A prepared transaction's locks keep its original virtual transaction id; its
// transactionid lock ties that id to pg_prepared_xacts.
constexpr std::string_view kPreparedSql = R"SQL(
WITH px AS (
  SELECT p.gid, p.transaction::text AS xid, p.owner, p.database,
         to_char(p.prepared AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"') AS prepared_at,
         extract(epoch FROM now() - p.prepared)::float8 AS prepared_seconds, h.virtualtransaction
  FROM pg_prepared_xacts p
  JOIN pg_locks h ON h.pid IS NULL AND h.locktype = 'transactionid' AND h.transactionid = p.transaction
)
SELECT DISTINCT px.gid, px.xid, px.owner, px.database, px.prepared_at, px.prepared_seconds
FROM pg_locks w
JOIN pg_locks h ON h.pid IS NULL AND h.granted AND h.locktype = w.locktype
 AND h.database IS NOT DISTINCT FROM w.database AND h.relation IS NOT DISTINCT FROM w.relation
 AND h.page IS NOT DISTINCT FROM w.page AND h.tuple IS NOT DISTINCT FROM w.tuple
 AND h.transactionid IS NOT DISTINCT FROM w.transactionid
 AND h.virtualxid IS NOT DISTINCT FROM w.virtualxid AND h.classid IS NOT DISTINCT FROM w.classid
 AND h.objid IS NOT DISTINCT FROM w.objid AND h.objsubid IS NOT DISTINCT FROM w.objsubid
JOIN px ON px.virtualtransaction = h.virtualtransaction
WHERE NOT w.granted AND 0 = ANY(pg_blocking_pids(w.pid))
ORDER BY px.gid
)SQL";

std::string Target(const pg::Result& r, int i, const LockRequest& lock) {
  auto col = [&](std::string_view name) { return std::string(r.Get(i, name)); };
  if (lock.locktype == "transactionid") {
    // A session waiting for a row's transaction holds that row's tuple lock meanwhile.
    if (r.IsNull(i, r.Column("row_relation"))) return "transaction " + col("xid");
    return fmt::format("transaction {} (row ({},{}) of {})", col("xid"), col("row_page"),
                       col("row_tuple"), col("row_relation"));
  }
  if (lock.locktype == "virtualxid") return "virtual transaction " + col("virtualxid");
  if (lock.locktype == "tuple") {
    return fmt::format("tuple ({},{}) of {}", col("page"), col("tuple"), lock.relation);
  }
  if (lock.locktype == "relation") return "relation " + lock.relation;
  if (lock.locktype == "page") return fmt::format("page {} of {}", col("page"), lock.relation);
  if (lock.locktype == "extend") return "extension of " + lock.relation;
  if (lock.locktype == "advisory") {
    return fmt::format("advisory lock [{},{},{}]", col("classid"), col("objid"), col("objsubid"));
  }
  return lock.locktype;
}

SessionInfo SessionFromRow(const pg::Result& r, int i) {
  SessionInfo s;
  s.pid = r.GetInt(i, r.Column("pid"));
  s.user = r.Get(i, "usename");
  s.database = r.Get(i, "datname");
  s.application = r.Get(i, "app");
  s.client = r.Get(i, "client");
  s.state = r.Get(i, "state");
  s.wait_event_type = r.Get(i, "wait_event_type");
  s.wait_event = r.Get(i, "wait_event");
  s.query = r.Get(i, "query");
  s.state_seconds = r.GetDouble(i, r.Column("state_seconds"));
  s.state_since = r.Get(i, "state_since");
  s.xact_seconds = r.GetDouble(i, r.Column("xact_seconds"));
  s.blocked_by = ParseIntArray(r.Get(i, "blockers"));
  if (!r.IsNull(i, r.Column("locktype"))) {
    LockRequest lock;
    lock.locktype = r.Get(i, "locktype");
    lock.mode = r.Get(i, "mode");
    lock.relation = r.Get(i, r.IsNull(i, r.Column("relation")) ? "row_relation" : "relation");
    lock.target = Target(r, i, lock);
    s.waiting_for = std::move(lock);
    s.wait_seconds = r.GetDouble(i, r.Column("wait_seconds"));
  }
  return s;
}

// pid 0: no backend to signal; the prepared transaction must be committed or rolled back.
void AdvisePrepared(BlockingNode& node, const std::vector<PreparedXact>& prepared) {
  node.prepared = prepared;
  node.session.state = "prepared transaction";
  std::vector<std::string> commits, rollbacks, names;
  for (const PreparedXact& p : prepared) {
    commits.push_back(fmt::format("COMMIT PREPARED {};", pg::QuoteLiteral(p.gid)));
    rollbacks.push_back(fmt::format("ROLLBACK PREPARED {};", pg::QuoteLiteral(p.gid)));
    names.push_back(fmt::format("{} (xid {}, by {} in database {}, prepared since {}, {:.0f} s)",
                                pg::QuoteLiteral(p.gid), p.xid, p.owner, p.database,
                                p.prepared_at, p.prepared_seconds));
  }
  if (prepared.size() == 1) {
    node.session.user = prepared[0].owner;
    node.session.database = prepared[0].database;
    node.session.state_since = prepared[0].prepared_at;
    node.session.state_seconds = prepared[0].prepared_seconds;
  }
  node.cancel_command = fmt::format("{}", fmt::join(commits, " "));
  node.terminate_command = fmt::format("{}", fmt::join(rollbacks, " "));
  node.advice =
      prepared.empty()
          ? "a prepared transaction (two-phase commit) holds the lock, and none was found in "
            "pg_prepared_xacts any more: run `dbmedic locks` again"
          : fmt::format("held by prepared transaction {}: no session to cancel or terminate; its "
                        "transaction manager must COMMIT PREPARED or ROLLBACK PREPARED it (in its "
                        "database); if it is orphaned, ROLLBACK PREPARED discards its changes",
                        fmt::join(names, ", "));
}

void Advise(BlockingNode& node) {
  std::int64_t pid = node.session.pid;
  node.cancel_command = fmt::format("SELECT pg_cancel_backend({});", pid);
  node.terminate_command = fmt::format("SELECT pg_terminate_backend({});", pid);
  const std::string& state = node.session.state;
  if (state.starts_with("idle in transaction")) {
    node.advice = fmt::format(
        "{} since {} ({:.0f} s): no statement to cancel; terminate it (its transaction rolls "
        "back), and fix the client that leaves transactions open "
        "(idle_in_transaction_session_timeout)",
        state, node.session.state_since, node.session.state_seconds);
  } else if (state == "active") {
    node.advice = "running a statement: cancel it first; terminate only if cancel does not help";
  } else {
    node.advice = fmt::format("state '{}': terminate it if it must go", state);
  }
}

json SessionJson(const SessionInfo& s) {
  json j = {{"pid", s.pid},
            {"user", s.user},
            {"database", s.database},
            {"application", s.application},
            {"client", s.client},
            {"state", s.state},
            {"state_seconds", s.state_seconds},
            {"state_since", s.state_since.empty() ? json(nullptr) : json(s.state_since)},
            {"xact_seconds", s.xact_seconds < 0 ? json(nullptr) : json(s.xact_seconds)},
            {"wait_event_type", s.wait_event_type},
            {"wait_event", s.wait_event},
            {"query", s.query},
            {"blocked_by", s.blocked_by}};
  if (s.waiting_for) {
    j["waiting_for"] = {{"locktype", s.waiting_for->locktype}, {"mode", s.waiting_for->mode},
                        {"relation", s.waiting_for->relation}, {"target", s.waiting_for->target},
                        {"seconds", s.wait_seconds}};
  }
  return j;
}

json NodeJson(const BlockingNode& n) {
  json j = SessionJson(n.session);
  j["blocked_total"] = n.blocked_total;
  if (n.session.pid == 0) {
    json prepared = json::array();
    for (const PreparedXact& p : n.prepared) {
      prepared.push_back({{"gid", p.gid}, {"xid", p.xid}, {"owner", p.owner},
                          {"database", p.database}, {"prepared_at", p.prepared_at},
                          {"prepared_seconds", p.prepared_seconds}});
    }
    j["prepared_transactions"] = std::move(prepared);
  }
  if (!n.advice.empty()) {
    j["cancel_command"] = n.cancel_command;
    j["terminate_command"] = n.terminate_command;
    j["advice"] = n.advice;
    j["in_cycle"] = n.in_cycle;
  }
  json waiters = json::array();
  for (const auto& w : n.waiters) waiters.push_back(NodeJson(w));
  j["waiters"] = std::move(waiters);
  return j;
}

void NodeText(const BlockingNode& n, int depth, std::string& out) {
  std::string indent(static_cast<std::size_t>(depth) * 4, ' ');
  const SessionInfo& s = n.session;
  if (depth == 0 && s.pid == 0) {
    out += fmt::format("prepared transaction(s) (pid 0), blocks {} session(s)\n   {}\n"
                       "   commit: {}   rollback: {}\n",
                       n.blocked_total, n.advice, n.cancel_command, n.terminate_command);
    for (const auto& w : n.waiters) NodeText(w, depth + 1, out);
    return;
  }
  if (depth == 0) {
    out += fmt::format("pid {} {}@{} ({}), {} since {} ({:.1f} s){}, blocks {} session(s){}\n",
                       s.pid, s.user, s.database, s.application.empty() ? "-" : s.application,
                       s.state.empty() ? "state unknown" : s.state,
                       s.state_since.empty() ? "-" : s.state_since, s.state_seconds,
                       s.xact_seconds >= 0 ? fmt::format(", transaction open {:.1f} s", s.xact_seconds)
                                           : "",
                       n.blocked_total, n.in_cycle ? " [deadlock cycle]" : "");
  } else {
    out += fmt::format("{}└─ pid {} {}@{} waits {:.1f} s for {} on {}\n", indent, s.pid, s.user,
                       s.database, s.wait_seconds, s.waiting_for ? s.waiting_for->mode : "?",
                       s.waiting_for ? s.waiting_for->target : "?");
  }
  out += fmt::format("{}   query: {}\n", indent, OneLine(s.query).substr(0, 200));
  if (depth == 0) {
    out += fmt::format("   {}\n   cancel: {}   terminate: {}\n", n.advice, n.cancel_command,
                       n.terminate_command);
  }
  for (const auto& w : n.waiters) NodeText(w, depth + 1, out);
}

}  // namespace

std::vector<std::int64_t> ParseIntArray(std::string_view text) {
  std::vector<std::int64_t> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] >= '0' && text[i] <= '9') {
      std::int64_t v = 0;
      auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + text.size(), v);
      out.push_back(v);
      i = static_cast<std::size_t>(ptr - text.data());
    } else {
      ++i;
    }
  }
  return out;
}

BlockingTree BuildBlockingTree(const std::vector<SessionInfo>& sessions,
                               const std::vector<PreparedXact>& prepared) {
  std::map<std::int64_t, const SessionInfo*> by_pid;
  for (const auto& s : sessions) by_pid[s.pid] = &s;
  std::map<std::int64_t, std::vector<std::int64_t>> waiters_of;
  BlockingTree tree;
  for (const auto& s : sessions) {
    if (!s.blocked_by.empty()) ++tree.waiting;
    for (std::int64_t b : s.blocked_by) waiters_of[b].push_back(s.pid);
  }
  // Roots: blockers that wait for nobody; then members of cycles nobody else reaches.
  std::set<std::int64_t> placed;
  std::function<BlockingNode(std::int64_t, std::set<std::int64_t>&)> build =
      [&](std::int64_t pid, std::set<std::int64_t>& path) {
        BlockingNode node;
        auto it = by_pid.find(pid);
        if (it != by_pid.end()) {
          node.session = *it->second;
        } else {
          node.session.pid = pid;  // a blocker not in the result (it ended meanwhile)
        }
        placed.insert(pid);
        path.insert(pid);
        for (std::int64_t w : waiters_of[pid]) {
          if (path.count(w)) continue;  // cycle: already on this branch
          node.waiters.push_back(build(w, path));
        }
        path.erase(pid);
        // A session blocked by several others appears under each: count it once.
        std::set<std::int64_t> below;
        std::function<void(const BlockingNode&)> collect = [&](const BlockingNode& n) {
          for (const auto& w : n.waiters) {
            below.insert(w.session.pid);
            collect(w);
          }
        };
        collect(node);
        node.blocked_total = below.size();
        return node;
      };
  auto add_root = [&](std::int64_t pid, bool cycle) {
    std::set<std::int64_t> path;
    BlockingNode root = build(pid, path);
    root.in_cycle = cycle;
    if (pid == 0) {
      AdvisePrepared(root, prepared);
    } else {
      Advise(root);
    }
    tree.roots.push_back(std::move(root));
  };
  for (const auto& [pid, waiters] : waiters_of) {
    auto it = by_pid.find(pid);
    bool waits = it != by_pid.end() && !it->second->blocked_by.empty();
    if (!waits) add_root(pid, false);
  }
  for (const auto& [pid, waiters] : waiters_of) {
    if (!placed.count(pid)) add_root(pid, true);
  }
  std::stable_sort(tree.roots.begin(), tree.roots.end(),
                   [](const auto& a, const auto& b) { return a.blocked_total > b.blocked_total; });
  return tree;
}

BlockingTree ReadBlockingTree(pg::Connection& conn) {
  pg::Result r = conn.Exec(kSessionsSql);
  std::vector<SessionInfo> sessions;
  bool prepared_blocks = false;
  for (int i = 0; i < r.rows(); ++i) {
    sessions.push_back(SessionFromRow(r, i));
    const auto& by = sessions.back().blocked_by;
    prepared_blocks |= std::find(by.begin(), by.end(), 0) != by.end();
  }
  std::vector<PreparedXact> prepared;
  if (prepared_blocks) {
    pg::Result p = conn.Exec(kPreparedSql);
    for (int i = 0; i < p.rows(); ++i) {
      prepared.push_back(PreparedXact{p.GetString(i, 0), p.GetString(i, 1), p.GetString(i, 2),
                                      p.GetString(i, 3), p.GetString(i, 4), p.GetDouble(i, 5)});
    }
  }
  return BuildBlockingTree(sessions, prepared);
}

json BlockingTreeToJson(const BlockingTree& tree) {
  json roots = json::array();
  for (const auto& r : tree.roots) roots.push_back(NodeJson(r));
  return {{"waiting_sessions", tree.waiting}, {"root_blockers", roots}};
}

std::string BlockingTreeToText(const BlockingTree& tree) {
  if (tree.roots.empty()) return "No session is waiting for a lock held by another session.\n";
  std::string out = fmt::format("{} session(s) waiting; {} root blocker(s)\n\n", tree.waiting,
                                tree.roots.size());
  for (const auto& r : tree.roots) {
    NodeText(r, 0, out);
    out += "\n";
  }
  return out;
}

}  // namespace dbmedic::diagnose
