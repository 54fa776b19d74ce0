#include "backup/backup.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backup/chunk_copier.hpp"
#include "backup/data_dir_scan.hpp"
#include "backup/incremental.hpp"
#include "backup/page_checksum.hpp"
#include "backup/page_delta.hpp"
#include "backup/wal_delta.hpp"
#include "core/error.hpp"
#include "pg/connection.hpp"
#include "pg/lsn.hpp"
#include "pg/wal_block_summary.hpp"
#include "repo/cluster.hpp"
#include "repo/lock.hpp"
#include "repo/parallel.hpp"

namespace dbmedic::backup {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// Logs at debug level how long each phase of one backup took: where to look when a backup is
// slower than expected (`--log-level debug`).
class PhaseClock {
 public:
  void Lap(const std::string& label, std::string_view phase) {
    const auto now = Clock::now();
    spdlog::debug("backup {}: {} took {:.1f} ms", label, phase,
                  std::chrono::duration<double, std::milli>(now - last_).count());
    last_ = now;
  }

 private:
  Clock::time_point last_ = Clock::now();
};

std::int64_t NowEpoch() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "20261129-121749F" (D, I for diff, incr): sortable by time; a suffix keeps two backups in one
// second apart.
std::string NewLabel(const repo::Repository& repository, BackupType type) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", &tm);
  std::string label = fmt::format("{}{}", buf, BackupTypeLetter(type));
  for (int n = 1; !repository.storage().List(repo::Repository::BackupDir(label)).empty(); ++n) {
    label = fmt::format("{}{}-{}", buf, BackupTypeLetter(type), n);
  }
  return label;
}

// Everything the copy phase needs for one file: where to read it and its manifest entry.
struct Job {
  SourceFile source;
  repo::FileEntry entry;
  std::atomic<bool> vanished{false};
  // Incremental by page LSN: the reference's copy of the file (as references), what it holds,
  // and per chunk of `entry` the overlay of its changed pages.
  std::optional<PageBase> page_base;
  repo::FileEntry inherited;
  std::vector<std::optional<repo::PageOverlay>> overlays;
  // Incremental from the WAL summary: the blocks (file-relative, sorted) to read besides those
  // past the reference's size. Unset: every page is read and judged by its LSN.
  std::optional<std::vector<std::uint32_t>> summary_blocks;
};

// The entry of a file copied page by page: the reference's chunks cut at the new size, its
// overlays, then the changed pages found now.
repo::FileEntry AssembleFromPages(Job& job) {
  std::uint64_t size = 0;
  for (const repo::ChunkEntry& c : job.entry.chunks) size = std::max(size, c.offset + c.size);
  repo::FileEntry e = std::move(job.inherited);
  e.path = job.entry.path;
  e.mode = job.entry.mode;
  e.mtime = job.entry.mtime;
  e.size = size;
  // Chunks wholly past the end are dropped; the first stays (a manifest file has >= 1 chunk).
  std::erase_if(e.chunks, [&](const repo::ChunkEntry& c) { return c.offset > 0 && c.offset >= size; });
  for (std::optional<repo::PageOverlay>& o : job.overlays) {
    if (o) e.pages.push_back(std::move(*o));
  }
  std::vector<repo::ChunkEntry> all = e.chunks;
  for (const repo::PageOverlay& o : e.pages) all.push_back(o.chunk);
  e.sha256 = repo::CombineChunkChecksums(all);
  return e;
}

void LayOutChunks(repo::FileEntry& entry, std::uint64_t chunk_size) {
  const std::uint64_t count = entry.size == 0 ? 1 : (entry.size + chunk_size - 1) / chunk_size;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t offset = i * chunk_size;
    repo::ChunkEntry chunk;
    chunk.offset = offset;
    chunk.size = std::min(chunk_size, entry.size - offset);
    entry.chunks.push_back(std::move(chunk));
  }
}

class Copier {
 public:
  Copier(storage::Storage& storage, CopySettings settings, int jobs, const BackupOptions& options,
         std::uint64_t chunk_size)
      : storage_(storage), settings_(std::move(settings)), jobs_(jobs), options_(options),
        chunk_size_(chunk_size) {}

  // A file taken from the reference as it is: nothing to copy.
  void AddUnchanged(repo::FileEntry entry) { unchanged_.push_back(std::move(entry)); }

  // A relation main fork copied page by page against the reference's copy `inherited`.
  void AddPages(SourceFile source, repo::FileEntry entry, const PageBase& base,
                repo::FileEntry inherited) {
    Job& job = Add(std::move(source), std::move(entry));
    job.page_base = base;
    job.inherited = std::move(inherited);
    job.overlays.resize(job.entry.chunks.size());
  }

  // A relation main fork of which only `blocks` (and what lies past the reference) are read.
  void AddSummarised(SourceFile source, repo::FileEntry entry, const PageBase& base,
                     repo::FileEntry inherited, std::vector<std::uint32_t> blocks) {
    Job& job = Add(std::move(source), std::move(entry));
    job.page_base = base;
    job.inherited = std::move(inherited);
    job.overlays.resize(job.entry.chunks.size());
    job.summary_blocks = std::move(blocks);
  }

  Job& Add(SourceFile source, repo::FileEntry entry) {
    LayOutChunks(entry, chunk_size_);
    Job& job = jobs_list_.emplace_back();
    job.source = std::move(source);
    job.entry = std::move(entry);
    progress_.bytes_total += job.entry.size;
    return job;
  }

  // Copies every chunk added since the last call, in parallel.
  void Run() {
    std::vector<std::pair<Job*, std::size_t>> tasks;
    for (std::size_t j = first_pending_; j < jobs_list_.size(); ++j) {
      for (std::size_t c = 0; c < jobs_list_[j].entry.chunks.size(); ++c) {
        tasks.emplace_back(&jobs_list_[j], c);
      }
    }
    first_pending_ = jobs_list_.size();
    // Big chunks first, so the tail of the run is not one thread copying one large file.
    std::stable_sort(tasks.begin(), tasks.end(), [](const auto& a, const auto& b) {
      return a.first->entry.chunks[a.second].size > b.first->entry.chunks[b.second].size;
    });
    repo::RunParallel(tasks.size(), jobs_, [&](std::size_t i) {
      auto [job, chunk] = tasks[i];
      const std::uint64_t planned = job->entry.chunks[chunk].size;
      if (job->summary_blocks) {
        std::uint64_t pages = 0;
        CopySummarisedPages(storage_, settings_, job->source, *job->page_base,
                            *job->summary_blocks, job->entry, chunk, job->overlays[chunk],
                            job->vanished, pages);
        pages_read_ += pages;
      } else if (job->page_base) {
        CopyChangedPages(storage_, settings_, job->source, *job->page_base, job->entry, chunk,
                         job->overlays[chunk], job->vanished);
      } else {
        CopyChunk(storage_, settings_, job->source, job->entry, chunk, job->vanished);
      }
      Report(planned);
    });
  }

  // Pages read by the summarised copies so far.
  std::uint64_t pages_read() const { return pages_read_.load(); }

  // Manifest entries of the files that still existed, with their final sizes and checksums.
  std::vector<repo::FileEntry> Entries() {
    std::vector<repo::FileEntry> out = std::move(unchanged_);
    for (Job& job : jobs_list_) {
      if (job.vanished.load()) continue;
      if (job.page_base) {
        out.push_back(AssembleFromPages(job));
        continue;
      }
      repo::FileEntry& e = job.entry;
      e.size = 0;
      for (const repo::ChunkEntry& c : e.chunks) e.size = std::max(e.size, c.offset + c.size);
      e.sha256 = repo::CombineChunkChecksums(e.chunks);
      out.push_back(std::move(e));
    }
    return out;
  }

 private:
  void Report(std::uint64_t bytes) {
    std::lock_guard lock(mu_);
    progress_.bytes_done += bytes;
    if (options_.on_progress) options_.on_progress(progress_);
  }

  storage::Storage& storage_;
  CopySettings settings_;
  int jobs_;
  const BackupOptions& options_;
  std::uint64_t chunk_size_;
  std::deque<Job> jobs_list_;  // deque: Job holds an atomic and must not move
  std::vector<repo::FileEntry> unchanged_;
  std::size_t first_pending_ = 0;
  std::atomic<std::uint64_t> pages_read_{0};
  std::mutex mu_;
  Progress progress_;  // guarded by mu_ once Run() starts
};

struct StartInfo {
  pg::Lsn lsn;
  std::string wal_name;
};

struct StopInfo {
  pg::Lsn lsn;
  std::string wal_name;
  std::string label_file;
  std::string tablespace_map;
  std::int64_t server_micros = 0;  // the server's clock after pg_backup_stop returned
};

StartInfo StartBackup(pg::Connection& conn, const std::string& label, const std::string& slot) {
  conn.ExecParams("SELECT pg_create_physical_replication_slot($1, true, true)", {slot});
  pg::Result r = conn.ExecParams(
      "SELECT lsn, pg_walfile_name(lsn) FROM pg_backup_start($1, true) AS lsn", {label});
  return {pg::Lsn::Parse(r.Get(0, 0)), r.GetString(0, 1)};
}

StopInfo StopBackup(pg::Connection& conn) {
  // The function in FROM runs before the select list: clock_timestamp() is read after the stop.
  pg::Result r = conn.Exec(
      "SELECT lsn, pg_walfile_name(lsn), labelfile, spcmapfile, "
      "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint FROM pg_backup_stop(false)");
  return {pg::Lsn::Parse(r.Get(0, 0)), r.GetString(0, 1), r.GetString(0, 2), r.GetString(0, 3),
          std::stoll(r.GetString(0, 4))};
}

repo::FileEntry EntryFor(const std::string& path, std::uint64_t size, std::uint32_t mode,
                         std::int64_t mtime) {
  repo::FileEntry e;
  e.path = path;
  e.size = size;
  e.mode = mode;
  e.mtime = mtime;
  return e;
}

// A relation main fork the reference holds, with a WAL summary: see wal_delta.hpp.
void AddMainForkFromSummary(Copier& copier, SourceFile source, const PlannedFile& f,
                            const PageBase& base, repo::FileEntry inherited,
                            const pg::BlockSummary& summary, WalSummaryReport& report) {
  WalPlan plan = PlanFromSummary(summary, f.path);
  switch (plan.rule) {
    case WalRule::kWhole:
      ++report.files_copied_whole;
      copier.Add(std::move(source), EntryFor(f.path, f.size, f.mode, f.mtime));
      return;
    case WalRule::kPageScan:
      ++report.files_page_scanned;
      copier.AddPages(std::move(source), EntryFor(f.path, f.size, f.mode, f.mtime), base,
                      std::move(inherited));
      return;
    case WalRule::kSummarised:
      ++report.files_summarised;
      copier.AddSummarised(std::move(source), EntryFor(f.path, f.size, f.mode, f.mtime), base,
                           std::move(inherited), std::move(plan.blocks));
      return;
  }
}

// A file the reference also holds: taken from it, copied page by page (or the pages the WAL
// summary names), or copied with its unchanged chunks taken from it.
void AddAgainstReference(Copier& copier, SourceFile source, const PlannedFile& f,
                         const repo::Manifest& reference, const repo::FileEntry& prior,
                         const pg::BlockSummary* summary, WalSummaryReport& report) {
  repo::FileEntry inherited = InheritFile(reference, prior);
  if (!IsRelationMainFork(f.path) && UnchangedBySizeAndTime(reference, prior, f)) {
    inherited.mode = f.mode;
    copier.AddUnchanged(std::move(inherited));
    return;
  }
  if (IsRelationMainFork(f.path) && f.size > 0) {
    const PageBase base{pg::Lsn::Parse(reference.start_lsn).value, prior.size};
    if (summary) {
      AddMainForkFromSummary(copier, std::move(source), f, base, std::move(inherited), *summary,
                             report);
      return;
    }
    ++report.files_page_scanned;
    copier.AddPages(std::move(source), EntryFor(f.path, f.size, f.mode, f.mtime), base,
                    std::move(inherited));
    return;
  }
  if (inherited.pages.empty()) source.prior = std::move(inherited.chunks);
  copier.Add(std::move(source), EntryFor(f.path, f.size, f.mode, f.mtime));
}

void AddDataFiles(Copier& copier, const DataDirPlan& plan, bool checksums,
                  const std::optional<repo::Manifest>& reference,
                  const pg::BlockSummary* summary, WalSummaryReport& report) {
  std::unordered_map<std::string, const repo::FileEntry*> prior;
  if (reference) prior = FilesByPath(*reference);
  for (const PlannedFile& f : plan.files) {
    SourceFile source;
    source.path = f.source;
    if (auto segment = RelationSegment(f.path); segment && checksums) {
      source.validate_pages = true;
      source.first_block = *segment * kPagesPerSegment;
    }
    if (auto it = prior.find(f.path); it != prior.end()) {
      AddAgainstReference(copier, std::move(source), f, *reference, *it->second, summary, report);
      continue;
    }
    copier.Add(std::move(source), EntryFor(f.path, f.size, f.mode, f.mtime));
  }
}

ClusterPosition CurrentPosition(pg::Connection& conn) {
  pg::Result r = conn.Exec("SELECT lsn, pg_walfile_name(lsn) FROM pg_current_wal_lsn() AS lsn");
  return {pg::Lsn::Parse(r.Get(0, 0)),
          static_cast<std::uint32_t>(std::stoul(r.GetString(0, 1).substr(0, 8), nullptr, 16))};
}

// Decides what this backup is based on (of `candidate`, see incremental.hpp) and records it in
// the manifest.
std::optional<repo::Manifest> PlanReference(BackupType requested, ReferenceCandidate candidate,
                                            pg::Connection& conn, repo::Manifest& m) {
  m.requested_type = std::string(BackupTypeName(requested));
  ReferenceChoice choice = ChooseReference(std::move(candidate), CurrentPosition(conn));
  if (!choice.reference) {
    if (requested != BackupType::kFull) {
      spdlog::warn("a {} backup was asked for, but {}: taking a full backup instead",
                   BackupTypeName(requested), choice.why_full);
    }
    m.type = "full";
    return std::nullopt;
  }
  m.type = m.requested_type;
  m.reference = choice.reference->label;
  m.chain = choice.reference->chain;
  m.chain.push_back(choice.reference->label);
  return std::move(choice.reference);
}

// The WAL from the segment holding the start LSN to the one holding the stop LSN, read from
// pg_wal (the slot kept it there), plus the timeline history file when there is one.
void AddWal(Copier& copier, const fs::path& data_dir, const StartInfo& start,
            const StopInfo& stop, std::uint64_t seg_size) {
  const auto first = pg::ParseWalSegmentName(start.wal_name, seg_size);
  const auto last = pg::ParseWalSegmentName(stop.wal_name, seg_size);
  if (!first || !last || first->timeline != last->timeline || last->segno < first->segno) {
    throw Error(ErrorCode::kInternal, fmt::format("unexpected WAL range {} .. {}", start.wal_name,
                                                  stop.wal_name));
  }
  for (std::uint64_t segno = first->segno; segno <= last->segno; ++segno) {
    const std::string name = pg::WalSegmentName(first->timeline, segno, seg_size);
    const fs::path path = data_dir / "pg_wal" / name;
    SourceFile source;
    source.path = path;
    copier.Add(std::move(source), EntryFor("pg_wal/" + name, fs::file_size(path), 0600, NowEpoch()));
  }
  const fs::path history = data_dir / "pg_wal" / fmt::format("{:08X}.history", first->timeline);
  if (first->timeline > 1 && fs::exists(history)) {
    SourceFile source;
    source.path = history;
    copier.Add(std::move(source), EntryFor("pg_wal/" + history.filename().string(),
                                           fs::file_size(history), 0600, NowEpoch()));
  }
}

void AddInline(Copier& copier, const std::string& path, const std::string& content) {
  SourceFile source;
  source.content = content;
  copier.Add(std::move(source), EntryFor(path, content.size(), 0600, NowEpoch()));
}

// Bytes of the relation main forks that the reference also holds (what a summary may spare).
std::uint64_t SharedMainForkBytes(const DataDirPlan& plan, const repo::Manifest& reference) {
  const auto prior = FilesByPath(reference);
  std::uint64_t bytes = 0;
  for (const PlannedFile& f : plan.files) {
    if (IsRelationMainFork(f.path) && prior.contains(f.path)) bytes += f.size;
  }
  return bytes;
}

// The WAL from pg_wal, then (for the segments recycled there) from the archive the CLI gave.
std::unique_ptr<pg::WalSource> OpenWalSources(const fs::path& data_dir, std::uint32_t timeline,
                                              const BackupOptions& options,
                                              std::string& unavailable) {
  std::vector<std::unique_ptr<pg::WalSource>> sources;
  try {
    sources.push_back(std::make_unique<pg::DirectoryWalSource>(data_dir / "pg_wal", timeline));
  } catch (const Error& e) {
    unavailable += fmt::format("pg_wal: {}; ", e.what());
  }
  if (options.archived_wal) {
    try {
      sources.push_back(options.archived_wal(timeline));
    } catch (const Error& e) {
      unavailable += fmt::format("archive: {}; ", e.what());
    }
  } else {
    unavailable += "no WAL archive given; ";
  }
  if (sources.empty()) return nullptr;
  return std::make_unique<pg::CombinedWalSource>(std::move(sources));
}

// Which blocks the WAL from the reference's start to this backup's start changed, or nullopt
// (with the reason in `report` and the log) when every page must be read instead.
std::optional<pg::BlockSummary> SummariseSinceReference(const fs::path& data_dir,
                                                        const repo::Manifest& reference,
                                                        const repo::Manifest& m,
                                                        const BackupOptions& options, int jobs,
                                                        std::uint64_t relation_bytes,
                                                        WalSummaryReport& report) {
  report.attempted = true;
  const std::uint64_t wal_bytes =
      pg::Lsn::Parse(m.start_lsn).value - pg::Lsn::Parse(reference.start_lsn).value;
  if (!SummaryWorthReading(wal_bytes, relation_bytes)) {
    report.fallback = fmt::format(
        "the WAL since the reference ({} MiB) is more than a quarter of the relation files it "
        "would spare reading ({} MiB): reading their pages is cheaper",
        wal_bytes >> 20, relation_bytes >> 20);
    spdlog::info("backup {}: {}", m.label, report.fallback);
    return std::nullopt;
  }
  const auto began = Clock::now();
  std::string unavailable;
  std::unique_ptr<pg::WalSource> source = OpenWalSources(data_dir, m.timeline, options, unavailable);
  std::optional<pg::BlockSummary> summary;
  if (!source) {
    report.fallback = "no WAL to read (" + unavailable.substr(0, unavailable.size() - 2) + ")";
  } else {
    report.source = source->Describe();
    // One source per reader thread (a source holds its reader's segment buffer).
    // The first call (on this thread, before the readers start) takes the source opened above.
    auto first = std::make_shared<std::unique_ptr<pg::WalSource>>(std::move(source));
    auto make_source = [&, first]() -> std::unique_ptr<pg::WalSource> {
      if (*first) return std::move(*first);
      std::string ignored;
      std::unique_ptr<pg::WalSource> more = OpenWalSources(data_dir, m.timeline, options, ignored);
      if (!more) throw Error(ErrorCode::kNotFound, "the WAL sources vanished: " + ignored);
      return more;
    };
    pg::BlockSummaryRange range;
    range.start = pg::Lsn::Parse(reference.start_lsn);
    range.end = pg::Lsn::Parse(m.start_lsn);
    range.timeline = m.timeline;
    range.system_identifier = std::stoull(m.system_identifier);
    summary = pg::SummarizeChangedBlocks(make_source, range, jobs);
    report.records = summary->records;
    report.segments = summary->segments;
    if (summary->unusable) {
      report.fallback = *summary->unusable;
      summary.reset();
    }
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - began).count();
  if (!summary) {
    spdlog::warn("backup {}: reading every page of the relation files instead of the blocks the "
                 "WAL names since {} (backup {}): {}",
                 m.label, reference.start_lsn, reference.label, report.fallback);
    return std::nullopt;
  }
  report.used = true;
  spdlog::info("backup {}: WAL {} .. {} summarised ({} records, {} segments, {:.2f} s): {} "
               "relations changed",
               m.label, reference.start_lsn, m.start_lsn, report.records, report.segments,
               report.seconds, summary->changed.size());
  return summary;
}

void RemoveIncomplete(repo::Repository& repository, std::vector<std::string>& removed) {
  for (const std::string& label : repository.ListIncomplete()) {
    spdlog::warn("removing interrupted backup '{}' (it has no manifest)", label);
    repository.RemoveBackup(label);
    removed.push_back(label);
  }
}

void CheckVersion(const repo::Repository& repository, int server_version_num) {
  if (server_version_num / 10000 != repository.info().pg_version_num / 10000) {
    throw Error(ErrorCode::kRepository,
                fmt::format("repository holds PostgreSQL {} backups, the cluster runs {}",
                            repository.info().pg_version_num / 10000, server_version_num / 10000),
                "use a new repository after a major upgrade ('dbmedic repo init')");
  }
}

}  // namespace

BackupResult RunBackup(const core::Config& config, const BackupOptions& options) {
  repo::Repository repository = repo::OpenRepository(config);
  return RunBackup(config, repository, options);
}

BackupResult RunBackup(const core::Config& config, repo::Repository& repository,
                       const BackupOptions& options) {
  const auto began = Clock::now();
  PhaseClock phases;
  // Held until the manifest is saved: a second backup fails fast instead of removing this one's
  // files as "interrupted" (RemoveIncomplete) or racing it for a label.
  const repo::RepositoryLock lock = repo::LockRepository(repository, "backup");
  // The reference's manifest is read while the connection is set up (~50 ms each for a
  // pgbench-50 cluster). If connecting fails, the future's destructor waits for the read.
  const BackupType requested = ParseBackupType(config.String("backup.type"));
  std::future<ReferenceCandidate> candidate =
      std::async(std::launch::async, [&repository, requested] {
        return LoadReferenceCandidate(repository, requested);
      });
  pg::Connection conn = repo::ConnectCluster(config);
  const repo::ClusterIdentity id = repo::ReadClusterIdentity(conn);
  repository.CheckCluster(id.system_identifier);
  CheckVersion(repository, id.pg_version_num);
  phases.Lap("", "locking the repository, connecting, checking the cluster");

  BackupResult result;
  RemoveIncomplete(repository, result.removed_incomplete);
  phases.Lap("", "removing interrupted backups");

  repo::Manifest& m = result.manifest;
  const std::optional<repo::Manifest> reference = PlanReference(requested, candidate.get(), conn, m);
  phases.Lap("", "choosing the reference backup");
  m.label = NewLabel(repository, ParseBackupType(m.type));
  m.system_identifier = id.system_identifier;
  m.pg_version_num = id.pg_version_num;
  m.tool_version = std::string(repo::kToolVersion);
  m.data_checksums = id.data_checksums;
  const repo::CodecSettings codec = repo::CodecFromConfig(config);
  m.compression = codec.compression;
  m.compression_level = codec.level;
  m.chunk_size = std::max<std::uint64_t>(config.Size("backup.chunk_size") / kPageSize, 1) * kPageSize;
  const fs::path data_dir = conn.Scalar("SHOW data_directory");
  const auto seg_size = static_cast<std::uint64_t>(
      std::stoull(conn.Scalar("SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'")));
  phases.Lap(m.label, "reading settings");

  spdlog::info("backup {}: starting (checkpoint) on {}", m.label, conn.Describe());
  m.start_time = NowEpoch();
  const StartInfo start = StartBackup(conn, m.label, fmt::format("dbmedic_backup_{}", ::getpid()));
  m.start_lsn = start.lsn.ToString();
  m.timeline = static_cast<std::uint32_t>(std::stoul(start.wal_name.substr(0, 8), nullptr, 16));
  phases.Lap(m.label, "pg_backup_start (checkpoint)");

  DataDirPlan plan = ScanDataDirectory(data_dir);
  m.directories = plan.directories;
  m.tablespaces = plan.tablespaces;
  phases.Lap(m.label, "scanning the data directory");
  const int jobs = repo::EffectiveJobs(static_cast<int>(config.Int("backup.jobs")));
  std::optional<pg::BlockSummary> summary;
  if (reference && config.Bool("backup.incremental_from_wal")) {
    summary = SummariseSinceReference(data_dir, *reference, m, options, jobs,
                                      SharedMainForkBytes(plan, *reference), result.wal_summary);
  }
  phases.Lap(m.label, "summarising the WAL");
  Copier copier(repository.storage(), {m.label, codec, start.lsn.value}, jobs, options, m.chunk_size);
  AddDataFiles(copier, plan, id.data_checksums, reference, summary ? &*summary : nullptr,
               result.wal_summary);
  phases.Lap(m.label, "planning the copy");
  spdlog::info("backup {} ({}{}): copying {} files ({} bytes) with {} jobs", m.label, m.type,
               reference ? " of " + reference->label : "", plan.files.size(), plan.total_bytes,
               jobs);
  copier.Run();
  result.wal_summary.pages_read = copier.pages_read();
  phases.Lap(m.label, "copying the files");
  if (reference) {
    spdlog::info("backup {}: relation files shared with the reference: {} read from the WAL "
                 "summary ({} pages), {} read page by page, {} copied whole",
                 m.label, result.wal_summary.files_summarised, result.wal_summary.pages_read,
                 result.wal_summary.files_page_scanned, result.wal_summary.files_copied_whole);
  }

  const StopInfo stop = StopBackup(conn);
  phases.Lap(m.label, "pg_backup_stop");
  m.stop_lsn = stop.lsn.ToString();
  m.stop_time = NowEpoch();
  m.stop_time_micros = stop.server_micros;
  conn.ExecParams("SELECT pg_drop_replication_slot($1)", {fmt::format("dbmedic_backup_{}", ::getpid())});
  phases.Lap(m.label, "dropping the slot");
  AddWal(copier, data_dir, start, stop, seg_size);
  AddInline(copier, "backup_label", stop.label_file);
  if (!stop.tablespace_map.empty()) AddInline(copier, "tablespace_map", stop.tablespace_map);
  copier.Run();
  phases.Lap(m.label, "copying the WAL and backup_label");

  m.files = copier.Entries();
  for (const repo::FileEntry& f : m.files) {
    if (!f.path.starts_with("pg_wal/") && f.path != "backup_label" && f.path != "tablespace_map") {
      m.database_size += f.size;
    }
    // What this backup stored; objects it references belong to earlier backups.
    for (const repo::ChunkEntry& c : f.chunks) {
      if (c.backup.empty()) m.repository_size += c.stored_size;
    }
    for (const repo::PageOverlay& o : f.pages) {
      if (o.chunk.backup.empty()) m.repository_size += o.chunk.stored_size;
    }
  }
  m.duration_seconds = std::chrono::duration<double>(Clock::now() - began).count();
  phases.Lap(m.label, "assembling the manifest");
  repository.storage().Sync(repo::Repository::BackupDir(m.label));
  phases.Lap(m.label, "syncing the backup directory");
  repository.SaveManifest(m);
  phases.Lap(m.label, "saving the manifest");
  spdlog::info("backup {}: done, LSN {} .. {}, {} bytes stored in {:.1f} s", m.label, m.start_lsn,
               m.stop_lsn, m.repository_size, m.duration_seconds);
  return result;
}

}  // namespace dbmedic::backup
