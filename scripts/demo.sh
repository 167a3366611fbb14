#!/usr/bin/env bash
# Installs the build dependencies, builds ho11y-operator, ho11y and ho11yctl, and runs the sample
# topology (examples/xray-sample.yaml) on this machine with `ho11yctl run`: one ho11y process per
# service on 127.0.0.1, a load of one request per second (the example has no spec.load), every
# trace printed as a tree, and a summary after 30 seconds or at Ctrl-C. Extra arguments go to
# `ho11yctl run` and override these, e.g.  scripts/demo.sh --rate 5 --duration 2m
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-2}" >/dev/null
build/bin/ho11yctl validate examples/xray-sample.yaml
exec build/bin/ho11yctl run examples/xray-sample.yaml --rate 1 --duration 30s "$@"
