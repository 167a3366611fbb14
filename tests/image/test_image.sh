#!/usr/bin/env bash
# The container image, built from the real Dockerfile and checked from the inside:
#   1. scripts/image.sh builds it with buildah (the base image is made once and kept);
#   2. the configuration: entry point the operator, user 65532, labels, CA bundle path;
#   3. no shell and no package manager in the image;
#   4. ho11y-operator --version; ho11yctl validate on the shipped example, and on a broken
#      Topology from stdin (refused, naming the field);
#   5. ho11y serves GET / with an X-Ray trace id, runs as uid 65532, and exports its spans over
#      OTLP/HTTP to a receiver on the host (buildah run with chroot isolation shares the host
#      network);
#   6. ho11y-operator from the image reconciles the sample Topology against the API server
#      stand-in over HTTPS (TLS, libcurl and the CA handling of the runtime image);
#   7. the image size.
# Environment: SKIP_BUILD=1 checks the image already in local storage; IMAGE, STORAGE_DRIVER
# as for scripts/image.sh. Needs root (buildah with the vfs driver), python3, curl, kubectl
# (scripts/setup.sh --test).
# On every exit (success, failure, SIGINT, SIGTERM) it stops what it started, in the image too,
# and removes its container and temporary folder; tests/image/test_cleanup.sh checks that with
# HO11Y_IMAGE_TEST_FAIL_AFTER=generator or operator: fail right after ho11y or ho11y-operator
# started in the image (with ":signal" appended: wait there for a signal instead). Every process
# it starts carries HO11Y_IMAGE_TEST_RUN=<its pid> in its environment, also inside the image.
set -euo pipefail
export HO11Y_IMAGE_TEST_RUN=$$
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
export PATH="$top/.tools/bin:$PATH"

driver=${STORAGE_DRIVER:-vfs}
bah=(buildah --storage-driver "$driver")
version=$(sed -n 's/^project([A-Za-z0-9_]* VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
image=${IMAGE:-ho11y-operator}:$version
t0=$(date +%s)
pass=0
say() { printf 'image test: %s\n' "$*"; }
ok() {
    pass=$((pass + 1))
    say "ok: $*"
}
fail() {
    say "FAIL: $*" >&2
    exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/ho11y-image-test.XXXXXX")
ctr=""
pids=()   # host processes started in the background
groups=() # process groups of the programs started in the image in the background (run_bg)
# stop_group PGID [SECONDS]: stop a process group of run_bg, and forget it. Waits up to SECONDS
# (default 0) for it to end by itself, then sends SIGTERM to buildah (it passes the signal on to
# the program and removes its temporary files once the program is gone), after 5 s SIGTERM to
# the whole group, after 10 s SIGKILL; returns once the group is empty.
stop_group() {
    local i grace=$((${2:-0} * 10)) keep=() g
    for ((i = 0; i < grace + 150; i++)); do
        kill -0 -- "-$1" 2>/dev/null || break
        case $((i - grace)) in
        0) kill -TERM "$1" 2>/dev/null || true ;;
        50) kill -TERM -- "-$1" 2>/dev/null || true ;;
        100) kill -KILL -- "-$1" 2>/dev/null || true ;;
        esac
        sleep 0.1
    done
    for g in "${groups[@]}"; do
        [ "$g" = "$1" ] || keep+=("$g")
    done
    groups=("${keep[@]}")
}
cleanup() {
    local p
    trap '' INT TERM # a second Ctrl-C does not cut the cleanup short
    for p in "${groups[@]}"; do
        stop_group "$p"
    done
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    [ -z "$ctr" ] || "${bah[@]}" rm "$ctr" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_http URL SECONDS: until URL answers 2xx.
wait_http() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
run_in() { "${bah[@]}" run --isolation chroot --env "HO11Y_IMAGE_TEST_RUN=$$" "$@"; }
# run_bg ARGS: run_in ARGS in the background, under setsid; $! is buildah's pid. `run_in ... &`
# made $! the subshell running the function, so killing it left buildah and the program behind;
# and buildah runs the program as a grandchild (buildah-chroot-runtime, buildah-chroot-exec),
# which outlives a buildah that dies without forwarding the signal (SIGKILL). Under setsid,
# buildah, its helpers and the program form a process group of their own whose id is buildah's
# pid (a background job of a script without job control is no group leader, so setsid does not
# fork): signalling the group reaches every one of them, also once buildah is gone, and nothing
# else; Ctrl-C at the terminal does not reach them, cleanup stops them.
run_bg() {
    setsid "${bah[@]}" run --isolation chroot --env "HO11Y_IMAGE_TEST_RUN=$$" "$@" &
    groups+=($!)
}
# inject POINT: what HO11Y_IMAGE_TEST_FAIL_AFTER asks for at POINT (generator, operator).
inject() {
    case ${HO11Y_IMAGE_TEST_FAIL_AFTER:-} in
    "$1") fail "injected failure after the $1 started (HO11Y_IMAGE_TEST_FAIL_AFTER)" ;;
    "$1:signal")
        say "waiting for a signal after the $1 started (HO11Y_IMAGE_TEST_FAIL_AFTER)"
        sleep 300 &
        pids+=($!)
        wait $!
        fail "no signal came in 300 s"
        ;;
    esac
}
# descendant PID NAME: the process named NAME started (through buildah's helpers) by PID.
descendant() {
    ps -e -o pid=,ppid=,comm= | awk -v root="$1" -v name="$2" '
        { parent[$1] = $2; comm[$1] = $3 }
        END {
            for (p in comm) {
                if (comm[p] != name) continue
                for (q = parent[p]; q != "" && q != 0 && q != 1; q = parent[q])
                    if (q == root) { print p; exit }
            }
        }'
}

# ---- 1. build --------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    b0=$(date +%s)
    REVISION=$(git rev-parse HEAD 2>/dev/null || true)
    export REVISION
    scripts/image.sh
    say "build took $(($(date +%s) - b0)) s"
fi
"${bah[@]}" inspect --type image "$image" >/dev/null 2>&1 || fail "no image $image"
# Working containers left by an earlier run that was killed hold their images: remove them.
for name in $("${bah[@]}" containers --format '{{.ContainerName}}' 2>/dev/null |
    grep '^ho11y-image-test-[0-9]*$' || true); do
    kill -0 "${name##*-}" 2>/dev/null || "${bah[@]}" rm "$name" >/dev/null 2>&1 || true
done
ctr=$("${bah[@]}" from --pull=never --quiet --name "ho11y-image-test-$$" "$image")

# ---- 2. configuration ------------------------------------------------------------------------
"${bah[@]}" inspect --type image "$image" >"$work/inspect.json"
# The revision label is HEAD when the image was built just now (any commit of the repository
# with SKIP_BUILD=1).
want_rev=""
[ "${SKIP_BUILD:-0}" = 1 ] || want_rev=$REVISION
python3 - "$work/inspect.json" "$version" "$want_rev" <<'EOF' ||
import json, sys
d = json.load(open(sys.argv[1]))
cfg = d["OCIv1"]["config"]
version, revision = sys.argv[2], sys.argv[3]
errors = []
def want(what, got, exp):
    if got != exp:
        errors.append("%s: %r, want %r" % (what, got, exp))
want("Entrypoint", cfg.get("Entrypoint"), ["/usr/local/bin/ho11y-operator"])
want("Cmd", cfg.get("Cmd"), None)
want("User", cfg.get("User"), "65532:65532")
env = dict(e.split("=", 1) for e in cfg.get("Env") or [])
want("SSL_CERT_FILE", env.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt")
labels = cfg.get("Labels") or {}
want("version label", labels.get("org.opencontainers.image.version"), version)
want("title label", labels.get("org.opencontainers.image.title"), "ho11y-operator")
if revision:
    want("revision label", labels.get("org.opencontainers.image.revision"), revision)
for k in ("org.opencontainers.image.source", "org.opencontainers.image.description",
          "org.opencontainers.image.base.name"):
    if k not in labels:
        errors.append("label %s missing" % k)
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
EOF
    fail "image configuration"
rev=$("${bah[@]}" inspect --type image --format \
    '{{index .OCIv1.Config.Labels "org.opencontainers.image.revision"}}' "$image")
if git rev-parse HEAD >/dev/null 2>&1; then
    git cat-file -e "$rev^{commit}" 2>/dev/null || fail "revision label '$rev' is no commit here"
fi
ok "entry point ho11y-operator, user 65532:65532, labels (version $version)"

# ---- 3. no shell, no package manager ---------------------------------------------------------
mnt=$("${bah[@]}" mount "$ctr")
for f in bin/sh bin/bash bin/dash usr/bin/sh usr/bin/bash usr/bin/apt usr/bin/apt-get \
    usr/bin/dpkg; do
    [ ! -e "$mnt/$f" ] && [ ! -L "$mnt/$f" ] || fail "/$f is in the image"
done
for b in ho11y-operator ho11y ho11yctl; do
    [ -x "$mnt/usr/local/bin/$b" ] || fail "/usr/local/bin/$b missing"
done
[ -s "$mnt/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA bundle"
[ "$(stat -c %u "$mnt/home/nonroot")" = 65532 ] || fail "/home/nonroot is not owned by 65532"
"${bah[@]}" umount "$ctr" >/dev/null
if run_in "$ctr" -- /bin/sh -c true >/dev/null 2>&1; then
    fail "/bin/sh ran in the image"
fi
ok "no shell, no package manager; the three programs and the CA bundle are there"

# ---- 4. the programs run ---------------------------------------------------------------------
got=$(run_in "$ctr" -- /usr/local/bin/ho11y-operator --version)
[ "$got" = "ho11y-operator $version" ] || fail "ho11y-operator --version printed '$got'"
ok "ho11y-operator --version: $got"
out=$(run_in "$ctr" -- ho11yctl validate /usr/share/ho11y/examples/xray-sample.yaml 2>&1) ||
    fail "ho11yctl validate of the shipped example failed: $out"
line=$(grep 'is valid' <<<"$out") || fail "ho11yctl validate did not say the example is valid: $out"
ok "ho11yctl validate: $line"
bad='apiVersion: ho11y.dev/v1alpha1
kind: Topology
metadata: {name: bad}
spec:
  services:
    - name: frontend
      calls: [{service: downstream9}]
'
if out=$(run_in "$ctr" -- ho11yctl validate - <<<"$bad" 2>&1); then
    fail "ho11yctl validate accepted a call to a missing service: $out"
fi
grep -q 'spec.services\[0\].calls\[0\].service' <<<"$out" ||
    fail "ho11yctl validate did not name the field: $out"
ok "ho11yctl validate refuses a broken Topology, naming the field"

# ---- 5. ho11y request/response and OTLP export -----------------------------------------------
otlp_port=$(free_port)
python3 - "$otlp_port" "$work/spans.jsonl" <<'EOF' &
# A minimal OTLP/HTTP JSON receiver: every POSTed body becomes one line of the output file.
import http.server, sys
out = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out.write(self.path + " " + body.decode() + "\n")
        out.flush()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
pids+=($!)
port=$(free_port)
run_bg --env HO11Y_PORT="$port" --env OTEL_SERVICE_NAME=imagetest \
    --env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:$otlp_port/v1/traces" \
    --env DOWNSTREAM0=DUMMY:1kB:1ms "$ctr" -- /usr/local/bin/ho11y >"$work/ho11y.log" 2>&1
gen_run=$!
wait_http "http://127.0.0.1:$port/healthz" 20 || {
    cat "$work/ho11y.log" >&2
    fail "ho11y did not answer /healthz"
}
body=$(curl -fsS "http://127.0.0.1:$port/")
[[ "$body" =~ ^\{\"traceId\":\"1-[0-9a-f]{8}-[0-9a-f]{24}\"\}$ ]] || fail "GET / answered '$body'"
trace=${body:12:35}
ok "ho11y GET / answered $body"
curl -fsS "http://127.0.0.1:$port/metrics" | grep -q '^ho11y_total{http_status_code="200"} 1$' ||
    fail "ho11y /metrics does not count the request"
# The generator process: its user, then a clean stop (SIGTERM to ho11y itself; buildah would
# kill it) that flushes the spans.
gpid=$(descendant "$gen_run" ho11y)
[ -n "$gpid" ] || fail "no ho11y process under buildah run"
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$gpid/status")
[ "$uid" = 65532 ] || fail "ho11y runs as uid $uid, want 65532"
ok "ho11y runs as uid 65532"
inject generator
kill -TERM "$gpid"
hex_id=${trace:2:8}${trace:11:24}
for ((i = 0; i < 100; i++)); do
    grep -q "${hex_id}" "$work/spans.jsonl" 2>/dev/null && break
    sleep 0.1
done
python3 - "$work/spans.jsonl" "$hex_id" <<'EOF' ||
import json, sys
hex_id = sys.argv[2]  # the OTLP trace id: the X-Ray id's 32 hex digits
spans = []
for line in open(sys.argv[1]):
    path, _, body = line.partition(" ")
    assert path == "/v1/traces", path
    for rs in json.loads(body)["resourceSpans"]:
        attrs = {a["key"]: a["value"].get("stringValue") for a in rs["resource"]["attributes"]}
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                spans.append((attrs.get("service.name"), s["traceId"], s["kind"]))
mine = [s for s in spans if s[1] == hex_id]
assert mine and all(s[0] == "imagetest" for s in mine), spans
assert any(s[2] in (2, "SPAN_KIND_SERVER") for s in mine), mine
EOF
    {
        cat "$work/ho11y.log" "$work/spans.jsonl" >&2 || true
        fail "the request's SERVER span did not reach the OTLP receiver"
    }
ok "ho11y exported the request's span over OTLP/HTTP (trace $trace)"
stop_group "$gen_run" 10

# ---- 6. the operator from the image against the API server stand-in ---------------------------
state="$work/standin"
mkdir -p "$state"
python3 tests/apiserver/apiserver.py serve --state-dir "$state" --port 0 --ready-delay 0.2 \
    >"$work/standin.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 300; i++)); do
    grep -q '^listening on ' "$work/standin.log" && break
    sleep 0.1
done
grep -q '^listening on ' "$work/standin.log" || fail "the stand-in did not start"
export KUBECONFIG="$state/kubeconfig" KUBECACHEDIR="$work/kcache"
kubectl apply -f crds/ho11y.dev_topologies.yaml >/dev/null
kubectl wait --for=condition=Established crd/topologies.ho11y.dev >/dev/null
kubectl apply -f examples/xray-sample.yaml >/dev/null
# The operator runs as 65532: give it a readable copy of the kubeconfig.
mkdir -m 0755 "$work/kube"
install -m 0644 "$state/kubeconfig" "$work/kube/kubeconfig"
hp=$(free_port)
run_bg -v "$work/kube:/kube:ro" "$ctr" -- /usr/local/bin/ho11y-operator \
    --kubeconfig /kube/kubeconfig --leader-elect=false --health-addr "127.0.0.1:$hp" \
    --metrics-addr 0 --generator-image "$image" --log-format text >"$work/operator.log" 2>&1
op_run=$!
wait_http "http://127.0.0.1:$hp/readyz" 30 || {
    cat "$work/operator.log" >&2
    fail "the operator in the image did not become ready"
}
inject operator
kubectl -n example-app wait --for=condition=Ready topology/xray-sample --timeout=60s >/dev/null || {
    cat "$work/operator.log" >&2
    fail "the sample Topology did not become Ready"
}
img=$(kubectl -n example-app get deployment frontend -o jsonpath='{.spec.template.spec.containers[0].image}')
[ "$img" = "$image" ] || fail "frontend runs '$img', want $image"
ok "ho11y-operator from the image reconciled the sample over HTTPS: $(kubectl -n example-app get topology xray-sample --no-headers)"
opid=$(descendant "$op_run" ho11y-operator)
[ -n "$opid" ] || fail "no ho11y-operator process under buildah run"
kill -TERM "$opid"
for ((i = 0; i < 100; i++)); do
    grep -q 'Shut down cleanly' "$work/operator.log" && break
    sleep 0.1
done
grep -q 'Shut down cleanly' "$work/operator.log" || fail "the operator did not stop cleanly"
stop_group "$op_run" 10

# ---- 7. size ---------------------------------------------------------------------------------
size=$(podman --storage-driver "$driver" image inspect --format '{{.Size}}' "$image")
say "size of $image: $size bytes ($((size / 1024 / 1024)) MiB)"
say "$pass checks passed in $(($(date +%s) - t0)) s"
