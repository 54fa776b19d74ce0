// `dbmedic info`: the repository's backups (only those whose manifest is committed).
#include <ctime>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "repo/cluster.hpp"
#include "repo/repository_set.hpp"
#include "rescue/recovery_status.hpp"

namespace dbmedic::cli {

std::vector<repo::RepositoryConfig> TargetRepositories(Context& ctx);  // cmd_repo.cpp

void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster);
// Recoverable window and WAL archive health (cmd_restore_pitr.cpp).
nlohmann::json ArchiveWindowJson(const repo::Repository& repository,
                                 const std::vector<repo::Manifest>& backups);
void PrintArchiveWindow(const nlohmann::json& window);
// Recovery objectives: drills, predicted RTO, RPO against the targets (cmd_drill.cpp).
rescue::RecoveryStatus LoadRecoveryStatus(Context& ctx, const repo::Repository& repository,
                                          const std::vector<repo::Manifest>& backups);

namespace {

std::string Utc(std::int64_t epoch) {
  const std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json ToJson(const repo::Manifest& m) {
  nlohmann::json spcs = nlohmann::json::array();
  for (const auto& t : m.tablespaces) spcs.push_back({{"oid", t.oid}, {"location", t.location}});
  return {{"label", m.label}, {"type", m.type}, {"requested_type", m.requested_type},
          {"reference", m.reference.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.reference)},
          {"chain", m.chain}, {"start_time", Utc(m.start_time)},
          {"stop_time", Utc(m.stop_time)}, {"start_lsn", m.start_lsn}, {"stop_lsn", m.stop_lsn},
          {"timeline", m.timeline}, {"pg_version_num", m.pg_version_num},
          {"database_size", m.database_size}, {"repository_size", m.repository_size},
          {"duration_seconds", m.duration_seconds}, {"files", m.files.size()},
          {"compression", std::string(repo::CompressionName(m.compression))},
          {"tablespaces", spcs}};
}

// The repository of ctx.config(): printed, or returned as JSON with --output json.
nlohmann::json InfoOne(Context& ctx) {
  const repo::Repository repository = repo::OpenRepository(ctx.config());
  std::vector<repo::Manifest> manifests;
  for (const std::string& label : repository.ListBackups()) {
    manifests.push_back(repository.LoadManifest(label));
  }
  const std::vector<std::string> incomplete = repository.ListIncomplete();
  const nlohmann::json window = ArchiveWindowJson(repository, manifests);
  const rescue::RecoveryStatus recovery = LoadRecoveryStatus(ctx, repository, manifests);
  if (ctx.json()) {
    nlohmann::json backups = nlohmann::json::array();
    for (const repo::Manifest& m : manifests) backups.push_back(ToJson(m));
    return {{"repository", repository.storage().Describe("")},
            {"system_identifier", repository.info().system_identifier},
            {"backups", backups},
            {"incomplete", incomplete},
            {"recoverable", window},
            {"recovery", rescue::ToJson(recovery)}};
  }
  fmt::print("repository {} (cluster {})\n", repository.storage().Describe(""),
             repository.info().system_identifier);
  std::vector<std::vector<std::string>> rows;
  for (const repo::Manifest& m : manifests) {
    rows.push_back({m.label, m.type, m.reference.empty() ? "-" : m.reference, Utc(m.start_time),
                    Utc(m.stop_time),
                    m.start_lsn + " .. " + m.stop_lsn, HumanBytes(double(m.database_size)),
                    HumanBytes(double(m.repository_size)), HumanSeconds(m.duration_seconds)});
  }
  PrintTable({"LABEL", "TYPE", "REFERENCE", "START", "STOP", "LSN", "DB SIZE", "REPO SIZE", "DURATION"}, rows);
  PrintArchiveWindow(window);
  fmt::print("recovery objectives:\n");
  for (const std::string& line : rescue::DescribeRecoveryStatus(recovery)) {
    fmt::print("  {}\n", line);
  }
  for (const std::string& label : incomplete) {
    fmt::print("interrupted (not restorable, removed by the next backup): {}\n", label);
  }
  return nullptr;
}

// Every repository (or the one of --repo N); one that cannot be read is reported as such and
// the command exits non-zero after listing the others.
void Run(Context& ctx) {
  const std::vector<repo::RepositoryConfig> targets = TargetRepositories(ctx);
  if (targets.size() == 1) {
    const nlohmann::json j = InfoOne(ctx);
    if (ctx.json()) PrintJson(j);
    return;
  }
  nlohmann::json all = nlohmann::json::array();
  std::optional<Error> error;
  for (const repo::RepositoryConfig& target : targets) {
    const RepositoryScope scope(ctx, target.config, target.index);
    if (!ctx.json()) fmt::print("{}{}:\n", target.index == 1 ? "" : "\n", target.Describe());
    try {
      nlohmann::json j = InfoOne(ctx);
      if (ctx.json()) {
        j["index"] = target.index;
        j["healthy"] = true;
        all.push_back(j);
      }
    } catch (const Error& e) {
      fmt::print(stderr, "ERROR: {}: {}\n", target.Describe(), e.what());
      if (!e.hint().empty()) fmt::print(stderr, "HINT: {}\n", e.hint());
      all.push_back({{"index", target.index}, {"repository", target.Describe()},
                     {"healthy", false}, {"error", e.what()}});
      if (!error) error = e;
    }
  }
  if (ctx.json()) PrintJson({{"repositories", all}});
  if (error) ctx.exit_code = error->exit_code();
}

void Setup(CLI::App& root, Context& ctx) {
  auto* cmd = root.add_subcommand("info", "List the backups in the repository (every configured repository, or the one of --repo N).");
  AddRepositoryOptions(cmd, ctx, true);
  AddConfigOption(cmd, ctx, "recovery.rpo_target");
  AddConfigOption(cmd, ctx, "recovery.rto_target");
  cmd->callback([&ctx] { Run(ctx); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
