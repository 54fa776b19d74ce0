#!/bin/bash
# Side-by-side full backup and restore: dbmedic vs pgBackRest (zst, same level, same process
# count) vs pg_basebackup, on pgbench data in one run. Prints times, sizes and ratios, and writes
# them into bench/RESULTS.md (section "backup").
#
# Usage (as root): bench/backup.sh [SCALE=50] [JOBS=2] [LEVEL=3]
# Env: DBMEDIC (binary, default build-backup/dbmedic), KEEP=1 keeps the work directory.
set -euo pipefail
SCALE=${1:-50}
JOBS=${2:-2}
LEVEL=${3:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
DBMEDIC=${DBMEDIC:-$HERE/build-backup/dbmedic}
BIN=/usr/lib/postgresql/15/bin
W=$(mktemp -d /tmp/dbmedic-bench-backup.XXXXXX)
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
size() { du -sb "$1" | cut -f1; }

cp "$DBMEDIC" "$W/dbmedic"
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
as_pg "$BIN/psql" -h "$W/sock" -p "$PORT" -qc CHECKPOINT postgres
DB_SIZE=$(size "$W/data")

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

sync
t0=$(now); as_pg "$DM" backup "${DMF[@]}" --jobs "$JOBS" --repository-compression-level "$LEVEL" >/dev/null 2>&1; t1=$(now)
DM_BACKUP=$(secs "$t0" "$t1"); DM_REPO=$(size "$W/repo-dbmedic")
sync
t0=$(now); as_pg $PGBR backup --type=full >/dev/null; t1=$(now)
BR_BACKUP=$(secs "$t0" "$t1"); BR_REPO=$(size "$W/repo-pgbackrest")
sync
t0=$(now); as_pg "$BIN/pg_basebackup" -h "$W/sock" -p "$PORT" -D "$W/basebackup" -X fetch -c fast; t1=$(now)
BB_BACKUP=$(secs "$t0" "$t1")
t0=$(now); as_pg "$BIN/pg_basebackup" -h "$W/sock" -p "$PORT" -D "$W/basebackup-zst" -Ft -X fetch -c fast --compress=client-zstd:$LEVEL; t1=$(now)
BBZ_BACKUP=$(secs "$t0" "$t1"); BBZ_SIZE=$(size "$W/basebackup-zst")

sync
t0=$(now); as_pg "$DM" restore --repo "$W/repo-dbmedic" --target-dir "$W/restore-dbmedic" --jobs "$JOBS" >/dev/null 2>&1; t1=$(now)
DM_RESTORE=$(secs "$t0" "$t1")
sync
t0=$(now); as_pg $PGBR restore --pg1-path="$W/restore-pgbackrest" >/dev/null; t1=$(now)
BR_RESTORE=$(secs "$t0" "$t1")

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
REPORT=$(cat <<TXT
## backup (bench/backup.sh)

Command: \`bench/backup.sh $SCALE $JOBS $LEVEL\` — pgbench scale $SCALE ($(numfmt --to=iec "$DB_SIZE") data
directory), $JOBS jobs / process-max, zstd level $LEVEL, $(date -u +%Y-%m-%d), $(nproc) cores. Warm cache.

| tool | backup s | repository bytes | restore s |
|---|---|---|---|
| dbmedic | $DM_BACKUP | $DM_REPO | $DM_RESTORE |
| pgBackRest $(pgbackrest version | cut -d' ' -f2) (zst) | $BR_BACKUP | $BR_REPO | $BR_RESTORE |
| pg_basebackup -X fetch (plain) | $BB_BACKUP | $(size "$W/basebackup") | |
| pg_basebackup -Ft client-zstd:$LEVEL | $BBZ_BACKUP | $BBZ_SIZE | |

Ratios dbmedic / pgBackRest: backup time $(ratio "$DM_BACKUP" "$BR_BACKUP"), repository size
$(ratio "$DM_REPO" "$BR_REPO"), restore time $(ratio "$DM_RESTORE" "$BR_RESTORE") (goal: <= 0.8, <= 1.0, <= 0.8).
TXT
)
echo "$REPORT"
RESULTS="$HERE/bench/RESULTS.md"
[ -f "$RESULTS" ] || echo "# Benchmark results" > "$RESULTS"
python3 - "$RESULTS" "$REPORT" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2].strip() + "\n"
text = open(path).read()
pattern = re.compile(r"^## backup \(bench/backup.sh\)\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(lambda m: section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
