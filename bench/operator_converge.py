#!/usr/bin/env python3
"""Operator benchmark: N Topologies of 3 services against the API server stand-in
(tests/apiserver, --ready-delay 0), compared in the same run with `kubectl apply` of the same
objects rendered by `ho11yctl render` against a fresh stand-in with the same settings.

    python3 bench/operator_converge.py [--topologies N] [--namespaces K] [--workers W]
        [--kubectl-files P] [--skip-kubectl] [--idle SECONDS] [--changes C]
        [--bin-dir DIR] [--keep]

Operator run (a fresh stand-in): the CRD, K namespaces and the operator's ServiceAccount are
created; the operator runs as that ServiceAccount (so the request log tells its requests
apart) with --workers W; then, timed, `kubectl apply -f` of the N Topologies (one file, or P
files applied by P kubectl processes in parallel, as in the kubectl run), until every Topology is Ready and Reconciled for its generation (seen on a watch of
Topologies), after which the children are counted with paged lists. Then, from the stand-in's
request log: the operator's write requests per Topology by verb and resource against the
minimum (one create per child, the status written once when reconciled and once when Ready);
events per Topology; the operator's peak RSS (VmHWM), RSS after an idle window, CPU seconds
(utime + stime) and its write requests during the idle window; finally C spec changes, one at a
time (a JSON patch of a Topology's failure rate), each timed until a watch of Deployments shows
the child's HO11Y_FAILURE_RATE env changed; then (unless --no-relist) the stand-in expires its
watch history and closes every watch, so that every informer relists, and the peak RSS at the end
includes that.

kubectl run (a fresh stand-in, same settings): the same namespaces; `ho11yctl render` of the
same Topologies (not timed); then, timed, `kubectl apply -f` of the rendered objects (one file,
or P files, one per group of namespaces, applied by P kubectl processes in parallel) until
kubectl has exited and every Deployment is available for its generation (seen on a watch of
Deployments).

Everything runs on 127.0.0.1; the stand-in, the operator, kubectl and this script share the
machine's cores. Binaries: --bin-dir (default build/bin, or $HO11Y_OPERATOR / $HO11YCTL);
kubectl from $KUBECTL or .tools/bin/kubectl (scripts/setup.sh --test).
"""

import argparse
import http.client
import json
import os
import re
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "apiserver"))
import harness  # noqa: E402  (the stand-in's process harness)

CRD = os.path.join(REPO, "crds", "ho11y.dev_topologies.yaml")
OPERATOR_SA = ("ho11y-system", "ho11y-operator")
OPERATOR_USER = "system:serviceaccount:%s:%s" % OPERATOR_SA
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
TOPO_API = "/apis/ho11y.dev/v1alpha1"
CHILD_KINDS = (("deployments", "/apis/apps/v1"), ("services", "/api/v1"),
               ("configmaps", "/api/v1"), ("serviceaccounts", "/api/v1"))
MANAGED = "app.kubernetes.io/managed-by=ho11y-operator"


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ---- processes ---------------------------------------------------------------------------------
def proc_stat(pid):
    """(cpu seconds = utime + stime, VmHWM KiB, VmRSS KiB) of a running process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    mem = proc_status(pid)
    return cpu, mem.get("VmHWM", 0), mem.get("VmRSS", 0)


def proc_maps_rss(pid):
    """Resident KiB by mapping name (/proc/PID/smaps): files, [heap], [stack], [anon]."""
    out = {}
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                parts = line.split()
                cur = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif line.startswith("Rss:"):
                out[cur] = out.get(cur, 0) + int(line.split()[1])
    return out


def proc_status(pid):
    """The memory figures (KiB) and thread count of /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"):
                out[k] = int(v.split()[0])
    return out


class StandIn(harness.Server):
    """The API server stand-in (tests/apiserver/harness.py) as a process on workdir/name, with
    --ready-delay 0 and the benchmark's longer waits."""

    stop_timeout = 60
    admin_timeout = 120

    def __init__(self, workdir, name):
        state_dir = os.path.join(workdir, name)
        os.makedirs(state_dir)
        super().__init__(ready_delay=0, state_dir=state_dir, port=0)

    def start(self):
        return super().start(timeout=60)

    def cpu(self):
        return proc_stat(self.proc.pid)[0]

    def client(self, token=None):
        return Client(self, token)

    def requests(self):
        """Every logged request as (epoch seconds, record)."""
        return [(harness.epoch(r["time"]), r) for r in super().requests()]


class Client:
    """A keep-alive HTTPS client of the stand-in."""

    def __init__(self, standin, token=None):
        self.standin = standin
        self.token = token or standin.token
        self.ctx = ssl.create_default_context(cafile=standin.ca)
        self.conn = None

    def _connect(self, timeout=120):
        return http.client.HTTPSConnection("127.0.0.1", self.standin.port, context=self.ctx,
                                           timeout=timeout)

    def request(self, method, path, body=None, ctype="application/json"):
        hdrs = {"Accept": "application/json", "Authorization": "Bearer " + self.token,
                "User-Agent": "bench/1.0"}
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            hdrs["Content-Type"] = ctype
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = self._connect()
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw

    def list_all(self, path, query=""):
        """Every item of a paged list (limit 500) and the list's resourceVersion."""
        items, cont, rv = [], "", None
        while True:
            q = "limit=500" + ("&" + query if query else "")
            if cont:
                q += "&continue=" + cont
            st, out = self.request("GET", path + "?" + q)
            if st != 200:
                raise SystemExit("list %s: %s %s" % (path, st, out))
            items += out.get("items") or []
            rv = rv or out["metadata"].get("resourceVersion")
            cont = out["metadata"].get("continue")
            if not cont:
                return items, rv

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Watch(threading.Thread):
    """A watch of one collection from a resourceVersion; calls on_event(type, object) for each
    event (from this thread) and resumes from the last resourceVersion when a stream ends."""

    def __init__(self, standin, path, rv, on_event, query=""):
        super().__init__(daemon=True)
        self.standin = standin
        self.path = path
        self.rv = rv
        self.on_event = on_event
        self.query = query
        self.stopped = False
        self.conn = None
        self.error = None

    def run(self):
        ctx = ssl.create_default_context(cafile=self.standin.ca)
        while not self.stopped:
            try:
                self._stream(ctx)
            except (OSError, http.client.HTTPException, ValueError) as e:
                if self.stopped:
                    return
                self.error = e
                time.sleep(0.2)

    def _stream(self, ctx):
        self.conn = http.client.HTTPSConnection("127.0.0.1", self.standin.port, context=ctx,
                                                timeout=3600)
        q = "watch=1&allowWatchBookmarks=true&timeoutSeconds=3600&resourceVersion=" + self.rv
        if self.query:
            q += "&" + self.query
        self.conn.request("GET", self.path + "?" + q,
                          headers={"Authorization": "Bearer " + self.standin.token,
                                   "User-Agent": "bench/1.0"})
        r = self.conn.getresponse()
        if r.status != 200:
            raise ValueError("watch %s: %d" % (self.path, r.status))
        buf = b""
        while not self.stopped:
            chunk = r.read1(1 << 16)
            if not chunk:
                return
            buf += chunk
            if b"\n" not in chunk:
                continue
            lines = buf.split(b"\n")
            buf = lines.pop()
            for line in lines:
                if not line:
                    continue
                ev = json.loads(line)
                t, obj = ev["type"], ev["object"]
                if t == "ERROR":
                    raise ValueError("watch %s: %s" % (self.path, obj.get("message")))
                self.rv = obj["metadata"]["resourceVersion"]
                if t != "BOOKMARK":
                    self.on_event(t, obj)

    def stop(self):
        self.stopped = True
        try:
            self.conn.sock.shutdown(2)
        except (AttributeError, OSError):
            pass


class Kubectl:
    def __init__(self, path, kubeconfig, cache_dir):
        self.path = path
        self.env = dict(os.environ, KUBECONFIG=kubeconfig, KUBECACHEDIR=cache_dir)

    def run(self, *args, input=None, timeout=3600):
        r = subprocess.run([self.path] + list(args), input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=self.env, timeout=timeout)
        if r.returncode != 0:
            raise SystemExit("kubectl %s failed (%d): %s" % (" ".join(args), r.returncode,
                                                             r.stderr[-2000:]))
        return r

    def start(self, *args):
        return subprocess.Popen([self.path] + list(args), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, env=self.env)


# ---- the workload --------------------------------------------------------------------------
def namespaces(k):
    return ["bench-%02d" % i for i in range(k)]


def topologies_yaml(n, k):
    """N Topologies of 3 services (a frontend calling two others, failures on the frontend)
    spread over K namespaces; service names carry the Topology's name so they never clash."""
    docs = []
    nss = namespaces(k)
    for i in range(n):
        t = "t%04d" % i
        docs.append(
            "apiVersion: ho11y.dev/v1alpha1\nkind: Topology\n"
            "metadata: {name: %s, namespace: %s}\nspec:\n  services:\n"
            "    - name: %s-a\n      failure: {rate: 10}\n"
            "      calls: [{service: %s-b}, {service: %s-c}]\n"
            "    - name: %s-b\n    - name: %s-c\n" % (t, nss[i % k], t, t, t, t, t))
    return "---\n".join(docs)


def topo_key(i, k):
    return namespaces(k)[i % k], "t%04d" % i


def condition(obj, ctype):
    for c in ((obj.get("status") or {}).get("conditions") or ()):
        if c.get("type") == ctype:
            return c
    return None


def setup_cluster(standin, kubectl, k, operator_sa):
    kubectl.run("apply", "-f", CRD)
    kubectl.run("wait", "--for=condition=Established", "crd/topologies.ho11y.dev")
    docs = ["apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n" % ns
            for ns in namespaces(k)]
    if operator_sa:
        docs.append("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n" % OPERATOR_SA[0])
        docs.append("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: %s, namespace: %s}\n"
                    % (OPERATOR_SA[1], OPERATOR_SA[0]))
    kubectl.run("apply", "-f", "-", input="---\n".join(docs))


def operator_kubeconfig(standin, path):
    return harness.token_kubeconfig(path, standin.url, standin.ca,
                                    standin.sa_token("%s/%s" % OPERATOR_SA))


class Operator:
    def __init__(self, binary, kubeconfig, workers, log_path):
        self.log_path = log_path
        args = [binary, "--kubeconfig", kubeconfig, "--health-addr", "127.0.0.1:0",
                "--metrics-addr", "127.0.0.1:0", "--generator-image", "ho11y:bench",
                "--log-level", "info"]
        if workers:
            args += ["--workers", str(workers)]
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        self.logf = open(log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf, env=env)
        deadline = time.monotonic() + 60
        self.health = None
        while self.health is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("operator did not start:\n" + self.log()[-3000:])
            m = re.findall(r"Health endpoints listening on port (\d+)", self.log())
            self.health = int(m[-1]) if m else None
            time.sleep(0.05)
        while self.http("/readyz")[0] != 200:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("operator never ready:\n" + self.log()[-3000:])
            time.sleep(0.05)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def http(self, path):
        try:
            return harness.http_get(self.health, path, 10)
        except OSError:
            return 0, ""

    def stat(self):
        return proc_stat(self.proc.pid)

    def stop(self):
        harness.stop_process(self.proc, 60)
        return self.proc.returncode


# ---- the operator run ------------------------------------------------------------------------
class TopologyTracker:
    """Follows Topologies on a watch: which are Ready and Reconciled for their generation."""

    def __init__(self, expected):
        self.expected = expected
        self.done = set()
        self.cond = threading.Condition()
        self.last_done = None

    def on_event(self, t, obj):
        m = obj["metadata"]
        key = (m["namespace"], m["name"])
        ok = False
        if t != "DELETED":
            gen = m.get("generation")
            r, c = condition(obj, "Ready"), condition(obj, "Reconciled")
            ok = (r is not None and c is not None and r.get("status") == "True" and
                  c.get("status") == "True" and r.get("observedGeneration") == gen and
                  c.get("observedGeneration") == gen)
        with self.cond:
            if ok and key not in self.done:
                self.done.add(key)
                if len(self.done) >= self.expected:
                    self.last_done = time.time()
                self.cond.notify_all()
            elif not ok:
                self.done.discard(key)

    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.done) < self.expected:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 1.0))
            return self.last_done


def writes_of(reqs, user, t_from, t_to):
    return [r for t, r in reqs if t_from <= t < t_to and r.get("user") == user and
            r.get("verb") in WRITE_VERBS]


def requests_of(reqs, user, t_from, t_to):
    return [r for t, r in reqs if t_from <= t < t_to and r.get("user") == user]


def run_operator(args, work, kubectl_bin, topo_file):
    n, k = args.topologies, args.namespaces
    res = {}
    standin = StandIn(work, "standin-operator").start()
    try:
        kubectl = Kubectl(kubectl_bin, standin.kubeconfig, os.path.join(work, "kcache-op"))
        setup_cluster(standin, kubectl, k, True)
        op = Operator(args.operator, operator_kubeconfig(standin, os.path.join(
            work, "operator.kubeconfig")), args.workers, os.path.join(work, "operator.log"))
        try:
            res.update(_operator_phases(args, standin, kubectl, op, topo_file, n, k))
        finally:
            res["operator_exit"] = op.stop()
            res["operator_errors"] = len(re.findall(r"\b(ERROR|error)\b", op.log()))
    finally:
        standin.stop()
    return res


def _operator_phases(args, standin, kubectl, op, topo_file, n, k):
    res = {}
    cl = standin.client()
    _, rv = cl.list_all(TOPO_API + "/topologies", "limit=1")
    tracker = TopologyTracker(n)
    w = Watch(standin, TOPO_API + "/topologies", rv, tracker.on_event)
    w.start()
    cpu0, _, _ = op.stat()
    res["status_start"] = proc_status(op.proc.pid)
    scpu0 = standin.cpu()
    files = topology_files(args, topo_file)
    log("operator run: kubectl apply of %d Topologies in %d file(s)" % (n, len(files)))
    t0 = time.time()
    apply_files(kubectl, files, args.timeout)
    res["apply_topologies_s"] = time.time() - t0
    t_conv = tracker.wait(args.timeout)
    w.stop()
    if t_conv is None:
        raise SystemExit("operator run: only %d of %d Topologies Ready after %d s"
                         % (len(tracker.done), n, args.timeout))
    cpu1, hwm1, rss1 = op.stat()
    res["converge_s"] = t_conv - t0
    res["cpu_converge_s"] = cpu1 - cpu0
    res["standin_cpu_converge_s"] = standin.cpu() - scpu0
    res["hwm_converge_kib"] = hwm1
    res["rss_converge_kib"] = rss1
    res["status_converge"] = proc_status(op.proc.pid)
    log("operator run: converged in %.1f s; counting children" % res["converge_s"])
    counts = {}
    for plural, prefix in CHILD_KINDS:
        items, _ = cl.list_all(prefix + "/" + plural, "labelSelector=" + MANAGED)
        counts[plural] = len(items)
    res["children"] = counts
    ev_items, _ = cl.list_all("/api/v1/events")
    res["events_listed"] = Counter(e.get("reason") for e in ev_items
                                   if (e.get("involvedObject") or {}).get("kind") == "Topology")
    # Idle: no write request at all is expected from the operator.
    t_idle0 = time.time() + 1.0
    log("operator run: idle window of %d s" % args.idle)
    time.sleep(1.0 + args.idle)
    t_idle1 = time.time()
    cpu2, hwm2, rss2 = op.stat()
    res["idle_s"] = t_idle1 - t_idle0
    res["cpu_idle_s"] = cpu2 - cpu1
    res["rss_idle_kib"] = rss2
    res["status_idle"] = proc_status(op.proc.pid)
    res["maps_idle"] = proc_maps_rss(op.proc.pid)
    if args.changes:
        res.update(_spec_changes(args, standin, cl, op, n, k))
    if args.relist:
        res.update(_relist_all(args, standin, op))
    _, hwm3, rss3 = op.stat()
    res["hwm_end_kib"] = hwm3
    cl.close()
    # The request log is read once, at the end: flushing it makes the stand-in write its state
    # file at once, which would stall the requests measured.
    reqs = standin.requests()
    res["writes_converge"] = writes_of(reqs, OPERATOR_USER, t0, t_idle0)
    res["requests_converge"] = requests_of(reqs, OPERATOR_USER, t0, t_idle0)
    res["writes_idle"] = writes_of(reqs, OPERATOR_USER, t_idle0, t_idle1)
    res["requests_idle"] = requests_of(reqs, OPERATOR_USER, t_idle0, t_idle1)
    if args.relist:
        res["relist_writes"] = writes_of(reqs, OPERATOR_USER, res["relist_t0"],
                                         res["relist_t1"])
    if args.changes:
        res["change_writes"] = writes_of(reqs, OPERATOR_USER, res["changes_t0"],
                                         res["changes_t1"])
        res["change_parts"] = _change_parts(reqs, res["change_samples"])
    return res


def _change_parts(reqs, samples):
    """Splits each spec change's latency with the request log (times are when the stand-in
    finished a request): the PATCH of the Topology, from its end to the start of the operator's
    update of the Deployment (the operator's part: the watch event reaching it, the queue, the
    reconcile), and from the start of the update to the watch event seen here."""
    patches = {}
    updates = {}
    for t, r in reqs:
        if r.get("verb") == "patch" and r.get("resource") == "topologies" and \
                r.get("user") != OPERATOR_USER:
            patches.setdefault(r["path"], []).append((t, r["duration"]))
        elif r.get("verb") == "update" and r.get("resource") == "deployments" and \
                r.get("user") == OPERATOR_USER:
            updates.setdefault(r["path"], []).append((t, r["duration"]))
    parts = []
    for t_send, t_seen, ns, name in samples:
        p = [x for x in patches.get("%s/namespaces/%s/topologies/%s" % (TOPO_API, ns, name), ())
             if x[0] >= t_send]
        u = [x for x in updates.get("/apis/apps/v1/namespaces/%s/deployments/%s-a" % (ns, name),
                                    ()) if p and x[0] >= p[0][0]]
        if not p or not u:
            continue
        p_end, u_end, u_dur = p[0][0], u[0][0], u[0][1]
        # The watch event leaves before the stand-in logs the update, so the last part runs
        # from the start of the update to the event seen here.
        parts.append((p_end - t_send, u_end - u_dur - p_end, t_seen - (u_end - u_dur)))
    return parts


def _env_value(deploy, name):
    for c in (((deploy.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "containers") or ():
        for e in c.get("env") or ():
            if e.get("name") == name:
                return e.get("value")
    return None


def _relist_all(args, standin, op):
    """Every cache listed again: the stand-in forgets its watch history and closes every watch,
    so each informer's next watch gets 410 and relists. Measures how long until all five have
    relisted and the operator's writes meanwhile (none expected: nothing changed)."""
    before = op.log().count("Relisted ")
    log("operator run: watch history expired; waiting for every informer to relist")
    t0 = time.time()
    standin.admin("expire-history")
    standin.admin("close-watches")
    deadline = t0 + args.timeout
    while op.log().count("Relisted ") < before + len(CHILD_KINDS) + 1:
        if time.time() > deadline or op.proc.poll() is not None:
            raise SystemExit("operator run: the informers did not all relist:\n" +
                             op.log()[-3000:])
        time.sleep(0.1)
    t1 = time.time()
    time.sleep(2.0)  # reconciles the relist might have caused would write now
    return {"relist_s": t1 - t0, "relist_t0": t0, "relist_t1": time.time()}


def _spec_changes(args, standin, cl, op, n, k):
    """Sequential spec changes: patch a Topology's failure rate, time until its frontend
    Deployment carries the new HO11Y_FAILURE_RATE (seen on a watch of Deployments)."""
    seen = {}
    cond = threading.Condition()

    def on_deploy(t, obj):
        m = obj["metadata"]
        if t == "DELETED":
            return
        with cond:
            seen[(m["namespace"], m["name"])] = (time.time(), _env_value(obj,
                                                                         "HO11Y_FAILURE_RATE"))
            cond.notify_all()

    _, rv = cl.list_all("/apis/apps/v1/deployments", "limit=1")
    w = Watch(standin, "/apis/apps/v1/deployments", rv, on_deploy,
              "labelSelector=" + MANAGED)
    w.start()
    log("operator run: %d spec changes, one at a time" % args.changes)
    lat, missed, samples = [], 0, []
    cpu0 = op.stat()[0]
    t_start = time.time()
    for i in range(args.changes):
        # A prime stride spreads the changes over Topologies and namespaces.
        ns, name = topo_key((i * 7919) % n, k)
        rate = 11 + i % 89
        key = (ns, name + "-a")
        t_send = time.time()
        st, out = cl.request("PATCH", "%s/namespaces/%s/topologies/%s" % (TOPO_API, ns, name),
                             [{"op": "replace", "path": "/spec/services/0/failure/rate",
                               "value": rate}], "application/json-patch+json")
        if st != 200:
            raise SystemExit("patch %s/%s: %s %s" % (ns, name, st, out))
        deadline = time.monotonic() + 30
        with cond:
            while True:
                got = seen.get(key)
                if got is not None and got[1] == str(rate) and got[0] >= t_send:
                    lat.append(got[0] - t_send)
                    samples.append((t_send, got[0], ns, name))
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    missed += 1
                    break
                cond.wait(left)
    t_end = time.time()
    # Let the last change settle (status, events) before counting its requests.
    time.sleep(2.0)
    w.stop()
    return {"change_latencies": lat, "change_missed": missed, "changes_s": t_end - t_start,
            "changes_t0": t_start, "changes_t1": time.time(), "change_samples": samples,
            "cpu_changes_s": op.stat()[0] - cpu0}


# ---- the kubectl run ---------------------------------------------------------------------------
class DeploymentTracker:
    def __init__(self, expected):
        self.expected = expected
        self.available = set()
        self.cond = threading.Condition()
        self.last = None

    def on_event(self, t, obj):
        m = obj["metadata"]
        key = (m["namespace"], m["name"])
        st = obj.get("status") or {}
        want = (obj.get("spec") or {}).get("replicas", 1)
        ok = t != "DELETED" and st.get("observedGeneration") == m.get("generation") and \
            st.get("availableReplicas", 0) >= want and st.get("updatedReplicas", 0) >= want
        with self.cond:
            if ok and key not in self.available:
                self.available.add(key)
                self.last = time.time()
                self.cond.notify_all()
            elif not ok:
                self.available.discard(key)

    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.available) < self.expected:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 1.0))
            return self.last


def groups_of(args):
    """namespace -> group index: the objects of a group go to one file and one kubectl."""
    p = max(1, min(args.kubectl_files, args.namespaces))
    return {ns: i % p for i, ns in enumerate(namespaces(args.namespaces))}, p


def topology_files(args, topo_file):
    """The Topologies split like the rendered objects (the same namespaces per file)."""
    group, p = groups_of(args)
    if p == 1:
        return [topo_file]
    docs = [[] for _ in range(p)]
    for d in open(topo_file).read().split("---\n"):
        ns = re.search(r"namespace: ([a-z0-9-]+)\}", d).group(1)
        docs[group[ns]].append(d)
    files = []
    for i, g in enumerate(docs):
        path = "%s.%d.yaml" % (topo_file[:-5], i)
        with open(path, "w") as f:
            f.write("---\n".join(g))
        files.append(path)
    return files


def apply_files(kubectl, files, timeout):
    """kubectl apply -f of each file, all at once, one kubectl process per file; returns the
    CPU seconds (user + system) the kubectl processes used."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [kubectl.start("apply", "-f", f) for f in files]
    for p in procs:
        _, err = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise SystemExit("kubectl apply failed: %s" % err[-2000:])
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def render(args, topo_file, work):
    """ho11yctl render of the Topologies, split into P files by namespace groups."""
    r = subprocess.run([args.ho11yctl, "render", topo_file, "-o", "json",
                        "--generator-image", "ho11y:bench"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit("ho11yctl render failed: %s" % r.stderr)
    items = json.loads(r.stdout)["items"]
    group, p = groups_of(args)
    groups = [[] for _ in range(p)]
    for o in items:
        groups[group[o["metadata"]["namespace"]]].append(o)
    files = []
    for i, g in enumerate(groups):
        # A multi-document YAML file (each document in JSON form, which is YAML too), as
        # `ho11yctl render` writes it.
        path = os.path.join(work, "rendered-%d.yaml" % i)
        with open(path, "w") as f:
            f.write("".join("---\n" + json.dumps(o) + "\n" for o in g))
        files.append(path)
    return items, files


def run_kubectl(args, work, kubectl_bin, topo_file):
    res = {}
    items, files = render(args, topo_file, work)
    deploys = sum(1 for o in items if o["kind"] == "Deployment")
    res["rendered"] = Counter(o["kind"] for o in items)
    res["kubectl_files"] = len(files)
    standin = StandIn(work, "standin-kubectl").start()
    try:
        kubectl = Kubectl(kubectl_bin, standin.kubeconfig, os.path.join(work, "kcache-kc"))
        setup_cluster(standin, kubectl, args.namespaces, False)
        cl = standin.client()
        _, rv = cl.list_all("/apis/apps/v1/deployments", "limit=1")
        tracker = DeploymentTracker(deploys)
        w = Watch(standin, "/apis/apps/v1/deployments", rv, tracker.on_event)
        w.start()
        scpu0 = standin.cpu()
        log("kubectl run: kubectl apply of %d objects in %d file(s)" % (len(items), len(files)))
        t0 = time.time()
        res["kubectl_cpu_s"] = apply_files(kubectl, files, args.timeout)
        res["apply_s"] = time.time() - t0
        t_ready = tracker.wait(max(1, args.timeout - res["apply_s"]))
        w.stop()
        if t_ready is None:
            raise SystemExit("kubectl run: only %d of %d Deployments available"
                             % (len(tracker.available), deploys))
        res["converge_s"] = max(t_ready, t0 + res["apply_s"]) - t0
        res["standin_cpu_converge_s"] = standin.cpu() - scpu0
        reqs = standin.requests()
        res["kubectl_requests"] = Counter(r.get("verb") for t, r in reqs if t >= t0 and
                                          r.get("user") == "kubernetes-admin" and
                                          r.get("resource") != "")
        cl.close()
    finally:
        standin.stop()
    return res


# ---- report ------------------------------------------------------------------------------------
def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def report(args, op, kc):
    n = args.topologies
    if op is None:
        print("kubectl run: %d objects in %d file(s): kubectl apply %.1f s, all Deployments "
              "available after %.1f s; stand-in CPU %.1f s; requests %s"
              % (sum(kc["rendered"].values()), kc["kubectl_files"], kc["apply_s"],
                 kc["converge_s"], kc["standin_cpu_converge_s"],
                 dict(kc["kubectl_requests"])))
        return
    children_per = 10  # 4 Deployments, 4 Services, 1 ConfigMap, 1 ServiceAccount
    minimum = children_per + 2
    w = op["writes_converge"]
    ev_writes = [r for r in w if r.get("resource") == "events"]
    non_ev = [r for r in w if r.get("resource") not in ("events", "leases")]
    by = Counter((r.get("verb"), r.get("resource"), r.get("code")) for r in w)
    print()
    print("Operator benchmark: %d Topologies of 3 services in %d namespaces, stand-in "
          "--ready-delay 0, operator --workers %s" % (n, args.namespaces,
                                                     args.workers or "default (4)"))
    print("load average at the end: %.2f %.2f %.2f (2 cores)" % os.getloadavg())
    print()
    rows = []
    rows.append(("convergence: kubectl apply of the Topologies until all Ready (operator)",
                  "%.1f s" % op["converge_s"], ""))
    rows.append(("  of which kubectl apply of the %d Topologies" % n,
                  "%.1f s" % op["apply_topologies_s"],
                  "%d kubectl process(es)" % groups_of(args)[1]))
    if kc:
        rows.append(("convergence: kubectl apply of the rendered objects until all "
                     "Deployments available", "%.1f s" % kc["converge_s"],
                     "%d objects, %d kubectl process(es)" % (sum(kc["rendered"].values()),
                                                              kc["kubectl_files"])))
        rows.append(("  of which kubectl apply itself", "%.1f s" % kc["apply_s"],
                     "kubectl CPU %.1f s = %.1f ms per object" % (
                         kc["kubectl_cpu_s"],
                         1000.0 * kc["kubectl_cpu_s"] / sum(kc["rendered"].values()))))
        rows.append(("speed-up of the operator over kubectl apply",
                     "%.2fx" % (kc["converge_s"] / op["converge_s"]), "goal >= 3x"))
    c = op["children"]
    rows.append(("children after convergence", "%d" % sum(c.values()),
                 ", ".join("%s %d" % kv for kv in sorted(c.items())) +
                 " (expected %d)" % (children_per * n)))
    rows.append(("operator write requests per Topology (events excluded)",
                 "%.2f" % (len(non_ev) / n),
                 "minimum %d: %+.1f %% (goal within 10 %%)" % (
                     minimum, 100.0 * (len(non_ev) / n - minimum) / minimum)))
    rows.append(("operator event writes per Topology while creating",
                 "%.2f" % (len(ev_writes) / n), "goal <= 2"))
    rows.append(("operator write requests per Topology, all", "%.2f" % (len(w) / n), ""))
    rows.append(("operator requests per Topology, all verbs",
                 "%.2f" % (len(op["requests_converge"]) / n), ""))
    rows.append(("operator peak RSS (VmHWM) at convergence",
                 "%.1f MiB" % (op["hwm_converge_kib"] / 1024.0), "goal <= 16 MiB"))
    rows.append(("operator RSS after %.0f s idle" % op["idle_s"],
                 "%.1f MiB" % (op["rss_idle_kib"] / 1024.0), ""))
    rows.append(("operator peak RSS (VmHWM) at the end", "%.1f MiB" % (op["hwm_end_kib"] /
                                                                     1024.0),
                 "after the spec changes and a relist of every cache" if args.relist else ""))
    for label, key in (("started, no Topology", "status_start"),
                       ("at convergence", "status_converge"), ("idle", "status_idle")):
        st = op[key]
        rows.append(("  operator RSS %s: anonymous + file-backed" % label,
                     "%.1f MiB" % (st.get("VmRSS", 0) / 1024.0),
                     "%.1f + %.1f MiB, %d threads" % (st.get("RssAnon", 0) / 1024.0,
                                                      st.get("RssFile", 0) / 1024.0,
                                                      st.get("Threads", 0))))
    rows.append(("operator CPU (utime+stime) until convergence",
                 "%.2f s" % op["cpu_converge_s"],
                 "%.2f ms per Topology" % (1000.0 * op["cpu_converge_s"] / n)))
    rows.append(("stand-in CPU during the operator's convergence",
                 "%.1f s" % op["standin_cpu_converge_s"], ""))
    if kc:
        rows.append(("stand-in CPU during kubectl's convergence",
                     "%.1f s" % kc["standin_cpu_converge_s"], ""))
    rows.append(("operator CPU during the idle window", "%.2f s" % op["cpu_idle_s"], ""))
    rows.append(("operator write requests during the idle window", "%d" % len(op["writes_idle"]),
                 "goal 0; all requests: %d" % len(op["requests_idle"])))
    if "relist_s" in op:
        rows.append(("relist of every cache after the watch history expired", "%.1f s"
                     % op["relist_s"], "operator writes meanwhile: %d (nothing changed)"
                     % len(op["relist_writes"])))
    if "change_latencies" in op:
        lat = op["change_latencies"]
        rows.append(("spec change to child Deployment update, median",
                     "%.1f ms" % (1000 * statistics.median(lat)) if lat else "n/a",
                     "%d changes, %d missed (30 s)" % (len(lat) + op["change_missed"],
                                                       op["change_missed"])))
        rows.append(("spec change to child Deployment update, p99",
                     "%.1f ms" % (1000 * pct(lat, 99)) if lat else "n/a",
                     "max %.1f ms" % (1000 * max(lat)) if lat else ""))
        parts = op.get("change_parts") or []
        if parts:
            med = [statistics.median(x[i] for x in parts) for i in range(3)]
            p99 = [pct([x[i] for x in parts], 99) for i in range(3)]
            rows.append(("  parts, median: PATCH; operator until its update; update to watch",
                         "%.1f ms" % (1000 * sum(med)),
                         " + ".join("%.1f" % (1000 * v) for v in med) + " ms"))
            rows.append(("  p99 of each part", "",
                         " / ".join("%.1f" % (1000 * v) for v in p99) + " ms"))
        cw = op["change_writes"]
        rows.append(("operator writes per spec change", "%.2f" % (len(cw) / max(1, len(lat))),
                     ", ".join("%s %s %d" % (v, r, x) for (v, r), x in sorted(Counter(
                         (q.get("verb"), q.get("resource")) for q in cw).items()))))
    wid = max(len(r[0]) for r in rows)
    for name, val, note in rows:
        print("%-*s  %12s  %s" % (wid, name, val, note))
    print()
    print("operator write requests until convergence, by verb, resource and code:")
    for (verb, res, code), x in sorted(by.items(), key=lambda kv: -kv[1]):
        print("  %-8s %-22s %s %7d  (%.2f per Topology)" % (verb, res, code, x, x / n))
    reads = Counter(r.get("verb") for r in op["requests_converge"]
                    if r.get("verb") not in WRITE_VERBS)
    print("operator read requests until convergence: %s" % (
        ", ".join("%s %d" % kv for kv in sorted(reads.items())) or "none"))
    top = sorted(op["maps_idle"].items(), key=lambda kv: -kv[1])[:12]
    print("operator resident memory when idle, by mapping (KiB): %s" % (
        ", ".join("%s %d" % kv for kv in top)))
    print("events on Topologies (listed at convergence): %s" % (
        ", ".join("%s %d" % kv for kv in sorted(op["events_listed"].items())) or "none"))
    if op["writes_idle"]:
        print("idle writes: %s" % Counter((r.get("verb"), r.get("resource"))
                                         for r in op["writes_idle"]))
    if kc:
        print("kubectl requests (admin) in the kubectl run: %s" % (
            ", ".join("%s %d" % kv for kv in sorted(kc["kubectl_requests"].items()))))
    print("operator exit status on SIGTERM: %s; error lines in its log: %d"
          % (op["operator_exit"], op["operator_errors"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topologies", type=int, default=1000)
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--workers", type=int, default=0,
                    help="the operator's --workers (default: its own default)")
    ap.add_argument("--kubectl-files", type=int, default=1,
                    help="in both runs, split the objects (by namespace) into this many files "
                         "applied by as many kubectl processes in parallel (default 1)")
    ap.add_argument("--skip-kubectl", action="store_true", help="only the operator run")
    ap.add_argument("--skip-operator", action="store_true",
                    help="only the kubectl run (while developing)")
    ap.add_argument("--idle", type=float, default=30.0, help="idle window in seconds")
    ap.add_argument("--changes", type=int, default=100, help="spec changes to time")
    ap.add_argument("--no-relist", dest="relist", action="store_false",
                    help="skip the relist of every cache (watch history expired) at the end")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, state)")
    args = ap.parse_args()
    args.operator = os.environ.get("HO11Y_OPERATOR") or os.path.join(args.bin_dir,
                                                                     "ho11y-operator")
    args.ho11yctl = os.environ.get("HO11YCTL") or os.path.join(args.bin_dir, "ho11yctl")
    kubectl_bin = os.environ.get("KUBECTL") or os.path.join(REPO, ".tools", "bin", "kubectl")
    for p in (args.operator, args.ho11yctl, kubectl_bin):
        if not os.access(p, os.X_OK):
            raise SystemExit("%s not found; build first (or scripts/setup.sh --test for kubectl)"
                             % p)
    work = tempfile.mkdtemp(prefix="ho11y-bench-")
    try:
        topo_file = os.path.join(work, "topologies.yaml")
        with open(topo_file, "w") as f:
            f.write(topologies_yaml(args.topologies, args.namespaces))
        log("load average %.2f %.2f %.2f; work folder %s" % (os.getloadavg() + (work,)))
        op = None if args.skip_operator else run_operator(args, work, kubectl_bin, topo_file)
        kc = None if args.skip_kubectl else run_kubectl(args, work, kubectl_bin, topo_file)
        report(args, op, kc)
    finally:
        if args.keep:
            log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
