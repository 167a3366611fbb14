#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test:
#   1. formatting check (clang-format, .clang-format) and pyflakes over every Python file
#   2. warnings-as-errors build + static analysis of every C file with clang-tidy (.clang-tidy;
#      a finding fails the run; it runs niced while the tests wait) + the whole ctest suite
#   3. ASan+UBSan build + the suite again (the Python-only API server stand-in tests once is enough)
#   3b. TSan build + the Kubernetes client unit tests and every operator process test
#   4. each libFuzzer target briefly (FUZZ_SECONDS, default 10), JOBS targets at a time
#   5. the container image: built with buildah and checked from the inside (tests/image), and
#      that check leaves nothing behind when it fails or is stopped (tests/image/test_cleanup.sh)
# Environment: JOBS (default 2), FUZZ_SECONDS, SKIP_SANITIZERS=1, SKIP_TSAN=1, SKIP_FUZZ=1,
# SKIP_IMAGE=1 for quick local runs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${JOBS:-2}
start=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - start))"; }

step "setup"
scripts/setup.sh --test
export PATH="$top/.tools/bin:$PATH"

step "format check"
mapfile -t cfiles < <(git ls-files '*.c' '*.h')
if [ "${#cfiles[@]}" -gt 0 ]; then
    clang-format --dry-run --Werror "${cfiles[@]}"
fi

step "python check (pyflakes)"
# Unused names, undefined names and the like in the test harnesses, the stand-in and bench/.
mapfile -t pyfiles < <(git ls-files '*.py')
if [ "${#pyfiles[@]}" -gt 0 ]; then
    pyflakes3 "${pyfiles[@]}"
fi

step "build (warnings as errors)"
cmake -S . -B build -DHO11Y_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
cmake --build build -j"$jobs" >/dev/null

step "static analysis (clang-tidy), in the background during the tests"
# Every C file in git, with the flags of this build (build/compile_commands.json); one file per
# clang-tidy process, JOBS at a time. bench/rss_floor.c is built by its script, not by CMake:
# clang-tidy takes the flags of the nearest entry of the database (C11, _GNU_SOURCE), which suit
# it. It takes about two minutes of both cores, nearly all in clang-analyzer; the tests mostly
# wait for processes, so it runs at the lowest priority meanwhile and is collected after them.
# xargs and its clang-tidy processes run in a process group of their own (setsid), so an early
# exit stops all of them, not only xargs.
tidy_log=build/clang-tidy.log
git ls-files -z '*.c' | setsid nice -n 19 xargs -0 -n 1 -P "$jobs" clang-tidy -p build --quiet \
    >"$tidy_log" 2>&1 &
tidy_pid=$!
# shellcheck disable=SC2064 # the pid is known now
trap "kill -- -$tidy_pid 2>/dev/null || true" EXIT

step "tests"
(cd build && ctest -j"$jobs" --output-on-failure --timeout 600)

step "static analysis results (clang-tidy)"
if ! wait "$tidy_pid"; then
    # "N warnings generated." counts what .clang-tidy filters out.
    grep -v '^[0-9]* warnings\? generated\.$' "$tidy_log" || true
    echo "clang-tidy: the findings above fail the run (see .clang-tidy for the checks)" >&2
    exit 1
fi
trap - EXIT

if [ "${SKIP_SANITIZERS:-0}" != 1 ]; then
    step "build (ASan+UBSan)"
    cmake -S . -B build-asan -DHO11Y_WERROR=ON -DHO11Y_SANITIZE=address \
        -DCMAKE_BUILD_TYPE=Debug >/dev/null
    cmake --build build-asan -j"$jobs" >/dev/null
    step "tests under ASan+UBSan"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    (cd build-asan && ctest -j"$jobs" --output-on-failure --timeout 900 -E '^apiserver\.')
fi

if [ "${SKIP_SANITIZERS:-0}" != 1 ] && [ "${SKIP_TSAN:-0}" != 1 ]; then
    # TSan where threads meet: the Kubernetes client (informers, queue, credentials) and every
    # process test of the operator. Only the programs these tests need are built. The process
    # tests mostly wait (on the stand-in, on timeouts), so they run with twice the jobs; the
    # leader-election test counts as two (tests/operator/CMakeLists.txt).
    step "build (TSan)"
    cmake -S . -B build-tsan -DHO11Y_WERROR=ON -DHO11Y_SANITIZE=thread \
        -DCMAKE_BUILD_TYPE=Debug >/dev/null
    tsan_targets=(ho11y-operator ho11yctl)
    for f in tests/unit/test_kube_*.c; do tsan_targets+=("$(basename "$f" .c)"); done
    cmake --build build-tsan -j"$jobs" --target "${tsan_targets[@]}" >/dev/null
    step "tests under TSan"
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    (cd build-tsan && ctest -j"$((jobs * 2))" --output-on-failure --timeout 900 \
        -R '^(unit\.test_kube_|operator\.)')
fi

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    step "fuzzing"
    JOBS="$jobs" scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
fi
# ---- image ----
# The real Dockerfile built with buildah (the debootstrapped base image is made once and kept),
# then the three programs run inside the image. Needs root for buildah's vfs storage.
if [ "${SKIP_IMAGE:-0}" != 1 ]; then
    step "image"
    JOBS="$jobs" tests/image/test_image.sh
    step "image test cleanup"
    tests/image/test_cleanup.sh
fi
step "all tests passed"
