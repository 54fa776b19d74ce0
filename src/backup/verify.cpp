#include "backup/verify.hpp"

#include <atomic>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "repo/backup_chain.hpp"
#include "repo/chunk_reader.hpp"
#include "repo/parallel.hpp"

namespace dbmedic::backup {
namespace {

// One stored object a backup uses: a chunk or a page overlay of `file`.
struct Task {
  const repo::FileEntry* file;
  const repo::ChunkEntry* chunk;
  repo::ChunkLocation location;
};

// `own_only`: skip objects held by other backups (verified with those when all are verified).
std::vector<Task> TasksOf(const repo::Manifest& manifest, bool own_only) {
  std::vector<Task> tasks;
  for (const repo::FileEntry& f : manifest.files) {
    for (std::size_t c = 0; c < f.chunks.size(); ++c) {
      tasks.push_back({&f, &f.chunks[c], repo::LocateChunk(manifest, f, c)});
    }
    for (const repo::PageOverlay& o : f.pages) {
      tasks.push_back({&f, &o.chunk, repo::LocateOverlay(manifest, o)});
    }
  }
  if (own_only) {
    std::erase_if(tasks, [&](const Task& t) { return t.location.backup != manifest.label; });
  }
  return tasks;
}

void VerifyOne(const repo::Repository& repository, const repo::Manifest& manifest, int jobs,
               bool own_only, VerifyResult& result) {
  if (std::optional<std::string> missing = repo::MissingFromChain(repository, manifest)) {
    result.problems.push_back({manifest.label, "chain", "missing",
                               repository.storage().Describe(repo::Repository::BackupDir(*missing)),
                               fmt::format("backup {} is based on backup {}, which is missing",
                                           manifest.label, *missing)});
  }
  const std::vector<Task> tasks = TasksOf(manifest, own_only);
  std::mutex mu;
  std::map<std::string, VerifyProblem> by_file;  // guarded by mu; one problem per file
  std::atomic<std::uint64_t> bytes{0};
  repo::RunParallel(tasks.size(), jobs, [&](std::size_t i) {
    const Task& task = tasks[i];
    const repo::FileEntry* file = task.file;
    repo::FetchedChunk chunk = repo::FetchObject(repository.storage(), *task.chunk, task.location);
    bytes += task.chunk->size;
    if (!chunk.fault) return;
    std::lock_guard lock(mu);
    by_file.try_emplace(file->path, VerifyProblem{manifest.label, file->path,
                                                  std::string(repo::ChunkFaultName(*chunk.fault)),
                                                  chunk.object, chunk.detail});
  });
  result.files_checked += manifest.files.size();
  result.bytes_checked += bytes.load();
  for (auto& [path, problem] : by_file) result.problems.push_back(std::move(problem));
}

}  // namespace

VerifyResult VerifyBackups(const repo::Repository& repository,
                           const std::optional<std::string>& label, int jobs) {
  VerifyResult result;
  result.incomplete = repository.ListIncomplete();
  std::vector<std::string> labels = label ? std::vector<std::string>{*label} : repository.ListBackups();
  for (const std::string& l : labels) {
    if (label) repository.LoadManifest(l);  // kNotFound for an unknown label, before anything
    result.labels.push_back(l);
    try {
      VerifyOne(repository, repository.LoadManifest(l), jobs, !label, result);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kCorrupt) throw;
      result.problems.push_back({l, "manifest.json", "altered",
                                 repository.storage().Describe(repo::Repository::ManifestPath(l)),
                                 e.what()});
    }
  }
  for (const VerifyProblem& p : result.problems) {
    spdlog::error("backup {}: file '{}' is {} ({}: {})", p.label, p.file, p.kind, p.object, p.detail);
  }
  return result;
}

}  // namespace dbmedic::backup
