#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a while.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s, every target)
# Targets are tests/fuzz/fuzz_<target>.c, seeded from tests/fuzz/corpus/<target>/. A crash,
# leak or timeout leaves its input in build-fuzz/; once the bug is fixed, add that file to the
# target's corpus so that ctest (fuzz.<target>) replays it from then on.
# Each target is single-threaded, so JOBS of them (default 2) run at once, each for the full
# SECONDS_PER_TARGET with its own log, build-fuzz/<target>.log; a target's summary is printed
# when it finishes. Any target that fails fails the script.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
jobs=${JOBS:-2}
build="$top/build-fuzz"
CC=clang cmake -S "$top" -B "$build" -DHO11Y_FUZZ=ON -DHO11Y_SANITIZE=address \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null
status=0
shopt -s nullglob
targets=("$build"/fuzz/fuzz_*)
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz: no targets built" >&2; exit 1; }

# Running targets by process id: their name and their scratch corpus directory.
declare -A running_target=() running_work=()
# Stops whatever still runs when the script ends early (Ctrl-C, an error of its own).
# shellcheck disable=SC2317 # called by the trap
stop_running() {
    local p
    for p in "${!running_target[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap stop_running EXIT

# Reaps one finished target and prints its summary (and, when it failed, its log's tail and
# the inputs it left) in one piece.
reap() {
    local pid rc=0
    wait -n -p pid || rc=$?
    local target=${running_target[$pid]} work=${running_work[$pid]}
    unset "running_target[$pid]" "running_work[$pid]"
    local bin="$build/fuzz/fuzz_$target"
    if [ "$rc" != 0 ]; then
        echo "fuzz: $target FAILED; see $build/$target.log"
        tail -n 40 "$build/$target.log"
        for a in "$build/$target"-crash-* "$build/$target"-leak-* "$build/$target"-timeout-* \
            "$build/$target"-oom-*; do
            echo "fuzz: input: $a (reproduce: $bin $a)"
        done
        status=1
    fi
    local runs rate
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/$target.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/$target.log")
    echo "fuzz: $target: ${runs:-0} inputs, ${rate:-0}/s"
    rm -rf "$work"
}

for bin in "${targets[@]}"; do
    target=$(basename "$bin")
    target=${target#fuzz_}
    if [ "$#" -gt 0 ] && [[ " $* " != *" $target "* ]]; then
        continue
    fi
    seeds="$top/tests/fuzz/corpus/$target"
    [ -d "$seeds" ] || { echo "fuzz: $target has no corpus at $seeds" >&2; status=1; continue; }
    while [ "${#running_target[@]}" -ge "$jobs" ]; do reap; done
    work=$(mktemp -d)
    echo "fuzz: $target for ${secs}s"
    "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$build/$target-" "$work" "$seeds" >"$build/$target.log" 2>&1 &
    running_target[$!]=$target
    running_work[$!]=$work
done
while [ "${#running_target[@]}" -gt 0 ]; do reap; done
exit $status
