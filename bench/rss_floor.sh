#!/bin/bash
# The memory floor of ho11y's libraries: builds bench/rss_floor.c (libcurl + libmicrohttpd, no
# code of ours), runs it, loads its server with wrk, and prints its RSS at each step; then the
# same figures for a program that links nothing but libc, for scale.
#
#     bench/rss_floor.sh [PORT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=${1:-18799}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -Wall -o "$work/rss_floor" "$here/rss_floor.c" $(pkg-config --cflags --libs libcurl libmicrohttpd)
printf 'int main(void) { return 0; }\n' >"$work/empty.c"
echo "== libcurl + libmicrohttpd, nothing else"
"$work/rss_floor" "$port" 8 >"$work/out" &
pid=$!
for _ in $(seq 100); do grep -q ready "$work/out" && break; sleep 0.1; done
grep -v ready "$work/out"
wrk -t2 -c50 -d5s "http://127.0.0.1:$port/" | grep 'Requests/sec' | sed 's/^/wrk: /'
wait "$pid"
tail -n 1 "$work/out"
echo "== a program linking only libc, for scale"
cc -O2 -o "$work/empty" "$work/empty.c"
/usr/bin/time -f 'peak RSS %M KiB' "$work/empty"
