#!/usr/bin/env bash
# Builds the WAL decoder's libFuzzer target with clang (ASan + UBSan) and runs it.
#   tests/fuzz/run.sh [MINUTES=3] [WAL_DIR]
# WAL_DIR (optional): a directory of real 1 MB WAL segments (initdb --wal-segsize=1) whose
# first 64 kB are added to the seed corpus. Crashes are written to tests/fuzz/artifacts/ and
# the script exits non-zero; reproduce one with: build-fuzz/wal_decoder_fuzz ARTIFACT
set -euo pipefail

minutes=${1:-3}
wal_dir=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_BUILD_DIR:-$root/build-fuzz}
mkdir -p "$out/corpus" "$here/artifacts"

command -v clang++ >/dev/null || { echo "run.sh: clang++ is missing (scripts/setup.sh installs it)" >&2; exit 1; }

sources=(
  "$here/wal_decoder_fuzz.cpp"
  "$root"/src/pg/wal_*.cpp "$root/src/pg/lsn.cpp" "$root/src/pg/relation_catalog.cpp"
  "$root/src/pg/connection.cpp" "$root/src/core/error.cpp" "$root/src/core/fs.cpp"
  "$root/src/core/subprocess.cpp" "$root/src/core/log.cpp"
  "$root/src/forensics/incident_scanner.cpp" "$root/src/forensics/incident.cpp"
)
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -I"$root/src" -I/usr/include/postgresql)
echo "fuzz: building $out/wal_decoder_fuzz"
clang++ "${flags[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  "${sources[@]}" -o "$out/wal_decoder_fuzz" -lpq -lfmt -lspdlog
clang++ "${flags[@]}" "$here/make_seeds.cpp" "$root/src/pg/wal_crc32c.cpp" "$root/src/pg/lsn.cpp" \
  "$root/src/pg/wal_source.cpp" "$root/src/pg/wal_format.cpp" "$root/src/core/error.cpp" \
  -o "$out/make_seeds" -lfmt
"$out/make_seeds" "$out/corpus"
if [[ -n $wal_dir ]]; then
  for f in "$wal_dir"/[0-9A-F]*; do
    [[ -f $f ]] && head -c 65536 "$f" > "$out/corpus/real-$(basename "$f")"
  done
fi

echo "fuzz: running for $minutes minute(s)"
"$out/wal_decoder_fuzz" "$out/corpus" -max_total_time=$((minutes * 60)) -max_len=70000 \
  -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$here/artifacts/"
