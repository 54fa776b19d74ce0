// A WAL filter for a throwaway cluster that reads only some relations (undo's side cluster):
// the relations whose changes it may skip, kept in a small JSON file that `wal get` and its
// prefetcher apply to every segment they hand to PostgreSQL (pg/wal_neutralize.hpp says how a
// record is skipped, and why replay stays correct for everything else).
//
// A block is skipped when it belongs to another database than `database` (none of their files
// were restored), or to one of `skipped_relfilenodes` of `database` (restored as sparse zeros).
// Shared catalogs (database 0) and every relation file not listed are always replayed, so a
// relation created after the backup, or a catalog rewritten under a new file, is replayed.
//
// File format (version 1): {"version": 1, "database": 16384, "skipped_relfilenodes": [16390, ...]}
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "pg/wal_neutralize.hpp"
#include "pg/wal_record.hpp"
#include "wal/archive.hpp"

namespace dbmedic::wal {

struct WalFilter {
  pg::Oid database = 0;
  std::vector<pg::Oid> skipped_relfilenodes;  // sorted

  // Throws Error(kConfig) naming the file when it cannot be read or is not a filter.
  static WalFilter Load(const std::filesystem::path& file);
  std::string ToJson() const;

  bool Skips(const pg::WalBlockRef& block) const;
  // Neutralizes, in `content` (the whole segment `name`), every record all of whose blocks are
  // skipped; `neighbors` give the original segments around it (records crossing a boundary).
  // Not a segment name (.history, .partial...): nothing is done.
  pg::NeutralizeResult Apply(std::string_view name, std::string& content,
                             const pg::WalNeighbors& neighbors = {}) const;
};

// A filter applied to the segments one process fetches from the archive (`wal get`, the
// prefetcher), with the original content of the neighbouring segments, which a record crossing a
// boundary needs, read from the archive on demand and kept for the last few segments (the
// prefetcher fetches in order, so most neighbours are at hand). Thread-safe.
class ArchiveWalFilter {
 public:
  ArchiveWalFilter(const WalArchive& archive, WalFilter filter);
  // WalArchive::Get's rewrite: `content` is the original segment `name`.
  pg::NeutralizeResult Apply(std::string_view name, std::string& content);

 private:
  std::shared_ptr<const std::string> Original(const std::string& name);
  void Remember(const std::string& name, std::shared_ptr<const std::string> content);

  const WalArchive& archive_;
  WalFilter filter_;
  std::mutex mu_;
  std::deque<std::pair<std::string, std::shared_ptr<const std::string>>> recent_;  // guarded
};

}  // namespace dbmedic::wal
