"""Spec changes reach the children: a service added, one removed, replicas, failure rate, calls
and the collector's exporters changed; each step converges to exactly what `ho11yctl render`
prints for the new spec, with writes only to the objects that changed. A collector config
change rolls the collector's pods (the config-hash annotation changes)."""

import time
import unittest

from harness import (OperatorTest, operator_user, topology_yaml, wait_converged, wait_until,
                     writes)

HASH_KEY = "ho11y.dev/config-hash"


def child_writes(standin, since):
    """(verb, resource, name) of the operator's writes to children since the given time."""
    out = []
    for r in writes(standin.requests(since=since), operator_user()):
        if r["resource"] in ("events", "topologies/status"):
            continue
        name = r["path"].rsplit("/", 1)[1] if r["verb"] != "create" else None
        out.append((r["verb"], r["resource"], name))
    return sorted(out, key=lambda w: (w[0], w[1], w[2] or ""))


def env_of(deployment):
    c = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in c.get("env") or ()}


class SpecChangeBase(OperatorTest):
    """One operator per test; step() applies a spec and waits for convergence."""

    ready_delay = 0.2

    def setUp(self):
        # One operator per test: two without leader election would both reconcile.
        self.op = self.start_operator()
        self.addCleanup(lambda: self.stop_operator(self.op))

    def step(self, ns, text):
        """Applies text and waits until the Topology converged on it; returns the Topology."""
        t0 = time.time()
        self.kubectl.apply(text)
        wait_converged(self, ns, "shop", text)
        # The operator's writes for one change are done by the time it reports Ready; let the
        # stand-in log settle before counting.
        time.sleep(0.3)
        return self.topology(ns, "shop"), child_writes(self.standin, t0)


class SpecChangeTest(SpecChangeBase):
    def test_spec_changes_follow(self):
        ns = self.ns("spec-changes")
        collector = "collector:\n  exporters: {awsxray: {enabled: true}}\n"
        web = {"name": "web", "calls": [{"service": "cart"}]}
        v1 = topology_yaml("shop", ns, [web, {"name": "cart"}], collector)
        topo, _ = self.step(ns, v1)
        self.assertEqual(topo["status"]["readyServices"], "2/2")
        first_hash = topo["status"]["collector"]["configHash"]

        # A service added and called: its Deployment and Service are created, the caller's
        # Deployment is updated (DOWNSTREAM1), nothing else is written.
        web = {"name": "web", "calls": [{"service": "cart"}, {"service": "pay"}]}
        v2 = topology_yaml("shop", ns, [web, {"name": "cart"}, {"name": "pay", "port": 8080}],
                           collector)
        topo, w = self.step(ns, v2)
        self.assertEqual(w, [("create", "deployments", None), ("create", "services", None),
                             ("update", "deployments", "web")])
        self.assertEqual(topo["status"]["readyServices"], "3/3")
        self.assertEqual([s["name"] for s in topo["status"]["services"]], ["web", "cart", "pay"])
        env = env_of(self.kubectl.get("deployment", "web", ns))
        self.assertEqual((env["DOWNSTREAM0"], env["DOWNSTREAM1"]),
                         ("http://cart", "http://pay:8080"))

        # A service removed: its Deployment and Service are deleted (the garbage is ours).
        web = {"name": "web", "calls": [{"service": "pay"}]}
        v3 = topology_yaml("shop", ns, [web, {"name": "pay", "port": 8080}], collector)
        topo, w = self.step(ns, v3)
        self.assertEqual(w, [("delete", "deployments", "cart"), ("delete", "services", "cart"),
                             ("update", "deployments", "web")])
        self.assertIsNone(self.kubectl.get("deployment", "cart", ns))
        self.assertIsNone(self.kubectl.get("service", "cart", ns))
        self.assertEqual([s["name"] for s in topo["status"]["services"]], ["web", "pay"])
        self.assertNotIn("DOWNSTREAM1", env_of(self.kubectl.get("deployment", "web", ns)))

        # Replicas: the Deployment follows and the status reports every replica ready.
        web["replicas"] = 3
        v4 = topology_yaml("shop", ns, [web, {"name": "pay", "port": 8080}], collector)
        topo, w = self.step(ns, v4)
        self.assertEqual(w, [("update", "deployments", "web")])
        self.assertEqual(self.kubectl.get("deployment", "web", ns)["spec"]["replicas"], 3)
        svc = topo["status"]["services"][0]
        self.assertEqual((svc["name"], svc["replicas"], svc["readyReplicas"]), ("web", 3, 3))

        # Failure rate and a different call list.
        web["failure"] = {"rate": 25, "codes": [503]}
        web["calls"] = [{"service": "pay"}, {"url": "https://example.com/x"}]
        v5 = topology_yaml("shop", ns, [web, {"name": "pay", "port": 8080}], collector)
        topo, w = self.step(ns, v5)
        self.assertEqual(w, [("update", "deployments", "web")])
        env = env_of(self.kubectl.get("deployment", "web", ns))
        self.assertEqual((env["HO11Y_INJECT_FAILURE"], env["HO11Y_FAILURE_RATE"],
                          env["HO11Y_FAILURE_CODES"], env["DOWNSTREAM1"]),
                         ("enabled", "25", "503", "https://example.com/x"))
        self.assertEqual(topo["status"]["collector"]["configHash"], first_hash)

        # Collector exporters: the ConfigMap changes, and so does the config-hash annotation of
        # the collector's pod template, so its pods are replaced.
        old_pods = self.collector_pods(ns)
        self.assertTrue(old_pods)
        self.assertEqual({p["metadata"]["annotations"][HASH_KEY] for p in old_pods},
                         {first_hash})
        collector = ("collector:\n  exporters:\n    awsxray: {enabled: true}\n"
                     "    debug: {enabled: true}\n    otlp: {endpoint: 'tempo.obs:4317'}\n")
        v6 = topology_yaml("shop", ns, [web, {"name": "pay", "port": 8080}], collector)
        topo, w = self.step(ns, v6)
        self.assertEqual(w, [("update", "configmaps", "shop-collector"),
                             ("update", "deployments", "shop-collector")])
        new_hash = topo["status"]["collector"]["configHash"]
        self.assertNotEqual(new_hash, first_hash)
        config = self.kubectl.get("configmap", "shop-collector", ns)["data"]["config.yaml"]
        for text in ("debug", "tempo.obs:4317", "awsxray"):
            self.assertIn(text, config)
        dep = self.kubectl.get("deployment", "shop-collector", ns)
        self.assertEqual(dep["spec"]["template"]["metadata"]["annotations"][HASH_KEY], new_hash)

        def rolled():
            pods = self.collector_pods(ns)
            hashes = {p["metadata"]["annotations"].get(HASH_KEY) for p in pods}
            ready = all(p.get("status", {}).get("phase") == "Running" for p in pods)
            return pods if hashes == {new_hash} and ready else None
        new_pods = wait_until(rolled, 30, 0.2, "the collector's pods to roll")
        self.assertFalse({p["metadata"]["name"] for p in new_pods} &
                         {p["metadata"]["name"] for p in old_pods})

        # The Topology went through every step with one Reconciled condition transition.
        rec = self.condition(topo, "Reconciled")
        self.assertEqual((rec["status"], rec["observedGeneration"]),
                         ("True", topo["metadata"]["generation"]))

    def collector_pods(self, ns):
        items = self.kubectl.json("get", "pods", "-n", ns, "-l", "app=shop-collector")["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def test_change_summarised_in_one_event(self):
        ns = self.ns("spec-events")
        v1 = topology_yaml("shop", ns, [{"name": "a", "calls": [{"service": "b"}]},
                                        {"name": "b"}])
        self.step(ns, v1)
        v2 = topology_yaml("shop", ns, [{"name": "a", "calls": [{"service": "c"}]},
                                        {"name": "c"}])
        self.step(ns, v2)
        msgs = [e["message"] for e in self.events(ns, "shop") if e["reason"] == "Reconciled"]
        self.assertEqual(len(msgs), 2, msgs)
        self.assertIn("Created 1 Deployment, 1 Service; updated 1 Deployment; "
                      "deleted 1 Deployment, 1 Service", msgs)


if __name__ == "__main__":
    unittest.main()
