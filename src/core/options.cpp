// The one option table. Every configuration key is declared here once: its type, default, allowed
// values and help. The TOML reader, DBMEDIC_* environment lookup, command-line flags, --help and
// docs/configuration.md all derive from these rows.
//
// Keys are "section.name". Env name: DBMEDIC_SECTION_NAME. Flag: --section-name unless `flag`.
// Each module keeps its rows inside its own marked region.
#include <array>
#include <span>

#include "core/config.hpp"

namespace dbmedic::core {
namespace {

using T = OptionType;

constexpr OptionSpec kOptions[] = {
    // ---- general ----
    {"log.level", T::kEnum, "info", "Log level on stderr.", "trace|debug|info|warn|error|off",
     false, "--log-level"},

    // ---- cluster: the PostgreSQL cluster dbmedic works on ----
    {"cluster.name", T::kString, "main", "Name of the cluster (labels, metrics, repository)."},
    {"cluster.data_dir", T::kPath, "", "Data directory of the cluster (PGDATA).", {}, false,
     "--pg-data"},
    {"cluster.host", T::kString, "", "Host or unix socket directory to connect to.", {}, false,
     "--pg-host"},
    {"cluster.port", T::kInt, "5432", "Port of the cluster.", "1..65535", false, "--pg-port"},
    {"cluster.user", T::kString, "postgres", "Database user (superuser or replication role).",
     {}, false, "--pg-user"},
    {"cluster.dbname", T::kString, "postgres", "Database to connect to.", {}, false,
     "--pg-dbname"},
    {"cluster.os_user", T::kString, "postgres",
     "OS user that owns the data directory and runs the server.", {}, false, "--pg-os-user"},
    {"cluster.bin_dir", T::kPath, "", "Directory of PostgreSQL binaries (default: probe "
     "/usr/lib/postgresql/15/bin)."},

    // ---- repository (owned by repo/backup/restore) ----
    {"repository.path", T::kPath, "", "Directory of the backup repository.", {}, false,
     "--repo"},
    {"repository.compression", T::kEnum, "zstd", "Compression of stored files.",
     "zstd|lz4|none"},
    {"repository.compression_level", T::kInt, "3", "Compression level (zstd 1..19, lz4 1..12).",
     "1..19"},
    // BEGIN backup-restore options
    {"backup.jobs", T::kInt, "0", "Parallel copy jobs (0 = number of cores).", "0..64", false,
     "--jobs"},
    // END backup-restore options

    // BEGIN wal options
    // END wal options

    // BEGIN forensics options
    // END forensics options

    // BEGIN monitor options
    // END monitor options

    // BEGIN diagnose options
    {"diagnose.statement_timeout", T::kDuration, "30s",
     "statement_timeout for the queries diagnose commands run (EXPLAIN, snapshots)."},
    {"diagnose.snapshot_file", T::kPath, "",
     "File of pg_stat_statements snapshots kept by the agent; top-queries --since reads it."},
    {"diagnose.log_line_prefix", T::kString, "",
     "log_line_prefix of the server logs given to log-report (empty: detect it).", {}, false,
     "--log-line-prefix"},
    {"diagnose.jobs", T::kInt, "0", "Parallel workers of log-report (0 = number of cores).",
     "0..64", false, "--log-jobs"},
    // END diagnose options
};

constexpr std::string_view kStructured[] = {
    // BEGIN structured sections
    "alert", "notifier", "monitor_target",
    // END structured sections
};

}  // namespace

std::span<const OptionSpec> OptionTable() { return kOptions; }
std::span<const std::string_view> StructuredSections() { return kStructured; }

}  // namespace dbmedic::core
