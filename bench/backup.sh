#!/bin/bash
# Side-by-side full backup and restore: dbmedic vs pgBackRest (zst, same level, same process
# count) vs pg_basebackup, on pgbench data in one run. Prints times, sizes and ratios, and writes
# them into bench/RESULTS.md (section "Backup and restore"). Each measurement is repeated RUNS
# times, alternating the tools, and the median is reported (the machine is shared: see the load
# averages printed with the figures).
#
# Usage (as root): bench/backup.sh [SCALE=50] [JOBS=2] [LEVEL=3] [RUNS=3]
# Env: DBMEDIC (binary, default build-release/dbmedic), KEEP=1 keeps the work directory.
set -euo pipefail
SCALE=${1:-50}
JOBS=${2:-2}
LEVEL=${3:-3}
RUNS=${4:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
DBMEDIC=${DBMEDIC:-$HERE/build-release/dbmedic}
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
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }
load() { cut -d' ' -f1 /proc/loadavg; }
size() { du -sb "$1" | cut -f1; }

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

DM="$W/dbmedic"
DMF=(--repo "$W/repo-dbmedic" --pg-host "$W/sock" --pg-port "$PORT")
as_pg "$DM" repo init "${DMF[@]}" --repository-compression-level "$LEVEL" >/dev/null

LOADS=("$(load)")
DMB=(); BRB=(); DMR=(); BRR=()
for run in $(seq "$RUNS"); do
  rm -rf "$W/repo-dbmedic/backup" "$W/restore-dbmedic" "$W/restore-pgbackrest"
  sync
  t0=$(now); as_pg "$DM" backup "${DMF[@]}" --jobs "$JOBS" --repository-compression-level "$LEVEL" >/dev/null 2>&1; t1=$(now)
  DMB+=("$(secs "$t0" "$t1")"); DM_REPO=$(size "$W/repo-dbmedic")
  # A fresh pgBackRest repository per run (same settings), so each run is a first full backup.
  BRREPO="$W/repo-pgbackrest-$run"
  mkdir -p "$BRREPO" && chown postgres "$BRREPO"
  as_pg $PGBR --repo1-path="$BRREPO" stanza-create >/dev/null
  sync
  t0=$(now); as_pg $PGBR --repo1-path="$BRREPO" backup --type=full >/dev/null; t1=$(now)
  BRB+=("$(secs "$t0" "$t1")"); BR_REPO=$(size "$BRREPO/backup")
  sync
  t0=$(now); as_pg "$DM" restore --repo "$W/repo-dbmedic" --target-dir "$W/restore-dbmedic" --jobs "$JOBS" >/dev/null 2>&1; t1=$(now)
  DMR+=("$(secs "$t0" "$t1")")
  sync
  t0=$(now); as_pg $PGBR --repo1-path="$BRREPO" restore --pg1-path="$W/restore-pgbackrest" >/dev/null; t1=$(now)
  BRR+=("$(secs "$t0" "$t1")")
  LOADS+=("$(load)")
  echo "run $run: dbmedic backup ${DMB[-1]} s restore ${DMR[-1]} s; pgBackRest backup ${BRB[-1]} s restore ${BRR[-1]} s; load ${LOADS[-1]}" >&2
done
DM_BACKUP=$(median "${DMB[@]}"); BR_BACKUP=$(median "${BRB[@]}")
DM_RESTORE=$(median "${DMR[@]}"); BR_RESTORE=$(median "${BRR[@]}")
DM_REPO=$(size "$W/repo-dbmedic/backup")
DM_WAL=$(cat "$W"/repo-dbmedic/backup/*/data/pg_wal/* | wc -c)

sync
t0=$(now); as_pg "$BIN/pg_basebackup" -h "$W/sock" -p "$PORT" -D "$W/basebackup" -X fetch -c fast; t1=$(now)
BB_BACKUP=$(secs "$t0" "$t1")
t0=$(now); as_pg "$BIN/pg_basebackup" -h "$W/sock" -p "$PORT" -D "$W/basebackup-zst" -Ft -X fetch -c fast --compress=client-zstd:$LEVEL; t1=$(now)
BBZ_BACKUP=$(secs "$t0" "$t1"); BBZ_SIZE=$(size "$W/basebackup-zst")

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
REPORT=$(cat <<TXT
## Backup and restore (bench/backup.sh)

Command: \`bench/backup.sh $SCALE $JOBS $LEVEL $RUNS\` — pgbench scale $SCALE ($(numfmt --to=iec "$DB_SIZE") data
directory), $JOBS jobs / process-max, zstd level $LEVEL, $(date -u +'%Y-%m-%d %H:%M') UTC, $(nproc) cores, warm
cache, median of $RUNS runs (dbmedic and pgBackRest alternating). Load average (1 min) before and
after each run: ${LOADS[*]}. Backup times: dbmedic ${DMB[*]}, pgBackRest ${BRB[*]}; restore
times: dbmedic ${DMR[*]}, pgBackRest ${BRR[*]}. pg_basebackup: one run.

| tool | backup s | repository bytes | restore s |
|---|---|---|---|
| dbmedic | $DM_BACKUP | $DM_REPO | $DM_RESTORE |
| pgBackRest $(pgbackrest version | cut -d' ' -f2) (zst) | $BR_BACKUP | $BR_REPO | $BR_RESTORE |
| pg_basebackup -X fetch (plain) | $BB_BACKUP | $(size "$W/basebackup") | |
| pg_basebackup -Ft client-zstd:$LEVEL | $BBZ_BACKUP | $BBZ_SIZE | |

dbmedic's repository also carries the WAL from start to stop ($DM_WAL bytes compressed), which
pgBackRest keeps in its archive instead (not counted above for it: archiving is off in this run).

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
pattern = re.compile(r"^## Backup and restore \(bench/backup.sh\)\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(lambda m: section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
