"""Steady state: once converged the operator sends no write (and no other request but its open
watches) in a 60 s window of the stand-in's request log, and does not even reconcile; the
periodic resync (--sync-period) reconciles every Topology from the cache, with no request.
lastTransitionTime stays while a condition's status stays; identical events are counted on one
Event instead of new ones; the metrics add up."""

import os
import time
import unittest

from harness import (EXAMPLES, OperatorTest, operator_user, scaled, topology_yaml,
                     wait_converged, wait_until, writes)

IDLE_SECONDS = 60


class SteadyTest(OperatorTest):
    ready_delay = 0.1

    def test_steady_state(self):
        op = self.start_operator()
        self.addCleanup(self.stop_operator, op)
        with open(os.path.join(EXAMPLES, "xray-sample.yaml")) as f:
            sample = f.read()
        ns = self.ns("steady")
        loaded = topology_yaml("loaded", ns, [{"name": "edge", "calls": [{"service": "core"}]},
                                              {"name": "core", "latency": {"fixed": "5ms"}}],
                               "load: {target: edge, rate: 2}\n")
        t0 = time.time()
        self.kubectl.apply(sample)
        self.kubectl.apply(loaded)
        wait_converged(self, "example-app", "xray-sample", sample.split("---\n", 1)[1])
        wait_converged(self, ns, "loaded", loaded)
        self.assertIsNotNone(self.kubectl.get("deployment", "loaded-load", ns))
        wait_until(lambda: op.metric("workqueue_depth") == 0, 10, 0.1, "an empty work queue")
        # Delayed work (coalesced status writes) settles within a few seconds.
        time.sleep(scaled(3.0))

        before = op.metric("controller_runtime_reconcile_total")
        t1 = time.time()
        time.sleep(IDLE_SECONDS)
        reqs = [r for r in self.standin.requests(since=t1) if r["user"] == operator_user()]
        self.assertEqual(writes(reqs, exclude=()), [], "writes while idle")
        self.assertEqual([r for r in reqs if r["verb"] != "watch"], [],
                         "requests while idle")
        self.assertEqual(op.metric("controller_runtime_reconcile_total"), before,
                         "reconciles while idle")

        # The metrics agree with what the API server saw.
        w = writes(self.standin.requests(since=t0), operator_user())
        posts = [r for r in w if r["verb"] == "create" and r["code"] == 201]
        self.assertEqual(op.metric("rest_client_requests_total", {"method": "POST",
                                                                   "code": "201"}), len(posts))
        patches = [r for r in w if r["verb"] == "patch" and r["code"] == 200]
        self.assertEqual(op.metric("rest_client_requests_total", {"method": "PATCH",
                                                                   "code": "200"}), len(patches))
        self.assertEqual(op.metric("controller_runtime_reconcile_errors_total"), 0)
        self.assertEqual(op.metric("controller_runtime_reconcile_total", {"result": "error"}), 0)
        self.assertEqual(op.metric("controller_runtime_reconcile_time_seconds_count"), before)
        items = self.kubectl.json("get", "topologies", "-A")["items"]
        self.assertEqual(op.metric("ho11y_operator_topologies", {"condition": "Ready"}),
                         len(items))
        self.assertEqual(op.metric("ho11y_operator_topologies"), len(items))
        # Two events per Topology, and at most two status writes (reconciled, Ready): the
        # readiness of the services in between is coalesced.
        self.assertLessEqual(len([r for r in w if r["resource"] == "topologies/status"]), 4)
        self.assertEqual(len([r for r in w if r["resource"] == "events"]), 4)

    def test_resync_reconciles_without_requests(self):
        # --sync-period: every Topology is reconciled again, from the cache alone.
        op = self.start_operator("--sync-period", "1s")
        self.addCleanup(self.stop_operator, op)
        ns = self.ns("resync")
        text = topology_yaml("shop", ns, [{"name": "front", "calls": [{"service": "back"}]},
                                          {"name": "back"}])
        self.kubectl.apply(text)
        wait_converged(self, ns, "shop", text)
        wait_until(lambda: op.metric("workqueue_depth") == 0, 10, 0.1, "an empty work queue")
        time.sleep(scaled(3.0))
        topologies = len(self.kubectl.json("get", "topologies", "-A")["items"])
        before = op.metric("controller_runtime_reconcile_total")
        t1 = time.time()
        time.sleep(6)
        # The main loop looks every 2 s: at least two resyncs of every Topology in 6 s.
        self.assertGreaterEqual(op.metric("controller_runtime_reconcile_total") - before,
                                2 * topologies)
        reqs = [r for r in self.standin.requests(since=t1) if r["user"] == operator_user()]
        self.assertEqual([r for r in reqs if r["verb"] != "watch"], [], "requests on resync")

    def test_conditions_and_events(self):
        op = self.start_operator()
        self.addCleanup(self.stop_operator, op)
        ns = self.ns("ltt")
        v1 = topology_yaml("shop", ns, [{"name": "front", "calls": [{"service": "back"}]},
                                        {"name": "back"}])
        self.kubectl.apply(v1)
        wait_converged(self, ns, "shop", v1)
        topo = self.topology(ns, "shop")
        ltt = {c["type"]: c["lastTransitionTime"] for c in topo["status"]["conditions"]}
        time.sleep(1.2)  # lastTransitionTime has one-second resolution

        # A change that only touches a Service (nobody calls front): a new generation is
        # reconciled, no condition changes status, so no lastTransitionTime moves.
        v2 = topology_yaml("shop", ns, [{"name": "front", "port": 8080,
                                         "calls": [{"service": "back"}]}, {"name": "back"}])
        self.kubectl.apply(v2)
        wait_converged(self, ns, "shop", v2)
        topo2 = self.topology(ns, "shop")
        self.assertEqual(topo2["metadata"]["generation"], topo["metadata"]["generation"] + 1)
        for c in topo2["status"]["conditions"]:
            self.assertEqual(c["observedGeneration"], topo2["metadata"]["generation"])
            self.assertEqual(c["lastTransitionTime"], ltt[c["type"]], c)

        # The same transitions twice: a Deployment deleted twice is recreated twice, the
        # Topology becomes Ready twice; the events are counted, not repeated.
        for _ in range(2):
            uid = self.kubectl.get("deployment", "back", ns)["metadata"]["uid"]
            self.kubectl.run("delete", "deployment", "back", "-n", ns, "--wait=false")
            wait_until(lambda: (self.kubectl.get("deployment", "back", ns) or {}).get(
                "metadata", {}).get("uid") not in (None, uid), 10, 0.05, "back to return")
            wait_converged(self, ns, "shop", v2)
        evs = self.events(ns, "shop")
        by_msg = {}
        for e in evs:
            by_msg.setdefault((e["reason"], e["message"]), []).append(e)
        self.assertEqual(len(by_msg[("Reconciled", "Created Deployment back")]), 1)
        self.assertEqual(by_msg[("Reconciled", "Created Deployment back")][0]["count"], 2)
        ready = [e for e in evs if e["reason"] == "Ready"]
        self.assertEqual(len(ready), 1, ready)
        self.assertEqual(ready[0]["count"], 3)
        self.assertEqual(op.metric("ho11y_operator_events_total", {"action": "patch"}), 3)
        # The Ready condition really went False and back, so its time moved; Reconciled's
        # status never changed, so its time did not.
        topo3 = self.topology(ns, "shop")
        rec = self.condition(topo3, "Reconciled")
        self.assertEqual(rec["lastTransitionTime"], ltt["Reconciled"])


if __name__ == "__main__":
    unittest.main()
