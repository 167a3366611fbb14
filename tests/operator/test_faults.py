"""Writes that fail: 409, 429, 500 and 503 on 20 % of the operator's writes while several
Topologies are applied and changed. The operator converges every time, leaves no duplicate or
orphaned object, waits out Retry-After, backs off on a write that keeps failing, and is quiet
once converged."""

import time
import unittest

from harness import (OperatorTest, _epoch, add_fault, clear_faults, operator_user,
                     topology_yaml, wait_converged, wait_until, writes)

CODES = (409, 429, 500, 503)
WRITE_VERBS = ("create", "update", "patch", "delete")
RATE = 0.2
# Writes to Topologies themselves are the test's own (kubectl); the operator writes only their
# status subresource.
NOT_TOPOLOGY = r"^(?!/apis/ho11y\.dev/v1alpha1/namespaces/[^/]+/topologies(/[^/]+)?$)"


def topo(ns, services, extra=""):
    return topology_yaml("t", ns, services, extra or
                         "collector: {mode: External, external: {host: otel.obs}}")


def by_operator(reqs):
    return [r for r in reqs if r["user"] == operator_user()]


class FaultTest(OperatorTest):
    def tearDown(self):
        clear_faults(self.standin)

    def inject_write_faults(self):
        # Rules are drawn independently; four codes at p each fail 1-(1-p)^4 = RATE of writes.
        p = 1 - (1 - RATE) ** (1 / len(CODES))
        for verb in WRITE_VERBS:
            for code in CODES:
                add_fault(self.standin, code=code, verb=verb, path=NOT_TOPOLOGY, probability=p,
                          retryAfter=1)

    def check_exact(self, specs):
        """Every namespace holds exactly the rendered objects of its Topology, converged."""
        for ns, text in specs.items():
            wait_converged(self, ns, "t", text, timeout=90)
        for ns, text in specs.items():
            rendered = sorted((o["kind"], o["metadata"]["name"])
                              for o in self.ho11yctl_render(text))
            self.assertEqual(sorted(self.children(ns)), rendered, ns)

    def test_faults_on_a_fifth_of_writes(self):
        nss = [self.ns("fl-%d" % i) for i in range(4)]
        op = self.start_operator()
        self.inject_write_faults()
        t0 = time.time()
        managed = "collector: {mode: Managed, exporters: {awsxray: {enabled: true}}}"
        specs = {
            nss[0]: topo(nss[0], ['{name: front, calls: [{service: back}]}', '{name: back}'],
                         managed),
            nss[1]: topo(nss[1], ['{name: a}', '{name: b}', '{name: c}']),
            nss[2]: topo(nss[2], ['{name: solo, replicas: 2}']),
            nss[3]: topo(nss[3], ['{name: ex, failure: {rate: 10}}', '{name: why}']),
        }
        for text in specs.values():
            self.kubectl.apply(text)
        self.check_exact(specs)
        # Change every one of them: add, remove, replicas, failure rate, calls, exporters.
        specs = {
            nss[0]: topo(nss[0], ['{name: front, calls: [{service: back}, {service: new}]}',
                                  '{name: back}', '{name: new}'],
                         "collector: {mode: Managed, exporters: {awsxray: {enabled: true}, "
                         "debug: {enabled: true}}}"),
            nss[1]: topo(nss[1], ['{name: a}', '{name: c, replicas: 3}']),
            nss[2]: topo(nss[2], ['{name: solo, replicas: 1, failure: {rate: 50}}']),
            nss[3]: topo(nss[3], ['{name: ex}', '{name: why}', '{name: zed}']),
        }
        for text in specs.values():
            self.kubectl.apply(text)
        self.check_exact(specs)
        # And back, with one Topology deleted: its children go (stand-in GC), the rest stay.
        self.kubectl.run("delete", "topology", "t", "-n", nss[3])
        del specs[nss[3]]
        specs[nss[1]] = topo(nss[1], ['{name: a}', '{name: b}', '{name: c}'])
        self.kubectl.apply(specs[nss[1]])
        self.check_exact(specs)
        wait_until(lambda: not self.children(nss[3]), 30, 0.2, "the deleted Topology's children")
        faults = self.standin.admin("status")["rules"]
        clear_faults(self.standin)
        self.assertIsNone(op.proc.poll(), "the operator exited")

        reqs = by_operator(self.standin.requests(since=t0))
        w = writes(reqs)
        failed = [r for r in w if r["code"] in CODES]
        hits = sum(r["hits"] for r in faults)
        self.assertGreaterEqual(len(failed), 5, "too few faults to mean anything: %d of %d"
                                % (len(failed), len(w)))
        self.assertGreater(hits, 0)
        # Retry-After honoured: after a 429 or 503 the same request waits at least a second.
        for i, r in enumerate(reqs):
            if r["code"] not in (429, 503):
                continue
            t = _epoch(r["time"])
            nxt = [x for x in reqs[i + 1:] if x["verb"] == r["verb"] and x["path"] == r["path"]]
            if nxt:
                self.assertGreaterEqual(_epoch(nxt[0]["time"]) - t, 0.9,
                                        "retried before Retry-After: %r then %r" % (r, nxt[0]))
        # No busy loop: the busiest second stays far from what a retry loop would send.
        per_second = {}
        for r in reqs:
            per_second[r["time"][:19]] = per_second.get(r["time"][:19], 0) + 1
        self.assertLess(max(per_second.values()), 150, sorted(per_second.items()))

        # Quiet once converged: no write at all for a few seconds.
        time.sleep(1)
        quiet = time.time()
        time.sleep(3)
        self.assertEqual(writes(by_operator(self.standin.requests(since=quiet))), [])
        self.stop_operator(op)

    def test_a_write_that_keeps_failing_backs_off(self):
        ns = self.ns("fl-stuck")
        op = self.start_operator()
        # Every create of a Deployment in this namespace fails (500 carries no Retry-After).
        add_fault(self.standin, code=500, verb="create", resource="deployments",
                  path="/namespaces/%s/" % ns)
        t0 = time.time()
        text = topo(ns, ['{name: stuck}'])
        self.kubectl.apply(text)
        time.sleep(6)
        reqs = by_operator(self.standin.requests(since=t0))
        tries = [_epoch(r["time"]) for r in reqs
                 if r["verb"] == "create" and r["resource"] == "deployments"]
        # 5 ms doubling: about a dozen tries in 6 s; a loop would make hundreds.
        self.assertGreaterEqual(len(tries), 4, tries)
        self.assertLessEqual(len(tries), 16, tries)
        gaps = [b - a for a, b in zip(tries, tries[1:])]
        self.assertGreater(max(gaps[-2:]), 0.3, gaps)
        # Meanwhile the rest of the Topology was created and the failure is reported.
        self.assertIsNotNone(self.kubectl.get("service", "stuck", ns))
        t = self.wait_condition(ns, "t", "Reconciled", "False", "ApiError")
        self.assertIn("InternalError", self.condition(t, "Reconciled")["message"])
        # One Warning event for the run of failures, not one per retry.
        def api_errors():
            return [e for e in self.events(ns, "t") if e["reason"] == "ApiError"]
        wait_until(lambda: api_errors(), 10, 0.1, "the ApiError event")
        def creates():
            return len([r for r in self.standin.requests(since=t0)
                        if r["verb"] == "create" and r["resource"] == "deployments"])
        # The backoff doubles (5 ms * 2^n): the next try may be 20 s away by now.
        retries = creates()
        wait_until(lambda: creates() > retries, 60, 0.2, "another failed try")
        evs = api_errors()
        self.assertEqual([(e["type"], e["count"]) for e in evs], [("Warning", 1)], evs)
        self.assertIn("InternalError", evs[0]["message"])
        clear_faults(self.standin)
        wait_converged(self, ns, "t", text, timeout=60)
        self.assertEqual(len(api_errors()), 1)
        self.stop_operator(op)


class RateLimitTest(OperatorTest):
    def test_client_side_rate_limit(self):
        # --kube-api-qps 5 --kube-api-burst 2: requests come at most 5 a second once the
        # burst is spent, and the Topology still converges.
        ns = self.ns("qps")
        op = self.start_operator("--kube-api-qps", "5", "--kube-api-burst", "2")
        self.assertIn("API requests limited to 5 a second, 2 at once", op.log())
        t0 = time.time()
        text = topo(ns, ['{name: a, calls: [{service: b}, {service: c}]}', '{name: b}',
                         '{name: c}'], "collector: {mode: Managed}")
        self.kubectl.apply(text)
        wait_converged(self, ns, "t", text, timeout=60)
        times = sorted(_epoch(r["time"]) for r in by_operator(self.standin.requests(since=t0)))
        self.assertGreaterEqual(len(times), 10, "too few requests to mean anything")
        # In any window of a second: at most the burst plus 5 refills.
        for i, start in enumerate(times):
            in_window = len([t for t in times[i:] if t < start + 1.0])
            self.assertLessEqual(in_window, 2 + 5, (start, times))
        # The whole run took at least as long as the limit implies.
        self.assertGreaterEqual(times[-1] - times[0], (len(times) - 2) / 5.0 - 0.3, times)
        self.assertGreater(op.metric("rest_client_rate_limiter_duration_seconds_sum"), 0.5)
        self.stop_operator(op)


if __name__ == "__main__":
    unittest.main()
