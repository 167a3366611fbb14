"""The sample Topology end to end: the objects the operator creates are exactly those
`ho11yctl render` prints (plus ownerReferences), the Topology becomes Ready, kubectl shows it,
events are few, the endpoints answer, and SIGTERM exits cleanly."""

import os
import re
import signal
import time
import unittest

from harness import (EXAMPLES, OperatorTest, check_children, operator_user, wait_until, writes)

WORKERS = 3


def samples(text, name, labels=None):
    """The values of the samples of name in one /metrics body whose labels include labels."""
    out = []
    for line in text.splitlines():
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$', line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in (labels or {}).items()):
            out.append((have, float(m.group(3))))
    return out


def value(text, name, labels=None):
    return sum(v for _, v in samples(text, name, labels))


class BasicTest(OperatorTest):
    def check_histogram(self, text, name, labels, bounds):
        """name's buckets in text are bounds (as written), cumulative, and end at +Inf == count;
        returns (count, sum)."""
        buckets = samples(text, name + "_bucket", labels)
        self.assertEqual([h["le"] for h, _ in buckets], bounds + ["+Inf"], name)
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts), name + " buckets are cumulative")
        count = value(text, name + "_count", labels)
        self.assertEqual(counts[-1], count, name)
        self.assertIn("# TYPE %s histogram\n" % name, text)
        self.assertIn("# HELP %s " % name, text)
        return count, value(text, name + "_sum", labels)

    def check_metrics(self, op, started, rendered):
        """The controller-runtime and client-go families, each with a value that means
        something after the sample converged."""
        queue = {"name": "topology", "controller": "topology"}
        ctl = {"controller": "topology"}
        # One scrape taken while idle: no worker inside a reconcile, nothing in progress in the
        # queue, every key taken also done.
        def idle_scrape():
            body = op.metrics()
            idle = (value(body, "controller_runtime_active_workers", ctl) == 0 and
                    value(body, "workqueue_unfinished_work_seconds", queue) == 0 and
                    value(body, "workqueue_queue_duration_seconds_count", queue) ==
                    value(body, "workqueue_work_duration_seconds_count", queue))
            return body if idle else None
        m = wait_until(idle_scrape, 30, 0.1, "an idle scrape")
        for name, kind in (("controller_runtime_max_concurrent_reconciles", "gauge"),
                           ("controller_runtime_active_workers", "gauge"),
                           ("workqueue_unfinished_work_seconds", "gauge"),
                           ("workqueue_longest_running_processor_seconds", "gauge"),
                           ("process_open_fds", "gauge"), ("process_start_time_seconds", "gauge"),
                           ("process_cpu_seconds_total", "counter")):
            self.assertIn("# TYPE %s %s\n" % (name, kind), m)
            self.assertIn("# HELP %s " % name, m)
        self.assertEqual(value(m, "controller_runtime_max_concurrent_reconciles", ctl), WORKERS)
        self.assertEqual(value(m, "controller_runtime_active_workers", ctl), 0)
        self.assertEqual(value(m, "workqueue_unfinished_work_seconds", queue), 0)
        self.assertEqual(value(m, "workqueue_longest_running_processor_seconds", queue), 0)

        # client-go's ExponentialBuckets(10e-9, 10, 12), whose repeated multiplication leaves
        # two bounds off their decimal powers, written as the Go client writes them.
        exp = ["1e-08", "1e-07", "1e-06", "9.999999999999999e-06", "9.999999999999999e-05",
               "0.001", "0.01", "0.1", "1", "10", "100", "1000"]
        reconciles = value(m, "controller_runtime_reconcile_total", ctl)
        self.assertGreaterEqual(reconciles, 1)
        qcount, qsum = self.check_histogram(m, "workqueue_queue_duration_seconds", queue, exp)
        wcount, wsum = self.check_histogram(m, "workqueue_work_duration_seconds", queue, exp)
        # Every key taken was also done (idle), and every reconcile was work on a key.
        self.assertEqual(qcount, wcount)
        self.assertGreaterEqual(wcount, reconciles)
        self.assertGreater(qsum, 0)
        # Work includes the reconciles, which are timed apart (in whole milliseconds).
        self.assertGreaterEqual(wsum, value(m, "controller_runtime_reconcile_time_seconds_sum",
                                            ctl) - 0.001 * reconciles)

        host = "127.0.0.1:%d" % self.standin.port
        rest = ["0.005", "0.025", "0.1", "0.25", "0.5", "1", "2", "4", "8", "15", "30", "60"]
        posts, post_sum = self.check_histogram(m, "rest_client_request_duration_seconds",
                                               {"verb": "POST", "host": host}, rest)
        self.assertGreaterEqual(posts, len(rendered))
        self.assertGreater(post_sum, 0)
        # One duration per call, one count per attempt.
        self.assertLessEqual(posts, value(m, "rest_client_requests_total", {"method": "POST"}))
        gets, _ = self.check_histogram(m, "rest_client_request_duration_seconds",
                                       {"verb": "GET", "host": host}, rest)
        self.assertGreaterEqual(gets, 5)  # the informers' lists
        self.assertEqual({h["host"] for h, _ in samples(m, "rest_client_requests_total")}, {host})
        self.assertGreaterEqual(value(m, "rest_client_requests_total",
                                      {"method": "POST", "code": "201", "host": host}),
                                len(rendered))

        fds = value(m, "process_open_fds")
        self.assertGreater(fds, 3)
        self.assertLess(fds, 1024)
        self.assertLess(abs(value(m, "process_start_time_seconds") - started), 60)
        self.assertGreater(value(m, "process_cpu_seconds_total"), 0)

    def test_sample_end_to_end(self):
        started = time.time()
        op = self.start_operator("--workers", str(WORKERS))
        with open(os.path.join(EXAMPLES, "xray-sample.yaml")) as f:
            sample = f.read()
        t0 = time.time()
        self.kubectl.apply(sample)
        # kubectl wait as a user would (its informer handles the Ready transition).
        self.kubectl.run("wait", "--for=condition=Ready", "topology/xray-sample", "-n",
                         "example-app", "--timeout=60s")
        topo = self.topology("example-app", "xray-sample")

        rendered = self.ho11yctl_render(sample)
        check_children(self, self.children("example-app"), rendered, topo)

        out = self.kubectl.run("get", "topo", "-n", "example-app").stdout
        self.assertRegex(out, r"xray-sample\s+3/3\s+Ready")
        st = topo["status"]
        self.assertEqual(st["observedGeneration"], topo["metadata"]["generation"])
        self.assertEqual(st["readyServices"], "3/3")
        self.assertEqual([s["name"] for s in st["services"]],
                         ["frontend", "downstream0", "downstream1"])
        self.assertEqual(st["services"][0]["url"], "http://frontend")
        self.assertEqual(st["collector"]["endpoint"], "xray-sample-collector:4317")
        self.assertEqual(len(st["collector"]["configHash"]), 64)
        rec = self.condition(topo, "Reconciled")
        self.assertEqual((rec["status"], rec["reason"]), ("True", "Reconciled"))

        # At most two events while creating: what was created, and Ready.
        evs = self.events("example-app", "xray-sample")
        reasons = sorted(e["reason"] for e in evs)
        self.assertEqual(reasons, ["Ready", "Reconciled"], evs)
        created = [e for e in evs if e["reason"] == "Reconciled"][0]
        self.assertEqual(created["message"],
                         "Created 4 Deployments, 4 Services, 1 ConfigMap, 1 ServiceAccount")

        # Writes: one create per object, the status twice at most (reconciled, ready), events.
        w = writes(self.standin.requests(since=t0), operator_user())
        creates = [r for r in w if r["verb"] == "create" and r["resource"] != "events"]
        self.assertEqual(len(creates), len(rendered), creates)
        status = [r for r in w if r["resource"] == "topologies/status"]
        self.assertLessEqual(len(status), 2, status)
        self.assertFalse([r for r in w if r["verb"] in ("update", "delete")], w)

        # Endpoints.
        h = op.health_port
        self.assertEqual(op.http(h, "/healthz"), (200, "ok"))
        self.assertEqual(op.http(h, "/readyz"), (200, "ok"))
        # As controller-runtime serves them: ?verbose, ?exclude=, one check by its path.
        self.assertEqual(op.http(h, "/readyz?verbose"),
                         (200, "[+]ping ok\n[+]informers ok\nreadyz check passed\n"))
        self.assertEqual(op.http(h, "/healthz?verbose"), (200, "[+]ping ok\nhealthz check passed\n"))
        self.assertEqual(op.http(h, "/readyz?verbose&exclude=informers&exclude=nope"),
                         (200, "[+]ping ok\n[+]informers excluded: ok\nwarn: some health checks "
                               "cannot be excluded: no matches for \"nope\"\nreadyz check passed\n"))
        self.assertEqual(op.http(h, "/readyz/informers"), (200, "ok"))
        self.assertEqual(op.http(h, "/livez/ping"), (200, "ok"))
        self.assertEqual(op.http(h, "/readyz/nope")[0], 404)
        self.assertEqual(op.http(h, "/readyzz")[0], 404)
        m = op.metrics()
        for name in ("controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
                     "controller_runtime_reconcile_time_seconds_bucket", "workqueue_depth",
                     "workqueue_adds_total", "workqueue_retries_total",
                     "rest_client_requests_total", "leader_election_master_status",
                     "ho11y_operator_topologies", "process_resident_memory_bytes",
                     "workqueue_queue_duration_seconds_bucket",
                     "workqueue_work_duration_seconds_bucket", "workqueue_unfinished_work_seconds",
                     "workqueue_longest_running_processor_seconds",
                     "controller_runtime_max_concurrent_reconciles",
                     "controller_runtime_active_workers", "rest_client_request_duration_seconds",
                     "process_open_fds", "process_start_time_seconds",
                     "process_cpu_seconds_total"):
            self.assertIn(name, m)
        self.assertGreaterEqual(op.metric("controller_runtime_reconcile_total",
                                          {"result": "success"}), 1)
        self.assertEqual(op.metric("ho11y_operator_topologies", {"condition": "Ready"}), 1)
        self.assertGreaterEqual(op.metric("rest_client_requests_total",
                                          {"method": "POST", "code": "201"}), len(rendered))
        self.assertEqual(op.metric("leader_election_master_status"), 1)
        self.check_metrics(op, started, rendered)
        self.assertEqual(op.http(op.metrics_port, "/nope")[0], 404)
        self.stop_operator(op)
        self.assertIn("Shut down cleanly", op.log())

    def test_help_version_and_bad_flags(self):
        import subprocess
        from harness import binary
        exe = binary("HO11Y_OPERATOR")
        r = subprocess.run([exe, "--help"], stdout=subprocess.PIPE, text=True)
        self.assertEqual(r.returncode, 0)
        for flag in ("--kubeconfig", "--namespace", "--workers", "--generator-image",
                     "--collector-image", "--leader-elect", "--leader-elect-lease-duration",
                     "--leader-elect-renew-deadline", "--leader-elect-retry-period",
                     "--metrics-addr", "--health-addr", "--log-level", "--log-format",
                     "--version"):
            self.assertIn(flag, r.stdout)
        r = subprocess.run([exe, "--version"], stdout=subprocess.PIPE, text=True)
        self.assertRegex(r.stdout, r"^ho11y-operator \d+\.\d+\.\d+")
        r = subprocess.run([exe, "--workers", "zero"], stderr=subprocess.PIPE, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--workers", r.stderr)
        r = subprocess.run([exe, "--bogus"], stderr=subprocess.PIPE, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown flag --bogus", r.stderr)
        r = subprocess.run([exe, "--kubeconfig", "/nonexistent/kubeconfig"],
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/kubeconfig", r.stderr)
        # Values checked before anything starts: exit 2 with the flag named.
        for args, named in ((["--image-pull-policy", "Sometimes"], "--image-pull-policy"),
                            (["--metrics-addr", "localhost"], "--metrics-addr"),
                            (["--metrics-addr=example.com:8080"], "--metrics-addr"),
                            (["--health-addr", ":99999"], "--health-addr"),
                            (["--health-addr", "[::1]:8081"], "--health-addr"),
                            (["--graceful-shutdown-timeout", "500us"],
                             "--graceful-shutdown-timeout"),
                            (["--leader-elect", "--leader-elect-lease-duration", "5s"],
                             "--leader-elect-lease-duration"),
                            (["--leader-elect", "--leader-elect-retry-period", "9s"],
                             "--leader-elect-retry-period")):
            r = subprocess.run([exe] + args + ["--kubeconfig", "/nonexistent/kubeconfig"],
                               stderr=subprocess.PIPE, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(named, r.stderr)
        # The same checks apply to the HO11Y_ variables, lease timings included.
        bad = {"HO11Y_LEADER_ELECT": "true", "HO11Y_LEADER_ELECT_RENEW_DEADLINE": "20s"}
        for env, named in (({"HO11Y_WORKERS": "abc"}, "HO11Y_WORKERS"),
                           (bad, "--leader-elect-renew-deadline")):
            r = subprocess.run([exe, "--kubeconfig", "/nonexistent/kubeconfig"],
                               stderr=subprocess.PIPE, text=True, timeout=30,
                               env=dict(os.environ, **env))
            self.assertEqual(r.returncode, 2, (env, r.stderr))
            self.assertIn(named, r.stderr)
        # A flag on the command line wins over its variable, which is then not read at all.
        r = subprocess.run([exe, "--leader-elect=false", "--workers", "3",
                            "--kubeconfig", "/nonexistent/kubeconfig"], stderr=subprocess.PIPE,
                           text=True, timeout=30, env=dict(os.environ, HO11Y_WORKERS="abc", **bad))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("/nonexistent/kubeconfig", r.stderr)
        # --help and --version answer whatever the rest holds, and are never read from the
        # environment.
        for flag, out in (("--help", "Usage: ho11y-operator"), ("--version", "ho11y-operator ")):
            r = subprocess.run([exe, flag], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=dict(os.environ, HO11Y_WORKERS="abc", **bad))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(out, r.stdout)
        for var in ("HO11Y_HELP", "HO11Y_VERSION"):
            r = subprocess.run([exe, "--kubeconfig", "/nonexistent/kubeconfig"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=30, env=dict(os.environ, **{var: "true"}))
            self.assertEqual((r.returncode, r.stdout), (1, ""), (var, r.stderr))

    def test_json_logs_and_env_flags(self):
        # The variable sets what no flag sets; the flag wins over the variable it overrides.
        op = self.start_operator("--log-format", "json",
                                 env={"HO11Y_WORKERS": "2", "HO11Y_LOG_FORMAT": "text"})
        self.assertEqual(self.stop_operator(op), None)
        lines = [l for l in op.log().splitlines() if l.strip()]
        import json
        for l in lines:
            rec = json.loads(l)
            self.assertIn("level", rec)
            self.assertIn("msg", rec)
        self.assertTrue(any("2 workers" in json.loads(l)["msg"] for l in lines))

    def test_second_signal_exits_at_once(self):
        op = self.start_operator()
        op.signal(signal.SIGTERM)
        op.signal(signal.SIGTERM)
        rc = op.proc.wait(10)
        op._forget()
        self.assertIn(rc, (0, 1))


if __name__ == "__main__":
    unittest.main()
