#!/usr/bin/env bash
# Sets up (Debian packages), builds, and runs every test: unit, pg (real PostgreSQL 15 clusters
# started by tests/harness) and e2e. Usage: scripts/test.sh [ctest args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh
# ccache across clones: paths relative to the checkout, so another clone reuses the objects.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1

build=${DBMEDIC_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)"

# Test clusters, binaries and repositories live under /tmp; the postgres OS user must reach them.
export TMPDIR=${TMPDIR:-/tmp}
cd "$build"
ctest --no-tests=error --output-on-failure -j"$(nproc)" --timeout 900 "$@"
