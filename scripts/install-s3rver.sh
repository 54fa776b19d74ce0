#!/usr/bin/env bash
# Installs s3rver (an S3-compatible server in Node.js) for the S3 storage tests: the test harness
# starts it on a free port (tests/harness/s3_server.hpp). Pinned version, installed under
# /opt/dbmedic-s3rver (override with DBMEDIC_S3RVER_PREFIX). Idempotent. Needs nodejs and npm
# (Debian packages, scripts/packages/offsite.txt).
set -euo pipefail
version=3.7.1
prefix=${DBMEDIC_S3RVER_PREFIX:-/opt/dbmedic-s3rver}
bin=$prefix/node_modules/.bin/s3rver
if [[ -x $bin ]] && grep -q "\"version\": \"$version\"" "$prefix/node_modules/s3rver/package.json"; then
  echo "install-s3rver: s3rver $version present in $prefix"
  exit 0
fi
if ! command -v npm >/dev/null; then
  # Debian ships npm apart from nodejs (NodeSource's nodejs includes it).
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm
fi
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "s3rver@$version"
echo "install-s3rver: installed $bin"
