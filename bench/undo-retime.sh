#!/usr/bin/env bash
# bench/undo-retime.sh: re-times one route of bench/undo.sh on a directory it kept (KEEP=1), to
# time a change without loading and generating WAL again (bench/RESULTS.md, undo run 8).
#   bench/undo-retime.sh DIR dbmedic [BINARY [undo options...]]   (default binary: DIR/dbmedic)
#   bench/undo-retime.sh DIR manual
# Same target as the kept run (from DIR/undo.json); the table is dropped first, the page cache
# dropped, the live cluster started under SCHED_FIFO 50 if it is not running (as FIFO=50 does
# for the timed parts), and the timed command runs under `chrt -f 50`. Prints the time, the
# load average and the table's row count and md5 (compare with the kept run's "original").
# The live cluster is left running: stop it with pg_ctl -D DIR/data stop when done.
set -euo pipefail
W=${1:?kept bench directory}; route=${2:?dbmedic or manual}; shift 2
pgbin=/usr/lib/postgresql/15/bin
port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$W/data/postgresql.conf" | tail -1)
before=$(python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['plan']['target']; \
print(t.removeprefix('time ').removesuffix(' (exclusive)'))" "$W/undo.json")
as_pg() { runuser -u postgres -- "$@"; }
psql_live() { as_pg "$pgbin/psql" -h "$W/sock" -p "$port" -X -q -v ON_ERROR_STOP=1 "$@" postgres; }
[[ -f $W/data/postmaster.pid ]] ||
  chrt -f 50 runuser -u postgres -- "$pgbin/pg_ctl" -D "$W/data" -l "$W/server.log" -w start >/dev/null
psql_live -c "DROP TABLE IF EXISTS users" >/dev/null
psql_live -Atc "SELECT pg_switch_wal()" >/dev/null
sleep 2  # the archiver pushes the segment, as before a real undo
load=$(cut -d' ' -f1-3 /proc/loadavg)
sync; echo 3 > /proc/sys/vm/drop_caches
if [[ $route == dbmedic ]]; then
  bin=${1:-$W/dbmedic}; shift || true
  # A copy the server's OS user can run (restore_command), with its HTTP module beside it.
  cp "$bin" "$W/dbmedic-retime"; chmod 0755 "$W/dbmedic-retime"
  [[ -f $(dirname "$bin")/libdbmedic_http.so ]] && cp "$(dirname "$bin")/libdbmedic_http.so" "$W/"
  t0=$(date +%s%N)
  chrt -f 50 "$W/dbmedic-retime" --output json undo --repo "$W/repo" --pg-host "$W/sock" \
    --pg-port "$port" --drill-scratch-dir "$W/scratch" --table public.users --before "$before" \
    --yes "$@" > "$W/undo-retime.json" 2> "$W/undo-retime.err"
  t1=$(date +%s%N)
else
  port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$W/side-pgbackrest"; mkdir -p "$W/side-pgbackrest" "$W/sock2"
  chmod 0700 "$W/side-pgbackrest"; chown postgres: "$W/side-pgbackrest" "$W/sock2"
  t0=$(date +%s%N)
  chrt -f 50 bash -c "
    runuser -u postgres -- pgbackrest --config='$W/pgbackrest.conf' --stanza=bench \
      --pg1-path='$W/side-pgbackrest' --type=time --target='$before' --target-action=promote restore >/dev/null
    printf 'port = $port2\nunix_socket_directories = '\''$W/sock2'\''\narchive_mode = off\n' \
      >> '$W/side-pgbackrest/postgresql.auto.conf'
    runuser -u postgres -- '$pgbin/pg_ctl' -D '$W/side-pgbackrest' -l '$W/side-pgbackrest.log' -w -t 3600 start >/dev/null
    until [[ \$(runuser -u postgres -- '$pgbin/psql' -h '$W/sock2' -p $port2 -Atc 'SELECT pg_is_in_recovery()' postgres 2>/dev/null) == f ]]; do sleep 0.05; done
    runuser -u postgres -- bash -c \"'$pgbin/pg_dump' -h '$W/sock2' -p $port2 -t public.users postgres | '$pgbin/psql' -h '$W/sock' -p $port -X -q -v ON_ERROR_STOP=1 postgres\" >/dev/null
    runuser -u postgres -- '$pgbin/pg_ctl' -D '$W/side-pgbackrest' -m fast -w stop >/dev/null"
  t1=$(date +%s%N)
fi
echo "$route: $(( (t1 - t0) / 1000000 )) ms; load average before: $load"
psql_live -Atc "SELECT count(*) || ' ' || md5(string_agg(u::text, ',' ORDER BY id)) FROM users u"
