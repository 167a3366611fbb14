"""ho11yctl run, as users run it: the real ho11yctl starting real ho11y processes on loopback.

A Topology shaped like the recipe's graph (frontend with failures calling downstream0 and
downstream1; url calls to a recording HTTP server of the test and to a closed loopback port; a
dummy call) runs with --requests / --duration; the printed trees, the summary, the receiver the
spans go to with --otlp-endpoint, stopping by signal (no process left, checked by PID), a child
dying, and a bad file (nothing started) are checked."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

SRC = os.environ.get("HO11Y_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BIN_DIR = os.environ.get("HO11Y_BIN_DIR", os.path.join(SRC, "build", "bin"))
HO11YCTL = os.environ.get("HO11YCTL") or os.path.join(BIN_DIR, "ho11yctl")
HO11Y = os.environ.get("HO11Y") or os.path.join(BIN_DIR, "ho11y")
TIME_SCALE = float(os.environ.get("HO11Y_TIME_SCALE", "1"))

sys.path.insert(0, os.path.join(SRC, "tests", "generator"))
from ho11ytest import OtlpReceiver, Recorder, closed_port, otlp_to_xray  # noqa: E402

FAILURE_CODES = {400, 403, 301, 404, 501}
HEADER = re.compile(r"^trace (1-[0-9a-f]{8}-[0-9a-f]{24}): (\d+) spans?, (\d+) errors?, "
                    r"([0-9.]+) ms(.*)$")
SPAN = re.compile(r"^(  +)([^:]+): (.*) \[(server|client|internal)\] (.*) ([0-9.]+) ms$")
TABLE = re.compile(r"^  (\S+)\s+http://127\.0\.0\.1:(\d+)/  pid (\d+)$")
LOAD = re.compile(r"^  load driver\s+.* pid (\d+)$")


def recipe(recorder_url, dead_url, extra=""):
    return """\
apiVersion: v1
kind: Namespace
metadata: {name: example-app}
---
apiVersion: ho11y.dev/v1alpha1
kind: Topology
metadata: {name: recipe, namespace: example-app}
spec:
  services:
    - name: frontend
      failure: {rate: 49, codes: [400, 403, 301, 404, 501]}
      calls: [{service: downstream0}, {service: downstream1}]
    - name: downstream0
      calls: [{url: "%s"}]
    - name: downstream1
      calls: [{url: "%s"}, {dummy: {size: 13kB, duration: 2ms}}]
%s""" % (recorder_url, dead_url, extra)


def parse_traces(text):
    """The printed trees: [{id, nspans, errors, incomplete, spans: [{depth, service, name, kind,
    status, code}]}]."""
    traces = []
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            traces.append({"id": m.group(1), "nspans": int(m.group(2)), "errors": int(m.group(3)),
                           "incomplete": "incomplete" in m.group(5), "spans": []})
            continue
        m = SPAN.match(line)
        if m and traces:
            status = m.group(5)
            code = re.match(r"^(\d{3})\b", status)
            traces[-1]["spans"].append({
                "depth": len(m.group(1)) // 2 - 1, "service": m.group(2), "name": m.group(3),
                "kind": m.group(4), "status": status,
                "code": int(code.group(1)) if code else None})
    return traces


def parse_summary(text):
    """The summary's figures as a dict."""
    out = {}
    m = re.search(r"^  requests +(\d+) answered by (\S+)(?: \(([^)]*)\))?", text, re.M)
    if m:
        out["requests"] = int(m.group(1))
        out["by_code"] = {int(k): int(v) for k, v in
                          re.findall(r"(\d+): (\d+)", m.group(3) or "")}
    m = re.search(r"^  failed +(\d+)", text, re.M)
    if m:
        out["failed"] = int(m.group(1))
    m = re.search(r"^  load driver +(\d+) sent, (\d+) answered, (\d+) without an answer, "
                  r"(\d+) skipped", text, re.M)
    if m:
        out["sent"], out["answered"], out["no_answer"], out["skipped"] = map(int, m.groups())
    m = re.search(r"^  spans exported +(\d+) by the services \((\d+) dropped, (\d+) rejected\)"
                  r"(.*)$", text, re.M)
    if m:
        out["exported"], out["dropped"], out["rejected"] = map(int, m.groups()[:3])
        out["exported_note"] = m.group(4)
    m = re.search(r"^  spans received +(\d+)", text, re.M)
    if m:
        out["spans"] = int(m.group(1))
    m = re.search(r"^  traces printed +(\d+) \((\d+) incomplete\)", text, re.M)
    if m:
        out["traces"], out["incomplete"] = int(m.group(1)), int(m.group(2))
    return out


def alive(pid):
    """True when pid names a process that is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Run:
    """ho11yctl run in the background; stdout and stderr collected by threads."""

    def __init__(self, case, topology, *args):
        fd, self.path = tempfile.mkstemp(prefix="topology-", suffix=".yaml")
        with os.fdopen(fd, "w") as f:
            f.write(topology)
        case.addCleanup(os.unlink, self.path)
        self.out, self.err = [], []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen([HO11YCTL, "run", self.path] + list(args),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=dict(os.environ, HO11Y_BIN=HO11Y))
        case.addCleanup(self.kill)
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    def _pump(self, stream, sink):
        for raw in iter(stream.readline, b""):
            with self.cond:
                sink.append(raw.decode("utf-8", "replace"))
                self.cond.notify_all()
        stream.close()

    def stdout(self):
        with self.cond:
            return "".join(self.out)

    def stderr(self):
        with self.cond:
            return "".join(self.err)

    def wait_for(self, pattern, timeout=20):
        deadline = time.time() + timeout * TIME_SCALE
        rx = re.compile(pattern, re.M)
        with self.cond:
            while not rx.search("".join(self.out)):
                if time.time() > deadline or self.proc.poll() is not None:
                    raise AssertionError("no %r in the output of ho11yctl run:\n%s\n%s" % (
                        pattern, "".join(self.out), "".join(self.err)))
                self.cond.wait(0.1)

    def table(self):
        """{label: (port, pid)} of the start-up table, and the load driver's pid or None."""
        self.wait_for(r"^(Press Ctrl-C|Stopping after)")
        services, load = {}, None
        for line in self.stdout().splitlines():
            m = TABLE.match(line)
            if m:
                services[m.group(1)] = (int(m.group(2)), int(m.group(3)))
            m = LOAD.match(line)
            if m:
                load = int(m.group(1))
        return services, load

    def wait(self, timeout=60):
        self.proc.wait(timeout * TIME_SCALE)
        time.sleep(0.2)  # the reader threads finish the last lines
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class RunTest(unittest.TestCase):
    def setUp(self):
        self.recorder = Recorder(body=b"recorded")
        self.addCleanup(self.recorder.close)
        self.dead = "http://127.0.0.1:%d/" % closed_port()

    def run_recipe(self, *args, extra=""):
        return Run(self, recipe(self.recorder.url, self.dead, extra), *args)

    def assertGone(self, pids, timeout=10):
        deadline = time.time() + timeout * TIME_SCALE
        while time.time() < deadline and any(alive(p) for p in pids):
            time.sleep(0.05)
        self.assertEqual([p for p in pids if alive(p)], [], "processes left behind")

    def check_success_tree(self, t):
        """The 8 spans of a successful request through the recipe's graph."""
        got = [(s["depth"], s["service"], s["name"], s["kind"]) for s in t["spans"]]
        self.assertEqual(got, [
            (0, "frontend", "GET /", "server"),
            (1, "frontend", "GET downstream0", "client"),
            (2, "downstream0", "GET /", "server"),
            (3, "downstream0", "GET " + self.recorder.url, "client"),
            (1, "frontend", "GET downstream1", "client"),
            (2, "downstream1", "GET /", "server"),
            (3, "downstream1", "GET " + self.dead, "client"),
            (3, "downstream1", "DUMMY", "internal"),
        ], t)
        codes = [s["code"] for s in t["spans"]]
        self.assertEqual(codes, [200, 200, 200, 200, 200, 200, None, None], t)
        dead = t["spans"][6]["status"]
        self.assertTrue(dead.startswith("error ("), dead)
        self.assertIn("connect", dead.lower())
        self.assertEqual(t["spans"][7]["status"], "ok")
        self.assertEqual(t["errors"], 1, t)

    def test_recipe_graph_trees_and_summary(self):
        n = 30
        # A generous quiet period: on a busy machine a batch may come late; the stop flushes
        # and prints whatever is left anyway, so this costs no time.
        run = self.run_recipe("--requests", str(n), "--rate", "20",
                              "--trace-wait", "%gs" % (3 * TIME_SCALE))
        services, load = run.table()
        self.assertEqual(sorted(services), ["downstream0", "downstream1", "frontend"])
        self.assertIsNotNone(load)
        self.assertEqual(run.wait(), 0, run.stderr())
        out = run.stdout()
        s = parse_summary(out)
        self.assertEqual((s["sent"], s["skipped"]), (n, 0), out)
        traces = parse_traces(out)
        self.assertEqual(len(traces), n, out)
        self.assertEqual(len({t["id"] for t in traces}), n)
        roots = {}
        for t in traces:
            self.assertFalse(t["incomplete"], t)
            self.assertEqual(t["nspans"], len(t["spans"]))
            root = t["spans"][0]
            self.assertEqual((root["depth"], root["service"], root["kind"]),
                             (0, "frontend", "server"))
            roots[root["code"]] = roots.get(root["code"], 0) + 1
            if root["code"] == 200:
                self.check_success_tree(t)
            else:
                self.assertIn(root["code"], FAILURE_CODES)
                self.assertEqual(t["nspans"], 1, t)
        ok = roots.get(200, 0)
        self.assertGreater(ok, 0)
        # The recording server saw one call per successful request, with both trace headers.
        with self.recorder.lock:
            calls = list(self.recorder.requests)
        self.assertEqual(len(calls), ok)
        ids = {t["id"] for t in traces if t["spans"][0]["code"] == 200}
        for h in calls:
            tp = h.get("traceparent") or h.get("Traceparent")
            self.assertIn(otlp_to_xray(tp.split("-")[1]), ids)
            self.assertIn("Root=" + otlp_to_xray(tp.split("-")[1]),
                          h.get("X-Amzn-Trace-Id") or h.get("x-amzn-trace-id"))
        # The summary agrees with what was sent and printed.
        self.assertEqual(s["requests"], n, out)
        self.assertEqual(s["by_code"], roots)
        self.assertEqual(s["failed"], n - ok)
        self.assertEqual((s["sent"], s["answered"], s["no_answer"]), (n, n, 0))
        self.assertEqual(s["spans"], sum(t["nspans"] for t in traces))
        self.assertEqual((s["exported"], s["dropped"], s["rejected"], s["exported_note"]),
                         (s["spans"], 0, 0, ""))
        self.assertEqual((s["traces"], s["incomplete"]), (n, 0))
        self.assertIn("Summary (%d requests were sent)" % n, out)
        self.assertGone([pid for _, pid in services.values()] + [load])

    def test_failure_rate_within_bounds(self):
        n = 400
        topo = """\
apiVersion: ho11y.dev/v1alpha1
kind: Topology
metadata: {name: leaf}
spec:
  services:
    - name: frontend
      failure: {rate: 49}
"""
        run = Run(self, topo, "--requests", str(n), "--rate", "100")
        self.assertEqual(run.wait(), 0, run.stderr())
        out = run.stdout()
        s = parse_summary(out)
        self.assertEqual((s["sent"], s["skipped"]), (n, 0), out)
        self.assertEqual(s["requests"], n, out)
        self.assertEqual((s["exported"], s["dropped"], s["spans"]), (n, 0, n), out)
        self.assertEqual(sum(s["by_code"].values()), n)
        self.assertLessEqual(set(s["by_code"]), FAILURE_CODES | {200})
        # 49 % of n (about 400): sd = 10 requests; allow 4.5 sd either way.
        sd = (n * 0.49 * 0.51) ** 0.5
        self.assertTrue(0.49 * n - 4.5 * sd <= s["failed"] <= 0.49 * n + 4.5 * sd, s)
        traces = parse_traces(out)
        self.assertEqual(len(traces), n)
        self.assertEqual(sum(1 for t in traces if t["spans"][0]["code"] != 200), s["failed"])

    def test_requests_are_all_sent_past_the_in_flight_bound(self):
        # A frontend that takes 1 s per request: 100 requests at 200/s are due within 0.5 s,
        # while the load driver keeps at most 64 in flight. The rest wait for a slot: the
        # frontend answers exactly 100, none is skipped.
        topo = """\
apiVersion: ho11y.dev/v1alpha1
kind: Topology
metadata: {name: slow}
spec:
  services:
    - name: frontend
      latency: {fixed: 1s}
"""
        n = 100
        run = Run(self, topo, "--requests", str(n), "--rate", "200", "--trace-wait", "500ms")
        self.assertEqual(run.wait(60), 0, run.stderr())
        out = run.stdout()
        s = parse_summary(out)
        self.assertEqual((s["sent"], s["answered"], s["no_answer"], s["skipped"]), (n, n, 0, 0),
                         out)
        self.assertEqual((s["requests"], s["by_code"]), (n, {200: n}), out)
        self.assertEqual(s["traces"], n, out)
        self.assertIn("Summary (%d requests were sent)" % n, out)

    def test_otlp_endpoint_sends_to_that_receiver(self):
        rcv = OtlpReceiver()
        self.addCleanup(rcv.close)
        n = 10
        run = self.run_recipe("--requests", str(n), "--rate", "20",
                              "--otlp-endpoint", "http://127.0.0.1:%d" % rcv.port)
        self.assertEqual(run.wait(), 0, run.stderr())
        out = run.stdout()
        self.assertIn("Traces go to %s." % rcv.url, out)
        self.assertEqual(parse_traces(out), [], "no trees with --otlp-endpoint")
        self.assertNotIn("spans received", out)
        s = parse_summary(out)
        self.assertEqual((s["sent"], s["skipped"], s["requests"]), (n, 0, n), out)
        ok = s["by_code"].get(200, 0)
        self.assertEqual((s["exported"], s["dropped"]), (8 * ok + (n - ok), 0), out)
        spans = rcv.wait_spans(8 * ok + (n - ok), timeout=10 * TIME_SCALE)
        self.assertEqual(rcv.errors, [])
        self.assertEqual({r["path"] for r in rcv.requests}, {"/v1/traces"})
        roots = [sp for sp in spans if sp["kind"] == 2 and not sp.get("parentSpanId")]
        self.assertEqual(len(roots), n)
        self.assertEqual(len(spans), 8 * ok + (n - ok))
        self.assertEqual({sp["service"] for sp in spans} - {"frontend"},
                         {"downstream0", "downstream1"} if ok else set())
        # Calls between services look as they do in a cluster: the callee's name as peer.service
        # (an X-Ray service map draws the edge to it) and the URL the operator renders.
        calls = [sp for sp in spans if sp["service"] == "frontend" and sp["kind"] == 3]
        self.assertEqual(len(calls), 2 * ok)
        for sp in calls:
            peer = sp["attrs"]["peer.service"]
            self.assertIn(peer, ("downstream0", "downstream1"))
            self.assertEqual((sp["attrs"]["http.url"], sp["attrs"]["url.full"],
                              sp["attrs"]["server.address"]), ("http://" + peer,) * 2 + (peer,))
        # Parent links cross the processes: each SERVER span of a downstream is the child of a
        # frontend CLIENT span of the same trace, whose parent is the frontend's root.
        by_id = {sp["spanId"]: sp for sp in spans}
        for sp in spans:
            if sp["service"] != "frontend" and sp["kind"] == 2:
                client = by_id[sp["parentSpanId"]]
                self.assertEqual((client["service"], client["kind"], client["traceId"]),
                                 ("frontend", 3, sp["traceId"]))
                root = by_id[client["parentSpanId"]]
                self.assertFalse(root.get("parentSpanId"))
                self.assertEqual(root["attrs"]["http.response.status_code"], 200)

    def stop_by(self, sig):
        run = self.run_recipe("--rate", "10")
        services, load = run.table()
        pids = [pid for _, pid in services.values()] + [load]
        run.wait_for(r"^trace 1-", timeout=20)
        for pid in pids:
            self.assertTrue(alive(pid), pid)
        run.proc.send_signal(sig)
        self.assertEqual(run.wait(30), 0, run.stderr())
        self.assertGone(pids)
        out = run.stdout()
        self.assertIn("Summary (stopped by a signal)", out)
        s = parse_summary(out)
        traces = parse_traces(out)
        self.assertGreater(s["requests"], 0)
        self.assertEqual(s["sent"], s["answered"])
        self.assertEqual(s["requests"], s["sent"])
        self.assertEqual(s["traces"], len(traces))
        # Every answered request's trace was flushed and printed at the stop.
        self.assertEqual(len(traces), s["requests"], out)
        self.assertEqual(s["incomplete"], 0)

    def test_sigint_stops_everything(self):
        self.stop_by(signal.SIGINT)

    def test_sigterm_stops_everything(self):
        self.stop_by(signal.SIGTERM)

    def test_second_sigint_kills_at_once(self):
        # downstream0 takes 30 s per request, so a clean stop would wait for its shutdown budget.
        slow = "      latency: {fixed: 30s}\n"
        topo = recipe(self.recorder.url, self.dead).replace(
            "    - name: downstream0\n", "    - name: downstream0\n" + slow)
        run = Run(self, topo, "--rate", "5")
        services, load = run.table()
        time.sleep(1)
        run.proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        run.proc.send_signal(signal.SIGINT)
        self.assertEqual(run.wait(20), 0, run.stderr())
        self.assertIn("second signal: killing every process now", run.stderr())
        self.assertIn("Summary (stopped by a signal)", run.stdout())
        self.assertGone([pid for _, pid in services.values()] + [load])

    def test_killed_ho11yctl_leaves_no_process(self):
        run = self.run_recipe("--rate", "5")
        services, load = run.table()
        run.proc.kill()
        run.wait()
        self.assertGone([pid for _, pid in services.values()] + [load])

    def test_child_dying_is_reported(self):
        run = self.run_recipe("--rate", "5")
        services, load = run.table()
        port, victim = services["downstream0"]
        os.kill(victim, signal.SIGKILL)
        self.assertEqual(run.wait(30), 1)
        err = run.stderr()
        self.assertIn("downstream0 (pid %d) was killed by signal 9" % victim, err)
        self.assertIn("Summary (downstream0 exited)", run.stdout())
        self.assertGone([pid for _, pid in services.values()] + [load])

    def test_child_failing_at_start_is_reported(self):
        extra = "      env: [{name: HO11Y_DOWNSTREAM_TIMEOUT, value: banana}]\n"
        topo = recipe(self.recorder.url, self.dead).replace(
            "    - name: downstream1\n", "    - name: downstream1\n" + extra)
        run = Run(self, topo, "--rate", "5")
        self.assertEqual(run.wait(30), 1)
        err = run.stderr()
        self.assertRegex(err, r"downstream1 \(pid (\d+)\) exited with status 2")
        self.assertIn("HO11Y_DOWNSTREAM_TIMEOUT", err)
        self.assertNotIn("Running Topology", run.stdout())
        pids = [int(p) for p in re.findall(r"pid (\d+)", err)]
        self.assertGone(pids)

    def test_bad_topology_starts_nothing(self):
        marker = tempfile.mktemp(prefix="ho11y-started-")
        fake = tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False)
        fake.write("#!/bin/sh\ntouch %s\nexec %s\n" % (marker, HO11Y))
        fake.close()
        os.chmod(fake.name, 0o755)
        self.addCleanup(os.unlink, fake.name)
        topo = recipe(self.recorder.url, self.dead).replace(
            "{service: downstream1}", "{service: downstream9}")
        fd, path = tempfile.mkstemp(suffix=".yaml")
        with os.fdopen(fd, "w") as f:
            f.write(topo)
        self.addCleanup(os.unlink, path)
        r = subprocess.run([HO11YCTL, "run", path, "--ho11y", fake.name, "--requests", "1"],
                           capture_output=True, text=True, timeout=30 * TIME_SCALE)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn('spec.services[0].calls[1].service: Not found: "downstream9"', r.stderr)
        self.assertRegex(r.stderr, r"%s:\d+: " % re.escape(path))
        self.assertIn("nothing was started", r.stderr)
        self.assertFalse(os.path.exists(marker))
        # The same check as `ho11yctl validate` makes.
        v = subprocess.run([HO11YCTL, "validate", path], capture_output=True, text=True)
        self.assertIn('calls[1].service: Not found: "downstream9"', v.stderr)

    def test_replicas_and_curl(self):
        topo = """\
apiVersion: ho11y.dev/v1alpha1
kind: Topology
metadata: {name: wide}
spec:
  services:
    - name: frontend
      replicas: 2
      calls: [{service: backend}, {service: ghost}]
    - name: backend
      replicas: 2
    - name: ghost
      replicas: 0
"""
        run = Run(self, topo, "--duration", "60s")
        services, load = run.table()
        self.assertIsNone(load)
        self.assertEqual(sorted(services), ["backend[0]", "backend[1]", "frontend[0]",
                                            "frontend[1]"])
        self.assertRegex(run.stdout(), r"ghost +no replicas: calls to it are refused")
        port = services["frontend[1]"][0]
        with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10) as resp:
            body = resp.read().decode()
        trace_id = re.search(r'"traceId":"(1-[0-9a-f-]+)"', body).group(1)
        run.wait_for(r"^trace %s" % re.escape(trace_id))
        t = [t for t in parse_traces(run.stdout()) if t["id"] == trace_id][0]
        got = [(s["depth"], s["service"], s["name"]) for s in t["spans"]]
        self.assertEqual(got, [(0, "frontend", "GET /"), (1, "frontend", "GET backend"),
                               (2, "backend", "GET /"), (1, "frontend", "GET ghost")])
        self.assertTrue(t["spans"][3]["status"].startswith("error"), t)
        self.assertIn("connect", t["spans"][3]["status"].lower())
        # Replica k of a caller calls replica k mod R of its callee: frontend[1], backend[1].
        answered = {}
        for label in ("backend[0]", "backend[1]"):
            url = "http://127.0.0.1:%d/metrics" % services[label][0]
            with urllib.request.urlopen(url, timeout=10) as resp:
                m = re.search(r'^ho11y_total\{http_status_code="200"\} (\S+)$',
                              resp.read().decode(), re.M)
            answered[label] = float(m.group(1)) if m else 0
        self.assertEqual(answered, {"backend[0]": 0, "backend[1]": 1})
        run.proc.send_signal(signal.SIGINT)
        self.assertEqual(run.wait(30), 0)
        s = parse_summary(run.stdout())
        self.assertEqual(s["by_code"], {200: 1})
        self.assertGone([pid for _, pid in services.values()])

    def test_receiver_refuses_bad_input_and_prints_odd_traces(self):
        topo = """\
apiVersion: ho11y.dev/v1alpha1
kind: Topology
metadata: {name: quiet}
spec:
  services: [{name: frontend}]
"""
        run = Run(self, topo, "--duration", "60s", "--trace-wait", "300ms")
        services, _ = run.table()
        url = re.search(r"built-in receiver at (http://\S+) ", run.stdout()).group(1)
        port = int(re.search(r":(\d+)/", url).group(1))

        def send(method, path, body=b"", headers=None):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                c.request(method, path, body=body, headers=headers or {
                    "Content-Type": "application/json"})
                r = c.getresponse()
                return r.status, r.read()
            finally:
                c.close()

        self.assertEqual(send("GET", "/v1/traces")[0], 405)
        self.assertEqual(send("POST", "/v1/metrics", b"{}")[0], 404)
        self.assertEqual(send("POST", "/v1/traces", b"{not json")[0], 400)
        self.assertEqual(send("POST", "/v1/traces", b"[1,2]")[0], 400)
        self.assertEqual(send("POST", "/v1/traces", b"{}",
                              {"Content-Type": "application/x-protobuf"})[0], 415)
        self.assertEqual(send("POST", "/v1/traces", b"{}", {
            "Content-Type": "application/json", "Content-Encoding": "gzip"})[0], 415)
        # Too big: refused by the declared length before the body is read...
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         b"application/json\r\nContent-Length: %d\r\n\r\n{" % (17 << 20))
            self.assertTrue(sock.recv(4096).startswith(b"HTTP/1.1 413"))
        # ... or, without a declared length, once the body passed the bound.
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        chunks = (b" " * (1 << 20) for _ in range(17))
        c.request("POST", "/v1/traces", body=chunks, encode_chunked=True,
                  headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        self.assertEqual(c.getresponse().status, 413)
        c.close()

        def span(tid, sid, parent="", kind=2, name="GET /", **kw):
            s = {"traceId": tid, "spanId": sid, "name": name, "kind": kind,
                 "startTimeUnixNano": kw.get("start", "1000000000"),
                 "endTimeUnixNano": kw.get("end", 3000000000)}
            if parent:
                s["parentSpanId"] = parent
            return s

        orphan = "6b000000" + "a" * 24
        cyclic = "6b000000" + "b" * 24
        spans = [
            span(orphan, "1" * 16, parent="f" * 16, kind=3, name="GET"),
            span(cyclic, "2" * 16),                                # the root
            span(cyclic, "3" * 16, parent="4" * 16, kind=1, name="a\n\x1b[2J"),  # a cycle
            span(cyclic, "4" * 16, parent="3" * 16, kind=1, name="b"),
            span("zz" * 16, "5" * 16),                             # a bad id: refused
            span(cyclic, "0" * 16),                                # all-zero id: refused
        ]
        body = json.dumps({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "x"}}]},
            "scopeSpans": [{"spans": spans}]}]}).encode()
        status, answer = send("POST", "/v1/traces", body)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(answer)["partialSuccess"]["rejectedSpans"], "2")
        run.wait_for(r"^trace 1-6b000000-b{24}: 3 spans")
        run.proc.send_signal(signal.SIGINT)
        self.assertEqual(run.wait(30), 0, run.stderr())
        traces = {t["id"]: t for t in parse_traces(run.stdout())}
        t = traces["1-6b000000-" + "b" * 24]
        self.assertFalse(t["incomplete"])
        # Control characters are not passed to the terminal.
        self.assertEqual(sorted(s["name"] for s in t["spans"]), ["GET /", "a??[2J", "b"])
        t = traces["1-6b000000-" + "a" * 24]
        self.assertTrue(t["incomplete"])
        self.assertEqual([(s["depth"], s["service"], s["kind"]) for s in t["spans"]],
                         [(0, "x", "client")])
        s = parse_summary(run.stdout())
        self.assertEqual((s["traces"], s["incomplete"]), (2, 1))
        self.assertRegex(run.stdout(), r"spans received +4 \(0 dropped at the receiver's "
                                       r"bounds, 2 refused as invalid\)")
        self.assertGone([pid for _, pid in services.values()])

    def test_help(self):
        r = subprocess.run([HO11YCTL, "run", "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for opt in ("--rate", "--requests", "--duration", "--otlp-endpoint", "--ho11y"):
            self.assertIn(opt, r.stdout)
        r = subprocess.run([HO11YCTL, "run"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([HO11YCTL, "run", "x.yaml", "--rate", "fast"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--rate", r.stderr)
        path = os.path.join(SRC, "examples", "xray-sample.yaml")
        r = subprocess.run([HO11YCTL, "run", path, "--ho11y", "/nonexistent/ho11y"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn("cannot run the ho11y generator at /nonexistent/ho11y", r.stderr)


if __name__ == "__main__":
    unittest.main()
