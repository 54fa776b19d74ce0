// `dbmedic repo init`: binds a repository directory to the configured cluster. Also home of the
// option and progress helpers the backup-path commands share (declared where used).
#include <unistd.h>

#include <chrono>
#include <functional>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "repo/cluster.hpp"
#include "repo/repository_set.hpp"

namespace dbmedic::cli {

// How to reach the repository besides its path (encryption key file, S3 back end).
constexpr const char* kRepositoryAccessKeys[] = {"repository.key_file", "repository.type",
                                                 "s3.endpoint",         "s3.bucket",
                                                 "s3.region",           "s3.uri_style",
                                                 "s3.verify_tls",       "s3.ca_file"};

// Options every backup-path command takes: the repository and how to reach the cluster.
void AddRepositoryOptions(CLI::App* cmd, Context& ctx, bool cluster) {
  AddConfigOption(cmd, ctx, "repository.path");
  for (const char* key : kRepositoryAccessKeys) AddConfigOption(cmd, ctx, key);
  if (!cluster) return;
  for (const char* key : {"cluster.host", "cluster.port", "cluster.user", "cluster.dbname"}) {
    AddConfigOption(cmd, ctx, key);
  }
}

// The repository access flags given on this command line (kRepositoryAccessKeys), as arguments,
// so a child command (restore_command, prefetch) reaches the same repository the same way.
// Secrets are never flags, so none is passed on.
std::vector<std::string> RepositoryFlagArgs(const Context& ctx) {
  std::vector<std::string> args;
  for (const char* key : kRepositoryAccessKeys) {
    const auto it = ctx.overrides.find(key);
    if (it == ctx.overrides.end()) continue;
    args.push_back(core::FlagName(*core::FindOption(key)));
    args.push_back(it->second);
  }
  return args;
}

// The repositories this command acts on: the one of --repo N, else every configured one.
std::vector<repo::RepositoryConfig> TargetRepositories(Context& ctx) {
  if (const std::optional<int> index = ctx.repo_index()) {
    return {repo::SelectRepository(ctx.base_config(), *index)};
  }
  return repo::ConfiguredRepositories(ctx.base_config());
}

// Runs `one` for each target repository with ctx.config() scoped to it. A single repository's
// result is printed as is; with several, each is `{id_key: N, result_key: result}` (or
// `{id_key: N, "error": ...}`) in "repositories", a failure does not stop the others, and the
// first failure's exit code is the command's. `headers`: name each repository before its output.
void RunOnEachRepository(Context& ctx, std::string_view id_key, std::string_view result_key,
                         bool headers, const std::function<nlohmann::json(int index)>& one) {
  const std::vector<repo::RepositoryConfig> targets = TargetRepositories(ctx);
  if (targets.size() == 1) {
    const nlohmann::json j = one(targets.front().index);
    if (ctx.json()) PrintJson(j);
    return;
  }
  nlohmann::json all = nlohmann::json::array();
  std::optional<Error> error;
  for (const repo::RepositoryConfig& target : targets) {
    const RepositoryScope scope(ctx, target.config, target.index);
    if (headers && !ctx.json()) fmt::print("{}:\n", target.Describe());
    try {
      nlohmann::json j = one(target.index);
      if (ctx.json()) all.push_back({{id_key, target.index}, {result_key, j}});
    } catch (const Error& e) {
      fmt::print(stderr, "ERROR: {}: {}\n", target.Describe(), e.what());
      all.push_back({{id_key, target.index}, {"error", e.what()}});
      if (!error) error = e;
    }
  }
  if (ctx.json()) PrintJson({{"repositories", all}});
  if (error) ctx.exit_code = error->exit_code();
}

// Arguments that make a child dbmedic (restore_command, push worker, prefetch) reach the same
// repositories: `--repo N` when one was picked by number, else repository 1's path and access
// flags (the config file, passed separately, names the others).
std::vector<std::string> RepositorySelectionArgs(Context& ctx) {
  if (const std::optional<int> index = ctx.repo_index()) {
    std::vector<std::string> args = {"--repo", std::to_string(*index)};
    const std::vector<std::string> flags = RepositoryFlagArgs(ctx);
    args.insert(args.end(), flags.begin(), flags.end());
    return args;
  }
  std::vector<std::string> args = {"--repo",
                                   ctx.base_config().Path("repository.path").string()};
  const std::vector<std::string> flags = RepositoryFlagArgs(ctx);
  args.insert(args.end(), flags.begin(), flags.end());
  return args;
}

// For drill and undo: the first repository that opens and holds a backup (one that fails is
// logged and skipped), or the one of --repo N.
repo::RepositoryConfig FirstHealthyRepository(Context& ctx) {
  std::vector<repo::RepositoryConfig> targets = TargetRepositories(ctx);
  if (targets.size() == 1) return std::move(targets.front());
  std::optional<Error> error;
  for (repo::RepositoryConfig& target : targets) {
    try {
      if (repo::OpenRepository(target.config).LatestBackup()) return std::move(target);
      spdlog::warn("{} holds no backup; trying the next repository", target.Describe());
    } catch (const Error& e) {
      spdlog::warn("{}: {}; trying the next repository", target.Describe(), e.what());
      if (!error) error = e;
    }
  }
  if (error) throw *error;
  return std::move(targets.front());  // none holds a backup: the command says so for repository 1
}

// Arguments that make a child dbmedic act on repository `index` alone (push worker, prefetch).
std::vector<std::string> OneRepositoryArgs(Context& ctx, int index) {
  if (ctx.repo_index() || index == 1) return RepositorySelectionArgs(ctx);
  return {"--repo", std::to_string(index)};
}

// Prints "done / total (pct) rate" on stderr, at most twice a second, only on a terminal.
std::function<void(std::uint64_t, std::uint64_t)> MakeProgressPrinter(const char* verb) {
  if (!::isatty(STDERR_FILENO)) return {};
  struct State {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last{};
  };
  auto state = std::make_shared<State>();
  return [state, verb](std::uint64_t done, std::uint64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (done < total && now - state->last < std::chrono::milliseconds(500)) return;
    state->last = now;
    const double secs = std::chrono::duration<double>(now - state->start).count();
    fmt::print(stderr, "\r{} {} / {} ({:.0f}%)  {}/s   {}", verb, HumanBytes(double(done)),
               HumanBytes(double(total)), total ? 100.0 * double(done) / double(total) : 100.0,
               HumanBytes(secs > 0 ? double(done) / secs : 0), done >= total ? "\n" : "");
  };
}

namespace {

nlohmann::json InitOne(Context& ctx) {
  const repo::Repository repository = repo::InitRepository(ctx.config());
  const repo::RepoInfo& info = repository.info();
  const std::string where = repository.storage().Describe("");
  if (ctx.json()) {
    return {{"repository", where},
            {"format_version", info.format_version},
            {"system_identifier", info.system_identifier},
            {"pg_version_num", info.pg_version_num},
            {"compression", std::string(repo::CompressionName(info.codec.compression))},
            {"compression_level", info.codec.level},
            {"encrypted", !info.encryption.is_null()}};
  }
  fmt::print("repository '{}' initialised for cluster {} (PostgreSQL {}), compression {} level {}{}\n",
             where, info.system_identifier, info.pg_version_num / 10000,
             repo::CompressionName(info.codec.compression), info.codec.level,
             info.encryption.is_null() ? "" : ", encrypted (aes-256-gcm)");
  return nullptr;
}

// Every configured repository (or the one of --repo N); one that fails (already initialised,
// unreachable) does not stop the others, and makes the exit code non-zero.
void RunInit(Context& ctx) {
  RunOnEachRepository(ctx, "index", "init", false, [&](int) { return InitOne(ctx); });
}

void Setup(CLI::App& root, Context& ctx) {
  auto* repo_cmd = root.add_subcommand("repo", "Manage the backup repository.");
  repo_cmd->require_subcommand(1);
  auto* init = repo_cmd->add_subcommand(
      "init",
      "Create a repository in an empty directory and bind it to the cluster (its system "
      "identifier); every later command refuses a repository of another cluster.");
  AddRepositoryOptions(init, ctx, true);
  AddConfigOption(init, ctx, "repository.compression");
  AddConfigOption(init, ctx, "repository.compression_level");
  AddConfigOption(init, ctx, "repository.cipher");
  init->callback([&ctx] { RunInit(ctx); });
}

const CommandRegistration kReg{Setup};

}  // namespace
}  // namespace dbmedic::cli
