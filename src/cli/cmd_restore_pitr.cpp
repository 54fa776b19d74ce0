// The point-in-time part of `dbmedic restore`: --to-time/--to-lsn/--to-xid/--to-name/--immediate,
// --inclusive/--exclusive, --timeline, --start, --pause. cmd_restore.cpp adds these options
// through AddPitrOptions and hands over to RunPitr when a target is given. Also the archive view
// that restore (and info) need from the wal module: the CLI is where the two siblings meet.
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include <spdlog/spdlog.h>

#include "cli/command.hpp"
#include "cli/incident_scan.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "repo/cluster.hpp"
#include "restore/pitr_restore.hpp"
#include "wal/prefetch.hpp"
#include "wal/archive.hpp"
#include "wal/archive_catalog.hpp"
#include "wal/restore_point.hpp"

namespace dbmedic::cli {

std::vector<std::string> RepositorySelectionArgs(Context& ctx);  // cmd_repo.cpp

struct PitrCli {
  std::string to_time;
  std::string to_lsn;
  std::string to_xid;
  std::string to_name;
  bool immediate = false;
  bool inclusive = false;
  bool exclusive = false;
  std::string timeline;
  bool start = false;
  bool pause = false;
  bool archive = false;
  std::string before_incident;  // XID or "latest"
  std::string table;            // with before_incident latest
};

restore::ArchiveView LoadArchiveView(const repo::Repository& repository);
std::shared_ptr<PitrCli> AddPitrOptions(CLI::App* cmd, Context& ctx);
bool RunPitr(Context& ctx, const PitrCli& pitr, restore::RestoreOptions options);

namespace {

namespace fs = std::filesystem;

int CountTargets(const PitrCli& p) {
  return !p.to_time.empty() + !p.to_lsn.empty() + !p.to_xid.empty() + !p.to_name.empty() +
         p.immediate + !p.before_incident.empty();
}

// --before-incident XID|latest [--table T]: finds the incident in the archive and turns it into
// an exclusive xid target (recovery stops just before that transaction's commit).
struct IncidentTarget {
  forensics::Incident incident;
  std::string source;
};

IncidentTarget ResolveIncident(Context& ctx, PitrCli& p) {
  std::optional<pg::TransactionId> xid;
  if (p.before_incident != "latest") {
    if (p.before_incident.empty() ||
        p.before_incident.find_first_not_of("0123456789") != std::string::npos ||
        p.before_incident.size() > 10) {
      throw Error(ErrorCode::kUsage,
                  fmt::format("invalid --before-incident '{}'", p.before_incident),
                  "give the XID column of 'dbmedic incidents', or 'latest' (with --table NAME)");
    }
    xid = static_cast<pg::TransactionId>(std::stoull(p.before_incident));
  }
  if (p.inclusive) {
    throw Error(ErrorCode::kUsage, "--before-incident cannot be --inclusive",
                "the incident's transaction is always left out");
  }
  forensics::IncidentOptions options;
  const core::Config& config = ctx.config();
  options.min_rows = static_cast<std::uint64_t>(config.Int("forensics.min_rows"));
  options.min_percent = static_cast<int>(config.Int("forensics.min_percent"));
  if (!p.table.empty()) options.table = p.table;
  std::optional<pg::TimelineId> timeline;
  if (!p.timeline.empty() && p.timeline.find_first_not_of("0123456789") == std::string::npos) {
    timeline = static_cast<pg::TimelineId>(std::stoul(p.timeline));
  }
  IncidentScan scan = ScanForIncidents(ctx, options, timeline);
  if (scan.report.error_exit_code) {
    spdlog::warn("the WAL archive could not be read past {}: {}",
                 scan.report.stop.lsn.ToString(), scan.report.stop.detail);
  }
  const forensics::Incident& incident =
      PickIncident(scan, xid, p.table.empty() ? std::nullopt : std::optional(p.table));
  p.to_xid = std::to_string(incident.xid);
  p.exclusive = true;
  if (!ctx.json()) {
    fmt::print("incident: {}\n", DescribeIncident(incident));
    fmt::print("recovering to just before it: xid {} exclusive; every transaction committed "
               "before it is kept; {} committed after it are not replayed\n",
               incident.xid, incident.later_commits);
  }
  return {incident, scan.source};
}

restore::RecoveryTarget ParseTarget(const PitrCli& p, const repo::Repository& repository) {
  restore::RecoveryTarget t;
  t.kind = p.immediate ? restore::TargetKind::kImmediate : restore::TargetKind::kEnd;
  if (!p.to_time.empty()) {
    t.kind = restore::TargetKind::kTime;
    t.unix_micros = restore::ParseTargetTime(p.to_time);
    t.text = wal::FormatUnixMicros(*t.unix_micros);
  } else if (!p.to_lsn.empty()) {
    t.kind = restore::TargetKind::kLsn;
    t.lsn = pg::Lsn::Parse(p.to_lsn);
    t.text = t.lsn->ToString();
  } else if (!p.to_xid.empty()) {
    t.kind = restore::TargetKind::kXid;
    if (p.to_xid.find_first_not_of("0123456789") != std::string::npos || p.to_xid.size() > 19) {
      throw Error(ErrorCode::kUsage, fmt::format("invalid --to-xid '{}'", p.to_xid),
                  "give a transaction id as a number, e.g. --to-xid 1234");
    }
    t.text = p.to_xid;
  } else if (!p.to_name.empty()) {
    t.kind = restore::TargetKind::kName;
    t.text = p.to_name;
    if (auto point = wal::FindRestorePoint(repository, p.to_name)) t.lsn = pg::Lsn::Parse(point->lsn);
  }
  t.inclusive = !p.exclusive;
  if (!p.timeline.empty()) {
    restore::ValidateTimeline(p.timeline);
    t.timeline = p.timeline;
  }
  t.action = p.pause ? restore::TargetAction::kPause : restore::TargetAction::kPromote;
  return t;
}

void CheckCombination(const PitrCli& p) {
  if (CountTargets(p) > 1) {
    throw Error(ErrorCode::kUsage, "more than one recovery target given",
                "give one of --to-time, --to-lsn, --to-xid, --to-name, --immediate, "
                "--before-incident");
  }
  if (!p.table.empty() && p.before_incident.empty()) {
    throw Error(ErrorCode::kUsage, "--table needs --before-incident",
                "e.g. --before-incident latest --table users");
  }
  if (p.inclusive && p.exclusive) {
    throw Error(ErrorCode::kUsage, "--inclusive and --exclusive both given", "pick one");
  }
  if (p.pause && !p.start) {
    throw Error(ErrorCode::kUsage, "--pause needs --start",
                "add --start: dbmedic starts the cluster and pauses it at the target");
  }
}

// restore_command (verb "get") or archive_command (verb "push") for the restored cluster: this
// very binary, reachable by the server's user, on the same repository.
std::string WalCommand(Context& ctx, std::string_view verb) {
  const fs::path self = fs::read_symlink("/proc/self/exe");
  if (!core::IsTraversableByOthers(self)) {
    throw Error(ErrorCode::kConfig,
                fmt::format("the server's OS user cannot reach this dbmedic binary '{}' (a "
                            "directory above it is not traversable)",
                            self.string()),
                "install dbmedic in a public location such as /usr/local/bin and run it there");
  }
  std::string cmd = fmt::format("{} wal {}", self.string(), verb);
  if (ctx.config_path) cmd += fmt::format(" --config '{}'", *ctx.config_path);
  // Every configured repository (wal get falls back from one to the next), or the --repo N one.
  for (const std::string& arg : RepositorySelectionArgs(ctx)) cmd += fmt::format(" '{}'", arg);
  cmd += verb == "get" ? " %f \"%p\"" : verb == "push" ? " %p" : "";
  return cmd;
}

void Print(Context& ctx, const restore::PitrResult& r,
           const std::optional<IncidentTarget>& incident) {
  if (ctx.json()) {
    nlohmann::json j = {{"label", r.restore.label}, {"target", r.target.Describe()},
                        {"restore_seconds", r.restore.seconds}, {"started", r.started}};
    if (incident) {
      j["incident"] = forensics::ToJson(incident->incident);
      j["discarded_commits"] = incident->incident.later_commits;
    }
    if (r.started) {
      j.update({{"promoted", r.promoted}, {"paused", !r.promoted}, {"port", r.port},
                {"socket_dir", r.socket_dir.string()}, {"log_file", r.log_file.string()},
                {"replay_seconds", r.replay_seconds}, {"rto_seconds", r.rto_seconds},
                {"replay_lsn", r.replay_lsn}, {"timeline", r.timeline},
                {"last_transaction_time", r.last_transaction_time.value_or("")}});
    }
    PrintJson(j);
    return;
  }
  fmt::print("restored backup {} ({} files) in {}; recovery target: {}\n", r.restore.label,
             r.restore.files, HumanSeconds(r.restore.seconds), r.target.Describe());
  if (!r.started) {
    fmt::print("recovery settings are in postgresql.auto.conf (archive_mode is off); start the "
               "cluster to replay the WAL up to the target\n");
    return;
  }
  fmt::print("{} at WAL {} on timeline {}; last transaction replayed committed at {}\n",
             r.promoted ? "promoted" : "paused", r.replay_lsn, r.timeline,
             r.last_transaction_time.value_or("(none replayed)"));
  fmt::print("RTO {} (restore {} + start and replay {})\n", HumanSeconds(r.rto_seconds),
             HumanSeconds(r.restore.seconds), HumanSeconds(r.replay_seconds));
  fmt::print("running on port {}, socket {} (log {})\n", r.port, r.socket_dir.string(),
             r.log_file.string());
  if (!r.promoted) {
    fmt::print("look around, then promote with: SELECT pg_wal_replay_resume();\n");
  }
  if (incident) {
    fmt::print("transactions lost: the incident itself{}\n",
               incident->incident.later_commits == 0
                   ? " only"
                   : fmt::format(" and the {} committed after it (to keep those, bring back "
                                 "only the table from this cluster)",
                                 incident->incident.later_commits));
  }
}

}  // namespace

restore::ArchiveView LoadArchiveView(const repo::Repository& repository) {
  const wal::WalArchive archive(repository, repository.info().codec);
  const wal::ArchiveCatalog catalog = wal::BuildCatalog(archive.List());
  restore::ArchiveView view;
  for (const auto& [tli, coverage] : catalog.timelines) {
    view.segments[tli] = coverage.segnos;
    if (coverage.segnos.empty()) continue;
    const std::optional<wal::ArchivedFile> newest = wal::NewestSegment(archive, tli);
    if (!newest) continue;
    if (auto last = wal::FindLastTransaction(archive, *newest)) {
      view.last_transaction_micros[tli] = last->unix_micros;
    }
  }
  return view;
}

std::shared_ptr<PitrCli> AddPitrOptions(CLI::App* cmd, Context& ctx) {
  auto p = std::make_shared<PitrCli>();
  cmd->add_option("--to-time", p->to_time,
                  "Recover up to this time, with its zone ('2026-11-29 13:04:05+00')");
  cmd->add_option("--to-lsn", p->to_lsn, "Recover up to this WAL position (e.g. 0/5000028)");
  cmd->add_option("--to-xid", p->to_xid, "Recover up to this transaction id");
  cmd->add_option("--to-name", p->to_name, "Recover up to a restore point (dbmedic restore-point)");
  cmd->add_flag("--immediate", p->immediate, "Recover only to the end of the backup");
  cmd->add_option("--before-incident", p->before_incident,
                  "Recover to just before a destructive transaction found in the WAL archive: "
                  "its XID (from 'dbmedic incidents'), or 'latest' (with --table)");
  cmd->add_option("--table", p->table,
                  "With --before-incident latest: the newest incident touching this table");
  AddConfigOption(cmd, ctx, "forensics.min_rows");
  AddConfigOption(cmd, ctx, "forensics.min_percent");
  AddConfigOption(cmd, ctx, "forensics.live_snapshot");
  cmd->add_flag("--inclusive", p->inclusive, "Include the target transaction (the default)");
  cmd->add_flag("--exclusive", p->exclusive, "Stop just before the target transaction");
  cmd->add_option("--timeline", p->timeline, "Timeline to follow: latest (default), current, N");
  cmd->add_flag("--start", p->start,
                "Start the restored cluster (new port and socket), wait for the target, promote; "
                "reports the RTO");
  cmd->add_flag("--pause", p->pause, "With --start: pause at the target instead of promoting");
  cmd->add_flag("--archive", p->archive,
                "The restored cluster archives its new timeline into this repository (when it "
                "replaces the primary); default: archive_mode = off");
  AddConfigOption(cmd, ctx, "pitr.port");
  AddConfigOption(cmd, ctx, "pitr.socket_dir");
  AddConfigOption(cmd, ctx, "pitr.start_timeout");
  return p;
}

bool RunPitr(Context& ctx, const PitrCli& pitr_in, restore::RestoreOptions options) {
  CheckCombination(pitr_in);
  if (CountTargets(pitr_in) == 0 && !pitr_in.start) return false;
  PitrCli pitr = pitr_in;
  std::optional<IncidentTarget> incident;
  if (!pitr.before_incident.empty()) incident = ResolveIncident(ctx, pitr);
  const core::Config& config = ctx.config();
  const repo::Repository repository = repo::OpenRepository(config);
  restore::PitrOptions p;
  p.target = ParseTarget(pitr, repository);
  if (options.os_user.empty()) options.os_user = config.String("cluster.os_user");
  if (options.jobs <= 0) options.jobs = static_cast<int>(config.Int("backup.jobs"));
  p.restore = std::move(options);
  p.restore_command = wal::SpoolFirstRestoreCommand(WalCommand(ctx, "get"));
  p.recovery_end_command = WalCommand(ctx, "recovery-end");
  if (pitr.archive) p.archive_command = WalCommand(ctx, "push");
  p.start = pitr.start;
  p.port = static_cast<int>(config.Int("pitr.port"));
  if (auto dir = config.Optional("pitr.socket_dir")) p.socket_dir = config.Path("pitr.socket_dir");
  p.start_timeout = config.Duration("pitr.start_timeout");
  Print(ctx, restore::RestoreToTarget(repository, LoadArchiveView(repository), p), incident);
  return true;
}

}  // namespace dbmedic::cli

namespace dbmedic::cli {

// For `dbmedic info`: the recoverable window per timeline and the archive's health.
nlohmann::json ArchiveWindowJson(const repo::Repository& repository,
                                 const std::vector<repo::Manifest>& backups) {
  const wal::WalArchive archive(repository, repository.info().codec);
  const wal::ArchiveCatalog catalog = wal::BuildCatalog(archive.List());
  nlohmann::json windows = nlohmann::json::array();
  for (const restore::RecoverableWindow& w :
       restore::ComputeWindows(backups, LoadArchiveView(repository))) {
    nlohmann::json j = {{"timeline", w.timeline}, {"oldest_backup", w.oldest_backup},
                        {"from_lsn", w.from_lsn.ToString()},
                        {"from_time", wal::FormatUnixMicros(w.from_micros)},
                        {"to_lsn", w.to_lsn.ToString()}, {"text", restore::DescribeWindow(w)}};
    if (w.to_micros) j["to_time"] = wal::FormatUnixMicros(*w.to_micros);
    windows.push_back(j);
  }
  nlohmann::json gaps = nlohmann::json::array();
  for (const auto& [tli, c] : catalog.timelines) {
    for (const wal::SegmentGap& g : c.gaps) {
      gaps.push_back({{"timeline", tli}, {"first", pg::WalSegmentName(tli, g.first_segno)},
                      {"last", pg::WalSegmentName(tli, g.last_segno)}});
    }
  }
  return {{"windows", windows},
          {"archive", {{"files", catalog.files}, {"stored_bytes", catalog.stored_bytes},
                       {"raw_bytes", catalog.raw_bytes}, {"gaps", gaps},
                       {"healthy", gaps.empty()}}}};
}

void PrintArchiveWindow(const nlohmann::json& j) {
  fmt::print("WAL archive: {} files, {} stored ({} raw), {}\n", j["archive"]["files"].get<int>(),
             HumanBytes(j["archive"]["stored_bytes"].get<double>()),
             HumanBytes(j["archive"]["raw_bytes"].get<double>()),
             j["archive"]["healthy"].get<bool>() ? "no gaps" : "GAPS (see below)");
  for (const auto& g : j["archive"]["gaps"]) {
    fmt::print("  missing on timeline {}: {} .. {}\n", g["timeline"].get<int>(),
               g["first"].get<std::string>(), g["last"].get<std::string>());
  }
  fmt::print("recoverable window:\n");
  for (const auto& w : j["windows"]) fmt::print("  {}\n", w["text"].get<std::string>());
  if (j["windows"].empty()) fmt::print("  none (no backup)\n");
}

}  // namespace dbmedic::cli
