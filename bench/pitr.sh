#!/usr/bin/env bash
# bench/pitr.sh: WAL archiving and point-in-time recovery, dbmedic vs pgBackRest, same cluster,
# same WAL, one run.
#   1. per-segment push latency: N fresh, full 16 MiB segments pushed one by one by
#      `dbmedic wal push` and by `pgbackrest archive-push` (zstd level 3 both, sync mode);
#   2. RTO: both tools archive the same ~1 GB of WAL (archive_command runs both); then each
#      restores its backup into a new directory, starts it and replays everything up to the end
#      of the archive (dbmedic: `restore --start`; pgBackRest: `restore` + pg_ctl start +
#      archive-get with archive-async prefetch), timed until pg_is_in_recovery() is false.
# Usage: bench/pitr.sh [--push-only] [WAL_MB] [SEGMENTS]   (default 1024 and 20)
#   --push-only: part 1 only (no backups, no 1 GB of WAL; about a minute).
#   env DBMEDIC=path, KEEP=1, PUSH_CHRT=N: the timed pushes of both tools run under
#   `chrt -f N` (real-time FIFO priority N), so other load on the machine (builds) does not sit
#   between the push and the CPU; the rest of the script runs at normal priority.
# Needs root (the cluster runs as postgres), pgbackrest, pgbench, python3.
set -euo pipefail

push_only=0
if [[ ${1:-} == --push-only ]]; then push_only=1; shift; fi
wal_mb=${1:-1024}
segments=${2:-20}
push_prefix=()
[[ -n ${PUSH_CHRT:-} ]] && push_prefix=(chrt -f "$PUSH_CHRT")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/rto.sh
source "$here/lib/rto.sh"
dbmedic_built=${DBMEDIC:-$here/../build-pitr/dbmedic}
pgbin=/usr/lib/postgresql/15/bin
[[ -x $dbmedic_built ]] || { echo "no dbmedic binary at $dbmedic_built (set DBMEDIC=...)" >&2; exit 1; }
command -v pgbackrest >/dev/null || { echo "pgbackrest missing" >&2; exit 1; }

work=$(mktemp -d /tmp/bench-pitr.XXXXXX)
chmod 0755 "$work"
as_pg() { runuser -u postgres -- "$@"; }
cleanup() {
  for d in data restore-dbmedic restore-pgbackrest; do
    [[ -f $work/$d/postmaster.pid ]] && as_pg "$pgbin/pg_ctl" -D "$work/$d" -m immediate stop >/dev/null 2>&1 || true
  done
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT
cp "$dbmedic_built" "$work/dbmedic"; chmod 0755 "$work/dbmedic"
# dbmedic opens its HTTP module (monitor, webhooks) from its own directory: keep them together.
[[ -f $(dirname "$dbmedic_built")/libdbmedic_http.so ]] && cp "$(dirname "$dbmedic_built")/libdbmedic_http.so" "$work/"
dbmedic=$work/dbmedic
mkdir -p "$work/repo" "$work/pgbr" "$work/sock" "$work/spool" "$work/pushtest"
chown -R postgres: "$work"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$pgbin/initdb" -D "$work/data" -A trust -U postgres --data-checksums >/dev/null
cat > "$work/pgbackrest.conf" <<CONF
[global]
repo1-path=$work/pgbr
compress-type=zst
compress-level=3
archive-async=y
spool-path=$work/spool
process-max=2
start-fast=y
repo1-retention-full=2
log-level-console=warn
log-level-file=off
lock-path=$work/spool
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
archive_command = '$dbmedic wal push --repo $work/repo %p && pgbackrest --config=$work/pgbackrest.conf --stanza=bench --archive-async=n archive-push %p'
max_wal_size = 4GB
checkpoint_timeout = 30min
CONF
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
dbm() { "$dbmedic" "$@" --repo "$work/repo"; }
"$dbmedic" repo init --repo "$work/repo" --pg-host "$work/sock" --pg-port "$port" >/dev/null
chown -R postgres: "$work/repo"
pgbr stanza-create >/dev/null

# --- 1. push latency on fresh full segments -----------------------------------------------------
as_pg "$pgbin/pgbench" -h "$work/sock" -p "$port" -i -s 20 -q postgres >/dev/null 2>&1
if (( ! push_only )); then
  "$dbmedic" backup --repo "$work/repo" --pg-host "$work/sock" --pg-port "$port" >/dev/null
  chown -R postgres: "$work/repo"
  pgbr --type=full backup >/dev/null
fi
# Copy full segments out of pg_wal (they are already archived there, so push them into fresh
# repositories: a fresh dbmedic repo and a fresh pgBackRest stanza on a second repo path).
ls "$work/data/pg_wal" | grep -E '^[0-9A-F]{24}$' | head -n "$segments" | while read -r s; do
  cp "$work/data/pg_wal/$s" "$work/pushtest/$s"
done
chown -R postgres: "$work/pushtest"
mkdir -p "$work/repo2" "$work/pgbr2"; chown postgres: "$work/repo2" "$work/pgbr2"
"$dbmedic" repo init --repo "$work/repo2" --pg-host "$work/sock" --pg-port "$port" >/dev/null
chown -R postgres: "$work/repo2"
sed "s#repo1-path=$work/pgbr#repo1-path=$work/pgbr2#" "$work/pgbackrest.conf" > "$work/pgbackrest2.conf"
chown postgres: "$work/pgbackrest2.conf"
as_pg pgbackrest --config="$work/pgbackrest2.conf" --stanza=bench stanza-create >/dev/null
time_each() {  # prints median milliseconds of "$@ FILE" over the segments
  # The loop itself runs as postgres, as archive_command does: runuser's own start-up (PAM
  # session, ~35 ms here) is not part of the figure. EPOCHREALTIME: no fork for the clock.
  "${push_prefix[@]}" runuser -u postgres -- bash -c '
    work=$1; shift
    for f in "$work"/pushtest/*; do
      [[ -f $f ]] || continue
      t0=$EPOCHREALTIME; "$@" "$f" >/dev/null; t1=$EPOCHREALTIME
      echo $(( (${t1/./} - ${t0/./}) / 1000 ))
    done' time_each "$work" "$@" |
    sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
cpu_each() {  # prints median user+sys CPU milliseconds of "$@ FILE" over the segments
  local times=()
  for f in "$work"/pushtest/*; do
    [[ -f $f ]] || continue
    local c
    c=$("${push_prefix[@]}" runuser -u postgres -- /usr/bin/time -f '%U %S' "$@" "$f" 2>&1 >/dev/null |
      tail -1)
    times+=($(python3 -c "print(round(($(echo "$c" | tr ' ' '+'))*1000))"))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
push_dbm=$(time_each "$dbmedic" wal push --repo "$work/repo2")
push_pgbr=$(time_each pgbackrest --config="$work/pgbackrest2.conf" --stanza=bench --archive-async=n archive-push)
echo "push latency medians: dbmedic ${push_dbm} ms, pgbackrest ${push_pgbr} ms" >&2
# CPU per push (user + sys), less sensitive to other load than wall time: fresh repositories again.
mkdir -p "$work/repo3" "$work/pgbr3"; chown postgres: "$work/repo3" "$work/pgbr3"
"$dbmedic" repo init --repo "$work/repo3" --pg-host "$work/sock" --pg-port "$port" >/dev/null
chown -R postgres: "$work/repo3"
sed "s#repo1-path=$work/pgbr#repo1-path=$work/pgbr3#" "$work/pgbackrest.conf" > "$work/pgbackrest3.conf"
chown postgres: "$work/pgbackrest3.conf"
as_pg pgbackrest --config="$work/pgbackrest3.conf" --stanza=bench stanza-create >/dev/null
cpu_dbm=$(cpu_each "$dbmedic" wal push --repo "$work/repo3")
cpu_pgbr=$(cpu_each pgbackrest --config="$work/pgbackrest3.conf" --stanza=bench --archive-async=n archive-push)
echo "push CPU medians: dbmedic ${cpu_dbm} ms, pgbackrest ${cpu_pgbr} ms" >&2
# Asynchronous dbmedic push: what archive_command waits for when the worker has not pushed the
# file ahead (durable copy into the spool) -- into a fourth repository, the worker running.
mkdir -p "$work/repo4"; chown postgres: "$work/repo4"
"$dbmedic" repo init --repo "$work/repo4" --pg-host "$work/sock" --pg-port "$port" >/dev/null
chown -R postgres: "$work/repo4"
push_async=$(time_each "$dbmedic" wal push --async --repo "$work/repo4")
echo "async push latency median (spool copy): dbmedic ${push_async} ms" >&2

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
push_report() {
  cat <<OUT
push latency per 16 MiB segment (median of $segments): dbmedic ${push_dbm} ms, pgbackrest ${push_pgbr} ms, ratio $(ratio "$push_dbm" "$push_pgbr")
push CPU (user+sys) per segment (median): dbmedic ${cpu_dbm} ms, pgbackrest ${cpu_pgbr} ms, ratio $(ratio "$cpu_dbm" "$cpu_pgbr")
dbmedic wal push --async latency (spool copy, worker running): ${push_async} ms, ratio to pgbackrest sync push $(ratio "$push_async" "$push_pgbr")
OUT
}
if (( push_only )); then
  push_report
  exit 0
fi

# --- 2. RTO with ~WAL_MB of WAL to replay ---------------------------------------------------------
start_lsn=$(as_pg "$pgbin/psql" -h "$work/sock" -p "$port" -Atc "SELECT pg_current_wal_lsn()" postgres)
while :; do
  as_pg "$pgbin/pgbench" -h "$work/sock" -p "$port" -c 2 -j 2 -t 2000 -N postgres >/dev/null 2>&1
  bytes=$(as_pg "$pgbin/psql" -h "$work/sock" -p "$port" -Atc "SELECT pg_current_wal_lsn() - '$start_lsn'" postgres)
  (( bytes > wal_mb * 1024 * 1024 )) && break
done
last=$(as_pg "$pgbin/psql" -h "$work/sock" -p "$port" -Atc "SELECT pg_walfile_name(pg_switch_wal())" postgres)
until [[ -n $(ls "$work/repo/archive/"*/*/ 2>/dev/null | grep "^$last-") ]] &&
      pgbr archive-get "$last" "$work/spool/check" >/dev/null 2>&1; do sleep 0.5; done
as_pg "$pgbin/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null

rto_dbm=$(rto_dbmedic "$work" "$dbmedic")
echo "dbmedic RTO ${rto_dbm} ms: $(tr -d "\n" < "$work/dbmedic-restore.json")" >&2
as_pg "$pgbin/pg_ctl" -D "$work/restore-dbmedic" -m immediate stop >/dev/null
rto_pgbr=$(rto_pgbackrest "$work")

push_report
cat <<OUT
RTO (restore + start + replay ${wal_mb} MB WAL + promote): dbmedic ${rto_dbm} ms, pgbackrest ${rto_pgbr} ms, ratio $(ratio "$rto_dbm" "$rto_pgbr")
dbmedic report: $(cat "$work/dbmedic-restore.json" | tr -d '\n' | tr -s ' ')
OUT
