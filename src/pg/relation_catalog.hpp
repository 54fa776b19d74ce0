// The relfilenode -> database / schema.table map that names what the WAL shows (table names are
// not in the WAL). Captured from a live cluster as time-stamped snapshots (pg_class with
// pg_relation_filenode, so mapped catalogs and relations rewritten by TRUNCATE, VACUUM FULL or
// CLUSTER resolve too) and kept as a list in one JSON file, so a relfilenode that has since
// changed still resolves to its table in older WAL. Format: docs/forensics.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"
#include "pg/lsn.hpp"
#include "pg/wal_record.hpp"

namespace dbmedic::pg {

struct CatalogRelation {
  Oid db = 0;           // 0 for shared catalogs
  Oid tablespace = 0;   // effective tablespace (database default resolved, 1664 for shared)
  Oid relfilenode = 0;  // pg_relation_filenode(oid)
  Oid oid = 0;
  std::string schema;
  std::string name;
  char kind = 'r';        // pg_class.relkind
  double reltuples = -1;  // planner estimate; -1: never analyzed
  Oid parent = 0;         // index -> its table, TOAST table -> its owner; else 0

  std::string QualifiedName() const { return schema + "." + name; }
};

struct CatalogDatabase {
  Oid oid = 0;
  std::string name;
  Oid tablespace = 0;
};

struct CatalogSnapshot {
  std::string captured_at;  // "2026-11-29T12:34:56.123456Z"
  Lsn lsn;                  // WAL position when the capture began
  std::uint64_t system_identifier = 0;
  std::vector<CatalogDatabase> databases;
  std::vector<CatalogRelation> relations;

  const CatalogRelation* FindByFilenode(Oid db, Oid relfilenode) const;
  const CatalogRelation* FindByOid(Oid db, Oid oid) const;
  void BuildIndex();

 private:
  std::map<std::pair<Oid, Oid>, std::size_t> by_filenode_;
  std::map<std::pair<Oid, Oid>, std::size_t> by_oid_;
};

// What a later snapshot says about a relation that lost its file at some LSN.
enum class RelationFate {
  kUnknown,    // no snapshot taken after that LSN
  kDropped,    // a later snapshot no longer has the relation
  kRewritten,  // a later snapshot has it with another relfilenode (TRUNCATE, VACUUM FULL...)
};

class RelationCatalog {
 public:
  RelationCatalog() = default;
  // Throws Error(kNotFound) for a missing file, Error(kCorrupt) naming the file for bad JSON
  // or an unknown format, Error(kUnsupported) for a newer format version.
  static RelationCatalog Load(const std::filesystem::path& file);
  // The same from text already read (e.g. an object in a repository); `where` names it in
  // messages ("'/path/catalog.json'", "repository object forensics/catalog.json").
  static RelationCatalog Parse(const std::string& text, const std::string& where);
  // Atomic write (temp, fsync, rename).
  void Save(const std::filesystem::path& file) const;
  std::string Serialize() const;

  // Adds a snapshot (kept in LSN order). Throws Error(kConflict) if it comes from another cluster
  // than the snapshots already there.
  void Add(CatalogSnapshot snapshot);
  // Add() for periodic captures: when the newest two snapshots name every file exactly as the
  // new one does, the newest is replaced instead of growing the list (the older one still
  // answers "at or before", the new one "after"). Returns false when it replaced one.
  bool AddCompacting(CatalogSnapshot snapshot);
  const std::vector<CatalogSnapshot>& snapshots() const { return snapshots_; }
  bool empty() const { return snapshots_.empty(); }

  // The relation whose file was `rel` around `at`: from the newest snapshot taken at or before
  // `at` that knows the file, else the oldest later one. nullptr if no snapshot knows it.
  const CatalogRelation* Find(const RelFileNode& rel, Lsn at) const;
  // The relation with `oid` in `db` as of the newest snapshot that has it.
  const CatalogRelation* FindByOid(Oid db, Oid oid) const;
  // What became of relation `oid` after `at`; `now` receives its later entry when rewritten.
  RelationFate FateAfter(Oid db, Oid oid, Lsn at, const CatalogRelation** now = nullptr) const;
  std::optional<std::string> DatabaseName(Oid db) const;

 private:
  std::vector<CatalogSnapshot> snapshots_;
};

// Captures the relations of the database `conn` is connected to, plus shared catalogs and the
// list of databases. Throws Error(kPostgres).
CatalogSnapshot CaptureRelationCatalog(Connection& conn);
// Captures every database that accepts connections, connecting to each with `conninfo`'s
// settings and another dbname. Throws Error(kPostgres) naming the database that failed.
CatalogSnapshot CaptureClusterCatalog(const std::string& conninfo);

}  // namespace dbmedic::pg
