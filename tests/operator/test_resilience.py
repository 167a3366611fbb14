"""The operator against an unreliable API server: the stand-in restarted with its state (its
watches then answer 410 for every older resourceVersion), all watch streams closed, the watch
history expired, lists failing for a while. The operator resumes or relists, backs off while
the server fails, and converges every time, without crashing."""

import time
import unittest

from harness import (OperatorTest, _epoch, add_fault, clear_faults, operator_user,
                     topology_yaml, wait_converged, wait_until)


def topo(ns, services, managed=False):
    extra = "" if managed else "collector: {mode: External, external: {host: otel.obs}}"
    return topology_yaml("t", ns, [{"name": s} for s in services], extra)


def by_operator(reqs):
    return [r for r in reqs if r["user"] == operator_user()]


class ResilienceTest(OperatorTest):
    def setUp(self):
        self.op = self.start_operator()

    def tearDown(self):
        clear_faults(self.standin)
        self.assertIsNone(self.op.proc.poll() if self.op.proc else None,
                          "the operator exited:\n" + self.op.log()[-3000:])
        self.stop_operator(self.op)

    def test_standin_restarted_with_its_state(self):
        a, b = self.ns("rs-a"), self.ns("rs-b")
        ta, tb = topo(a, ["front", "back"], managed=True), topo(b, ["solo"])
        self.kubectl.apply(ta)
        self.kubectl.apply(tb)
        wait_converged(self, a, "t", ta)
        wait_converged(self, b, "t", tb)

        self.standin.stop()
        time.sleep(2)
        self.assertIsNone(self.op.proc.poll(), "the operator exited while the server was down")
        self.standin.start()
        restarted = time.time()
        # Changes right after the restart: a spec change and a deleted child.
        ta = topo(a, ["front", "back", "extra"], managed=True)
        self.kubectl.apply(ta)
        self.kubectl.run("delete", "service", "solo", "-n", b)
        wait_converged(self, a, "t", ta)
        wait_converged(self, b, "t", tb)
        self.assertIn("Relisted", self.op.log())
        # Catching up after the restart costs a bounded number of requests.
        reqs = by_operator(self.standin.requests(since=restarted))
        lists = [r for r in reqs if r["verb"] == "list"]
        self.assertLessEqual(len(lists), 20, lists)
        self.assertLess(len(reqs), 150, "requests after the restart: %d" % len(reqs))

    def test_all_watches_closed(self):
        ns = self.ns("rs-close")
        text = topo(ns, ["front"])
        self.kubectl.apply(text)
        wait_converged(self, ns, "t", text)
        t0 = time.time()
        closed = self.standin.admin("close-watches")
        self.assertTrue(closed is not None)
        text = topo(ns, ["front", "back"])
        self.kubectl.apply(text)
        wait_converged(self, ns, "t", text)
        reqs = by_operator(self.standin.requests(since=t0))
        # Each informer resumed from the last resourceVersion it saw: watches, no relist.
        watched = {r["resource"] for r in reqs if r["verb"] == "watch"}
        self.assertTrue({"topologies", "deployments", "services", "configmaps",
                         "serviceaccounts"} <= watched, watched)
        self.assertEqual([r for r in reqs if r["verb"] == "list"], [])

    def test_watch_history_expired_and_failing_lists(self):
        ns = self.ns("rs-exp")
        text = topo(ns, ["front", "back"])
        self.kubectl.apply(text)
        wait_converged(self, ns, "t", text)
        # Lists fail for a while: the relists that the 410s cause back off.
        add_fault(self.standin, code=500, verb="list")
        t0 = time.time()
        self.standin.admin("expire-history")
        self.standin.admin("close-watches")
        text = topo(ns, ["front", "back", "third"])
        self.kubectl.apply(text)
        self.kubectl.run("delete", "service", "back", "-n", ns, "--wait=false")
        wait_until(lambda: "expired" in self.op.log(), 10, 0.1, "a 410 seen by the operator")
        time.sleep(6)
        healed = time.time()
        clear_faults(self.standin)
        wait_converged(self, ns, "t", text)
        reqs = by_operator(self.standin.requests(since=t0))
        failing = [r for r in reqs if r["verb"] == "list" and r["code"] == 500]
        self.assertTrue(failing, "no relist was attempted")
        by_res = {}
        for r in failing:
            by_res.setdefault(r["resource"], []).append(r)
        for res, rs in by_res.items():
            # Backoff from 0.8 s doubling with jitter: a handful of attempts in 6 s, not a loop.
            self.assertLessEqual(len(rs), 5, "%s relisted %d times while lists failed"
                                 % (res, len(rs)))
            # ... and the waits grow: at least 0.8 s, then 1.6 s, 3.2 s (plus jitter, plus
            # whatever a loaded machine adds).
            self.assertGreaterEqual(len(rs), 2, "%s: the failed list was not retried" % res)
            times = [_epoch(r["time"]) for r in rs]
            gaps = [b - a for a, b in zip(times, times[1:])]
            for i, g in enumerate(gaps):
                self.assertGreaterEqual(g, 0.8 * 2 ** i * 0.9, (res, gaps))
        # After the heal every informer listed successfully once more.
        ok = {r["resource"] for r in by_operator(self.standin.requests(since=healed))
              if r["verb"] == "list" and r["code"] == 200}
        self.assertTrue({"topologies", "deployments", "services"} <= ok, ok)


if __name__ == "__main__":
    unittest.main()
