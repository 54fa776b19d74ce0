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
    {"repository.path", T::kPath, "",
     "Directory (or S3 key prefix) of the backup repository. On the command line, a number N "
     "instead picks repository N of the config file (1 = [repository], 2.. = the "
     "[[repositories]] entries) for the commands that act on one.", {}, false,
     "--repo"},
    {"repository.compression", T::kEnum, "zstd", "Compression of stored files.",
     "zstd|lz4|none"},
    {"repository.compression_level", T::kInt, "3", "Compression level (zstd 1..19, lz4 1..12).",
     "1..19"},
    // BEGIN backup-restore options
    {"backup.jobs", T::kInt, "0", "Parallel copy jobs (0 = number of cores).", "0..64", false,
     "--jobs"},
    {"repository.type", T::kEnum, "posix", "Storage back end of the repository.", "posix|s3"},
    {"backup.chunk_size", T::kSize, "8MiB",
     "Files larger than this are split into independently compressed chunks of this size, so "
     "one big relation file is copied and restored by all jobs."},
    {"backup.type", T::kEnum, "full",
     "Backup type: full; diff (what changed since the newest full backup); incr (what changed "
     "since the newest backup). diff and incr store changed relation pages only (page LSN) and "
     "become full, with a warning, when there is no backup to base them on.",
     "full|diff|incr", false, "--type"},
    {"backup.incremental_from_wal", T::kBool, "true",
     "diff / incr: read only the relation blocks that the WAL since the reference backup names "
     "(summarised from pg_wal and the repository's WAL archive), instead of every page. Falls "
     "back to every page, with a warning saying why, when that WAL is incomplete or holds "
     "changes it cannot attribute to blocks."},
    // END backup-restore options

    // BEGIN wal options
    {"wal.prefetch", T::kInt, "8",
     "Segments `wal get` fetches ahead in the background, in parallel (0 = off).", "0..64"},
    {"wal.push_async", T::kBool, "false",
     "`wal push` copies the file into a bounded local spool and returns; a background worker "
     "pushes the spool (and the files PostgreSQL has ready, ahead of it) to the repository."},
    {"wal.spool_path", T::kPath, "",
     "Spool of asynchronous `wal push` (default: dbmedic-spool beside the pushed file, in "
     "pg_wal)."},
    {"wal.spool_max", T::kSize, "1GiB",
     "Most bytes the asynchronous push spool holds; beyond it `wal push` pushes synchronously "
     "(and fails while the repository is unwritable, so PostgreSQL keeps the WAL)."},
    {"wal.push_jobs", T::kInt, "2", "Parallel pushes of the asynchronous push worker.", "1..64"},
    {"wal.check_timeout", T::kDuration, "60s",
     "How long `dbmedic check` waits for the switched WAL segment to reach the repository."},
    {"pitr.port", T::kInt, "0",
     "Port of a cluster started by `restore --start` (0 = a free port).", "0..65535"},
    {"pitr.socket_dir", T::kPath, "",
     "Unix socket directory of a cluster started by `restore --start` (default: a new "
     "directory under /tmp)."},
    {"pitr.start_timeout", T::kDuration, "1h",
     "How long `restore --start` waits for recovery to reach the target."},
    // END wal options

    // BEGIN offsite options
    {"retention.keep_full", T::kInt, "",
     "`expire` keeps this many newest full backups (with the backups taken after them).",
     "1..100000", false, "--keep-full"},
    {"retention.keep_days", T::kInt, "",
     "`expire` keeps every backup that ended within this many days, plus the newest older one "
     "(recovery to the start of the window needs it).",
     "1..36500", false, "--keep-days"},
    {"retention.expire_after_backup", T::kBool, "false",
     "Run `expire` with the retention policy after each successful backup.", {}, false,
     "--expire-after-backup"},
    {"repository.cipher", T::kEnum, "none",
     "Encryption at rest chosen at `repo init` (AES-256-GCM per stored file); later commands "
     "read it from repo.json.",
     "none|aes-256-gcm"},
    {"repository.passphrase", T::kString, "",
     "Passphrase of an encrypted repository (config file or environment only).", {}, true},
    {"repository.key_file", T::kPath, "",
     "File (mode 0600, at least 32 bytes) whose content is the key of an encrypted repository, "
     "instead of a passphrase.",
     {}, false, "--repo-key-file"},
    {"s3.endpoint", T::kString, "",
     "S3 endpoint URL (repository.type = s3): https://s3.eu-west-1.amazonaws.com, or "
     "http://HOST:PORT for a local S3-compatible server. repository.path is the key prefix."},
    {"s3.bucket", T::kString, "", "Bucket of the repository (repository.type = s3)."},
    {"s3.region", T::kString, "us-east-1", "Region used in request signatures (SigV4)."},
    {"s3.uri_style", T::kEnum, "host",
     "Addressing: host (https://BUCKET.ENDPOINT/KEY) or path (https://ENDPOINT/BUCKET/KEY).",
     "host|path"},
    {"s3.key", T::kString, "", "Access key id (default: AWS_ACCESS_KEY_ID).", {}, true},
    {"s3.key_secret", T::kString, "", "Secret access key (default: AWS_SECRET_ACCESS_KEY).", {},
     true},
    {"s3.token", T::kString, "", "Session token of temporary credentials (default: "
     "AWS_SESSION_TOKEN).", {}, true},
    {"s3.verify_tls", T::kBool, "true",
     "Verify the endpoint's TLS certificate and host name (turn off only for a test server)."},
    {"s3.ca_file", T::kPath, "", "CA bundle to verify the endpoint with (default: the system's)."},
    {"s3.retries", T::kInt, "4",
     "Retries of a request after a connection error, a timeout, HTTP 5xx or 429 (exponential "
     "backoff).",
     "0..20"},
    {"s3.timeout", T::kDuration, "60s",
     "A request fails (and is retried) after this long plus 1 s per MiB it transfers, or when "
     "no byte moves for this long."},
    {"s3.part_size", T::kSize, "16MiB",
     "Objects larger than this are uploaded in parts of this size (multipart upload)."},
    // END offsite options

    // BEGIN forensics options
    {"forensics.wal_dir", T::kPath, "",
     "Directory of WAL segment files to scan (pg_wal or a copy of it).", {}, false,
     "--wal-dir"},
    {"forensics.catalog", T::kPath, "",
     "Relation catalog file (JSON from 'dbmedic catalog capture') that names relfilenodes.",
     {}, false, "--catalog"},
    {"forensics.min_rows", T::kInt, "1000",
     "A DELETE/UPDATE is an incident from this many rows of one table in one transaction.",
     "1..2147483647", false, "--min-rows"},
    {"forensics.min_percent", T::kInt, "50",
     "A DELETE/UPDATE is also an incident from this percentage of a table's rows (reltuples "
     "from the catalog; tables of at least 100 rows).",
     "1..100", false, "--min-percent"},
    {"forensics.live_snapshot", T::kBool, "true",
     "`incidents` and `restore --before-incident` also read the running cluster's catalog "
     "(not stored), so a DROP or TRUNCATE newer than the last stored snapshot is confirmed.",
     {}, false, "--live-snapshot"},
    {"forensics.jobs", T::kInt, "0",
     "WAL readers `incidents` (and `restore --before-incident`, `undo`) run at once, each on "
     "its own run of segments (0 = number of cores; 1 = one reader).", "0..64", false,
     "--jobs"},
    {"forensics.capture_interval", T::kDuration, "5m",
     "How often `wal stream` and the monitor agent (when repository.path is set) add a relation "
     "catalog snapshot to the repository (every backup adds one too). 0 turns the periodic "
     "capture off.", {}, false,
     "--catalog-interval"},
    // END forensics options

    // BEGIN rescue options
    {"recovery.rpo_target", T::kDuration, "1m",
     "RPO target: most data (as time) a failure may lose; info, drill and the agent report "
     "whether it is met."},
    {"recovery.rto_target", T::kDuration, "15m",
     "RTO target: longest a restore may take; compared with the predicted RTO from drills."},
    {"recovery.backup_max_age", T::kDuration, "1d",
     "Policy: the newest backup must be younger than this."},
    {"recovery.drill_max_age", T::kDuration, "7d",
     "Policy: a successful restore drill must be younger than this."},
    {"drill.scratch_dir", T::kPath, "",
     "Directory under which drills and undo create their scratch clusters (default: $TMPDIR "
     "or /tmp); needs room for one restored copy of the cluster."},
    {"drill.timeout", T::kDuration, "1h",
     "Longest a drill (or undo's side cluster) may take to reach its target."},
    {"drill.interval", T::kDuration, "0s",
     "The monitor agent runs a restore drill of the newest backup when the last drill is older "
     "than this (0s = never; schedule `dbmedic drill` yourself)."},
    {"undo.wal_filter", T::kBool, "true",
     "Undo's side cluster skips, while replaying, the WAL changes to the relations it does not "
     "read (other tables and databases, restored as sparse files): most of the replay time. "
     "false replays every record."},
    {"recovery.metrics_interval", T::kDuration, "1m",
     "How often the monitor agent reads the repository for the recovery metrics (backup and "
     "drill ages, predicted RTO, RPO)."},
    // END rescue options

    // BEGIN monitor options
    {"monitor.listen_address", T::kString, "127.0.0.1",
     "Address the monitor's HTTP endpoint binds to (loopback by default).", {}, false,
     "--listen-address"},
    {"monitor.port", T::kInt, "9633", "TCP port of the monitor's HTTP endpoint.", "1..65535",
     false, "--listen-port"},
    {"monitor.history_path", T::kPath, "/var/lib/dbmedic/monitor.db",
     "SQLite file holding the metric history and alert states.", {}, false, "--history"},
    {"monitor.history_retention", T::kDuration, "14d", "How long samples are kept."},
    {"monitor.downsample_after", T::kDuration, "1d",
     "Raw samples older than this are averaged into downsample_step buckets."},
    {"monitor.downsample_step", T::kDuration, "5m", "Bucket width of downsampled history."},
    {"monitor.history_interval", T::kDuration, "15s",
     "How often the current metrics are written to the history store."},
    {"monitor.maintenance_interval", T::kDuration, "10m",
     "How often retention and downsampling run on the history store."},
    {"monitor.host_interval", T::kDuration, "15s", "Interval of the host collector."},
    {"monitor.pg_interval", T::kDuration, "15s", "Interval of the PostgreSQL collectors."},
    {"monitor.size_interval", T::kDuration, "1m",
     "How often database sizes are measured (pg_database_size stats every file of a database: "
     "most of a collection's server-side cost; sizes change slowly). At most pg_interval apart "
     "when shorter."},
    {"monitor.lsn_timeline_window", T::kDuration, "6h",
     "How far back the agent remembers when the primary wrote which WAL, to give a standby's or "
     "slot's lag in seconds (also while it is disconnected); an older lag is reported as this "
     "long. Kept in 4096 points (one at most every window/4096: 5 s at 6h), allocated at start."},
    {"monitor.collector_timeout", T::kDuration, "10s",
     "Longest a collection may take (connect and statement timeout)."},
    {"monitor.evaluation_interval", T::kDuration, "15s", "How often alert rules are evaluated."},
    {"monitor.repeat_interval", T::kDuration, "4h",
     "A firing alert is notified again after this long."},
    {"monitor.default_alerts", T::kBool, "true",
     "Load the shipped default alert rules in addition to [[alert]] sections."},
    {"monitor.replication_lag_threshold", T::kDuration, "60s",
     "Default rule: replication lag above this fires."},
    {"monitor.rpo_target", T::kDuration, "5m", "Default rule: an RPO above this fires."},
    {"monitor.long_transaction_threshold", T::kDuration, "1h",
     "Default rule: a transaction open longer than this fires."},
    {"monitor.alert_for", T::kDuration, "2m", "Default rules: the `for` window."},
    {"monitor.basic_auth_user", T::kString, "", "User for HTTP basic auth (empty: no auth)."},
    {"monitor.basic_auth_password", T::kString, "", "Password for HTTP basic auth.", {}, true},
    {"monitor.tls_cert", T::kPath, "", "PEM certificate: serve HTTPS instead of HTTP."},
    {"monitor.tls_key", T::kPath, "", "PEM private key of monitor.tls_cert."},
    {"monitor.external_url", T::kString, "",
     "URL of the agent as users reach it (links in notifications)."},
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
    {"diagnose.snapshot_interval", T::kDuration, "5m",
     "How often the monitor agent takes a pg_stat_statements snapshot (0: never)."},
    {"diagnose.snapshot_keep", T::kInt, "13",
     "pg_stat_statements snapshots the agent keeps (memory: this x the view's size).", "2..1000"},
    {"diagnose.wait_sample_interval", T::kDuration, "1s",
     "How often the monitor agent samples wait events of active sessions (0: never)."},
    {"diagnose.wait_history_samples", T::kInt, "10000",
     "Session samples the agent's active-session history keeps at most (oldest dropped): the "
     "hard bound under heavy load.", "100..1000000"},
    {"diagnose.wait_history_window", T::kDuration, "15m",
     "How long the agent's active-session history keeps samples (the dashboard's wait panel "
     "and /api/waits show 15 minutes by default); older ones are dropped, so its memory stops "
     "growing after this long."},
    // END diagnose options
};

constexpr std::string_view kStructured[] = {
    // BEGIN structured sections
    "alert", "notifier", "monitor_target",
    "repositories",  // repositories 2, 3, ...: repo/repository_set.hpp
    // END structured sections
};

}  // namespace

std::span<const OptionSpec> OptionTable() { return kOptions; }
std::span<const std::string_view> StructuredSections() { return kStructured; }

}  // namespace dbmedic::core
