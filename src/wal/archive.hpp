// The WAL archive inside a repository: what `wal push` (archive_command) stores and `wal get`
// (restore_command) fetches. Layout (docs/formats/wal-archive.md):
//   archive/<TLI>/<TLI><LOG>/<segment>-<sha256>-<raw size>[.zst|.lz4]   WAL segments
//   archive/<TLI>/<name>-<sha256>-<raw size>[.zst|.lz4]                 .history, .backup files
// <TLI> is the 8-hex-digit timeline of the file's name; the checksum and size of the raw content
// are part of the object name, so a listing alone tells whether a push is a duplicate or a
// conflict, and a get can verify what it decompressed without opening anything else.
//
// Thread safety: one WalArchive per thread (it holds the repository by reference).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg/lsn.hpp"
#include "repo/repository.hpp"

namespace dbmedic::wal {

// One archived file as the listing shows it.
struct ArchivedFile {
  std::string name;        // PostgreSQL's file name: "000000010000000000000003", "00000002.history"
  std::string object;      // repository object path
  std::string sha256;      // of the raw content
  std::uint64_t raw_size = 0;
  std::uint64_t stored_size = 0;
  repo::Compression compression = repo::Compression::kNone;
};

enum class PushOutcome { kStored, kDuplicate };

struct PushResult {
  std::string name;
  PushOutcome outcome = PushOutcome::kStored;
  std::uint64_t raw_size = 0;
  std::uint64_t stored_size = 0;
};

// Parses an archive object path ("archive/00000001/0000000100000000/...-sha-size.zst");
// nullopt for anything that is not an archived file (temporary objects, foreign files).
std::optional<ArchivedFile> ParseArchiveObject(std::string_view object_path, std::uint64_t size);

// Whether `name` is a file PostgreSQL hands to archive_command / asks restore_command for:
// a segment, a .history file, a .backup file or a .partial segment.
bool IsArchivableName(std::string_view name);

// Writes `data` to `dest` through a temporary file in the same directory and a rename, so
// PostgreSQL never sees half a file. No fsync: PostgreSQL reads it right after restore_command
// returns, from the page cache, and a crash restarts the recovery anyway.
void WriteThroughRename(const std::filesystem::path& dest, std::string_view data);

class WalArchive {
 public:
  // `codec` is used for new pushes; reads follow each object's own extension.
  WalArchive(const repo::Repository& repository, repo::CodecSettings codec);

  // Stores `file` under its file name. Durable (fsynced) before returning. Identical content
  // already archived: kDuplicate. Throws Error(kConflict) naming both checksums when a different
  // file is already archived under that name; Error(kRepository) when a segment's page header
  // names another cluster than the repository's; Error(kUsage) for a name PostgreSQL never
  // archives; kIo / kDiskFull / kNotFound for the file or the repository.
  PushResult Push(const std::filesystem::path& file);
  // Same with content already in memory (the async spool and the streamer use it).
  PushResult PushContent(std::string_view name, std::string_view content);

  // The archived file called `name`, or nullopt if there is none.
  std::optional<ArchivedFile> Find(std::string_view name) const;
  // Reads, decompresses and verifies (size + SHA-256) `file`. Throws Error(kCorrupt) naming the
  // object when the content does not match its name.
  std::string Read(const ArchivedFile& file) const;
  // Read() into buffers the caller reuses from one segment to the next: `stored` is scratch for
  // the object as stored, `raw` gets the verified content (resized to file.raw_size: a buffer
  // that already has that size is neither reallocated nor cleared). Same checks and errors.
  void ReadInto(const ArchivedFile& file, std::string& stored, std::string& raw) const;
  // Fetches `name` into `dest` (WriteThroughRename). Returns false (nothing written) when the
  // archive has no such file.
  bool Get(std::string_view name, const std::filesystem::path& dest) const;

  // Every archived file, sorted by name.
  std::vector<ArchivedFile> List() const;

  const repo::Repository& repository() const { return repository_; }

  // Object directory of `name` ("archive/00000001/0000000100000000").
  static std::string DirectoryOf(std::string_view name);

 private:
  std::vector<ArchivedFile> ListDirectory(const std::string& dir) const;
  void CheckSegmentOwner(std::string_view name, std::string_view content) const;
  // Stores `to_store` (already compressed with codec_) unless `name` is archived: kDuplicate
  // for the same content, Error(kConflict) for another.
  PushResult StoreIfNew(std::string_view name, std::uint64_t raw_size, const std::string& sha,
                        std::string_view to_store);

  const repo::Repository& repository_;
  repo::CodecSettings codec_;
};

}  // namespace dbmedic::wal
