// `dbmedic wal push %p` (archive_command), `dbmedic wal get %f %p` (restore_command) and
// `dbmedic wal list` (what the archive covers).
#include <atomic>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "repo/cluster.hpp"
#include "wal/archive.hpp"
#include "wal/archive_catalog.hpp"
#include "wal/prefetch.hpp"
#include "wal/stream_receiver.hpp"

#include <csignal>

#include "core/fs.hpp"

namespace dbmedic::cli {

std::vector<std::string> RepositoryFlagArgs(const Context& ctx);  // cmd_repo.cpp

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);

namespace {

struct WalArgs {
  std::string file;
  std::string name;
  std::string dest;
  std::string spool;
  std::vector<std::string> names;
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
  if (!ctx.json()) {
    fmt::print("streaming WAL into {} with slot '{}' (name it in synchronous_standby_names for "
               "RPO 0); stop with SIGINT/SIGTERM\n",
               repository.storage().Describe(""), args.slot);
  }
  receiver.Run(g_stop);
  if (ctx.json()) PrintJson({{"flushed_lsn", receiver.flushed().ToString()}});
}

// Starts a background `wal prefetch` for the segments after `name` (see wal/prefetch.hpp).
void StartPrefetch(Context& ctx, const std::string& name, const std::string& dest) {
  const int count = static_cast<int>(ctx.config().Int("wal.prefetch"));
  if (count <= 0) return;
  const std::filesystem::path spool = wal::SpoolFor(dest);
  const std::vector<std::string> names = wal::SegmentsToPrefetch(spool, name, count);
  if (names.empty()) return;
  std::vector<std::string> argv = {std::filesystem::read_symlink("/proc/self/exe").string()};
  if (ctx.config_path) argv.insert(argv.end(), {"--config", *ctx.config_path});
  argv.insert(argv.end(), {"wal", "prefetch", "--repo",
                           ctx.config().Path("repository.path").string(), "--spool",
                           spool.string()});
  const std::vector<std::string> repo_flags = RepositoryFlagArgs(ctx);  // key file, S3
  argv.insert(argv.end(), repo_flags.begin(), repo_flags.end());
  argv.insert(argv.end(), names.begin(), names.end());
  wal::LaunchDetached(argv);
}

void RunPrefetch(Context& ctx, const WalArgs& args) {
  const repo::Repository repository = repo::OpenRepository(ctx.config());
  const wal::WalArchive archive(repository, repository.info().codec);
  wal::RunPrefetch(archive, args.spool, args.names, static_cast<int>(args.names.size()));
}

void RunPush(Context& ctx, const WalArgs& args) {
  const repo::Repository repository = repo::OpenRepository(ctx.config());
  wal::WalArchive archive(repository, repository.info().codec);
  wal::PushResult r;
  try {
    r = archive.Push(args.file);
  } catch (const Error& e) {
    throw e.WithContext(fmt::format("unable to push WAL file '{}' to repository '{}'", args.file,
                                    repository.storage().Describe("")));
  }
  const bool dup = r.outcome == wal::PushOutcome::kDuplicate;
  spdlog::debug("wal push {}: {}", r.name, dup ? "already archived" : "stored");
  if (ctx.json()) {
    PrintJson({{"name", r.name}, {"outcome", dup ? "duplicate" : "stored"},
               {"raw_size", r.raw_size}, {"stored_size", r.stored_size}});
  }
}

void RunGet(Context& ctx, const WalArgs& args) {
  const repo::Repository repository = repo::OpenRepository(ctx.config());
  wal::WalArchive archive(repository, repository.info().codec);
  bool found = false;
  try {
    found = wal::TakeFromSpool(wal::SpoolFor(args.dest), args.name, args.dest) ||
            archive.Get(args.name, args.dest);
  } catch (const Error& e) {
    throw e.WithContext(fmt::format("unable to get WAL file '{}' from repository '{}'", args.name,
                                    repository.storage().Describe("")));
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
  if (found) StartPrefetch(ctx, args.name, args.dest);
  if (ctx.json()) PrintJson({{"name", args.name}, {"found", found}, {"dest", args.dest}});
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
      "different file under an archived name is refused (exit 11), so PostgreSQL keeps it.");
  push->add_option("file", args->file, "WAL file to archive (%p)")->required();
  AddRepositoryOptions(push, ctx, false);
  push->callback([&ctx, args] { RunPush(ctx, *args); });

  auto* get = wal->add_subcommand(
      "get",
      "Fetch one WAL file from the repository (restore_command = 'dbmedic wal get --repo R %f "
      "%p'). Verified and decompressed; exit 1 without a message when it is not archived.");
  get->add_option("name", args->name, "WAL file name (%f)")->required();
  get->add_option("dest", args->dest, "Where to write it (%p)")->required();
  AddRepositoryOptions(get, ctx, false);
  AddConfigOption(get, ctx, "wal.prefetch");
  get->callback([&ctx, args] { RunGet(ctx, *args); });

  // Internal: the background prefetcher `wal get` starts. Hidden from --help.
  auto* prefetch = wal->add_subcommand("prefetch", "");
  prefetch->group("");
  prefetch->add_option("--spool", args->spool, "Spool directory")->required();
  prefetch->add_option("names", args->names, "Segments to fetch")->required();
  AddRepositoryOptions(prefetch, ctx, false);
  prefetch->callback([&ctx, args] { RunPrefetch(ctx, *args); });

  auto* stream = wal->add_subcommand(
      "stream",
      "Receive WAL over the replication protocol with a physical slot, fsync it into the "
      "repository and report the flush position: named in synchronous_standby_names, a COMMIT "
      "returns only once its WAL is in the repository (RPO 0). Reconnects after failures.");
  stream->add_option("--slot", args->slot, "Physical replication slot (also application_name)")
      ->capture_default_str();
  AddRepositoryOptions(stream, ctx, true);
  stream->callback([&ctx, args] { RunStream(ctx, *args); });

  auto* list = wal->add_subcommand("list", "Show what the WAL archive covers, per timeline.");
  AddRepositoryOptions(list, ctx, false);
  list->callback([&ctx] { RunList(ctx); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
