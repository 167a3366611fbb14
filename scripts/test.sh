#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test:
#   1. formatting check (clang-format, .clang-format)
#   2. warnings-as-errors build + the whole ctest suite
#   3. ASan+UBSan build + the suite again (the Python-only API server stand-in tests once is enough)
#   3b. TSan build + the Kubernetes client unit tests and every operator process test
#   4. each libFuzzer target briefly (FUZZ_SECONDS, default 20)
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

step "build (warnings as errors)"
cmake -S . -B build -DHO11Y_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" >/dev/null

step "tests"
(cd build && ctest -j"$jobs" --output-on-failure --timeout 600)

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
    scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
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
