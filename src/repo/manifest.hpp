// The manifest of one backup: what was copied, how it is stored, and what PostgreSQL said about
// the backup. Written last and atomically; a backup without a manifest does not exist for the
// catalog. See docs/formats/repository.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "repo/codec.hpp"

namespace dbmedic::repo {

// One independently compressed piece of a file: bytes [offset, offset + size).
struct ChunkEntry {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;         // raw bytes
  std::uint64_t stored_size = 0;  // bytes of the repository object
  std::string sha256;             // of the raw bytes
  // Differential / incremental backups store an unchanged chunk as a reference to the object
  // of an earlier backup instead of a copy. All three are empty / unset for an object of this
  // backup stored at its usual place (ChunkObjectPath).
  std::string backup = {};                 // label of the backup holding the object
  std::string object = {};                 // its repository path
  std::optional<Compression> compression = {};  // that backup's compression
};

// Changed pages of a relation file (incremental by page LSN): `chunk` holds the pages named by
// `runs` ([first block, block count] pairs, ascending, blocks relative to the file), one after
// the other; the last one may be short (the file ends inside it). Written over the file's
// `chunks`, in order.
struct PageOverlay {
  ChunkEntry chunk;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> runs;
};

// A regular file of the data directory (also the carried WAL "pg_wal/SEG", "backup_label" and
// "tablespace_map"). `path` is relative to the data directory, '/'-separated.
struct FileEntry {
  std::string path;
  std::uint64_t size = 0;
  // SHA-256 of the content for a one-chunk file; for several chunks, SHA-256 of the
  // concatenated chunk checksums (hex), so chunks can be hashed in parallel.
  std::string sha256;
  std::uint32_t mode = 0600;
  std::int64_t mtime = 0;
  // The file's content: each chunk at its offset, cut at `size` (a chunk inherited from an
  // earlier backup may reach past the end of a file that shrank since), then `pages` over it.
  std::vector<ChunkEntry> chunks;
  std::vector<PageOverlay> pages;  // only in differential / incremental backups
};

struct DirectoryEntry {
  std::string path;  // relative to the data directory
  std::uint32_t mode = 0700;
};

struct TablespaceEntry {
  std::string oid;       // name of the symlink in pg_tblspc
  std::string location;  // where it pointed at backup time
};

struct Manifest {
  std::string label;
  std::string type = "full";  // full | diff | incr: what was taken
  // What was asked for: "diff" or "incr" becomes a full backup when there is no backup to
  // base it on.
  std::string requested_type = "full";
  std::string reference;           // label of the backup this one is based on (diff / incr)
  std::vector<std::string> chain;  // every backup it needs, oldest (the full) first
  std::string start_lsn;
  std::string stop_lsn;
  std::int64_t start_time = 0;  // seconds since the epoch, UTC
  std::int64_t stop_time = 0;
  // The server's clock right after pg_backup_stop returned, in microseconds: every commit
  // stamped later is after the backup's end. 0 in manifests written before it was recorded.
  std::int64_t stop_time_micros = 0;
  std::uint32_t timeline = 0;
  std::string system_identifier;
  int pg_version_num = 0;
  std::string tool_version;
  bool data_checksums = false;
  Compression compression = Compression::kZstd;
  int compression_level = 3;
  std::uint64_t chunk_size = 0;
  std::uint64_t database_size = 0;    // raw bytes of the files in the backup
  std::uint64_t repository_size = 0;  // stored bytes of the backup's objects
  double duration_seconds = 0;
  std::vector<DirectoryEntry> directories;
  std::vector<TablespaceEntry> tablespaces;
  std::vector<FileEntry> files;
};

nlohmann::json ManifestToJson(const Manifest& manifest);
// Throws Error(kCorrupt) naming `what` when a field is missing or of the wrong type.
Manifest ManifestFromJson(const nlohmann::json& json, std::string_view what);

// Checksum of a file from its chunks' checksums (see FileEntry::sha256).
std::string CombineChunkChecksums(const std::vector<ChunkEntry>& chunks);

// Repository object holding chunk `index` of `file` in backup `label`.
std::string ChunkObjectPath(const std::string& label, const FileEntry& file, std::size_t index,
                            Compression compression);
// Object holding overlay `index` written by backup `label` for `file`.
std::string OverlayObjectPath(const std::string& label, const FileEntry& file, std::size_t index,
                              Compression compression);

// Where a chunk of `manifest` is stored: its own object or an earlier backup's.
struct ChunkLocation {
  std::string backup;  // label of the backup holding it
  std::string object;  // repository path
  Compression compression = Compression::kZstd;
};
ChunkLocation LocateChunk(const Manifest& manifest, const FileEntry& file, std::size_t index);
ChunkLocation LocateOverlay(const Manifest& manifest, const PageOverlay& overlay);
// The same chunk as a reference that another (later) manifest can hold.
ChunkEntry AsReference(const ChunkEntry& chunk, const ChunkLocation& location);

// Labels of the other backups whose objects `manifest` uses, sorted.
std::vector<std::string> ReferencedBackups(const Manifest& manifest);

}  // namespace dbmedic::repo
