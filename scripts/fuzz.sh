#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a while.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s, every target)
# Targets are tests/fuzz/fuzz_<target>.c, seeded from tests/fuzz/corpus/<target>/. A crash,
# leak or timeout leaves its input in build-fuzz/; once the bug is fixed, add that file to the
# target's corpus so that ctest (fuzz.<target>) replays it from then on.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
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
    if [ "$#" -gt 0 ] && [[ " $* " != *" $target "* ]]; then
        continue
    fi
    seeds="$top/tests/fuzz/corpus/$target"
    [ -d "$seeds" ] || { echo "fuzz: $target has no corpus at $seeds" >&2; status=1; continue; }
    work=$(mktemp -d)
    echo "fuzz: $target for ${secs}s"
    if ! "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$build/$target-" "$work" "$seeds" >"$build/$target.log" 2>&1; then
        echo "fuzz: $target FAILED; see $build/$target.log"
        tail -n 40 "$build/$target.log"
        for a in "$build/$target"-crash-* "$build/$target"-leak-* "$build/$target"-timeout-* \
            "$build/$target"-oom-*; do
            echo "fuzz: input: $a (reproduce: $bin $a)"
        done
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/$target.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/$target.log")
    echo "fuzz: $target: ${runs:-0} inputs, ${rate:-0}/s"
    rm -rf "$work"
done
exit $status
