// Differential and incremental backups (pgBackRest's semantics): which backup a new one is based
// on, and what it may take from it without reading the repository.
//  - diff: based on the newest full backup; incr: on the newest backup of any type.
//  - No usable reference (an empty repository, a reference on another timeline or ahead of the
//    cluster, a reference whose own chain is broken): the backup is taken as a full one, with a
//    warning saying why; the manifest records both the type asked for and the type taken.
//  - A file whose size and mtime are those of the reference, and whose mtime is older than the
//    reference's start, is the reference's file: its entry points at the reference's objects.
//    Relation main forks are never judged by size and mtime: their pages are (page_delta.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "backup/data_dir_scan.hpp"
#include "pg/lsn.hpp"
#include "repo/manifest.hpp"
#include "repo/repository.hpp"

namespace dbmedic::backup {

enum class BackupType { kFull, kDiff, kIncr };
std::string_view BackupTypeName(BackupType type);  // "full", "diff", "incr"
// Throws Error(kUsage) naming the accepted values.
BackupType ParseBackupType(std::string_view text);
// The letter ending a backup's label: F, D or I.
char BackupTypeLetter(BackupType type);

// Where the cluster's WAL is now (read before pg_backup_start).
struct ClusterPosition {
  pg::Lsn lsn;
  std::uint32_t timeline = 0;
};

struct ReferenceChoice {
  std::optional<repo::Manifest> reference;  // nullopt: take a full backup
  std::string why_full;                     // when a diff / incr became full: why
};

// The backup a `type` backup would be based on, loaded but not yet judged against the cluster:
// the newest backup (for diff: the newest full). Needs no connection, so a backup reads it (its
// manifest is hundreds of kB of JSON for a large cluster) while it connects.
struct ReferenceCandidate {
  std::optional<repo::Manifest> manifest;  // nullopt: none (why_none says why), or type full
  std::string why_none;
  std::vector<std::string> labels;  // the repository's complete backups
};
// Throws what LoadManifest throws (kCorrupt for a malformed manifest of the candidate).
ReferenceCandidate LoadReferenceCandidate(const repo::Repository& repository, BackupType type);

// Whether the candidate can serve on the cluster as it is now (same timeline, not ahead of it,
// its own references present); if not, a full backup is taken and why_full says why.
ReferenceChoice ChooseReference(ReferenceCandidate candidate, const ClusterPosition& position);

// Both steps in one.
ReferenceChoice ChooseReference(const repo::Repository& repository, BackupType type,
                                const ClusterPosition& position);

// The reference's entry for one file, with every chunk and page overlay as a reference to the
// object that holds it (so a later manifest can hold it as is).
repo::FileEntry InheritFile(const repo::Manifest& reference, const repo::FileEntry& file);

// Whether `file` may be taken from the reference unread (size and mtime, see above).
bool UnchangedBySizeAndTime(const repo::Manifest& reference, const repo::FileEntry& prior,
                            const PlannedFile& file);

// The reference's files by path.
std::unordered_map<std::string, const repo::FileEntry*> FilesByPath(const repo::Manifest& manifest);

}  // namespace dbmedic::backup
