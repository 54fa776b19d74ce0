#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of dbmedic from Debian 12 packages.
# Idempotent: packages already present are left as they are. Must run as root (or via sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git ca-certificates
  postgresql-15 postgresql-contrib postgresql-client-15 postgresql-server-dev-15
  libpq-dev libzstd-dev zlib1g-dev liblz4-dev libssl-dev libcurl4-openssl-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev libtomlplusplus-dev
  libcpp-httplib-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  zstd lz4 procps util-linux ccache
)
# Extra packages a module needs for its tests or benchmarks: one name per line in
# scripts/packages/<module>.txt ('#' starts a comment).
here=$(cd "$(dirname "$0")" && pwd)
for list in "$here"/packages/*.txt; do
  [[ -e $list ]] || continue
  while read -r name _; do
    [[ -n $name && $name != \#* ]] && PACKAGES+=("$name")
  done < "$list"
done

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -E bash "$0" "$@"; fi
  echo "setup.sh: must run as root to install packages (no sudo found)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi

# Debian's package creates a default cluster; it is not ours and must not hold port 5432 busy.
# We never start it; the harness and sandbox use their own initdb on free ports.
id postgres >/dev/null 2>&1 || { echo "setup: the postgres OS user is missing after install" >&2; exit 1; }

# s3rver for the S3 storage tests (npm; pinned version).
bash "$here/install-s3rver.sh"
