"""helm v3 against the stand-in: install (waiting for readiness), upgrade, rollback, uninstall of
the small chart in testdata/chart."""

import json
import os
import unittest

from harness import HERE, ServerTestCase

CHART = os.path.join(HERE, "testdata", "chart")


class HelmTest(ServerTestCase):
    ready_delay = 0.3

    def get(self, *args):
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def test_install_upgrade_rollback_uninstall(self):
        r = self.helm("install", "demo", CHART, "--namespace", "apps", "--create-namespace",
                      "--wait", "--timeout", "60s")
        self.assertIn("STATUS: deployed", r.stdout)
        d = self.get("deployment", "demo", "-n", "apps")
        self.assertEqual(d["status"]["readyReplicas"], 1)
        self.assertEqual(d["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm")
        self.assertEqual(d["metadata"]["annotations"]["meta.helm.sh/release-name"], "demo")
        cm = self.get("configmap", "demo-config", "-n", "apps")
        self.assertEqual(cm["data"], {"message": "hello"})
        svc = self.get("service", "demo", "-n", "apps")
        self.assertTrue(svc["spec"]["clusterIP"].startswith("10."))
        secrets = self.get("secrets", "-n", "apps", "-l", "owner=helm")
        self.assertEqual([s["metadata"]["name"] for s in secrets["items"]],
                         ["sh.helm.release.v1.demo.v1"])
        r = self.helm("list", "-n", "apps", "-o", "json")
        rel = json.loads(r.stdout)
        self.assertEqual([(x["name"], x["revision"], x["status"]) for x in rel],
                         [("demo", "1", "deployed")])

        r = self.helm("upgrade", "demo", CHART, "--namespace", "apps", "--set", "replicas=2",
                      "--set", "message=bye", "--set", "image.tag=1.26", "--wait",
                      "--timeout", "60s")
        self.assertIn("STATUS: deployed", r.stdout)
        d = self.get("deployment", "demo", "-n", "apps")
        self.assertEqual(d["spec"]["replicas"], 2)
        self.assertEqual(d["status"]["readyReplicas"], 2)
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.26")
        self.assertEqual(d["metadata"]["generation"], 2)
        self.assertEqual(self.get("configmap", "demo-config", "-n", "apps")["data"],
                         {"message": "bye"})
        pods = self.get("pods", "-n", "apps", "-l", "app.kubernetes.io/instance=demo")
        self.wait_for(lambda: sorted(p["spec"]["containers"][0]["image"] for p in self.get(
            "pods", "-n", "apps", "-l", "app.kubernetes.io/instance=demo")["items"])
            == ["nginx:1.26", "nginx:1.26"], timeout=20, what="rolled pods")
        self.assertTrue(pods["items"])

        r = self.helm("rollback", "demo", "1", "--namespace", "apps", "--wait",
                      "--timeout", "60s")
        self.assertIn("Rollback was a success", r.stdout)
        self.assertEqual(self.get("configmap", "demo-config", "-n", "apps")["data"],
                         {"message": "hello"})
        self.assertEqual(self.get("deployment", "demo", "-n", "apps")["spec"]["replicas"], 1)
        r = self.helm("history", "demo", "-n", "apps", "-o", "json")
        self.assertEqual([h["status"] for h in json.loads(r.stdout)],
                         ["superseded", "superseded", "deployed"])

        r = self.helm("uninstall", "demo", "--namespace", "apps", "--wait", "--timeout", "60s")
        self.assertIn('release "demo" uninstalled', r.stdout)
        for kind in ("deployment", "service", "configmap", "serviceaccount", "role",
                     "rolebinding"):
            out = self.kubectl("get", kind, "-n", "apps", "-l",
                               "app.kubernetes.io/managed-by=Helm", "-o", "name").stdout
            self.assertEqual(out.strip(), "", kind)
        self.wait_for(lambda: self.kubectl("get", "pods", "-n", "apps", "-o", "name")
                      .stdout.strip() == "", timeout=20, what="pods collected")
        self.assertEqual(self.get("secrets", "-n", "apps", "-l", "owner=helm")["items"], [])


if __name__ == "__main__":
    unittest.main()
