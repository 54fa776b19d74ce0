#include "backup/verify.hpp"

#include <atomic>
#include <map>
#include <mutex>

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "repo/chunk_reader.hpp"
#include "repo/parallel.hpp"

namespace dbmedic::backup {
namespace {

void VerifyOne(const repo::Repository& repository, const repo::Manifest& manifest, int jobs,
               VerifyResult& result) {
  std::vector<std::pair<const repo::FileEntry*, std::size_t>> tasks;
  for (const repo::FileEntry& f : manifest.files) {
    for (std::size_t c = 0; c < f.chunks.size(); ++c) tasks.emplace_back(&f, c);
  }
  std::mutex mu;
  std::map<std::string, VerifyProblem> by_file;  // guarded by mu; one problem per file
  std::atomic<std::uint64_t> bytes{0};
  repo::RunParallel(tasks.size(), jobs, [&](std::size_t i) {
    const auto [file, index] = tasks[i];
    repo::FetchedChunk chunk = repo::FetchChunk(repository.storage(), manifest, *file, index);
    bytes += file->chunks[index].size;
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
      VerifyOne(repository, repository.LoadManifest(l), jobs, result);
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
