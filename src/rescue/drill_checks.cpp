#include "rescue/drill_checks.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "pg/connection.hpp"

namespace dbmedic::rescue {
namespace {

std::string KindName(std::string_view relkind) {
  if (relkind == "r") return "table";
  if (relkind == "m") return "materialized view";
  if (relkind == "t") return "TOAST";
  return std::string(relkind);
}

// Every relation with heap storage. TOAST tables are read through their owners' whole rows, so
// only those without an owner we scan would be missed: none.
constexpr std::string_view kRelationsSql =
    "SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relkind "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't' "
    "AND (c.relkind <> 'm' OR c.relispopulated) ORDER BY 2";

constexpr std::string_view kBtreeSql =
    "SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
    "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam "
    "WHERE a.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't' "
    "ORDER BY 2";

void ScanRelations(pg::Connection& conn, const std::string& db, CheckSummary& out) {
  // Force sequential scans: count(*) may otherwise read only an index.
  conn.Exec("SET enable_indexscan = off; SET enable_indexonlyscan = off; "
            "SET enable_bitmapscan = off");
  pg::Result rels = conn.Exec(kRelationsSql);
  for (int i = 0; i < rels.rows(); ++i) {
    RelationCheck check{db, rels.GetString(i, 1), KindName(rels.Get(i, 2)), -1, {}};
    try {
      // A whole-row reference flattens the tuple: every TOASTed value is read and decompressed.
      pg::Result r = conn.Exec(fmt::format(
          "SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM ONLY {} t", check.name));
      check.rows = r.GetInt(0, 0);
      out.rows += check.rows;
    } catch (const Error& e) {
      check.error = e.what();
      ++out.failures;
    }
    ++out.relations;
    out.checks.push_back(std::move(check));
  }
}

bool EnableAmcheck(pg::Connection& conn) {
  if (conn.Scalar("SELECT count(*) FROM pg_available_extensions WHERE name = 'amcheck'") == "0") {
    return false;
  }
  conn.Exec("CREATE EXTENSION IF NOT EXISTS amcheck");
  return true;
}

void CheckIndexes(pg::Connection& conn, const std::string& db, CheckSummary& out) {
  const std::string schema = conn.Scalar(
      "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n "
      "ON n.oid = e.extnamespace WHERE e.extname = 'amcheck'");
  pg::Result idx = conn.Exec(kBtreeSql);
  for (int i = 0; i < idx.rows(); ++i) {
    RelationCheck check{db, idx.GetString(i, 1), "index", -1, {}};
    try {
      conn.Exec(fmt::format("SELECT {}.bt_index_check({}::regclass)", schema, idx.Get(i, 0)));
    } catch (const Error& e) {
      check.error = e.what();
      ++out.failures;
      out.checks.push_back(std::move(check));
    }
    ++out.indexes;
  }
}

void CheckDatabase(const std::string& conninfo, const std::string& db, CheckSummary& out) {
  pg::Connection conn = pg::Connection::Open(conninfo);
  ScanRelations(conn, db, out);
  if (!EnableAmcheck(conn)) return;
  out.amcheck = true;
  CheckIndexes(conn, db, out);
}

}  // namespace

CheckSummary CheckRestoredCluster(
    const std::function<std::string(const std::string&)>& conninfo_for) {
  CheckSummary out;
  std::vector<std::string> databases;
  {
    pg::Connection conn = pg::Connection::Open(conninfo_for("postgres"));
    pg::Result r = conn.Exec("SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1");
    for (int i = 0; i < r.rows(); ++i) databases.push_back(r.GetString(i, 0));
  }
  for (const std::string& db : databases) {
    try {
      CheckDatabase(conninfo_for(db), db, out);
    } catch (const Error& e) {
      out.checks.push_back({db, db, "database", -1, e.what()});
      ++out.failures;
    }
    spdlog::info("drill: database {} checked ({} relations so far)", db, out.relations);
  }
  return out;
}

}  // namespace dbmedic::rescue
