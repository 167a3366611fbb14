#!/usr/bin/env bash
# tests/image/test_image.sh leaves nothing behind when it stops early. It runs with SKIP_BUILD=1
# (the image must be in local storage) five times:
#   1. to its end, passing;
#   2. stopped by an injected failure right after ho11y started in the image,
#   3. by an injected failure right after ho11y-operator started in the image,
#   4. by SIGTERM to the script while ho11y-operator runs in the image,
#   5. by SIGINT to its process group (Ctrl-C at a terminal) while ho11y runs in the image
# (HO11Y_IMAGE_TEST_FAIL_AFTER, see test_image.sh); after each, no process it started is left
# (each carries HO11Y_IMAGE_TEST_RUN=<pid of the script> in its environment, also inside the
# image; a process that is gone listens on no port), no buildah container
# ho11y-image-test-<pid> is left, and its temporary folder is gone (its TMPDIR must be empty).
# Environment: STORAGE_DRIVER as for test_image.sh. Needs root, as test_image.sh.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bah=(buildah --storage-driver "${STORAGE_DRIVER:-vfs}")
say() { printf 'image cleanup test: %s\n' "$*"; }
fail() {
    say "FAIL: $*" >&2
    exit 1
}
logs=$(mktemp -d "${TMPDIR:-/tmp}/ho11y-image-cleanup.XXXXXX")
runtmp=$(mktemp -d "${TMPDIR:-/tmp}/ho11y-image-cleanup-tmp.XXXXXX")
trap 'rm -rf "$logs" "$runtmp"' EXIT

# left PID: the processes started by the image test PID that are still there, one a line: those
# with its mark in their environment, and those with their root, working directory or an open
# file in its TMPDIR (buildah's helpers, whose environment buildah replaces, run in a root there).
left() {
    local p
    {
        grep -lzx "HO11Y_IMAGE_TEST_RUN=$1" /proc/[0-9]*/environ 2>/dev/null || true
        find /proc/[0-9]*/root /proc/[0-9]*/cwd /proc/[0-9]*/fd -maxdepth 1 \
            -lname "$runtmp/*" 2>/dev/null || true
    } | cut -d/ -f3 | sort -un | while read -r p; do
        if [ -e "/proc/$p" ]; then
            printf '%s %s\n' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
        fi
    done
}

# scenario NAME HO11Y_IMAGE_TEST_FAIL_AFTER SIGNAL TO: run the image test; with a SIGNAL, send
# it once the test waits for it, to the script (TO=pid) or its process group (TO=group).
scenario() {
    local name=$1 point=$2 sig=$3 to=$4 log="$logs/$1.log" pid rc i
    # With job control the test is a process group of its own (as at a terminal) that does not
    # ignore SIGINT.
    set -m
    env TMPDIR="$runtmp" SKIP_BUILD=1 HO11Y_IMAGE_TEST_FAIL_AFTER="$point" \
        tests/image/test_image.sh >"$log" 2>&1 &
    pid=$!
    set +m
    if [ -n "$sig" ]; then
        for ((i = 0; i < 600; i++)); do
            grep -q 'waiting for a signal' "$log" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        grep -q 'waiting for a signal' "$log" || {
            cat "$log" >&2
            fail "$name: the test did not reach $point"
        }
        if [ "$to" = group ]; then kill "-$sig" -- "-$pid"; else kill "-$sig" "$pid"; fi
    fi
    for ((i = 0; i < 1200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || true
        cat "$log" >&2
        fail "$name: the test did not end within 120 s"
    fi
    rc=0
    wait "$pid" || rc=$?
    local problems=()
    if [ -z "$point" ]; then
        [ "$rc" = 0 ] || problems+=("the test failed")
    else
        [ "$rc" != 0 ] || problems+=("the test passed")
        [ -n "$sig" ] || grep -q 'FAIL: injected failure' "$log" || problems+=("no injected failure")
    fi
    local procs
    procs=$(left "$pid")
    [ -z "$procs" ] || problems+=("processes left:
$procs")
    if "${bah[@]}" containers --format '{{.ContainerName}}' | grep -qx "ho11y-image-test-$pid"; then
        problems+=("buildah container ho11y-image-test-$pid left")
    fi
    [ -z "$(ls -A "$runtmp")" ] || problems+=("left in TMPDIR: $(ls -A "$runtmp")")
    if [ "${#problems[@]}" != 0 ]; then
        cat "$log" >&2
        # Do not leave them to the next scenario.
        local leftover
        mapfile -t leftover < <(cut -d' ' -f1 <<<"$procs")
        [ -z "$procs" ] || kill -KILL "${leftover[@]}" 2>/dev/null || true
        "${bah[@]}" rm "ho11y-image-test-$pid" >/dev/null 2>&1 || true
        rm -rf "${runtmp:?}"/* 2>/dev/null || true
        printf '%s\n' "${problems[@]}" >&2
        fail "$name"
    fi
    say "ok: $name: exit status $rc, no process, container or temporary file left"
}

scenario "success" "" "" ""
scenario "failure after ho11y started" generator "" ""
scenario "failure after ho11y-operator started" operator "" ""
scenario "SIGTERM while ho11y-operator runs" operator:signal TERM pid
scenario "Ctrl-C while ho11y runs" generator:signal INT group
