#!/usr/bin/env bash
# bench/pitr-rto.sh: re-runs the RTO part of bench/pitr.sh on a work directory it kept
# (KEEP=1 bench/pitr.sh ...), so the restore-and-replay comparison can be repeated without
# generating and archiving 1 GB of WAL again. Each round: dbmedic `restore --start` to the end of
# the archive, then pgBackRest restore + pg_ctl start (archive-get with async prefetch), both timed
# from the command to pg_is_in_recovery() = false, page cache dropped before each.
# Usage: bench/pitr-rto.sh WORK_DIR [ROUNDS] [DBMEDIC_BINARY]   (default 1 round, WORK_DIR/dbmedic)
set -euo pipefail
work=${1:?usage: bench/pitr-rto.sh WORK_DIR [ROUNDS] [DBMEDIC_BINARY]}
rounds=${2:-1}
pgbin=/usr/lib/postgresql/15/bin
# shellcheck source=lib/rto.sh
source "$(cd "$(dirname "$0")" && pwd)/lib/rto.sh"
as_pg() { runuser -u postgres -- "$@"; }
[[ -d $work/repo && -f $work/pgbackrest.conf ]] || { echo "$work is not a kept bench/pitr.sh work directory" >&2; exit 1; }
dbmedic=$work/dbmedic
if [[ -n ${3:-} ]]; then
  cp "$3" "$work/dbmedic-rto"; chmod 0755 "$work/dbmedic-rto"; dbmedic=$work/dbmedic-rto
  # dbmedic opens its HTTP module (monitor, webhooks) from its own directory: keep them together.
  [[ -f $(dirname "$3")/libdbmedic_http.so ]] && cp "$(dirname "$3")/libdbmedic_http.so" "$work/"
fi
stop() { [[ -f $1/postmaster.pid ]] && as_pg "$pgbin/pg_ctl" -D "$1" -m immediate stop >/dev/null 2>&1 || true; }
trap 'stop "$work/restore-dbmedic"; stop "$work/restore-pgbackrest"' EXIT
dm=(); br=()
for round in $(seq "$rounds"); do
  for d in restore-dbmedic restore-pgbackrest; do stop "$work/$d"; rm -rf "${work:?}/$d"; done
  dm+=("$(rto_dbmedic "$work" "$dbmedic")")
  stop "$work/restore-dbmedic"
  br+=("$(rto_pgbackrest "$work")")
  stop "$work/restore-pgbackrest"
  echo "round $round: dbmedic ${dm[-1]} ms, pgbackrest ${br[-1]} ms, load $(cut -d' ' -f1 /proc/loadavg)" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_dm=$(median "${dm[@]}"); m_br=$(median "${br[@]}")
echo "RTO (restore + start + replay to the end of the archive + promote), median of $rounds: dbmedic ${m_dm} ms, pgbackrest ${m_br} ms, ratio $(python3 -c "print(f'{$m_dm/$m_br:.2f}')")"
