#!/bin/bash
# Incremental backup after a small change, side by side: dbmedic vs pgBackRest (zst, same level,
# same process count), on pgbench data in one run. Full backup with both, then 1% of
# pgbench_accounts' rows updated (every 100th aid), CHECKPOINT, then an incremental backup with
# both. Prints the time and repository space of each incremental against its own full, and
# dbmedic's incremental against pgBackRest's (goal: incr < 10% of the full's time and space, and
# less than pgBackRest's incr). One run; the load average is printed with the figures.
# WAL is archived with `dbmedic wal push` from the full backup on (as a dbmedic user runs it):
# dbmedic's incr reads only the blocks the WAL since the full names (backup.incremental_from_wal);
# pgBackRest's archive is off (its incr does not need it). Each timed backup starts once the
# archiver has caught up, so archiving never runs during a timed backup.
#
# Usage (as root): bench/incremental.sh [SCALE=50] [JOBS=2] [LEVEL=3] [MODULO=100] [WHERE]
# WHERE replaces the rows changed ("aid % MODULO = 0" by default), e.g. "aid <= 50000" for 1% of
# scale 50 in one range (rows next to each other: few pages change).
# Env: DBMEDIC (binary, default build-release/dbmedic), KEEP=1 keeps the work directory,
# FROM_WAL=false takes dbmedic's incr without the WAL summary (every page read, page-LSN rule).
set -euo pipefail
SCALE=${1:-50}
JOBS=${2:-2}
LEVEL=${3:-3}
MODULO=${4:-100}
WHERE=${5:-"aid % $MODULO = 0"}
WHERE_ARG=${5:+ \"$5\"}
FROM_WAL=${FROM_WAL:-true}
HERE=$(cd "$(dirname "$0")/.." && pwd)
DBMEDIC=${DBMEDIC:-$HERE/build-release/dbmedic}
BIN=/usr/lib/postgresql/15/bin
W=$(mktemp -d /tmp/dbmedic-bench-incr.XXXXXX)
chmod 755 "$W"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { runuser -u postgres -- "$@"; }
cleanup() {
  as_pg "$BIN/pg_ctl" -D "$W/data" -m immediate stop >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
size() { du -sb "$1" | cut -f1; }
psql_() { as_pg "$BIN/psql" -h "$W/sock" -p "$PORT" -qAtc "$1" postgres; }

cp "$DBMEDIC" "$W/dbmedic"
# dbmedic opens its HTTP module (monitor, webhooks) from its own directory: keep them together.
[[ -f $(dirname "$DBMEDIC")/libdbmedic_http.so ]] && cp "$(dirname "$DBMEDIC")/libdbmedic_http.so" "$W/"
mkdir -p "$W/sock" "$W/repo-dbmedic" "$W/repo-pgbackrest" "$W/pgbackrest-tmp"
chown -R postgres "$W"
as_pg "$BIN/initdb" -k -D "$W/data" -A trust >/dev/null
cat >> "$W/data/postgresql.conf" <<CONF
port = $PORT
unix_socket_directories = '$W/sock'
listen_addresses = ''
archive_mode = on
archive_command = '/bin/true'
CONF
as_pg "$BIN/pg_ctl" -D "$W/data" -l "$W/server.log" -w start >/dev/null
as_pg "$BIN/pgbench" -i -s "$SCALE" -q -h "$W/sock" -p "$PORT" postgres >/dev/null 2>&1
psql_ CHECKPOINT
DB_SIZE=$(size "$W/data")
# Waits until PostgreSQL has archived every finished segment.
archived() {
  while ls "$W/data/pg_wal/archive_status/" 2>/dev/null | grep -q '\.ready$'; do sleep 0.2; done
}

cat > "$W/pgbackrest.conf" <<CONF
[global]
repo1-path=$W/repo-pgbackrest
lock-path=$W/pgbackrest-tmp
log-path=$W/pgbackrest-tmp
spool-path=$W/pgbackrest-tmp
compress-type=zst
compress-level=$LEVEL
process-max=$JOBS
start-fast=y
archive-check=n
log-level-console=warn
[bench]
pg1-path=$W/data
pg1-port=$PORT
pg1-socket-path=$W/sock
CONF
chown postgres "$W/pgbackrest.conf"
PGBR="pgbackrest --config=$W/pgbackrest.conf --stanza=bench"
as_pg $PGBR stanza-create >/dev/null

DM="$W/dbmedic"
DMF=(--repo "$W/repo-dbmedic" --pg-host "$W/sock" --pg-port "$PORT")
as_pg "$DM" repo init "${DMF[@]}" --repository-compression-level "$LEVEL" >/dev/null
psql_ "ALTER SYSTEM SET archive_command = '$DM wal push --repo $W/repo-dbmedic %p'"
psql_ "SELECT pg_reload_conf()" >/dev/null

# Times one dbmedic backup of TYPE; sets T (seconds) and S (bytes the backup stored, manifest
# included: the size of its directory).
dm_backup() {
  archived
  sync
  local t0 t1 label type
  t0=$(now)
  as_pg "$DM" --output json backup "${DMF[@]}" --type "$1" --jobs "$JOBS" \
    --repository-compression-level "$LEVEL" --backup-incremental-from-wal "$FROM_WAL" \
    >"$W/dm-$1.json" 2>"$W/dm-$1.log"
  t1=$(now)
  read -r label type < <(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["label"], j["type"])' "$W/dm-$1.json")
  [ "$type" = "$1" ] || { echo "dbmedic took a $type backup instead of $1" >&2; exit 1; }
  T=$(secs "$t0" "$t1"); S=$(size "$W/repo-dbmedic/backup/$label"); L=$label
  SUMMARY=$(python3 -c 'import json,sys; w=json.load(open(sys.argv[1]))["wal_summary"]; print("none" if w is None else ("used: %(relation_files_summarised)d relation files read from the summary (%(pages_read)d pages; %(records)d WAL records summarised in %(seconds).2f s), %(relation_files_page_scanned)d page by page, %(relation_files_copied_whole)d whole" % w if w["used"] else "not used: " + w["fallback"]))' "$W/dm-$1.json")
}
br_backup() {
  archived
  sync
  local t0 t1 dir
  t0=$(now); as_pg $PGBR backup --type="$1" >/dev/null; t1=$(now)
  dir=$(ls -d "$W"/repo-pgbackrest/backup/bench/2*/ | tail -1)
  T=$(secs "$t0" "$t1"); S=$(size "$dir"); L=$(basename "$dir")
}

# PostgreSQL's own part of every backup, timed in one psql session whose backend is already warm:
# reserving the WAL (a temporary slot), pg_backup_start(fast) and pg_backup_stop. No tool's
# backup can take less; prints milliseconds.
bracket_ms() {
  as_pg "$BIN/psql" -h "$W/sock" -p "$PORT" -qAt postgres <<'SQL' | python3 -c '
import sys
print("%.0f" % sum(float(l.split()[1]) for l in sys.stdin if l.startswith("Time:")))'
SELECT 1;
\timing on
SELECT 1 FROM pg_create_physical_replication_slot('bench_bracket', true, true);
SELECT 1 FROM pg_backup_start('bench bracket', true);
SELECT 1 FROM pg_backup_stop(false);
SQL
}

LOAD_START=$(load)
dm_backup full; DM_FULL_T=$T; DM_FULL_S=$S
br_backup full; BR_FULL_T=$T; BR_FULL_S=$S
echo "full: dbmedic $DM_FULL_T s $DM_FULL_S B; pgBackRest $BR_FULL_T s $BR_FULL_S B; load $(load)" >&2

ACCOUNTS=$(psql_ "SELECT pg_relation_size('pgbench_accounts')")
CHANGED_PAGES=$(psql_ "SELECT count(DISTINCT (ctid::text::point)[0]) FROM pgbench_accounts WHERE $WHERE")
ROWS=$(psql_ "WITH u AS (UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE $WHERE RETURNING 1) SELECT count(*) FROM u")
psql_ CHECKPOINT

dm_backup incr; DM_INCR_T=$T; DM_INCR_S=$S; DM_INCR_L=$L
br_backup incr; BR_INCR_T=$T; BR_INCR_S=$S; BR_INCR_L=$L
LOAD_END=$(load)
BRACKET=$( (bracket_ms; bracket_ms; bracket_ms) | sort -n | sed -n 2p)
echo "incr: dbmedic $DM_INCR_T s $DM_INCR_S B; pgBackRest $BR_INCR_T s $BR_INCR_S B; load $LOAD_END" >&2

cat <<TXT
Command: \`$( [ "$FROM_WAL" = true ] || echo "FROM_WAL=$FROM_WAL " )bench/incremental.sh $SCALE $JOBS $LEVEL $MODULO$WHERE_ARG\` — pgbench scale $SCALE ($(numfmt --to=iec "$DB_SIZE") data
directory), $JOBS jobs / process-max, zstd level $LEVEL, $(date -u +'%Y-%m-%d %H:%M') UTC, $(nproc) cores, warm cache,
one run. Load average (1/5/15 min) at the start: $LOAD_START; at the end: $LOAD_END.
Change between full and incr: \`UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE $WHERE\`
($ROWS rows; they sit in $CHANGED_PAGES of the table's $((ACCOUNTS / 8192)) pages before the update), then CHECKPOINT.

| tool | full s | full bytes | incr s | incr bytes | incr/full time | incr/full space |
|---|---|---|---|---|---|---|
| dbmedic | $DM_FULL_T | $DM_FULL_S | $DM_INCR_T | $DM_INCR_S | $(ratio "$DM_INCR_T" "$DM_FULL_T") | $(ratio "$DM_INCR_S" "$DM_FULL_S") |
| pgBackRest $(pgbackrest version | cut -d' ' -f2) (zst) | $BR_FULL_T | $BR_FULL_S | $BR_INCR_T | $BR_INCR_S | $(ratio "$BR_INCR_T" "$BR_FULL_T") | $(ratio "$BR_INCR_S" "$BR_FULL_S") |

dbmedic incr / pgBackRest incr: time $(ratio "$DM_INCR_T" "$BR_INCR_T"), space $(ratio "$DM_INCR_S" "$BR_INCR_S")
(goal: dbmedic incr < 0.10 of its full in time and space, and < 1 of pgBackRest's incr).
Sizes are each backup's own directory (manifest included); dbmedic's also holds the WAL from
start to stop, pgBackRest's WAL is in its archive (off here).
dbmedic incr WAL summary: $SUMMARY.
PostgreSQL's own backup bracket (temporary slot + pg_backup_start(fast) + pg_backup_stop, warm
psql session, median of 3 after the incrs): $BRACKET ms, $(ratio "$BRACKET / 1000" "$DM_FULL_T") of dbmedic's full
(with a connection and process start besides, the floor of any incr here).
TXT
