#include "pg/relation_catalog.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <memory>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/fs.hpp"

namespace dbmedic::pg {

namespace {

constexpr std::string_view kFormat = "dbmedic-relation-catalog";
constexpr int kFormatVersion = 1;

// Effective tablespace and database of each relation: reltablespace 0 means the database's
// default, shared catalogs live in pg_global (1664) with database 0, as in a RelFileNode.
constexpr std::string_view kRelationsQuery = R"SQL(
SELECT c.oid, pg_relation_filenode(c.oid) AS filenode,
       CASE WHEN c.relisshared THEN 1664 WHEN c.reltablespace = 0 THEN d.dattablespace
            ELSE c.reltablespace END AS spc,
       CASE WHEN c.relisshared THEN 0 ELSE d.oid END AS db,
       n.nspname, c.relname, c.relkind, c.reltuples,
       COALESCE(i.indrelid, t.oid, 0) AS parent
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_database d ON d.datname = current_database()
LEFT JOIN pg_index i ON i.indexrelid = c.oid
LEFT JOIN pg_class t ON t.reltoastrelid = c.oid
WHERE pg_relation_filenode(c.oid) IS NOT NULL
ORDER BY 4, 2)SQL";

constexpr std::string_view kHeaderQuery = R"SQL(
SELECT (SELECT system_identifier FROM pg_control_system()) AS sysid,
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END
         AS lsn,
       to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS captured_at)SQL";

void CaptureHeader(Connection& conn, CatalogSnapshot& snap) {
  Result header = conn.Exec(kHeaderQuery);
  snap.system_identifier = std::stoull(header.GetString(0, 0));
  snap.lsn = Lsn::Parse(header.Get(0, 1));
  snap.captured_at = header.GetString(0, 2);
  Result dbs = conn.Exec("SELECT oid, datname, dattablespace, datallowconn FROM pg_database "
                         "ORDER BY oid");
  for (int r = 0; r < dbs.rows(); ++r) {
    snap.databases.push_back({static_cast<Oid>(dbs.GetInt(r, 0)), dbs.GetString(r, 1),
                              static_cast<Oid>(dbs.GetInt(r, 2))});
  }
}

void CaptureRelations(Connection& conn, CatalogSnapshot& snap, std::set<std::pair<Oid, Oid>>& seen) {
  Result rels = conn.Exec(kRelationsQuery);
  for (int r = 0; r < rels.rows(); ++r) {
    CatalogRelation rel;
    rel.oid = static_cast<Oid>(rels.GetInt(r, 0));
    rel.relfilenode = static_cast<Oid>(rels.GetInt(r, 1));
    rel.tablespace = static_cast<Oid>(rels.GetInt(r, 2));
    rel.db = static_cast<Oid>(rels.GetInt(r, 3));
    rel.schema = rels.GetString(r, 4);
    rel.name = rels.GetString(r, 5);
    rel.kind = rels.Get(r, 6).empty() ? '?' : rels.Get(r, 6)[0];
    rel.reltuples = rels.GetDouble(r, 7);
    rel.parent = static_cast<Oid>(rels.GetInt(r, 8));
    if (seen.insert({rel.db, rel.relfilenode}).second) snap.relations.push_back(std::move(rel));
  }
}

// conninfo with dbname replaced, whatever form (key=value or URI) the original had.
std::string WithDbname(const std::string& conninfo, const std::string& dbname) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(conninfo.c_str(), &err), &PQconninfoFree);
  if (!options) {
    std::string why = err ? err : "unknown error";
    PQfreemem(err);
    throw Error(ErrorCode::kUsage, fmt::format("invalid connection string: {}", why));
  }
  std::string out;
  auto quote = [](std::string_view v) {
    std::string q = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') q += '\\';
      q += c;
    }
    return q + "'";
  };
  for (PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::string_view(o->keyword) == "dbname") continue;
    out += fmt::format("{}={} ", o->keyword, quote(o->val));
  }
  return out + "dbname=" + quote(dbname);
}

nlohmann::json SnapshotToJson(const CatalogSnapshot& s) {
  nlohmann::json dbs = nlohmann::json::array();
  for (const auto& d : s.databases) dbs.push_back({d.oid, d.name, d.tablespace});
  nlohmann::json rels = nlohmann::json::array();
  for (const auto& r : s.relations) {
    rels.push_back({r.db, r.tablespace, r.relfilenode, r.oid, r.schema, r.name,
                    std::string(1, r.kind), r.reltuples, r.parent});
  }
  return {{"captured_at", s.captured_at}, {"lsn", s.lsn.ToString()},
          {"system_identifier", std::to_string(s.system_identifier)},
          {"databases", dbs}, {"relations", rels}};
}

CatalogSnapshot SnapshotFromJson(const nlohmann::json& j) {
  CatalogSnapshot s;
  s.captured_at = j.at("captured_at").get<std::string>();
  s.lsn = Lsn::Parse(j.at("lsn").get<std::string>());
  s.system_identifier = std::stoull(j.at("system_identifier").get<std::string>());
  for (const auto& d : j.at("databases")) {
    s.databases.push_back({d.at(0).get<Oid>(), d.at(1).get<std::string>(), d.at(2).get<Oid>()});
  }
  for (const auto& r : j.at("relations")) {
    CatalogRelation rel;
    rel.db = r.at(0).get<Oid>();
    rel.tablespace = r.at(1).get<Oid>();
    rel.relfilenode = r.at(2).get<Oid>();
    rel.oid = r.at(3).get<Oid>();
    rel.schema = r.at(4).get<std::string>();
    rel.name = r.at(5).get<std::string>();
    auto kind = r.at(6).get<std::string>();
    rel.kind = kind.empty() ? '?' : kind[0];
    rel.reltuples = r.at(7).get<double>();
    rel.parent = r.at(8).get<Oid>();
    s.relations.push_back(std::move(rel));
  }
  s.BuildIndex();
  return s;
}

}  // namespace

void CatalogSnapshot::BuildIndex() {
  by_filenode_.clear();
  by_oid_.clear();
  for (std::size_t i = 0; i < relations.size(); ++i) {
    by_filenode_[{relations[i].db, relations[i].relfilenode}] = i;
    by_oid_[{relations[i].db, relations[i].oid}] = i;
  }
}

const CatalogRelation* CatalogSnapshot::FindByFilenode(Oid db, Oid relfilenode) const {
  auto it = by_filenode_.find({db, relfilenode});
  return it == by_filenode_.end() ? nullptr : &relations[it->second];
}

const CatalogRelation* CatalogSnapshot::FindByOid(Oid db, Oid oid) const {
  auto it = by_oid_.find({db, oid});
  return it == by_oid_.end() ? nullptr : &relations[it->second];
}

RelationCatalog RelationCatalog::Load(const std::filesystem::path& file) {
  return Parse(core::ReadFile(file), fmt::format("'{}'", file.string()));
}

RelationCatalog RelationCatalog::Parse(const std::string& text, const std::string& where) {
  RelationCatalog catalog;
  try {
    auto j = nlohmann::json::parse(text);
    if (j.at("format").get<std::string>() != kFormat) {
      throw Error(ErrorCode::kCorrupt,
                  fmt::format("{} is not a dbmedic relation catalog", where));
    }
    int version = j.at("version").get<int>();
    if (version > kFormatVersion) {
      throw Error(ErrorCode::kUnsupported,
                  fmt::format("relation catalog {} has format version {}; this dbmedic reads "
                              "version {}",
                              where, version, kFormatVersion),
                  "upgrade dbmedic");
    }
    for (const auto& s : j.at("snapshots")) catalog.Add(SnapshotFromJson(s));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("relation catalog {} is not valid: {}", where, e.what()),
                "capture a new one with 'dbmedic catalog capture'");
  }
  return catalog;
}

std::string RelationCatalog::Serialize() const {
  nlohmann::json snaps = nlohmann::json::array();
  for (const auto& s : snapshots_) snaps.push_back(SnapshotToJson(s));
  nlohmann::json j = {{"format", kFormat}, {"version", kFormatVersion}, {"snapshots", snaps}};
  return j.dump() + "\n";
}

void RelationCatalog::Save(const std::filesystem::path& file) const {
  core::AtomicWriteFile(file, Serialize());
}

void RelationCatalog::Add(CatalogSnapshot snapshot) {
  if (!snapshots_.empty() &&
      snapshots_.front().system_identifier != snapshot.system_identifier) {
    throw Error(ErrorCode::kConflict,
                fmt::format("catalog snapshot of cluster {} cannot join snapshots of cluster {}",
                            snapshot.system_identifier, snapshots_.front().system_identifier),
                "use one catalog file per cluster");
  }
  snapshot.BuildIndex();
  auto pos = std::upper_bound(snapshots_.begin(), snapshots_.end(), snapshot.lsn,
                              [](Lsn lsn, const CatalogSnapshot& s) { return lsn < s.lsn; });
  snapshots_.insert(pos, std::move(snapshot));
}

namespace {

// What names a relation file: everything but the planner's row estimate.
std::vector<std::tuple<Oid, Oid, Oid, Oid, std::string, std::string, char, Oid>> Layout(
    const CatalogSnapshot& s) {
  std::vector<std::tuple<Oid, Oid, Oid, Oid, std::string, std::string, char, Oid>> out;
  out.reserve(s.relations.size());
  for (const auto& r : s.relations) {
    out.emplace_back(r.db, r.tablespace, r.relfilenode, r.oid, r.schema, r.name, r.kind, r.parent);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

bool RelationCatalog::AddCompacting(CatalogSnapshot snapshot) {
  const std::size_t n = snapshots_.size();
  if (n >= 2 && snapshot.lsn >= snapshots_.back().lsn) {
    auto layout = Layout(snapshot);
    if (layout == Layout(snapshots_[n - 1]) && layout == Layout(snapshots_[n - 2])) {
      snapshots_.pop_back();
      Add(std::move(snapshot));
      return false;
    }
  }
  Add(std::move(snapshot));
  return true;
}

const CatalogRelation* RelationCatalog::Find(const RelFileNode& rel, Lsn at) const {
  const CatalogRelation* later = nullptr;
  for (auto it = snapshots_.rbegin(); it != snapshots_.rend(); ++it) {
    const CatalogRelation* hit = it->FindByFilenode(rel.db, rel.rel);
    if (hit == nullptr) continue;
    if (it->lsn <= at) return hit;
    later = hit;  // keeps the oldest snapshot after `at`
  }
  return later;
}

const CatalogRelation* RelationCatalog::FindByOid(Oid db, Oid oid) const {
  for (auto it = snapshots_.rbegin(); it != snapshots_.rend(); ++it) {
    if (const CatalogRelation* hit = it->FindByOid(db, oid)) return hit;
  }
  return nullptr;
}

RelationFate RelationCatalog::FateAfter(Oid db, Oid oid, Lsn at,
                                        const CatalogRelation** now) const {
  for (const auto& snap : snapshots_) {
    if (snap.lsn <= at) continue;
    const CatalogRelation* hit = snap.FindByOid(db, oid);
    if (hit == nullptr) return RelationFate::kDropped;
    if (now) *now = hit;
    return RelationFate::kRewritten;
  }
  return RelationFate::kUnknown;
}

std::optional<std::string> RelationCatalog::DatabaseName(Oid db) const {
  for (auto it = snapshots_.rbegin(); it != snapshots_.rend(); ++it) {
    for (const auto& d : it->databases) {
      if (d.oid == db) return d.name;
    }
  }
  return std::nullopt;
}

CatalogSnapshot CaptureRelationCatalog(Connection& conn) {
  CatalogSnapshot snap;
  CaptureHeader(conn, snap);
  std::set<std::pair<Oid, Oid>> seen;
  CaptureRelations(conn, snap, seen);
  snap.BuildIndex();
  return snap;
}

CatalogSnapshot CaptureClusterCatalog(const std::string& conninfo) {
  Connection first = Connection::Open(conninfo);
  CatalogSnapshot snap;
  CaptureHeader(first, snap);
  Result dbs = first.Exec("SELECT datname FROM pg_database WHERE datallowconn ORDER BY oid");
  std::set<std::pair<Oid, Oid>> seen;
  for (int r = 0; r < dbs.rows(); ++r) {
    std::string name = dbs.GetString(r, 0);
    try {
      Connection conn = Connection::Open(WithDbname(conninfo, name));
      CaptureRelations(conn, snap, seen);
    } catch (const Error& e) {
      throw e.WithContext(fmt::format("capturing the relation catalog of database '{}'", name));
    }
  }
  snap.BuildIndex();
  return snap;
}

}  // namespace dbmedic::pg
