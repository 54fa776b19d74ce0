#!/usr/bin/env bash
# Monitor benchmark: dbmedic monitor vs Debian's prometheus-postgres-exporter, same cluster, same
# scrape count. Measures per-scrape latency (curl time_total, median and p95), CPU per scrape of
# the exporter process and of the PostgreSQL backends it drives, and the agent's RSS.
#
#   bench/monitor.sh [--scrapes N] [--interval SECONDS] [--soak SECONDS]
#                    [--history-interval SECONDS] [--snapshot-keep N] [--results FILE]
#
# --soak runs only the agent for SECONDS (e.g. 3600) with one scrape per interval and reports
# RSS every minute (memory growth), with the agent's heap, SQLite cache, history series and
# active-session history (samples held / distinct strings pooled). Needs root (the cluster
# runs as postgres), pgbench, curl.
# Writes a section between <!-- BEGIN monitor --> / <!-- END monitor --> of --results
# (default bench/RESULTS.md), leaving the rest of the file alone.
set -euo pipefail

SCRAPES=60
INTERVAL=1
SOAK=0
HISTORY_INTERVAL=15
SNAPSHOT_KEEP=
HERE=$(cd "$(dirname "$0")" && pwd)
RESULTS="$HERE/RESULTS.md"
while (($#)); do
  case $1 in
    --scrapes) SCRAPES=$2; shift 2 ;;
    --interval) INTERVAL=$2; shift 2 ;;
    --soak) SOAK=$2; shift 2 ;;
    --history-interval) HISTORY_INTERVAL=$2; shift 2 ;;
    --snapshot-keep) SNAPSHOT_KEEP=$2; shift 2 ;;  # pg_stat_statements snapshots kept (default 13 = 65 min)
    --results) RESULTS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

BIN=${DBMEDIC_BINARY:-$HERE/../build-monitor/dbmedic}
PGBIN=/usr/lib/postgresql/15/bin
EXPORTER=$(command -v prometheus-postgres-exporter || true)
[[ -x $BIN ]] || { echo "dbmedic binary not found at $BIN (set DBMEDIC_BINARY)" >&2; exit 1; }
[[ -n $EXPORTER ]] || { echo "prometheus-postgres-exporter missing (scripts/setup.sh)" >&2; exit 1; }
TICK=$(getconf CLK_TCK)

WORK=$(mktemp -d /tmp/dbmedic-bench-monitor.XXXXXX)
chmod 0755 "$WORK"
chown postgres: "$WORK"  # the server writes its data directory and log here
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU ticks of all children of the postmaster (backends, walsender...), summed.
backend_ticks() {
  local sum=0 pid
  for pid in $(pgrep -P "$PG_PID"); do
    [[ -r /proc/$pid/stat ]] && sum=$((sum + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$sum"
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

PGPORT=$(free_port)
mkdir -p "$WORK/sock" && chown postgres: "$WORK/sock"
mkdir -p "$WORK/data" && chown postgres: "$WORK/data" && chmod 0700 "$WORK/data"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/data" --auth=trust -E UTF8 >/dev/null
cat >> "$WORK/data/postgresql.conf" <<CONF
port = $PGPORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK/sock'
archive_mode = on
archive_command = 'true'
shared_preload_libraries = 'pg_stat_statements'
CONF
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
PG_PID=$(head -1 "$WORK/data/postmaster.pid")
runuser -u postgres -- "$PGBIN/pgbench" -h "$WORK/sock" -p "$PGPORT" -i -s 10 -q postgres >/dev/null 2>&1
# Some databases, as a real server has them (both tools report per database).
for db in app1 app2 app3; do runuser -u postgres -- "$PGBIN/psql" -h "$WORK/sock" -p "$PGPORT" -qc "CREATE DATABASE $db" postgres; done
# The agent also keeps pg_stat_statements snapshots and wait-event samples (diagnose samplers).
runuser -u postgres -- "$PGBIN/psql" -h "$WORK/sock" -p "$PGPORT" -qc "CREATE EXTENSION pg_stat_statements" postgres

# Scrapes $1 every $INTERVAL s, $SCRAPES times; prints the per-scrape seconds, one per line.
scrape_loop() {
  local url=$1 n=$2 i
  for ((i = 0; i < n; i++)); do
    curl -s -o /dev/null -w '%{time_total}\n' "$url"
    sleep "$INTERVAL"
  done
}
stats() {  # median and p95 in ms of the numbers on stdin
  sort -n | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; p=a[int(NR*0.95+0.5)]; printf "%.2f %.2f\n", m*1000, p*1000}'
}

# --- dbmedic monitor --------------------------------------------------------------------------
AGENT_PORT=$(free_port)
cat > "$WORK/dbmedic.toml" <<CONF
[cluster]
name = "bench"
host = "$WORK/sock"
port = $PGPORT
data_dir = "$WORK/data"
[monitor]
port = $AGENT_PORT
history_path = "$WORK/monitor.db"
pg_interval = "${INTERVAL}s"
host_interval = "${INTERVAL}s"
history_interval = "${HISTORY_INTERVAL}s"
evaluation_interval = "${INTERVAL}s"
[diagnose]
snapshot_file = "$WORK/statements.json"
${SNAPSHOT_KEEP:+snapshot_keep = $SNAPSHOT_KEEP}
CONF
"$BIN" --config "$WORK/dbmedic.toml" --log-level warn monitor >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$AGENT_PORT/healthz" >/dev/null && break; sleep 0.2; done
sleep 3  # first collections (rates need two)
LINES_AGENT=$(curl -s "http://127.0.0.1:$AGENT_PORT/metrics" | grep -vc '^#')

if ((SOAK > 0)); then
  # A light, steady workload: statements for the snapshots, active sessions for the wait sampler.
  runuser -u postgres -- "$PGBIN/pgbench" -h "$WORK/sock" -p "$PGPORT" -n -c 2 -R 20 -T "$SOAK" \
    postgres >"$WORK/pgbench.log" 2>&1 &
  PIDS+=("$!")
  echo "soak: $SOAK s, RSS every 60 s (kB), history every ${HISTORY_INTERVAL}s, $(date -u +%H:%M) UTC"
  start_rss=$(rss_kb "$AGENT_PID")
  end=$((SECONDS + SOAK))
  next=$SECONDS
  while ((SECONDS < end)); do
    curl -s -o /dev/null "http://127.0.0.1:$AGENT_PORT/metrics"
    if ((SECONDS >= next)); then
      # The agent's own view: heap in use (leaks) vs kept free (fragmentation), SQLite cache.
      self=$(curl -s "http://127.0.0.1:$AGENT_PORT/metrics" | awk '
        /^dbmedic_agent_heap_in_use_bytes/ {u=$2} /^dbmedic_agent_heap_free_bytes/ {f=$2}
        /^dbmedic_agent_history_cache_bytes/ {c=$2} /^dbmedic_agent_history_series/ {s=$2}
        /^dbmedic_pg_wait_history_samples/ {w=$2} /^dbmedic_pg_wait_history_strings/ {k=$2}
        END {printf "heap_in_use=%d heap_free=%d sqlite_cache=%d series=%d wait_history=%d/%d",
             u/1024, f/1024, c/1024, s, w, k}')
      echo "$((SECONDS))s rss=$(rss_kb "$AGENT_PID") $self (kB)"
      next=$((SECONDS + 60))
    fi
    sleep "$INTERVAL"
  done
  echo "soak: start ${start_rss} kB, end $(rss_kb "$AGENT_PID") kB, peak $(hwm_kb "$AGENT_PID") kB"
  exit 0
fi

a0=$(cpu_ticks "$AGENT_PID"); b0=$(backend_ticks)
read -r A_MED A_P95 < <(scrape_loop "http://127.0.0.1:$AGENT_PORT/metrics" "$SCRAPES" | stats)
a1=$(cpu_ticks "$AGENT_PID"); b1=$(backend_ticks)
A_CPU=$(awk -v d=$((a1 - a0)) -v n="$SCRAPES" -v t="$TICK" 'BEGIN {printf "%.2f", d / t / n * 1000}')
A_PG=$(awk -v d=$((b1 - b0)) -v n="$SCRAPES" -v t="$TICK" 'BEGIN {printf "%.2f", d / t / n * 1000}')
A_RSS=$(rss_kb "$AGENT_PID"); A_HWM=$(hwm_kb "$AGENT_PID")
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true

# --- postgres_exporter ------------------------------------------------------------------------
EXP_PORT=$(free_port)
DATA_SOURCE_NAME="host=$WORK/sock port=$PGPORT user=postgres dbname=postgres sslmode=disable" \
  "$EXPORTER" --web.listen-address="127.0.0.1:$EXP_PORT" --log.level=warn >"$WORK/exporter.log" 2>&1 &
EXP_PID=$!
PIDS+=("$EXP_PID")
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$EXP_PORT/metrics" >/dev/null && break; sleep 0.2; done
LINES_EXP=$(curl -s "http://127.0.0.1:$EXP_PORT/metrics" | grep -vc '^#')
e0=$(cpu_ticks "$EXP_PID"); b0=$(backend_ticks)
read -r E_MED E_P95 < <(scrape_loop "http://127.0.0.1:$EXP_PORT/metrics" "$SCRAPES" | stats)
e1=$(cpu_ticks "$EXP_PID"); b1=$(backend_ticks)
E_CPU=$(awk -v d=$((e1 - e0)) -v n="$SCRAPES" -v t="$TICK" 'BEGIN {printf "%.2f", d / t / n * 1000}')
E_PG=$(awk -v d=$((b1 - b0)) -v n="$SCRAPES" -v t="$TICK" 'BEGIN {printf "%.2f", d / t / n * 1000}')
E_RSS=$(rss_kb "$EXP_PID")
kill "$EXP_PID"; wait "$EXP_PID" 2>/dev/null || true

SECTION=$(cat <<MD
<!-- BEGIN monitor -->
## monitor: dbmedic monitor vs prometheus-postgres-exporter $("$EXPORTER" --version 2>&1 | head -1 | awk '{print $3}')

$(date -u +%Y-%m-%d), $(nproc) cores, PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), pgbench scale 10 + 3 empty
databases, $SCRAPES scrapes every ${INTERVAL}s; dbmedic collects every ${INTERVAL}s (one collection per
scrape) and serves its last snapshot; it also samples wait events every 1 s and takes a
pg_stat_statements snapshot every 5 min (its diagnose samplers, included in its CPU). CPU is process CPU time per scrape (user + system, from
/proc, clock tick $((1000 / TICK)) ms, so figures below ~1 ms are coarse); "PG CPU" is the
PostgreSQL backends' CPU per scrape.

| tool | samples | latency median | latency p95 | CPU/scrape | PG CPU/scrape | RSS |
|---|---|---|---|---|---|---|
| dbmedic monitor | $LINES_AGENT | ${A_MED} ms | ${A_P95} ms | ${A_CPU} ms | ${A_PG} ms | $((A_RSS / 1024)) MB (peak $((A_HWM / 1024)) MB) |
| postgres_exporter | $LINES_EXP | ${E_MED} ms | ${E_P95} ms | ${E_CPU} ms | ${E_PG} ms | $((E_RSS / 1024)) MB |

Reproduce: \`bench/monitor.sh --scrapes $SCRAPES --interval $INTERVAL\`; memory soak:
\`bench/monitor.sh --soak 3600\`.
<!-- END monitor -->
MD
)
echo "$SECTION"
touch "$RESULTS"
python3 - "$RESULTS" "$SECTION" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
pattern = re.compile(r"<!-- BEGIN monitor -->.*?<!-- END monitor -->", re.S)
if pattern.search(text):
    text = pattern.sub(lambda m: section, text)
else:
    text = (text.rstrip() + "\n\n" if text.strip() else "# Benchmark results\n\n") + section + "\n"
open(path, "w").write(text)
PY
