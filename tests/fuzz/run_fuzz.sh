#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time, seeded from the shared test
# images (TAKEBACK_TESTDATA_DIR, default ../shared/testdata beside the repo),
# tests/fuzz/seeds/ and tests/fuzz/regressions/.
#
#   run_fuzz.sh FUZZER SECONDS WORKDIR [SEEDS_DIR]
#
# With SEEDS_DIR (a target that does not read images, e.g. the server's
# request fuzzer), the corpus starts from SEEDS_DIR alone.
#
# WORKDIR keeps the growing corpus between runs (WORKDIR/corpus) and any
# crash reproducers (WORKDIR/artifacts). Exits non-zero when the fuzzer finds
# a crash, leak, timeout or OOM; the reproducer belongs in
# tests/fuzz/regressions/ once the bug is understood.
set -euo pipefail

fuzzer=${1:?usage: run_fuzz.sh FUZZER SECONDS WORKDIR}
seconds=${2:?usage: run_fuzz.sh FUZZER SECONDS WORKDIR}
workdir=${3:?usage: run_fuzz.sh FUZZER SECONDS WORKDIR}
own_seeds=${4:-}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
testdata=${TAKEBACK_TESTDATA_DIR:-$repo/../shared/testdata}

# Seeds larger than this are left out, and mutations never grow past it: big
# inputs make every run slow (about 12 runs/s at 1 MiB, hundreds at 256 KiB).
max_len=${TAKEBACK_FUZZ_MAX_LEN:-262144}

mkdir -p "$workdir/corpus" "$workdir/artifacts" "$workdir/seeds"
rm -f "$workdir/seeds"/*
if [[ -n "$own_seeds" ]]; then
  cp "$own_seeds"/* "$workdir/seeds/"
  echo "run_fuzz: seeds from $own_seeds"
elif [[ -d "$testdata" ]]; then
  n=0
  while IFS= read -r -d '' f; do
    # Flatten paths into unique names; libFuzzer only needs the bytes.
    name=$(printf '%s' "${f#"$testdata"/}" | tr '/ @' '___')
    cp "$f" "$workdir/seeds/$name"
    n=$((n + 1))
  done < <(find "$testdata" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.webp' \
             -o -iname '*.gif' -o -iname '*.bmp' -o -iname '*.heic' -o -iname '*.heif' -o -iname '*.avif' \) \
             -size -$((max_len / 1024))k -print0)
  echo "run_fuzz: $n seed images from $testdata"
else
  echo "run_fuzz: NOTE: no shared test data at $testdata (set TAKEBACK_TESTDATA_DIR); seeding from tests/fuzz only"
fi

echo "run_fuzz: fuzzing $(basename "$fuzzer") for ${seconds}s"
status=0
extra=("$here/seeds" "$here/regressions")
[[ -n "$own_seeds" ]] && extra=()
"$fuzzer" "$workdir/corpus" "$workdir/seeds" "${extra[@]}" \
  -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -timeout=25 \
  -artifact_prefix="$workdir/artifacts/" -print_final_stats=1 || status=$?

if [[ $status -ne 0 ]]; then
  echo "run_fuzz: FAILED (exit $status). Reproducers:"
  ls -l "$workdir/artifacts/" || true
  echo "run_fuzz: replay one with: $fuzzer FILE; keep it in tests/fuzz/regressions/ once understood"
fi
exit "$status"
