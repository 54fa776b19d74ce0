#!/usr/bin/env bash
# WAL scan speed: dbmedic's decoder against pg_waldump, side by side on the same segments.
#   bench/wal-scan.sh [--binary PATH] [--wal-mb 1024] [--runs 3] [--keep]
#   bench/wal-scan.sh --reuse DIR ...   (times the WAL kept by an earlier --keep run in DIR)
# Makes a private PostgreSQL 15 cluster (wal_level=replica), writes about --wal-mb of WAL with
# pgbench (initial load + a few minutes of TPC-B-like updates, so the WAL holds heap inserts,
# updates, full-page images and commits), copies those segments aside, and times (warm cache,
# median of --runs):
#   pg_waldump --stats        (pg_waldump decoding and CRC checks, no per-record output)
#   pg_waldump > /dev/null    (what a user runs to look for a DROP by eye)
#   dbmedic wal-scan          (decode + CRC + per-rmgr statistics)
#   dbmedic incidents         (decode + CRC + incident detection, one reader per core)
#   dbmedic incidents --jobs 1 (the same with one reader)
# and the peak RSS of each. Prints a Markdown table for bench/RESULTS.md.
# The binary should be a Release build: cmake -B build-release -DCMAKE_BUILD_TYPE=Release.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
binary=$root/build-release/dbmedic
wal_mb=1024
runs=3
keep=0
reuse=
while (($#)); do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --wal-mb) wal_mb=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --reuse) reuse=$2; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--wal-mb N] [--runs N] [--keep]" >&2; exit 2 ;;
  esac
done
bin=/usr/lib/postgresql/15/bin
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [[ -n $reuse ]]; then
  work=$reuse
  read -r start end scale < "$work/range"
  keep=1
  cleanup() { :; }
  trap cleanup EXIT
else
  work=$(mktemp -d /tmp/dbmedic-walbench.XXXXXX)
  chmod 755 "$work"
  [[ $(id -u) -eq 0 ]] && chown postgres "$work"
  cleanup() {
    as_pg "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
    ((keep)) || rm -rf "$work"
  }
  trap cleanup EXIT
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

  as_pg "$bin/initdb" -D "$work/data" -k >/dev/null
  cat >> "$work/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
wal_level = replica
max_wal_size = 8GB
wal_keep_size = 8GB
checkpoint_timeout = 5min
CONF
  as_pg "$bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
  psql_() { as_pg psql -h "$work" -p "$port" -qAtX "$@"; }

  start=$(psql_ -c "SELECT pg_current_wal_lsn()")
  scale=$(( wal_mb / 20 > 1 ? wal_mb / 20 : 1 ))
  echo "bench: pgbench -i -s $scale, then updates until ~$wal_mb MB of WAL" >&2
  as_pg pgbench -h "$work" -p "$port" -i -s "$scale" -q postgres >/dev/null 2>&1
  psql_ -c "CHECKPOINT" >/dev/null
  while :; do
    bytes=$(psql_ -c "SELECT pg_current_wal_lsn() - '$start'::pg_lsn")
    (( ${bytes%.*} >= wal_mb * 1024 * 1024 )) && break
    as_pg pgbench -h "$work" -p "$port" -c 2 -j 2 -T 20 postgres >/dev/null 2>&1
  done
  end=$(psql_ -c "SELECT pg_current_wal_lsn()")
  psql_ -c "SELECT pg_switch_wal()" >/dev/null
  mkdir -p "$work/wal"
  cp "$work"/data/pg_wal/0000000* "$work/wal/"
  as_pg "$bin/pg_ctl" -D "$work/data" -m fast stop >/dev/null
  echo "$start $end $scale" > "$work/range"
fi
segments=$(ls "$work/wal" | wc -l)
scanned_mb=$(python3 -c "
def lsn(t): a,b=t.split('/'); return (int(a,16)<<32)+int(b,16)
print(round((lsn('$end')-lsn('$start'))/1048576))")
echo "bench: $scanned_mb MB of WAL from $start to $end in $segments segment files" >&2
cat "$work"/wal/* | cat > /dev/null  # warm the page cache

[[ -x $binary ]] || { echo "wal-scan.sh: no dbmedic binary at $binary (build a Release one); WAL kept in $work" >&2; keep=1; exit 1; }

# median wall seconds and max RSS (kB) of a command, over $runs runs
measure() {
  local times=() rss=0 t r
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" > /dev/null 2> "$work/err" || {
      # pg_waldump exits 1 at the end of WAL; dbmedic exits 0. Anything else is a failure.
      if ! grep -q "invalid record length\|could not find\|end of WAL" "$work/err"; then
        cat "$work/err" >&2
      fi
    }
    read -r t r < <(tail -1 "$work/time")
    times+=("$t")
    ((r > rss)) && rss=$r
  done
  printf '%s %s\n' "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")" "$rss"
}

declare -A secs mem
run() {
  local name=$1; shift
  read -r secs[$name] mem[$name] < <(measure "$@")
  echo "bench: $name: ${secs[$name]} s, ${mem[$name]} kB" >&2
}
run waldump_stats "$bin/pg_waldump" --stats -p "$work/wal" -s "$start" -e "$end"
run waldump_full "$bin/pg_waldump" -p "$work/wal" -s "$start" -e "$end"
run wal_scan "$binary" wal-scan --wal-dir "$work/wal" --start "$start" --end "$end"
run incidents "$binary" incidents --wal-dir "$work/wal"
run incidents_one "$binary" incidents --wal-dir "$work/wal" --jobs 1

rate() { python3 -c "print(f'{$scanned_mb / max($1, 0.001):.0f}')"; }
ratio() { python3 -c "print(f'{$1 / max($2, 0.001):.1f}x')"; }
cat <<TABLE
WAL: $scanned_mb MB (pgbench scale $scale load + TPC-B updates), $segments segment files, warm cache, median of $runs runs.

| Tool | Command | Time (s) | MB/s | Peak RSS (MB) | dbmedic wal-scan speed-up | dbmedic incidents speed-up |
|---|---|---|---|---|---|---|
| pg_waldump | \`--stats\` | ${secs[waldump_stats]} | $(rate ${secs[waldump_stats]}) | $((mem[waldump_stats] / 1024)) | $(ratio ${secs[waldump_stats]} ${secs[wal_scan]}) | $(ratio ${secs[waldump_stats]} ${secs[incidents]}) |
| pg_waldump | full listing to /dev/null | ${secs[waldump_full]} | $(rate ${secs[waldump_full]}) | $((mem[waldump_full] / 1024)) | $(ratio ${secs[waldump_full]} ${secs[wal_scan]}) | $(ratio ${secs[waldump_full]} ${secs[incidents]}) |
| dbmedic | \`wal-scan\` (CRC on) | ${secs[wal_scan]} | $(rate ${secs[wal_scan]}) | $((mem[wal_scan] / 1024)) | 1.0x | |
| dbmedic | \`incidents\` (CRC on, one reader per core) | ${secs[incidents]} | $(rate ${secs[incidents]}) | $((mem[incidents] / 1024)) | | 1.0x |
| dbmedic | \`incidents --jobs 1\` (one reader) | ${secs[incidents_one]} | $(rate ${secs[incidents_one]}) | $((mem[incidents_one] / 1024)) | | |
TABLE
