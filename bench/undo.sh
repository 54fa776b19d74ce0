#!/usr/bin/env bash
# bench/undo.sh: bring back one dropped table, dbmedic undo vs the manual route, same cluster,
# same WAL, one run.
#   pgbench scale 50 plus a `users` table of 1 million rows of ordinary data (text, numeric,
#   timestamps; primary key, unique index, serial), both tools back it up and archive the WAL
#   (archive_command runs both); then WAL_MB of further pgbench WAL, the DROP TABLE users, and
#   more writes. Then, timed from the command to the table being back in the live cluster:
#   1. dbmedic undo --table public.users --before T --yes (no step by hand);
#   2. the manual route users take today: pgbackrest restore --type=time --target=T
#      --target-action=promote into a side directory, new port/socket, archive_mode off,
#      pg_ctl start, wait until promoted, pg_dump -t public.users | psql into the live cluster,
#      pg_ctl stop.
#   Between the two the table dbmedic brought back is dropped again, so both start with the table
#   absent. Both results are checked (row count and md5 of all rows) against the original.
# Usage: bench/undo.sh [WAL_MB] [USERS]   (default 1024 and 1000000; env DBMEDIC=path, KEEP=1,
#        FIFO=50: the two timed parts only, with the live cluster meanwhile, run SCHED_FIFO at
#        that priority, so that builds at nice 19 do not skew them; loading stays ordinary)
# Needs root (the cluster runs as postgres), pgbackrest, pgbench, python3.
set -euo pipefail

wal_mb=${1:-1024}
users=${2:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
dbmedic_built=${DBMEDIC:-$here/../build-rel/dbmedic}
pgbin=/usr/lib/postgresql/15/bin
[[ -x $dbmedic_built ]] || { echo "no dbmedic binary at $dbmedic_built (set DBMEDIC=...)" >&2; exit 1; }
command -v pgbackrest >/dev/null || { echo "pgbackrest missing" >&2; exit 1; }

work=$(mktemp -d /tmp/bench-undo.XXXXXX)
chmod 0755 "$work"
as_pg() { runuser -u postgres -- "$@"; }
cleanup() {
  for d in data side-pgbackrest; do
    [[ -f $work/$d/postmaster.pid ]] && as_pg "$pgbin/pg_ctl" -D "$work/$d" -m immediate stop >/dev/null 2>&1 || true
  done
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT
cp "$dbmedic_built" "$work/dbmedic"; chmod 0755 "$work/dbmedic"
# dbmedic opens its HTTP module (monitor, webhooks) from its own directory: keep them together.
[[ -f $(dirname "$dbmedic_built")/libdbmedic_http.so ]] && cp "$(dirname "$dbmedic_built")/libdbmedic_http.so" "$work/"
dbmedic=$work/dbmedic
mkdir -p "$work/repo" "$work/pgbr" "$work/sock" "$work/spool" "$work/scratch"
chown -R postgres: "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
as_pg "$pgbin/initdb" -D "$work/data" -A trust -U postgres --data-checksums >/dev/null
cat > "$work/pgbackrest.conf" <<CONF
[global]
repo1-path=$work/pgbr
compress-type=zst
compress-level=3
process-max=2
start-fast=y
log-level-console=warn
log-level-file=off
lock-path=$work/spool
spool-path=$work/spool
[bench]
pg1-path=$work/data
pg1-socket-path=$work/sock
pg1-port=$port
CONF
chown postgres: "$work/pgbackrest.conf"
pgbr() { as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench "$@"; }
cat >> "$work/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$work/sock'
wal_level = replica
archive_mode = on
archive_command = '$dbmedic wal push --repo $work/repo %p && pgbackrest --config=$work/pgbackrest.conf --stanza=bench archive-push %p'
max_wal_size = 4GB
checkpoint_timeout = 30min
CONF
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
psql_live() { as_pg "$pgbin/psql" -h "$work/sock" -p "$port" -X -q -v ON_ERROR_STOP=1 "$@" postgres; }
# timed_priority fifo|normal: this shell (hence what it starts) and the live cluster's processes.
timed_priority() {
  [[ -n ${FIFO:-} ]] || return 0
  local args=(-o -p 0); [[ $1 == fifo ]] && args=(-f -p "$FIFO")
  local pm; pm=$(head -1 "$work/data/postmaster.pid")
  for pid in $$ "$pm" $(pgrep -P "$pm"); do chrt "${args[@]}" "$pid" >/dev/null 2>&1 || true; done
}
conn=(--pg-host "$work/sock" --pg-port "$port")
"$dbmedic" repo init --repo "$work/repo" "${conn[@]}" >/dev/null
chown -R postgres: "$work/repo"
pgbr stanza-create >/dev/null

echo "loading pgbench scale 50 and $users users ..." >&2
as_pg "$pgbin/pgbench" -h "$work/sock" -p "$port" -i -s 50 -q postgres >/dev/null 2>&1
psql_live <<SQL
CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, name text,
                    balance numeric(12,2) DEFAULT 0, created timestamptz DEFAULT now());
INSERT INTO users (email, name, balance, created)
SELECT 'user' || g || '@example.org', md5(g::text) || ' ' || md5((g * 7)::text),
       (g % 100000) / 3.0, '2020-01-01'::timestamptz + g * interval '1 minute'
FROM generate_series(1, $users) g;
VACUUM ANALYZE users;
SQL
table_md5() { psql_live -Atc "SELECT count(*) || ' ' || md5(string_agg(u::text, ',' ORDER BY id)) FROM users u"; }
original=$(table_md5)

echo "backups ..." >&2
"$dbmedic" backup --repo "$work/repo" "${conn[@]}" >/dev/null
chown -R postgres: "$work/repo"
pgbr --type=full backup >/dev/null

echo "generating ${wal_mb} MB of WAL ..." >&2
start_lsn=$(psql_live -Atc "SELECT pg_current_wal_lsn()")
# Bulk updates of pgbench_accounts (a quarter of the rows each time) write WAL fast; a short
# pgbench run adds ordinary small transactions.
k=0
while (( $(psql_live -Atc "SELECT ((pg_current_wal_lsn() - '$start_lsn') / 1048576)::bigint") < wal_mb )); do
  psql_live -c "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 4 = $((k % 4))"
  k=$((k + 1))
done
as_pg "$pgbin/pgbench" -h "$work/sock" -p "$port" -n -c 2 -j 2 -t 2000 postgres >/dev/null 2>&1
sleep 1
before=$(psql_live -Atc "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sleep 1
psql_live -c "DROP TABLE users"
as_pg "$pgbin/pgbench" -h "$work/sock" -p "$port" -n -c 2 -j 2 -t 2000 postgres >/dev/null 2>&1
psql_live -Atc "SELECT pg_switch_wal()" >/dev/null
wal_written=$(psql_live -Atc "SELECT round((pg_current_wal_lsn() - '$start_lsn') / 1048576)")
load=$(cut -d' ' -f1-3 /proc/loadavg)

echo "dbmedic undo ..." >&2
sync; echo 3 > /proc/sys/vm/drop_caches
timed_priority fifo
t0=$(date +%s%N)
"$dbmedic" --output json undo --repo "$work/repo" "${conn[@]}" --drill-scratch-dir "$work/scratch" \
  --table public.users --before "$before" --yes > "$work/undo.json"
t1=$(date +%s%N)
timed_priority normal
undo_ms=$(( (t1 - t0) / 1000000 ))
dbmedic_result=$(table_md5)

psql_live -c "DROP TABLE users"
psql_live -Atc "SELECT pg_switch_wal()" >/dev/null
sleep 2  # let the archiver push the segment (both tools), as it would be before a manual restore

echo "manual route: pgbackrest restore of a side cluster + pg_dump | psql ..." >&2
sync; echo 3 > /proc/sys/vm/drop_caches
port2=$(free_port)
mkdir -p "$work/side-pgbackrest" "$work/sock2"; chmod 0700 "$work/side-pgbackrest"
chown postgres: "$work/side-pgbackrest" "$work/sock2"
timed_priority fifo
t0=$(date +%s%N)
pgbr --pg1-path="$work/side-pgbackrest" --type=time --target="$before" --target-action=promote \
  restore >/dev/null
cat >> "$work/side-pgbackrest/postgresql.auto.conf" <<CONF
port = $port2
unix_socket_directories = '$work/sock2'
archive_mode = off
CONF
as_pg "$pgbin/pg_ctl" -D "$work/side-pgbackrest" -l "$work/side-pgbackrest.log" -w -t 3600 start >/dev/null
until [[ $(as_pg "$pgbin/psql" -h "$work/sock2" -p "$port2" -Atc "SELECT pg_is_in_recovery()" postgres 2>/dev/null) == f ]]; do sleep 0.05; done
as_pg bash -c "'$pgbin/pg_dump' -h '$work/sock2' -p $port2 -t public.users postgres | '$pgbin/psql' -h '$work/sock' -p $port -X -q -v ON_ERROR_STOP=1 postgres" >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/side-pgbackrest" -m fast -w stop >/dev/null
t1=$(date +%s%N)
timed_priority normal
manual_ms=$(( (t1 - t0) / 1000000 ))
manual_result=$(table_md5)

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
cat <<OUT
users table: original '$original'
  after dbmedic undo: '$dbmedic_result' $( [[ $dbmedic_result == "$original" ]] && echo OK || echo MISMATCH)
  after manual route: '$manual_result' $( [[ $manual_result == "$original" ]] && echo OK || echo MISMATCH)
WAL after the backup: ${wal_written} MB; load average before the timed runs: $load
undo of a dropped table ($users rows): dbmedic ${undo_ms} ms, manual route ${manual_ms} ms, ratio $(ratio "$undo_ms" "$manual_ms")
dbmedic report: $(tr -d '\n' < "$work/undo.json" | tr -s ' ')
OUT
