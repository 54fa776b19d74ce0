#include "backup/incremental.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "backup/page_delta.hpp"
#include "core/error.hpp"

namespace dbmedic::backup {

std::string_view BackupTypeName(BackupType type) {
  switch (type) {
    case BackupType::kFull: return "full";
    case BackupType::kDiff: return "diff";
    case BackupType::kIncr: return "incr";
  }
  return "full";
}

BackupType ParseBackupType(std::string_view text) {
  if (text == "full") return BackupType::kFull;
  if (text == "diff") return BackupType::kDiff;
  if (text == "incr") return BackupType::kIncr;
  throw Error(ErrorCode::kUsage, fmt::format("unknown backup type '{}'", text),
              "use --type full, diff (changes since the newest full backup) or incr (changes "
              "since the newest backup)");
}

char BackupTypeLetter(BackupType type) {
  switch (type) {
    case BackupType::kFull: return 'F';
    case BackupType::kDiff: return 'D';
    case BackupType::kIncr: return 'I';
  }
  return 'F';
}

namespace {

// Why `candidate` cannot be the reference of a backup starting at `position` (nullopt: it can).
std::optional<std::string> Unusable(const repo::Manifest& candidate,
                                    const ClusterPosition& position,
                                    const std::set<std::string>& labels) {
  // Page LSNs are only comparable along one history: after a point-in-time recovery the new
  // timeline may reuse LSNs the reference saw on the old one.
  if (candidate.timeline != position.timeline) {
    return fmt::format("backup {} is on timeline {}, the cluster on timeline {}", candidate.label,
                       candidate.timeline, position.timeline);
  }
  if (pg::Lsn::Parse(candidate.stop_lsn) > position.lsn) {
    return fmt::format("backup {} ends at LSN {}, after the cluster's current LSN {}",
                       candidate.label, candidate.stop_lsn, position.lsn.ToString());
  }
  for (const std::string& label : repo::ReferencedBackups(candidate)) {
    if (!labels.contains(label)) {
      return fmt::format("backup {} depends on backup {}, which is missing", candidate.label, label);
    }
  }
  return std::nullopt;
}

}  // namespace

ReferenceCandidate LoadReferenceCandidate(const repo::Repository& repository, BackupType type) {
  ReferenceCandidate candidate;
  if (type == BackupType::kFull) return candidate;
  candidate.labels = repository.ListBackups();
  for (auto it = candidate.labels.rbegin(); it != candidate.labels.rend(); ++it) {
    repo::Manifest m = repository.LoadManifest(*it);
    if (type == BackupType::kDiff && m.type != "full") continue;
    candidate.manifest = std::move(m);
    return candidate;
  }
  candidate.why_none = type == BackupType::kDiff ? "the repository holds no full backup"
                                                 : "the repository holds no backup";
  return candidate;
}

ReferenceChoice ChooseReference(ReferenceCandidate candidate, const ClusterPosition& position) {
  ReferenceChoice choice;
  if (!candidate.manifest) {
    choice.why_full = std::move(candidate.why_none);
    return choice;
  }
  const std::set<std::string> present(candidate.labels.begin(), candidate.labels.end());
  if (std::optional<std::string> why = Unusable(*candidate.manifest, position, present)) {
    choice.why_full = *why;
    return choice;
  }
  choice.reference = std::move(candidate.manifest);
  return choice;
}

ReferenceChoice ChooseReference(const repo::Repository& repository, BackupType type,
                                const ClusterPosition& position) {
  return ChooseReference(LoadReferenceCandidate(repository, type), position);
}

repo::FileEntry InheritFile(const repo::Manifest& reference, const repo::FileEntry& file) {
  repo::FileEntry out = file;
  for (std::size_t i = 0; i < file.chunks.size(); ++i) {
    out.chunks[i] = repo::AsReference(file.chunks[i], repo::LocateChunk(reference, file, i));
  }
  for (repo::PageOverlay& o : out.pages) {
    o.chunk = repo::AsReference(o.chunk, repo::LocateOverlay(reference, o));
  }
  return out;
}

bool UnchangedBySizeAndTime(const repo::Manifest& reference, const repo::FileEntry& prior,
                            const PlannedFile& file) {
  // mtime has one-second resolution here: a file written in the second the reference started
  // may have changed after the reference read it, so only older files are trusted.
  return prior.size == file.size && prior.mtime == file.mtime &&
         file.mtime < reference.start_time && prior.pages.empty();
}

std::unordered_map<std::string, const repo::FileEntry*> FilesByPath(const repo::Manifest& manifest) {
  std::unordered_map<std::string, const repo::FileEntry*> out;
  for (const repo::FileEntry& f : manifest.files) out.emplace(f.path, &f);
  return out;
}

}  // namespace dbmedic::backup
