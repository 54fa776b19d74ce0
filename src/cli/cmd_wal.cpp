// `dbmedic wal push %p` (archive_command), `dbmedic wal get %f %p` (restore_command) and
// `dbmedic wal list` (what the archive covers).
#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cli/catalog_capture.hpp"
#include "cli/command.hpp"
#include "core/error.hpp"
#include "repo/cluster.hpp"
#include "repo/repository_set.hpp"
#include "rescue/undo.hpp"
#include "wal/archive.hpp"
#include "wal/archive_catalog.hpp"
#include "wal/prefetch.hpp"
#include "wal/push_spool.hpp"
#include "wal/stream_receiver.hpp"
#include "wal/wal_filter.hpp"

#include <csignal>

#include "core/fs.hpp"

namespace dbmedic::cli {

// cmd_repo.cpp
std::vector<repo::RepositoryConfig> TargetRepositories(Context& ctx);
std::vector<std::string> OneRepositoryArgs(Context& ctx, int index);

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);

namespace {

struct WalArgs {
  std::string file;
  std::string name;
  std::string dest;
  std::string spool;
  std::string pg_wal;
  std::vector<std::string> names;
  int keep_ahead = 0;  // wal prefetch --keep-ahead
  std::string wal_filter;  // wal get / prefetch --wal-filter (undo's side cluster)
  std::string slot = "dbmedic";
};

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop = true; }

std::filesystem::path StreamDir(Context& ctx) {
  return ctx.config().Path("repository.path") / "stream";
}

void RunStream(Context& ctx, const WalArgs& args) {
  const core::Config& config = ctx.config();
  const repo::Repository repository = repo::OpenRepository(config);
  wal::WalArchive archive(repository, repository.info().codec);
  wal::StreamOptions options;
  options.conninfo = fmt::format("port={} user='{}' dbname='{}'", config.Int("cluster.port"),
                                 config.String("cluster.user"), config.String("cluster.dbname"));
  if (auto host = config.Optional("cluster.host"); host && !host->empty()) {
    options.conninfo += fmt::format(" host='{}'", *host);
  }
  options.slot = args.slot;
  options.partial_dir = StreamDir(ctx);
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  wal::StreamReceiver receiver(archive, options);
  const PeriodicCatalogCapture catalog_capture(config);  // names for `incidents`
  if (!ctx.json()) {
    fmt::print("streaming WAL into {} with slot '{}' (name it in synchronous_standby_names for "
               "RPO 0); stop with SIGINT/SIGTERM\n",
               repository.storage().Describe(""), args.slot);
  }
  receiver.Run(g_stop);
  if (ctx.json()) PrintJson({{"flushed_lsn", receiver.flushed().ToString()}});
}

// --wal-filter: undo's side cluster skips the changes to relations it does not read
// (wal/wal_filter.hpp); what was skipped is tallied in "skipped" beside the filter file
// (rescue/undo.hpp reads it). Empty without a filter: plain WalArchive::Get.
wal::SegmentFetch FilteredFetch(const wal::WalArchive& archive, const std::string& file) {
  if (file.empty()) return {};
  auto filter = std::make_shared<wal::ArchiveWalFilter>(
      archive, wal::WalFilter::Load(file),
      std::filesystem::path(file).parent_path() / rescue::kWalFilterStatsFile);
  return [filter](const std::string& name, const std::filesystem::path& dest) {
    return filter->Get(name, dest);
  };
}

// Starts a background `wal prefetch` for the segments after `name` (see wal/prefetch.hpp).
void StartPrefetch(Context& ctx, int repository, const std::string& name,
                   const std::string& dest, const std::string& filter) {
  const int count = static_cast<int>(ctx.config().Int("wal.prefetch"));
  if (count <= 0) return;
  const std::filesystem::path spool = wal::SpoolFor(dest);
  const std::vector<std::string> names = wal::SegmentsToPrefetch(spool, name, count);
  // Each launch is a fork and an exec competing with replay for the CPU: skip it while one runs.
  if (names.empty() || wal::PrefetcherRunning(spool)) return;
  std::vector<std::string> argv = {std::filesystem::read_symlink("/proc/self/exe").string()};
  if (ctx.config_path) argv.insert(argv.end(), {"--config", *ctx.config_path});
  argv.insert(argv.end(), {"wal", "prefetch", "--spool", spool.string(), "--keep-ahead",
                           std::to_string(count)});
  if (!filter.empty()) {
    argv.insert(argv.end(), {"--wal-filter", std::filesystem::absolute(filter).string()});
  }
  // From the repository that served this segment (key file, S3 flags included).
  const std::vector<std::string> repo_args = OneRepositoryArgs(ctx, repository);
  argv.insert(argv.end(), repo_args.begin(), repo_args.end());
  argv.insert(argv.end(), names.begin(), names.end());
  wal::LaunchDetached(argv);
}

void RunPrefetch(Context& ctx, const WalArgs& args) {
  const repo::Repository repository = repo::OpenRepository(ctx.config());
  const wal::WalArchive archive(repository, repository.info().codec);
  // One fetch per core: more threads only compete with the replay they are meant to feed.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int jobs =
      args.keep_ahead > 0 ? cores : std::min(cores, static_cast<int>(args.names.size()));
  wal::RunPrefetch(archive, args.spool, args.names, jobs, args.keep_ahead,
                   std::chrono::seconds(30), FilteredFetch(archive, args.wal_filter));
}

// Synchronous push: compressed, checksummed, fsynced in the repository before exit 0.
wal::PushResult PushNow(const repo::Repository& repository, const std::string& file) {
  wal::WalArchive archive(repository, repository.info().codec);
  try {
    return archive.Push(file);
  } catch (const Error& e) {
    throw e.WithContext(fmt::format("unable to push WAL file '{}' to repository '{}'", file,
                                    repository.storage().Describe("")));
  }
}

// The argv of `wal push-worker` for the spool, forwarding the repository and config.
std::vector<std::string> WorkerArgv(Context& ctx, int repository,
                                    const std::filesystem::path& spool,
                                    const std::filesystem::path& pg_wal) {
  std::vector<std::string> argv = {std::filesystem::read_symlink("/proc/self/exe").string()};
  if (ctx.config_path) argv.insert(argv.end(), {"--config", *ctx.config_path});
  argv.insert(argv.end(), {"wal", "push-worker", "--spool", spool.string(), "--pg-wal",
                           pg_wal.string(), "--wal-push-jobs",
                           std::to_string(ctx.config().Int("wal.push_jobs"))});
  const std::vector<std::string> repo_args = OneRepositoryArgs(ctx, repository);
  argv.insert(argv.end(), repo_args.begin(), repo_args.end());
  return argv;
}

// Repository 1 keeps the spool it always had; repository N has its own beside it (SPOOL-repoN),
// with its own worker, so a repository that is down holds back only its own queue.
std::filesystem::path SpoolPath(Context& ctx, int repository, const std::string& file) {
  std::filesystem::path base = wal::DefaultPushSpool(file);
  if (auto path = ctx.config().Optional("wal.spool_path")) base = *path;
  if (repository == 1) return base;
  return base.parent_path() / fmt::format("{}-repo{}", base.filename().string(), repository);
}

// Asynchronous push: returns as soon as the file is durable in the spool (or was pushed ahead).
// Returns the outcome's name for --output json.
std::string PushAsync(Context& ctx, int index, const std::string& file) {
  wal::PushSpool spool(SpoolPath(ctx, index, file), ctx.config().Size("wal.spool_max"));
  if (auto error = spool.LastError()) {
    spdlog::warn("the asynchronous push worker is failing (WAL waits in spool '{}'): {}",
                 spool.dir().string(), *error);
  }
  const wal::OfferOutcome outcome = spool.Offer(file);
  if (!spool.WorkerRunning()) {
    wal::LaunchDetached(
        WorkerArgv(ctx, index, spool.dir(), std::filesystem::absolute(file).parent_path()),
        spool.dir() / "worker.log");
  }
  switch (outcome) {
    case wal::OfferOutcome::kPushedAhead: return "pushed-ahead";
    case wal::OfferOutcome::kQueued: return "queued";
    case wal::OfferOutcome::kFull: break;
  }
  spdlog::warn("push spool '{}' is full ({} queued, at most {}): pushing '{}' synchronously",
               spool.dir().string(), HumanBytes(double(spool.QueuedBytes())),
               HumanBytes(double(spool.max_bytes())), file);
  const repo::Repository repository = repo::OpenRepository(ctx.config());
  PushNow(repository, file);
  return "stored";
}

// Pushes (or spools, with --async) the file to one repository; the outcome as JSON.
nlohmann::json PushOne(Context& ctx, const repo::RepositoryConfig& target,
                       const std::string& file) {
  const RepositoryScope scope(ctx, target.config, target.index);
  if (ctx.config().Bool("wal.push_async")) {
    return {{"repository", target.index}, {"outcome", PushAsync(ctx, target.index, file)}};
  }
  const repo::Repository repository = repo::OpenRepository(ctx.config());
  const wal::PushResult r = PushNow(repository, file);
  const bool dup = r.outcome == wal::PushOutcome::kDuplicate;
  spdlog::debug("wal push {} to {}: {}", r.name, target.Describe(),
                dup ? "already archived" : "stored");
  return {{"repository", target.index}, {"outcome", dup ? "duplicate" : "stored"},
          {"raw_size", r.raw_size}, {"stored_size", r.stored_size}};
}

// Every repository gets the file, even after one failed; success only when all have it
// (PostgreSQL keeps the file and retries the whole push otherwise; repositories that already
// have it answer "duplicate").
void RunPush(Context& ctx, const WalArgs& args) {
  if (!wal::IsArchivableName(std::filesystem::path(args.file).filename().string())) {
    throw Error(ErrorCode::kUsage,
                fmt::format("'{}' is not a WAL file PostgreSQL archives", args.file),
                "use it as archive_command = 'dbmedic wal push %p'");
  }
  const std::string name = std::filesystem::path(args.file).filename().string();
  const std::vector<repo::RepositoryConfig> targets = TargetRepositories(ctx);
  nlohmann::json results = nlohmann::json::array();
  std::optional<Error> first_error;
  std::vector<std::string> failed;
  for (const repo::RepositoryConfig& target : targets) {
    try {
      results.push_back(PushOne(ctx, target, args.file));
    } catch (const Error& e) {
      spdlog::error("wal push {}: {} failed: {}", name, target.Describe(), e.what());
      results.push_back({{"repository", target.index}, {"outcome", "failed"},
                         {"error", e.what()}});
      failed.push_back(target.Describe());
      if (!first_error) first_error = e;
    }
  }
  if (ctx.json()) {
    nlohmann::json out = results.size() == 1 ? results[0] : nlohmann::json::object();
    out["name"] = name;
    if (results.size() > 1) out["repositories"] = results;
    if (!first_error) PrintJson(out);
  }
  ctx.skip_teardown = !first_error;
  if (first_error) {
    throw Error(first_error->code(),
                fmt::format("WAL file '{}' is not archived: the push to {} failed ({}){}", name,
                            fmt::join(failed, " and "), first_error->what(),
                            failed.size() < targets.size() ? "; the other repositories have it"
                                                           : ""),
                "PostgreSQL keeps the file and retries; fix the repository named above" +
                    (first_error->hint().empty() ? "" : " (" + first_error->hint() + ")"));
  }
}

void RunPushWorker(Context& ctx, const WalArgs& args) {
  const repo::Repository repository = repo::OpenRepository(ctx.config());
  wal::WalArchive archive(repository, repository.info().codec);
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  wal::SpoolWorkerOptions options;
  options.pg_wal = args.pg_wal;
  options.jobs = static_cast<int>(ctx.config().Int("wal.push_jobs"));
  wal::RunSpoolWorker(archive, args.spool, options, g_stop);
}

// Whether `repository` has the segment (then it is at args.dest).
bool GetFrom(const core::Config& config, const WalArgs& args) {
  const repo::Repository repository = repo::OpenRepository(config);
  wal::WalArchive archive(repository, repository.info().codec);
  try {
    if (const wal::SegmentFetch filtered = FilteredFetch(archive, args.wal_filter)) {
      return filtered(args.name, args.dest);
    }
    return archive.Get(args.name, args.dest);
  } catch (const Error& e) {
    throw e.WithContext(fmt::format("unable to get WAL file '{}' from repository '{}'", args.name,
                                    repository.storage().Describe("")));
  }
}

// The first repository that has the segment serves it; one that fails is logged and skipped.
// Returns the index of the repository that served it.
std::optional<int> GetFromRepositories(Context& ctx, const WalArgs& args) {
  const std::vector<repo::RepositoryConfig> targets = TargetRepositories(ctx);
  std::optional<Error> error;
  for (const repo::RepositoryConfig& target : targets) {
    try {
      if (GetFrom(target.config, args)) return target.index;
    } catch (const Error& e) {
      if (targets.size() == 1) throw;
      spdlog::warn("{}: {}{}", target.Describe(), e.what(),
                   &target == &targets.back() ? "" : "; trying the next repository");
      if (!error) error = e;
    }
  }
  // Missing everywhere reachable, and some repository failed: it may be there, so say so.
  if (error) throw *error;
  return std::nullopt;
}

void RunGet(Context& ctx, const WalArgs& args) {
  bool found = false;
  int served_by = ctx.repo_index().value_or(1);
  const std::filesystem::path spool = wal::SpoolFor(args.dest);
  if (wal::TakeFromSpool(spool, args.name, args.dest) ||
      wal::AwaitPrefetched(spool, args.name, args.dest)) {
    wal::NoteServed(spool);
    found = true;
  } else if (const std::optional<int> index = GetFromRepositories(ctx, args)) {
    served_by = *index;
    found = true;
  }
  // The segment still being streamed (wal stream) counts too: that is what makes RPO 0.
  if (!found) {
    if (auto partial = wal::ReadStreamPartial(StreamDir(ctx), args.name)) {
      core::AtomicWriteFile(args.dest, *partial, 0600);
      found = true;
    }
  }
  // Not found is PostgreSQL's normal end of archive recovery: exit 1, and no noise.
  if (!found) ctx.exit_code = 1;
  if (found) StartPrefetch(ctx, served_by, args.name, args.dest, args.wal_filter);
  if (ctx.json()) PrintJson({{"name", args.name}, {"found", found}, {"dest", args.dest}});
  ctx.skip_teardown = true;
}

// recovery_end_command: PostgreSQL runs it once recovery has ended, in the data directory.
void RunRecoveryEnd(Context& ctx) {
  const std::uint64_t served = wal::EndPrefetch(std::filesystem::path("pg_wal") / wal::kSpoolDirName);
  // Goes to the server log: how much of the replay the prefetch spool served.
  fmt::print(stderr, "dbmedic: recovery ended; {} WAL segments were served from the prefetch "
             "spool, which is now removed\n", served);
  if (ctx.json()) PrintJson({{"prefetch_served", served}});
}

nlohmann::json CoverageJson(const wal::TimelineCoverage& c) {
  nlohmann::json gaps = nlohmann::json::array();
  for (const wal::SegmentGap& g : c.gaps) {
    gaps.push_back({{"from", pg::WalSegmentName(c.timeline, g.first_segno)},
                    {"to", pg::WalSegmentName(c.timeline, g.last_segno)}});
  }
  nlohmann::json out = {{"timeline", c.timeline}, {"segments", c.segnos.size()},
                        {"gaps", gaps}, {"partial_files", c.partial_files},
                        {"stored_bytes", c.stored_bytes}, {"has_history", c.has_history}};
  if (!c.segnos.empty()) {
    out["first"] = pg::WalSegmentName(c.timeline, *c.segnos.begin());
    out["last"] = pg::WalSegmentName(c.timeline, *c.segnos.rbegin());
    out["end_lsn"] = pg::SegmentStart(*c.segnos.rbegin() + 1).ToString();
  }
  return out;
}

void RunList(Context& ctx) {
  const repo::Repository repository = repo::OpenRepository(ctx.config());
  wal::WalArchive archive(repository, repository.info().codec);
  const wal::ArchiveCatalog catalog = wal::BuildCatalog(archive.List());
  if (ctx.json()) {
    nlohmann::json tls = nlohmann::json::array();
    for (const auto& [tli, c] : catalog.timelines) tls.push_back(CoverageJson(c));
    PrintJson({{"files", catalog.files}, {"stored_bytes", catalog.stored_bytes},
               {"raw_bytes", catalog.raw_bytes}, {"timelines", tls}});
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [tli, c] : catalog.timelines) {
    const nlohmann::json j = CoverageJson(c);
    rows.push_back({std::to_string(tli), std::to_string(c.segnos.size()),
                    j.value("first", std::string("-")), j.value("last", std::string("-")),
                    std::to_string(c.gaps.size()), HumanBytes(double(c.stored_bytes))});
  }
  PrintTable({"TIMELINE", "SEGMENTS", "FIRST", "LAST", "GAPS", "STORED"}, rows);
}

void Setup(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<WalArgs>();
  auto* wal = root.add_subcommand("wal", "The WAL archive: archive_command, restore_command.");
  wal->require_subcommand(1);

  auto* push = wal->add_subcommand(
      "push",
      "Store one WAL file in the repository (archive_command = 'dbmedic wal push --repo R %p'). "
      "Compressed, checksummed and fsynced before exit 0; the same file twice is fine; a "
      "different file under an archived name is refused (exit 11), so PostgreSQL keeps it. "
      "With several repositories: into each, exit 0 only when every one has it (--repo N: "
      "that one only). "
      "--async: returns once the file is durable in a bounded local spool, pushed by a "
      "background worker (a full spool means a synchronous push).");
  push->add_option("file", args->file, "WAL file to archive (%p)")->required();
  AddRepositoryOptions(push, ctx, false);
  push->add_flag_callback(
      "--async", [&ctx] { ctx.overrides["wal.push_async"] = "true"; },
      "Return once the file is durable in a bounded local spool; a background worker pushes it "
      "(and the WAL PostgreSQL has ready, ahead of it) to the repository (config "
      "wal.push_async)");
  AddConfigOption(push, ctx, "wal.spool_path");
  AddConfigOption(push, ctx, "wal.spool_max");
  AddConfigOption(push, ctx, "wal.push_jobs");
  push->callback([&ctx, args] { RunPush(ctx, *args); });

  // Internal: the background worker of `wal push --async`. Hidden from --help.
  auto* worker = wal->add_subcommand("push-worker", "");
  worker->group("");
  worker->add_option("--spool", args->spool, "Spool directory")->required();
  worker->add_option("--pg-wal", args->pg_wal, "pg_wal directory to push ahead from");
  AddConfigOption(worker, ctx, "wal.push_jobs");
  AddRepositoryOptions(worker, ctx, false);
  worker->callback([&ctx, args] { RunPushWorker(ctx, *args); });

  auto* get = wal->add_subcommand(
      "get",
      "Fetch one WAL file from the repository (restore_command = 'dbmedic wal get --repo R %f "
      "%p'). Verified and decompressed; exit 1 without a message when it is not archived. With "
      "several repositories: the first that has it, skipping (and logging) one that fails.");
  get->add_option("name", args->name, "WAL file name (%f)")->required();
  get->add_option("dest", args->dest, "Where to write it (%p)")->required();
  AddRepositoryOptions(get, ctx, false);
  AddConfigOption(get, ctx, "wal.prefetch");
  get->add_option("--wal-filter", args->wal_filter,
                  "Internal, for undo's side cluster: skip the changes to the relations this "
                  "file (written by `dbmedic undo`) lists")
      ->check(CLI::ExistingFile);
  get->callback([&ctx, args] { RunGet(ctx, *args); });

  // Internal: the background prefetcher `wal get` starts. Hidden from --help.
  auto* prefetch = wal->add_subcommand("prefetch", "");
  prefetch->group("");
  prefetch->add_option("--spool", args->spool, "Spool directory")->required();
  prefetch->add_option("names", args->names, "Segments to fetch")->required();
  prefetch->add_option("--keep-ahead", args->keep_ahead,
                       "Then keep this many segments in the spool until the archive ends");
  prefetch->add_option("--wal-filter", args->wal_filter, "Rewrite segments with this filter");
  AddRepositoryOptions(prefetch, ctx, false);
  prefetch->callback([&ctx, args] { RunPrefetch(ctx, *args); });

  auto* end = wal->add_subcommand(
      "recovery-end",
      "recovery_end_command of a restored cluster: removes the prefetch spool of `wal get` "
      "(pg_wal/dbmedic-prefetch, in the data directory it runs in) once recovery has ended.");
  AddRepositoryOptions(end, ctx, false);  // accepted (and unused) like every wal command
  end->callback([&ctx] { RunRecoveryEnd(ctx); });

  auto* stream = wal->add_subcommand(
      "stream",
      "Receive WAL over the replication protocol with a physical slot, fsync it into the "
      "repository and report the flush position: named in synchronous_standby_names, a COMMIT "
      "returns only once its WAL is in the repository (RPO 0). Reconnects after failures. With "
      "several repositories: into repository 1, or the one of --repo N (run one per "
      "repository, each with its own --slot, to stream into more).");
  stream->add_option("--slot", args->slot, "Physical replication slot (also application_name)")
      ->capture_default_str();
  AddRepositoryOptions(stream, ctx, true);
  AddConfigOption(stream, ctx, "forensics.capture_interval");
  stream->callback([&ctx, args] { RunStream(ctx, *args); });

  auto* list = wal->add_subcommand("list", "Show what the WAL archive covers, per timeline.");
  AddRepositoryOptions(list, ctx, false);
  list->callback([&ctx] { RunList(ctx); });
}

const CommandRegistration kReg{Setup, "wal"};

}  // namespace
}  // namespace dbmedic::cli
