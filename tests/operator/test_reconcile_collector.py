"""Spec changes that add or remove whole groups of objects: the collector switched to External
(its four objects deleted, the services re-pointed) and back with the user's service account;
spec.load added and removed."""

import unittest

from harness import topology_yaml
from test_reconcile import SpecChangeBase, env_of


class CollectorAndLoadTest(SpecChangeBase):
    def test_collector_mode_and_service_account(self):
        ns = self.ns("collector-mode")
        svcs = [{"name": "web", "calls": [{"service": "db"}]}, {"name": "db"}]
        managed = topology_yaml("shop", ns, svcs)
        self.step(ns, managed)
        self.assertIsNotNone(self.kubectl.get("serviceaccount", "shop-collector", ns))

        # External: the four collector objects go, every service sends to the given host.
        external = topology_yaml("shop", ns, svcs, "collector: {mode: External, external: "
                                                   "{host: otel.obs, grpcPort: 14317}}\n")
        topo, w = self.step(ns, external)
        self.assertEqual(w, [("delete", "configmaps", "shop-collector"),
                             ("delete", "deployments", "shop-collector"),
                             ("delete", "serviceaccounts", "shop-collector"),
                             ("delete", "services", "shop-collector"),
                             ("update", "deployments", "db"), ("update", "deployments", "web")])
        for name in ("web", "db"):
            env = env_of(self.kubectl.get("deployment", name, ns))
            self.assertEqual(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "otel.obs:14317")
        self.assertEqual(topo["status"]["collector"]["endpoint"], "otel.obs:14317")
        self.assertNotIn("configHash", topo["status"]["collector"])

        # Managed again with a service account of the user's: no ServiceAccount is created.
        own_sa = topology_yaml("shop", ns, svcs, "collector: {serviceAccountName: obs-sa}\n")
        topo, w = self.step(ns, own_sa)
        self.assertEqual(w, [("create", "configmaps", None), ("create", "deployments", None),
                             ("create", "services", None), ("update", "deployments", "db"),
                             ("update", "deployments", "web")])
        dep = self.kubectl.get("deployment", "shop-collector", ns)
        self.assertEqual(dep["spec"]["template"]["spec"]["serviceAccountName"], "obs-sa")
        self.assertIsNone(self.kubectl.get("serviceaccount", "shop-collector", ns))

    def test_load_added_and_removed(self):
        ns = self.ns("load")
        svcs = [{"name": "gate", "port": 8080, "calls": [{"service": "db"}]}, {"name": "db"}]
        ext = "collector: {mode: External, external: {host: otel.obs}}\n"
        self.step(ns, topology_yaml("shop", ns, svcs, ext))
        self.assertIsNone(self.kubectl.get("deployment", "shop-load", ns))
        topo, w = self.step(ns, topology_yaml("shop", ns, svcs, ext +
                                              "load: {target: gate, rate: 7}\n"))
        self.assertEqual(w, [("create", "deployments", None)])
        env = env_of(self.kubectl.get("deployment", "shop-load", ns))
        self.assertEqual((env["HO11Y_LOAD_TARGET"], env["HO11Y_LOAD_RATE"]),
                         ("http://gate:8080/", "7"))
        topo, w = self.step(ns, topology_yaml("shop", ns, svcs, ext))
        self.assertEqual(w, [("delete", "deployments", "shop-load")])
        self.assertIsNone(self.kubectl.get("deployment", "shop-load", ns))


if __name__ == "__main__":
    unittest.main()
