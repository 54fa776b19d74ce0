#!/usr/bin/env bash
# bench/log-report.sh: the same ~500 MB PostgreSQL log through `dbmedic log-report` and Debian's
# pgBadger, at -j 1 and -j 2, in one run. Reports throughput (MB/s), peak RSS, and compares the
# statement counts of the most frequent fingerprints (pgBadger's normalised text is passed
# through dbmedic's normaliser so both sides name statements the same way).
#
# The log is real: a throw-away PostgreSQL 15 cluster runs pgbench (TPC-B and select-only, simple
# and extended protocol) with log_min_duration_statement=0, plus lock waits, an error and
# checkpoints; that log is concatenated until it reaches the target size.
#
# Usage: bench/log-report.sh [SIZE_MB]   (default 500; env DBMEDIC=path/to/dbmedic, KEEP=1)
# Needs: pgbadger, /usr/bin/time, python3, PostgreSQL 15 (scripts/packages/diagnose.txt).
set -euo pipefail

size_mb=${1:-500}
here=$(cd "$(dirname "$0")" && pwd)
dbmedic=${DBMEDIC:-$here/../build-release/dbmedic}
pgbin=/usr/lib/postgresql/15/bin
[[ -x $dbmedic ]] || { echo "no dbmedic binary at $dbmedic (set DBMEDIC=...)" >&2; exit 1; }
command -v pgbadger >/dev/null || { echo "pgbadger missing: apt-get install pgbadger" >&2; exit 1; }

# BENCH_LOG=file: reuse a log made earlier (GENERATE_ONLY=1 makes one and keeps it).
work=$(mktemp -d /tmp/bench-log-report.XXXXXX)
chmod 0755 "$work"
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  as_pg "$pgbin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT
[[ $(id -u) == 0 ]] && chown postgres: "$work"

prefix='%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h '
generate() {
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$pgbin/initdb" -D "$work/data" -A trust -U postgres >/dev/null
cat >> "$work/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
fsync = off
log_line_prefix = '$prefix'
log_min_duration_statement = 0
log_lock_waits = on
deadlock_timeout = 100ms
log_checkpoints = on
log_temp_files = 0
lc_messages = 'C'
CONF
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/seed.log" -w start >/dev/null
psql=("$pgbin/psql" -h "$work" -p "$port" -U postgres -X -q)
pgbench=("$pgbin/pgbench" -h "$work" -p "$port" -U postgres)
as_pg "${pgbench[@]}" -i -s 5 -q postgres >/dev/null 2>&1
echo "== seeding a real log (pgbench TPC-B, select-only extended protocol, a multi-line custom script)"
as_pg "${pgbench[@]}" -n -c 4 -j 2 -T 15 postgres >/dev/null 2>&1
as_pg "${pgbench[@]}" -n -S -M extended -c 4 -j 2 -T 10 postgres >/dev/null 2>&1
cat > "$work/custom.sql" <<'SQL'
\set a random(1, 400000)
SELECT abalance
  FROM pgbench_accounts
 WHERE aid IN (:a, :a + 1, :a + 2);
/* report query */ SELECT * FROM pgbench_tellers WHERE tid = :a % 50 + 1 AND tbalance > -1;
SQL
chmod 0644 "$work/custom.sql"
as_pg "${pgbench[@]}" -n -f "$work/custom.sql" -c 2 -j 2 -T 5 postgres >/dev/null 2>&1
as_pg "${psql[@]}" -c "select * from missing_table" postgres >/dev/null 2>&1 || true
as_pg "${psql[@]}" -c "checkpoint" postgres
as_pg "$pgbin/pg_ctl" -D "$work/data" -m fast stop >/dev/null
seed_mb=$(( $(stat -c %s "$work/seed.log") / 1048576 ))
echo "seed log: ${seed_mb} MB, $(wc -l < "$work/seed.log") lines"
: > "$work/bench.log"
while (( $(stat -c %s "$work/bench.log") < size_mb * 1048576 )); do cat "$work/seed.log" >> "$work/bench.log"; done
}
if [[ -n ${BENCH_LOG:-} ]]; then
  ln -s "$(realpath "$BENCH_LOG")" "$work/bench.log"
else
  generate
fi
if [[ ${GENERATE_ONLY:-0} == 1 ]]; then
  mv "$work/bench.log" "/tmp/log-report-bench-${size_mb}MB.log"
  echo "kept /tmp/log-report-bench-${size_mb}MB.log"; exit 0
fi
bytes=$(stat -L -c %s "$work/bench.log")
mb=$(python3 -c "print(round($bytes/1048576,1))")
echo "bench log: $mb MB"
cat "$work/bench.log" | cat > /dev/null  # warm the page cache for every run alike

run() {  # name, command...
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/$name.time" "$@" > "$work/$name.out" 2> "$work/$name.err" ||
    { echo "$name failed:"; tail -5 "$work/$name.err"; exit 1; }
  read -r secs rss_kb < "$work/$name.time"
  printf '%-16s %8.2f s  %8.1f MB/s  peak RSS %6.1f MB\n' "$name" "$secs" \
    "$(python3 -c "print($bytes/1048576/$secs)")" "$(python3 -c "print($rss_kb/1024)")"
}

echo "== runs"
run dbmedic-j1 "$dbmedic" --output json log-report --log-jobs 1 --top 50 "$work/bench.log"
run dbmedic-j2 "$dbmedic" --output json log-report --log-jobs 2 --top 50 "$work/bench.log"
run pgbadger-j1 pgbadger -j 1 -f stderr -p "$prefix" -x json -o "$work/pgbadger-j1.json" "$work/bench.log"
run pgbadger-j2 pgbadger -j 2 -f stderr -p "$prefix" -x json -o "$work/pgbadger-j2.json" "$work/bench.log"

echo "== statement counts (top fingerprints by count)"
python3 - "$work" "$dbmedic" <<'PY'
import json, subprocess, sys
work, dbmedic = sys.argv[1], sys.argv[2]
mine = json.load(open(f"{work}/dbmedic-j2.out"))
mine1 = json.load(open(f"{work}/dbmedic-j1.out"))
badger = json.load(open(f"{work}/pgbadger-j2.json"))
counts = {q["query"]: q["count"] for q in mine["statements"]["top"]}
counts1 = {q["query"]: q["count"] for q in mine1["statements"]["top"]}
assert counts == counts1, "dbmedic -j1 and -j2 disagree"
# pgBadger keeps per-normalised-query counts under normalyzed_info -> database -> query.
theirs = {}
for db, queries in badger.get("normalyzed_info", {}).items():
    for q, v in queries.items():
        theirs[q] = theirs.get(q, 0) + int(v.get("count", 0))
def normalise(t):
    # One statement per run through dbmedic's own normaliser (a file: log-report reads it twice).
    path = f"{work}/one.log"
    with open(path, "w") as f:
        # pgBadger writes placeholders as '?', an operator character to PostgreSQL: give the
        # normaliser a literal instead.
        f.write("x LOG:  duration: 1.000 ms  statement: " + t.replace("?", "0").replace("\n", "\n\t") + "\n")
    r = subprocess.run([dbmedic, "--output", "json", "log-report", path, "--log-line-prefix", "x "],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)["statements"]["top"][0]["query"]
top = sorted(counts.items(), key=lambda kv: -kv[1])[:8]
theirs_norm = {}
for t, c in sorted(theirs.items(), key=lambda kv: -kv[1])[:40]:
    n = normalise(t)
    theirs_norm[n] = theirs_norm.get(n, 0) + c
total_mine = mine["statements"]["executions"]
total_theirs = badger.get("overall_stat", {}).get("queries_number")
print(f"executions: dbmedic {total_mine}, pgBadger queries_number {total_theirs}")
print(f"{'dbmedic':>10} {'pgBadger':>10}  statement")
same = 0
for q, c in top:
    t = theirs_norm.get(q)
    same += (t == c)
    print(f"{c:>10} {str(t):>10}  {q[:90]}")
print(f"{same}/{len(top)} sampled fingerprints have identical counts")
PY
