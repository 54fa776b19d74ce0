#!/usr/bin/env bash
# bench/rpo.sh: RPO measured by crashing the primary, in archive_command mode for several
# archive_timeout values and in streaming + synchronous mode. Each run: a fresh cluster, a backup,
# two writers recording every committed transaction, `pg_ctl -m immediate stop` at a random moment
# 2-5 s into the workload, the data directory deleted, restore from the repository alone to the
# end of the WAL, count of committed transactions missing (must be a suffix, never a hole).
# Usage: bench/rpo.sh [BUILD_DIR] [REPEATS]   (default build, 3); needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
repeats=${2:-3}
test_bin=$build/tests/integration_pitr
[[ -x $test_bin ]] || { echo "no $test_bin (cmake --build $build --target integration_pitr dbmedic)" >&2; exit 1; }
export DBMEDIC_BINARY=${DBMEDIC_BINARY:-$build/dbmedic}
for timeout in 1s 5s 60s; do
  for seed in $(seq 1 "$repeats"); do
    DBMEDIC_RPO_ARCHIVE_TIMEOUT=$timeout DBMEDIC_RPO_SEED=$seed \
      "$test_bin" --gtest_filter='RpoCrash.ArchiveCommandModeLosesOnlyASuffix' 2>/dev/null | grep '^RPO ' || echo "run failed: archive_timeout=$timeout seed=$seed"
  done
done
for seed in $(seq 1 "$repeats"); do
  DBMEDIC_RPO_SEED=$seed "$test_bin" --gtest_filter='RpoCrash.SynchronousStreamingModeLosesNothing' \
    2>/dev/null | grep '^RPO ' || echo "run failed: streaming seed=$seed"
done
