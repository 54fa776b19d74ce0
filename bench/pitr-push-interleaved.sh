#!/usr/bin/env bash
# bench/pitr-push-interleaved.sh: per-segment push latency, two dbmedic binaries and pgBackRest
# (zstd level 3 both) pushing the same segment one right after the other (order rotated per
# segment), into fresh repositories, as postgres under chrt -f 50: a fairer comparison on a loaded
# machine than pitr.sh, which pushes all segments with one tool, then all with the other.
# Usage: bench/pitr-push-interleaved.sh WORK_DIR ROUNDS BASELINE_BINARY NEW_BINARY
#   WORK_DIR: a work directory kept by `KEEP=1 bench/pitr.sh --push-only` (its pushtest/ segments,
#   repo2/repo.json and pgbr2/ stanza are reused; no server needs to run).
# Prints the median latency of each tool and the ratios to pgBackRest. Needs root.
set -euo pipefail
W=${1:?usage: bench/pitr-push-interleaved.sh WORK_DIR ROUNDS BASELINE NEW}; shift
rounds=${1:?} main=${2:?} new=${3:?}
out=$(mktemp /tmp/bench-push-inter.XXXXXX)
for ((r = 0; r < rounds; r++)); do
  t=$(mktemp -d /tmp/bench-push-round.XXXXXX)
  for x in main new; do mkdir -p $t/$x/archive; cp $W/repo2/repo.json $t/$x/; done
  cp -a $W/pgbr2 $t/pgbr; rm -rf $t/pgbr/archive/bench/15-1/*
  sed "s#repo1-path=$W/pgbr2#repo1-path=$t/pgbr#" $W/pgbackrest2.conf > $t/pgbr.conf
  chown -R postgres: $t
  chrt -f 50 runuser -u postgres -- bash -c '
    t=$1 main=$2 new=$3 W=$4 i=0
    for f in $W/pushtest/0*; do
      order=(main new pgbr); k=$((i % 3)); order=("${order[@]:k}" "${order[@]:0:k}"); i=$((i+1))
      for tool in "${order[@]}"; do
        case $tool in
          main) cmd=("$main" wal push --repo "$t/main");;
          new) cmd=("$new" wal push --repo "$t/new");;
          pgbr) cmd=(pgbackrest --config="$t/pgbr.conf" --stanza=bench --archive-async=n archive-push);;
        esac
        t0=$EPOCHREALTIME; "${cmd[@]}" "$f" >/dev/null; t1=$EPOCHREALTIME
        echo "$tool $(( (${t1/./} - ${t0/./}) / 1000 ))"
      done
    done' x "$t" "$main" "$new" "$W" >> $out
  rm -rf "$t"
done
python3 - "$out" <<'PY'
import sys, statistics as st
d = {}
for line in open(sys.argv[1]):
    k, v = line.split(); d.setdefault(k, []).append(int(v))
m = {k: st.median(v) for k, v in d.items()}
names = {"main": "baseline", "new": "new", "pgbr": "pgbackrest"}
print(" ".join(f"{names[k]}: median {m[k]:.0f} ms (n={len(d[k])})" for k in names),
      f"| ratio to pgbackrest: baseline {m['main']/m['pgbr']:.2f}, new {m['new']/m['pgbr']:.2f}")
PY
rm -f "$out"
