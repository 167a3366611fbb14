#!/usr/bin/env bash
# Installs the build dependencies, builds ho11y-operator, ho11y and ho11yctl, and shows the
# sample topology (examples/xray-sample.yaml) locally: validated, then rendered into the
# Kubernetes objects the operator would create.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-2}" >/dev/null
build/bin/ho11yctl validate examples/xray-sample.yaml
build/bin/ho11yctl render examples/xray-sample.yaml
