#include "rescue/side_files.hpp"

#include <algorithm>
#include <charconv>

namespace dbmedic::rescue {
namespace {

constexpr pg::Oid kFirstNormalObjectId = 16384;  // below: created by initdb (catalogs...)

std::string Unquoted(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c != '"') out += c;
  }
  return out;
}

bool Matches(const pg::CatalogRelation& r, const std::string& table) {
  const std::string wanted = Unquoted(table);
  return wanted.find('.') == std::string::npos ? r.name == wanted
                                               : r.QualifiedName() == wanted;
}

std::optional<pg::Oid> DatabaseOid(const pg::RelationCatalog& catalog, const std::string& name) {
  for (const pg::CatalogSnapshot& s : catalog.snapshots()) {
    for (const pg::CatalogDatabase& d : s.databases) {
      if (d.name == name) return d.oid;
    }
  }
  return std::nullopt;
}

// The tables' oids in `db`, then everything hanging off them (indexes, TOAST, TOAST indexes).
std::set<pg::Oid> RelationsRead(const pg::RelationCatalog& catalog, pg::Oid db,
                                const std::vector<std::string>& tables, bool& all_found) {
  std::set<pg::Oid> oids;
  all_found = true;
  for (const std::string& t : tables) {
    bool found = false;
    for (const pg::CatalogSnapshot& s : catalog.snapshots()) {
      for (const pg::CatalogRelation& r : s.relations) {
        if (r.db == db && r.kind != 'i' && Matches(r, t)) {
          oids.insert(r.oid);
          found = true;
        }
      }
    }
    all_found = all_found && found;
  }
  for (std::size_t before = 0; before != oids.size();) {  // until no more children
    before = oids.size();
    for (const pg::CatalogSnapshot& s : catalog.snapshots()) {
      for (const pg::CatalogRelation& r : s.relations) {
        if (r.db == db && r.parent != 0 && oids.contains(r.parent)) oids.insert(r.oid);
      }
    }
  }
  return oids;
}

// "base/DB/NAME" or "pg_tblspc/TS/PG_15_.../DB/NAME" -> {DB, relfilenode}; nullopt otherwise.
std::optional<std::pair<pg::Oid, pg::Oid>> RelationFile(std::string_view path) {
  std::vector<std::string_view> parts;
  for (std::size_t at = 0; at <= path.size();) {
    const std::size_t slash = std::min(path.find('/', at), path.size());
    parts.push_back(path.substr(at, slash - at));
    at = slash + 1;
  }
  const bool base = parts.size() == 3 && parts[0] == "base";
  const bool tablespace = parts.size() == 5 && parts[0] == "pg_tblspc";
  if (!base && !tablespace) return std::nullopt;
  auto number = [](std::string_view text) -> std::optional<pg::Oid> {
    pg::Oid value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end == text.data()) return std::nullopt;
    const std::string_view rest(end, static_cast<std::size_t>(text.data() + text.size() - end));
    if (!rest.empty() && rest[0] != '_' && rest[0] != '.') return std::nullopt;  // fork/segment
    return value;
  };
  const auto db = number(parts[parts.size() - 2]);
  const auto relfilenode = number(parts.back());
  if (!db || !relfilenode) return std::nullopt;  // PG_VERSION, pg_filenode.map, temp files...
  return std::make_pair(*db, *relfilenode);
}

}  // namespace

std::optional<SideFiles> SideFilesFor(const pg::RelationCatalog& catalog,
                                      const std::string& database,
                                      const std::vector<std::string>& tables) {
  const std::optional<pg::Oid> db = DatabaseOid(catalog, database);
  if (!db) return std::nullopt;
  bool all_found = false;
  const std::set<pg::Oid> read = RelationsRead(catalog, *db, tables, all_found);
  if (!all_found) return std::nullopt;
  SideFiles files;
  files.database = *db;
  for (const pg::CatalogSnapshot& s : catalog.snapshots()) {
    for (const pg::CatalogRelation& r : s.relations) {
      if (r.db != *db) continue;
      files.known.insert(r.relfilenode);
      if (r.oid < kFirstNormalObjectId || r.kind == 'S' || read.contains(r.oid)) {
        files.needed.insert(r.relfilenode);
      }
    }
  }
  return files;
}

bool ContentNeeded(const SideFiles& files, std::string_view path) {
  const auto rel = RelationFile(path);
  if (!rel) return true;
  const auto [db, relfilenode] = *rel;
  if (db != files.database) return false;
  if (relfilenode < kFirstNormalObjectId) return true;
  return !files.known.contains(relfilenode) || files.needed.contains(relfilenode);
}

std::vector<pg::Oid> SparseRelfilenodes(const SideFiles& files) {
  std::vector<pg::Oid> out;
  for (const pg::Oid relfilenode : files.known) {  // a std::set: sorted
    if (relfilenode >= kFirstNormalObjectId && !files.needed.contains(relfilenode)) {
      out.push_back(relfilenode);
    }
  }
  return out;
}

}  // namespace dbmedic::rescue
