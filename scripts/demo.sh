#!/usr/bin/env bash
# Sets up (Debian packages), builds, and runs `dbmedic demo`: a private PostgreSQL sandbox,
# sample data, a full backup, the loss of the data directory, the restore, proof the data is back.
# Usage: scripts/demo.sh [demo options, e.g. --dir /tmp/my-demo --cleanup]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh
# ccache across clones: paths relative to the checkout, so another clone reuses the objects.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
build=${DBMEDIC_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDBMEDIC_TESTS=OFF
cmake --build "$build" -j"$(nproc)" --target dbmedic
exec "$build/dbmedic" demo "$@"
