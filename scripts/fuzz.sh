#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a while.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
build="$top/build-fuzz"
CC=clang cmake -S "$top" -B "$build" -DHO11Y_FUZZ=ON -DHO11Y_SANITIZE=address \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 >/dev/null
status=0
shopt -s nullglob
targets=("$build"/fuzz/fuzz_*)
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz: no targets built" >&2; exit 1; }
for bin in "${targets[@]}"; do
    target=$(basename "$bin")
    target=${target#fuzz_}
    seeds="$top/tests/fuzz/corpus/$target"
    work=$(mktemp -d)
    echo "fuzz: $target for ${secs}s"
    if ! "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$build/" "$work" "$seeds" >"$build/$target.log" 2>&1; then
        echo "fuzz: $target FAILED; see $build/$target.log"
        tail -n 40 "$build/$target.log"
        status=1
    fi
    grep -E '^stat::number_of_executed_runs' "$build/$target.log" | sed "s/^/fuzz: $target /" || true
    rm -rf "$work"
done
exit $status
