#include "restore/restore.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "repo/backup_chain.hpp"
#include "repo/chunk_reader.hpp"
#include "repo/cluster.hpp"
#include "repo/parallel.hpp"
#include "restore/target_layout.hpp"
#include "storage/fd.hpp"

namespace dbmedic::restore {
namespace fs = std::filesystem;
namespace {

// Restored relation files are written in 64 KiB pieces, not in whole 8 MiB chunks: the page
// cache keeps a file in folios as large as the writes that filled it (up to 2 MiB on ext4 and
// XFS with large folios), and PostgreSQL then reads and writes it in 8 KiB blocks. Replaying
// 1.1 GB of WAL right after a restore took 105 s with 8 MiB writes and 42-45 s with 64 KiB ones
// (38-48 s for 8-16 KiB, within the noise), and the restore itself got faster too (1.7-1.9 s
// instead of 2.6-3.4 s for pgbench-50): the kernel no longer assembles huge folios.
constexpr std::size_t kWritePiece = 64 * 1024;

void WriteInSmallPieces(int fd, std::string_view data, std::uint64_t offset,
                        const fs::path& path) {
  for (std::size_t pos = 0; pos < data.size(); pos += kWritePiece) {
    storage::PwriteAll(fd, data.substr(pos, kWritePiece), offset + pos, path.string());
  }
}

using Clock = std::chrono::steady_clock;

// Written after everything else, in this order: without pg_control the directory cannot start,
// and backup_label (atomically, last) is what makes the server recover from the backup.
const std::vector<std::string> kLastFiles = {"tablespace_map", "global/pg_control", "backup_label"};

bool IsLastFile(const std::string& path) {
  return std::find(kLastFiles.begin(), kLastFiles.end(), path) != kLastFiles.end();
}

repo::Manifest LoadChosen(const repo::Repository& repository, const std::optional<std::string>& label) {
  if (label) return repository.LoadManifest(*label);
  std::optional<std::string> latest = repository.LatestBackup();
  if (!latest) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("repository '{}' holds no backup", repository.storage().Describe("")),
                "take one first with 'dbmedic backup'");
  }
  return repository.LoadManifest(*latest);
}

// Delta: whether the target already holds exactly this chunk.
bool ChunkMatches(const fs::path& path, const repo::ChunkEntry& chunk) {
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) return false;
  storage::Fd fd(raw);
  std::string data;
  storage::PreadUpTo(fd.get(), data, static_cast<std::size_t>(chunk.size), chunk.offset, path.string());
  return data.size() == chunk.size && repo::Sha256Hex(data) == chunk.sha256;
}

class Writer {
 public:
  Writer(const repo::Repository& repository, const repo::Manifest& manifest,
         const TargetLayout& layout, const RestoreOptions& options)
      : repository_(repository), manifest_(manifest), layout_(layout), options_(options) {}

  // Creates each file at its final size (keeping the content of same-size files for delta);
  // files whose content is skipped stay sparse and do not count in the progress.
  void PrepareFiles(const std::vector<const repo::FileEntry*>& files, bool with_content = true) {
    for (const repo::FileEntry* f : files) {
      const fs::path path = layout_.PathOf(f->path);
      storage::Fd fd = storage::Fd::Open(path.string(), O_WRONLY | O_CREAT,
                                         static_cast<mode_t>(f->mode));
      struct stat st;
      if (::fstat(fd.get(), &st) != 0) throw SystemError(errno, "stat", path.string());
      if (static_cast<std::uint64_t>(st.st_size) != f->size &&
          ::ftruncate(fd.get(), static_cast<off_t>(f->size)) != 0) {
        throw SystemError(errno, "resize", path.string());
      }
      if (::fchmod(fd.get(), static_cast<mode_t>(f->mode)) != 0) throw SystemError(errno, "chmod", path.string());
      fd.Close(path.string());
      if (with_content) progress_.bytes_total += f->size;
    }
  }

  void WriteChunks(const std::vector<const repo::FileEntry*>& files, int jobs) {
    std::vector<std::pair<const repo::FileEntry*, std::size_t>> tasks;
    for (const repo::FileEntry* f : files) {
      for (std::size_t c = 0; c < f->chunks.size(); ++c) tasks.emplace_back(f, c);
    }
    repo::RunParallel(tasks.size(), jobs, [&](std::size_t i) { WriteChunk(*tasks[i].first, tasks[i].second); });
  }

  // Differential / incremental backups: the changed pages, over the chunks WriteChunks wrote.
  // One task per file, its overlays in order (a later one wins where two hold the same page).
  void WriteOverlays(const std::vector<const repo::FileEntry*>& files, int jobs) {
    std::vector<const repo::FileEntry*> tasks;
    for (const repo::FileEntry* f : files) {
      if (!f->pages.empty()) tasks.push_back(f);
    }
    repo::RunParallel(tasks.size(), jobs, [&](std::size_t i) { WriteFileOverlays(*tasks[i]); });
  }

  // Small final files: whole, verified, atomically.
  void WriteWhole(const repo::FileEntry& f, const std::function<std::string(std::string)>& edit) {
    std::string content;
    for (std::size_t c = 0; c < f.chunks.size(); ++c) {
      content += repo::FetchChunkOrThrow(repository_.storage(), manifest_, f, c);
    }
    core::AtomicWriteFile(layout_.PathOf(f.path), edit(std::move(content)),
                          static_cast<mode_t>(f.mode));
    bytes_written_ += f.size;
  }

  std::uint64_t bytes_written() const { return bytes_written_.load(); }

 private:
  void WriteChunk(const repo::FileEntry& f, std::size_t index) {
    const repo::ChunkEntry& chunk = f.chunks[index];
    const fs::path path = layout_.PathOf(f.path);
    if (!(options_.delta && ChunkMatches(path, chunk))) {
      // Each worker thread decodes every chunk into the same memory (see FetchObject).
      thread_local std::string buffer;
      std::string raw =
          repo::FetchChunkOrThrow(repository_.storage(), manifest_, f, index, std::move(buffer));
      // A chunk inherited from an earlier backup may reach past the end of a file that shrank.
      const std::string_view kept = std::string_view(raw).substr(
          0, static_cast<std::size_t>(chunk.offset < f.size ? f.size - chunk.offset : 0));
      storage::Fd fd = storage::Fd::Open(path.string(), O_WRONLY);
      WriteInSmallPieces(fd.get(), kept, chunk.offset, path);
      fd.Close(path.string());
      bytes_written_ += kept.size();
      buffer = std::move(raw);  // handed to this thread's next chunk
    }
    Report(std::min(chunk.size, chunk.offset < f.size ? f.size - chunk.offset : 0));
  }

  void WriteFileOverlays(const repo::FileEntry& f) {
    const fs::path path = layout_.PathOf(f.path);
    storage::Fd fd = storage::Fd::Open(path.string(), O_WRONLY);
    for (const repo::PageOverlay& overlay : f.pages) {
      const std::string raw = repo::FetchOverlayOrThrow(repository_.storage(), manifest_, f, overlay);
      std::size_t pos = 0;
      for (const auto& [first, count] : overlay.runs) {
        const std::uint64_t offset = std::uint64_t{first} * kPage;
        const std::size_t bytes = std::min<std::size_t>(std::size_t{count} * kPage, raw.size() - pos);
        // Pages past the file's current end belong to a length it had earlier.
        if (offset < f.size) {
          const auto kept = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, f.size - offset));
          WriteInSmallPieces(fd.get(), std::string_view(raw).substr(pos, kept), offset, path);
          bytes_written_ += kept;
        }
        pos += bytes;
      }
    }
    fd.Close(path.string());
  }

  void Report(std::uint64_t bytes) {
    std::lock_guard lock(mu_);
    progress_.bytes_done += bytes;
    if (options_.on_progress) options_.on_progress(progress_);
  }

  static constexpr std::uint64_t kPage = 8192;  // PostgreSQL's block size

  const repo::Repository& repository_;
  const repo::Manifest& manifest_;
  const TargetLayout& layout_;
  const RestoreOptions& options_;
  std::atomic<std::uint64_t> bytes_written_{0};
  std::mutex mu_;
  RestoreProgress progress_;  // guarded by mu_ during WriteChunks
};

// One syncfs per filesystem instead of an fsync per file and directory: everything restored
// so far becomes durable before the last files (pg_control, backup_label) are written.
void SyncFilesystem(const fs::path& root) {
  storage::Fd fd = storage::Fd::Open(root.string(), O_RDONLY | O_DIRECTORY);
  if (::syncfs(fd.get()) != 0) throw SystemError(errno, "sync", root.string());
}

void GiveTo(const std::vector<fs::path>& roots, const std::string& os_user) {
  if (os_user.empty() || !core::IsRoot()) return;
  std::optional<core::UserIds> user = core::LookupUser(os_user);
  if (!user) {
    throw Error(ErrorCode::kConfig, fmt::format("OS user '{}' does not exist", os_user),
                "set cluster.os_user (--pg-os-user) to the user that runs the restored server");
  }
  for (const fs::path& root : roots) core::ChownRecursive(root, user->uid, user->gid);
}

}  // namespace

std::pair<std::string, std::string> ParseTablespaceMapping(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == text.npos || eq == 0 || eq + 1 == text.size()) {
    throw Error(ErrorCode::kUsage, fmt::format("invalid --tablespace-map '{}'", text),
                "write it as OLD_LOCATION=NEW_LOCATION");
  }
  return {std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

RestoreResult RestoreBackup(const repo::Repository& repository, const RestoreOptions& options) {
  const auto began = Clock::now();
  const repo::Manifest manifest = LoadChosen(repository, options.label);
  repo::CheckChain(repository, manifest);  // before anything is written
  if (options.target_dir.empty()) {
    throw Error(ErrorCode::kUsage, "no restore target directory given", "pass --target-dir DIR");
  }
  TargetLayout layout(options.target_dir, manifest, options.tablespace_map);
  layout.CheckTargets(options.delta);
  spdlog::info("restore {}: into '{}'{}", manifest.label, layout.target().string(),
               options.delta ? " (delta)" : "");

  core::MakeDirs(layout.target(), 0700);
  core::AtomicWriteFile(layout.target() / kIncompleteMarker,
                        fmt::format("restore of backup {} in progress\n", manifest.label));
  for (const std::string& last : kLastFiles) fs::remove(layout.PathOf(last));

  RestoreResult result;
  result.label = manifest.label;
  if (options.delta) result.files_removed = layout.RemoveExtraneous(manifest);
  layout.CreateDirectories(manifest);

  std::vector<const repo::FileEntry*> bulk;
  std::vector<const repo::FileEntry*> sparse;
  for (const repo::FileEntry& f : manifest.files) {
    result.bytes += f.size;
    if (IsLastFile(f.path)) continue;
    if (!options.content_needed || options.content_needed(f.path)) {
      bulk.push_back(&f);
    } else {
      sparse.push_back(&f);
      ++result.files_skipped;
      result.bytes_skipped += f.size;
    }
  }
  result.files = manifest.files.size();
  Writer writer(repository, manifest, layout, options);
  writer.PrepareFiles(bulk);
  writer.PrepareFiles(sparse, false);
  writer.WriteChunks(bulk, repo::EffectiveJobs(options.jobs));
  writer.WriteOverlays(bulk, repo::EffectiveJobs(options.jobs));
  for (const fs::path& root : layout.Roots()) SyncFilesystem(root);
  for (const std::string& last : kLastFiles) {
    auto it = std::find_if(manifest.files.begin(), manifest.files.end(),
                           [&](const repo::FileEntry& f) { return f.path == last; });
    if (it == manifest.files.end()) continue;
    if (last == "tablespace_map") {
      writer.WriteWhole(*it, [&](std::string text) { return layout.RemapTablespaceMap(text); });
    } else {
      writer.WriteWhole(*it, [](std::string text) { return text; });
    }
  }
  GiveTo(layout.Roots(), options.os_user);
  for (const fs::path& root : layout.Roots()) SyncFilesystem(root);
  fs::remove(layout.target() / kIncompleteMarker);
  core::FsyncDir(layout.target());

  result.bytes_written = writer.bytes_written();
  result.seconds = std::chrono::duration<double>(Clock::now() - began).count();
  spdlog::info("restore {}: done, {} files, {} bytes written in {:.1f} s", manifest.label,
               result.files, result.bytes_written, result.seconds);
  return result;
}

RestoreResult RestoreBackup(const core::Config& config, RestoreOptions options) {
  if (options.os_user.empty()) options.os_user = config.String("cluster.os_user");
  if (options.jobs <= 0) options.jobs = static_cast<int>(config.Int("backup.jobs"));
  const repo::Repository repository = repo::OpenRepository(config);
  return RestoreBackup(repository, options);
}

}  // namespace dbmedic::restore
