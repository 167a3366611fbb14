"""Drift: a deleted child Service, an edited child Deployment (env, a removed label) come back
within a second; what others add or own is left alone: extra labels, and the replicas of a
Deployment whose service leaves replicas unset (an autoscaler's), while replicas the Topology
sets are enforced."""

import time
import unittest

from harness import (OperatorTest, operator_user, scaled, topology_yaml, wait_converged,
                     wait_until, writes)

RESTORE_SECONDS = 1.0


class DriftTest(OperatorTest):
    ready_delay = 0.2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ns_name = "drift"
        cls.kubectl.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: drift}\n")
        cls.text = topology_yaml("shop", "drift", [
            {"name": "web", "calls": [{"service": "cart"}]},
            {"name": "cart", "replicas": 2}])

    def setUp(self):
        self.op = self.start_operator()
        self.addCleanup(lambda: self.stop_operator(self.op))
        self.kubectl.apply(self.text)
        wait_converged(self, "drift", "shop", self.text)

    def get(self, path):
        status, body = self.standin.request("GET", path)
        return body if status == 200 else None

    def restored(self, what, fn):
        """Waits (at most RESTORE_SECONDS, scaled) for fn to hold; returns the seconds taken."""
        t0 = time.monotonic()
        wait_until(fn, RESTORE_SECONDS, 0.02, what)
        return time.monotonic() - t0

    def operator_writes(self, since, resource, name):
        return [r for r in writes(self.standin.requests(since=since), operator_user())
                if r["resource"] == resource and r["path"].endswith("/" + name)]

    def test_deleted_service_restored(self):
        path = "/api/v1/namespaces/drift/services/cart"
        old_uid = self.get(path)["metadata"]["uid"]
        self.kubectl.run("delete", "service", "cart", "-n", "drift", "--wait=false")

        def back():
            svc = self.get(path)
            return svc if svc and svc["metadata"]["uid"] != old_uid else None
        self.restored("service cart to be recreated", back)
        svc = back()
        self.assertEqual(svc["spec"]["selector"], {"app": "cart", "ho11y.dev/topology": "shop"})
        self.assertEqual(svc["metadata"]["ownerReferences"][0]["name"], "shop")
        wait_converged(self, "drift", "shop", self.text)

    def test_edited_env_restored(self):
        path = "/apis/apps/v1/namespaces/drift/deployments/web"
        dep = self.get(path)
        env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
        idx = [e["name"] for e in env].index("OTEL_SERVICE_NAME")
        self.kubectl.run("patch", "deployment", "web", "-n", "drift", "--type=json", "-p",
                         '[{"op":"replace","path":"/spec/template/spec/containers/0/env/%d/value",'
                         '"value":"hijacked"}]' % idx)

        def back():
            d = self.get(path)
            e = d["spec"]["template"]["spec"]["containers"][0]["env"]
            return e == env or None
        self.restored("the env of deployment web to be restored", back)
        wait_converged(self, "drift", "shop", self.text)

    def test_removed_label_restored_foreign_label_kept(self):
        t0 = time.time()
        self.kubectl.run("label", "service", "web", "-n", "drift", "team=payments")
        time.sleep(scaled(1.0))
        self.assertEqual(self.operator_writes(t0, "services", "web"), [],
                         "a label added by someone else is not drift")
        # The managed-by label is what the operator watches by: without it the Service leaves
        # the operator's cache, and it must still be found and repaired.
        self.kubectl.run("label", "service", "web", "-n", "drift",
                         "app.kubernetes.io/managed-by-")

        def back():
            labels = self.get("/api/v1/namespaces/drift/services/web")["metadata"]["labels"]
            return labels if labels.get("app.kubernetes.io/managed-by") == "ho11y-operator" \
                else None
        labels = back() or wait_until(back, RESTORE_SECONDS * 2, 0.02, "the label to return")
        self.assertEqual(labels.get("team"), "payments")
        wait_converged(self, "drift", "shop", self.text)

    def test_rollout_restart_left_alone(self):
        t0 = time.time()
        self.kubectl.run("rollout", "restart", "deployment", "web", "-n", "drift")
        time.sleep(scaled(1.0))
        dep = self.get("/apis/apps/v1/namespaces/drift/deployments/web")
        self.assertIn("kubectl.kubernetes.io/restartedAt",
                      dep["spec"]["template"]["metadata"]["annotations"])
        self.assertEqual(self.operator_writes(t0, "deployments", "web"), [],
                         "the operator undid kubectl rollout restart")
        wait_converged(self, "drift", "shop", self.text)

    def test_unset_replicas_left_to_autoscaler(self):
        # web leaves replicas unset: an autoscaler (here kubectl scale) owns them.
        t0 = time.time()
        self.kubectl.run("scale", "deployment", "web", "-n", "drift", "--replicas=4")

        def scaled_ready():
            t = self.topology("drift", "shop")
            web = t["status"]["services"][0]
            c = self.condition(t, "Ready")
            return t if (web["replicas"], web["readyReplicas"]) == (4, 4) and \
                c["status"] == "True" else None
        wait_until(scaled_ready, 20, 0.1, "status to report web at 4/4 replicas and Ready")
        time.sleep(scaled(2.0))
        dep = self.get("/apis/apps/v1/namespaces/drift/deployments/web")
        self.assertEqual(dep["spec"]["replicas"], 4)
        self.assertEqual(self.operator_writes(t0, "deployments", "web"), [],
                         "the operator fought the autoscaler")
        self.assertEqual(self.operator_writes(t0, "deployments/scale", "scale"), [])

        # A spec change to web updates its Deployment, and still leaves the replicas alone.
        changed = topology_yaml("shop", "drift", [
            {"name": "web", "calls": [{"service": "cart"}], "failure": {"rate": 5}},
            {"name": "cart", "replicas": 2}])
        self.kubectl.apply(changed)
        wait_converged(self, "drift", "shop", changed)
        dep = self.get("/apis/apps/v1/namespaces/drift/deployments/web")
        self.assertEqual(dep["spec"]["replicas"], 4)
        env = {e["name"]: e.get("value")
               for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        self.assertEqual(env["HO11Y_FAILURE_RATE"], "5")
        self.kubectl.apply(self.text)
        wait_converged(self, "drift", "shop", self.text)

        # cart sets replicas: 2, so a change is drift and is undone.
        self.kubectl.run("scale", "deployment", "cart", "-n", "drift", "--replicas=5")
        self.restored("cart's replicas to be set back to 2", lambda: self.get(
            "/apis/apps/v1/namespaces/drift/deployments/cart")["spec"]["replicas"] == 2)
        wait_converged(self, "drift", "shop", self.text)
        # Put web back for the other tests (the Topology does not say how many it wants).
        self.kubectl.run("scale", "deployment", "web", "-n", "drift", "--replicas=1")


if __name__ == "__main__":
    unittest.main()
