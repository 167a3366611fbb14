"""The real kubectl v1.32 against the stand-in: apply/get/describe/explain/patch/replace/delete,
get -w, wait, server-side apply conflicts, a CRD and its CRs, cascading delete."""

import json
import os
import subprocess
import time
import unittest

from harness import HERE, ServerTestCase, tool

CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels:
    app: demo
data:
  mode: fast
"""

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: nginx:%s
        ports:
        - containerPort: 80
        env:
        - name: MODE
          value: fast
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 80
"""


class KubectlTest(ServerTestCase):
    ready_delay = 0.3

    def test_01_apply_get_describe_patch_replace_delete(self):
        r = self.kubectl("apply", "-f", "-", input=CM)
        self.assertEqual(r.stdout.strip(), "configmap/settings created")
        r = self.kubectl("apply", "-f", "-", input=CM)
        self.assertEqual(r.stdout.strip(), "configmap/settings unchanged")
        r = self.kubectl("apply", "-f", "-", input=CM.replace("fast", "slow"))
        self.assertEqual(r.stdout.strip(), "configmap/settings configured")
        r = self.kubectl("get", "configmap", "settings", "-o", "jsonpath={.data.mode}")
        self.assertEqual(r.stdout, "slow")
        r = self.kubectl("get", "cm")
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "DATA", "AGE"])
        self.assertTrue(any(l.split()[:2] == ["settings", "1"] for l in lines[1:]), r.stdout)
        r = self.kubectl("describe", "configmap", "settings")
        self.assertIn("Name:", r.stdout)
        self.assertIn("app=demo", r.stdout)
        r = self.kubectl("patch", "configmap", "settings", "--type=merge", "-p",
                         '{"data":{"extra":"1"}}')
        self.assertEqual(r.stdout.strip(), "configmap/settings patched")
        r = self.kubectl("patch", "configmap", "settings", "--type=json", "-p",
                         '[{"op":"remove","path":"/data/extra"}]')
        r = self.kubectl("label", "configmap", "settings", "tier=backend")
        self.assertEqual(r.stdout.strip(), "configmap/settings labeled")
        r = self.kubectl("get", "cm", "-l", "tier=backend", "-o", "name")
        self.assertEqual(r.stdout.strip(), "configmap/settings")
        obj = json.loads(self.kubectl("get", "cm", "settings", "-o", "json").stdout)
        obj["data"]["mode"] = "replaced"
        r = self.kubectl("replace", "-f", "-", input=json.dumps(obj))
        self.assertEqual(r.stdout.strip(), "configmap/settings replaced")
        r = self.kubectl("replace", "-f", "-", input=json.dumps(obj), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Operation cannot be fulfilled on configmaps \"settings\": the object has "
                      "been modified", r.stderr)
        r = self.kubectl("apply", "-f", "-", input=CM.replace("settings", "typo").replace(
            "\ndata:", "\ndatas:"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding '
                      'error: unknown field "datas"', r.stderr)
        r = self.kubectl("get", "cm", "nope", check=False)
        self.assertEqual(r.stderr.strip(),
                         'Error from server (NotFound): configmaps "nope" not found')
        r = self.kubectl("delete", "configmap", "settings")
        self.assertEqual(r.stdout.strip(), 'configmap "settings" deleted')
        r = self.kubectl("get", "cm", "settings", "--ignore-not-found")
        self.assertEqual(r.stdout, "")

    def test_02_deployment_rollout_wait_and_cascade(self):
        r = self.kubectl("apply", "-f", "-", input=DEPLOY % "1.25")
        self.assertIn("deployment.apps/web created", r.stdout)
        self.assertIn("service/web created", r.stdout)
        r = self.kubectl("wait", "--for=condition=Available", "deployment/web", "--timeout=20s")
        self.assertEqual(r.stdout.strip(), "deployment.apps/web condition met")
        r = self.kubectl("rollout", "status", "deployment/web", "--timeout=20s")
        self.assertIn("successfully rolled out", r.stdout)
        r = self.kubectl("get", "pods", "-l", "app=web", "--no-headers")
        rows = [l.split() for l in r.stdout.splitlines()]
        self.assertEqual(len(rows), 2, r.stdout)
        for row in rows:
            self.assertEqual(row[1:3], ["1/1", "Running"])
        r = self.kubectl("wait", "--for=condition=Ready", "pod", "-l", "app=web",
                         "--timeout=20s")
        self.assertEqual(len(r.stdout.strip().splitlines()), 2)
        r = self.kubectl("get", "deploy", "web", "--no-headers")
        self.assertEqual(r.stdout.split()[:4], ["web", "2/2", "2", "2"])
        ip = self.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}").stdout
        self.assertRegex(ip, r"^10\.(9[6-9]|1[01][0-9])\.\d+\.\d+$")
        # a template change rolls to a new ReplicaSet
        old_rs = self.kubectl("get", "rs", "-l", "app=web", "-o", "name").stdout.split()
        self.assertEqual(len(old_rs), 1)
        self.kubectl("apply", "-f", "-", input=DEPLOY % "1.26")
        self.kubectl("rollout", "status", "deployment/web", "--timeout=20s")

        def rolled():
            out = self.kubectl("get", "rs", "-l", "app=web", "-o", "json").stdout
            items = json.loads(out)["items"]
            reps = sorted((i["spec"]["replicas"], i["spec"]["template"]["spec"]["containers"][0]
                           ["image"]) for i in items)
            return reps == [(0, "nginx:1.25"), (2, "nginx:1.26")]

        self.wait_for(rolled, timeout=20, what="rollout to the new ReplicaSet")
        self.wait_for(lambda: len(self.kubectl("get", "pods", "-l", "app=web", "-o",
                                               "name").stdout.split()) == 2, timeout=20,
                      what="old pods gone")
        r = self.kubectl("describe", "deployment", "web")
        self.assertIn("NewReplicaSet:", r.stdout)
        self.assertIn("MinimumReplicasAvailable", r.stdout)
        r = self.kubectl("scale", "deployment", "web", "--replicas=3")
        self.assertEqual(r.stdout.strip(), "deployment.apps/web scaled")
        self.wait_for(lambda: self.kubectl("get", "deploy", "web", "-o",
                                           "jsonpath={.status.readyReplicas}").stdout == "3",
                      timeout=20, what="scale to 3")
        # deleting the Deployment cascades to ReplicaSets and Pods (owner references)
        r = self.kubectl("delete", "deployment", "web")
        self.assertEqual(r.stdout.strip(), 'deployment.apps "web" deleted')
        self.wait_for(lambda: self.kubectl("get", "rs,pods", "-l", "app=web", "-o",
                                           "name").stdout.strip() == "", timeout=20,
                      what="cascading delete")
        self.kubectl("delete", "service", "web")

    def test_03_get_watch_sees_changes(self):
        self.kubectl("create", "-f", "-", input=CM.replace("settings", "watched"))
        env = self.env()
        p = subprocess.Popen([tool("kubectl"), "get", "configmap", "watched", "-w",
                              "--output-watch-events"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            time.sleep(1.5)
            self.kubectl("patch", "cm", "watched", "--type=merge", "-p", '{"data":{"a":"1"}}')
            self.kubectl("patch", "cm", "watched", "--type=merge", "-p", '{"data":{"b":"2"}}')
            time.sleep(1.0)
            self.kubectl("delete", "cm", "watched")
            time.sleep(1.0)
        finally:
            p.terminate()
            out, err = p.communicate(timeout=10)
        lines = [l.split()[:3] for l in out.splitlines() if l.strip()]
        self.assertEqual(lines[0], ["EVENT", "NAME", "DATA"], out + err)
        self.assertEqual(lines[1:], [["ADDED", "watched", "1"], ["MODIFIED", "watched", "2"],
                                     ["MODIFIED", "watched", "3"],
                                     ["DELETED", "watched", "3"]], out + err)
        # a table watch on a collection, as kubectl get -w prints it
        p = subprocess.Popen([tool("kubectl"), "get", "configmaps", "-w"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            time.sleep(1.5)
            self.kubectl("create", "-f", "-", input=CM.replace("settings", "late"))
            time.sleep(1.0)
        finally:
            p.terminate()
            out, err = p.communicate(timeout=10)
        rows = [l.split() for l in out.splitlines()]
        self.assertEqual(rows[0], ["NAME", "DATA", "AGE"], out + err)
        self.assertIn("late", [r[0] for r in rows[1:]], out + err)

    def test_04_server_side_apply_conflict(self):
        doc = CM.replace("settings", "ssa")
        r = self.kubectl("apply", "--server-side", "--field-manager=team-a", "-f", "-", input=doc)
        self.assertEqual(r.stdout.strip(), "configmap/ssa serverside-applied")
        r = self.kubectl("apply", "--server-side", "--field-manager=team-b", "-f", "-",
                         input=doc.replace("fast", "slow"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('Apply failed with 1 conflict: conflict with "team-a": .data.mode',
                      r.stderr)
        r = self.kubectl("apply", "--server-side", "--field-manager=team-b", "--force-conflicts",
                         "-f", "-", input=doc.replace("fast", "slow"))
        self.assertEqual(r.stdout.strip(), "configmap/ssa serverside-applied")
        mf = json.loads(self.kubectl("get", "cm", "ssa", "-o", "json",
                                     "--show-managed-fields").stdout)["metadata"]["managedFields"]
        owners = {e["manager"]: e["fieldsV1"] for e in mf}
        self.assertIn("f:mode", owners["team-b"]["f:data"])
        self.assertNotIn("f:data", owners["team-a"])

    def test_05_crd_and_custom_resources(self):
        crd = os.path.join(HERE, "testdata", "widgets-crd.yaml")
        r = self.kubectl("apply", "-f", crd)
        self.assertEqual(r.stdout.strip(),
                         "customresourcedefinition.apiextensions.k8s.io/widgets.example.com "
                         "created")
        self.kubectl("wait", "--for=condition=Established", "crd/widgets.example.com",
                     "--timeout=10s")
        w = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n"
        r = self.kubectl("apply", "-f", "-", input=w)
        self.assertEqual(r.stdout.strip(), "widget.example.com/w1 created")
        obj = json.loads(self.kubectl("get", "wd", "w1", "-o", "json").stdout)
        self.assertEqual(obj["spec"], {"size": 3, "color": "red"})  # default applied
        r = self.kubectl("get", "widgets")
        rows = [l.split() for l in r.stdout.splitlines()]
        self.assertEqual(rows[0], ["NAME", "SIZE", "COLOR", "AGE"])
        self.assertEqual(rows[1][:3], ["w1", "3", "red"])
        bad = w.replace("w1", "w2").replace("size: 3", "size: 500")
        r = self.kubectl("apply", "-f", "-", input=bad, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('The Widget "w2" is invalid: spec.size: Invalid value: 500: spec.size in '
                      "body should be less than or equal to 100", r.stderr)
        typo = w.replace("w1", "w3").replace("size: 3", "size: 3\n  colour: red")
        r = self.kubectl("apply", "-f", "-", input=typo, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('unknown field "spec.colour"', r.stderr)
        r = self.kubectl("explain", "widget.spec")
        self.assertIn("KIND:       Widget", r.stdout)
        self.assertIn("size", r.stdout)
        self.assertIn("Number of parts.", r.stdout)
        r = self.kubectl("patch", "widget", "w1", "--type=merge", "--subresource=status", "-p",
                         '{"status":{"conditions":[{"type":"Ready","status":"True",'
                         '"observedGeneration":1}]}}')
        r = self.kubectl("wait", "--for=condition=Ready", "widget/w1", "--timeout=10s")
        self.assertEqual(r.stdout.strip(), "widget.example.com/w1 condition met")
        r = self.kubectl("get", "all", "-o", "name")
        self.assertIn("widget.example.com/w1", r.stdout)
        self.kubectl("delete", "-f", crd)
        self.wait_for(lambda: self.kubectl("get", "crd", "-o", "name").stdout.strip() == "",
                      timeout=15, what="CRD deletion")

    def test_06_namespaces_and_events(self):
        r = self.kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata:\n"
                                                   "  name: team\n")
        self.assertEqual(r.stdout.strip(), "namespace/team created")
        self.kubectl("apply", "-n", "team", "-f", "-", input=CM)
        r = self.kubectl("get", "ns", "team", "--no-headers")
        self.assertEqual(r.stdout.split()[:2], ["team", "Active"])
        r = self.kubectl("delete", "namespace", "team", "--timeout=20s")
        self.assertEqual(r.stdout.strip(), 'namespace "team" deleted')
        r = self.kubectl("get", "ns", "team", check=False)
        self.assertIn('namespaces "team" not found', r.stderr)

    def _chunked_get(self, ns, output, churn):
        """kubectl get configmaps --chunk-size=3 in ns, churn() run while kubectl waits for its
        second page (every page of the list is delayed 1.5 s): (stdout, stderr)."""
        rule = self.server.hook("POST", "faults", {
            "latency": 1.5, "verb": "list", "resource": "configmaps",
            "path": "^/api/v1/namespaces/%s/configmaps$" % ns})
        p = subprocess.Popen([tool("kubectl"), "get", "configmaps", "-n", ns, "--chunk-size=3",
                              "-v=6"] + output, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=self.env())
        try:
            def second_page_asked():
                rules = self.server.hook("GET", "status")["rules"]
                return [r["hits"] for r in rules if r["id"] == rule["id"]][0] >= 2
            self.wait_for(second_page_asked, timeout=30, what="kubectl's second page")
            t0 = time.monotonic()
            churn()
            took = time.monotonic() - t0
            out, err = p.communicate(timeout=60)
        finally:
            self.server.hook("DELETE", "faults")
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.assertEqual(p.returncode, 0, err)
        # the changes were all made before the second page was read
        self.assertLess(took, 1.0)
        return out, err

    def test_07_chunked_get_is_one_snapshot(self):
        # kubectl get --chunk-size pages with limit/continue; the server answers every page
        # from the data as of the first, whatever changes between pages.
        self.kubectl("create", "namespace", "chunks")
        P = "/api/v1/namespaces/chunks/configmaps"
        for i in range(8):
            r = self.c.post(P, {"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "c%d" % i}, "data": {"a": "1"}})
            self.assertEqual(r.status, 201, r)

        def snapshot():
            return [(i["metadata"]["name"], i["metadata"]["resourceVersion"],
                     str(len(i.get("data") or {}))) for i in self.c.get(P).json["items"]]

        round_ = [0]

        def churn():
            # c1 and c2 (already read) and c5, c7 (still to come) change, c6 goes, c4a comes
            n = round_[0] = round_[0] + 1
            for name in ("c1", "c5", "c7"):
                self.c.patch(P + "/" + name, {"data": {"b%d" % n: "2"}})
            self.c.delete(P + "/" + ("c6" if n == 1 else "c4"))
            self.c.post(P, {"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "c4a%d" % n}})

        # the JSON list (-o custom-columns): names and resourceVersions as of the first page
        want = snapshot()
        self.assertEqual(len(want), 9)  # and kube-root-ca.crt: 3 pages of 3
        out, err = self._chunked_get("chunks", [
            "-o", "custom-columns=NAME:.metadata.name,RV:.metadata.resourceVersion",
            "--no-headers"], churn)
        self.assertEqual([l.split() for l in out.splitlines()], [[n, rv] for n, rv, _ in want],
                         err)
        gets = [l for l in err.splitlines() if "GET " in l and "/namespaces/chunks/configmaps?" in l]
        self.assertEqual(len(gets), 3, err)
        self.assertIn("limit=3", gets[0])
        self.assertNotIn("continue=", gets[0])
        for line in gets[1:]:
            self.assertIn("continue=", line)
            self.assertIn(" 200 OK", line)
        # the Table kubectl prints by default: DATA counts as of the first page too
        want = snapshot()
        out, err = self._chunked_get("chunks", ["--no-headers"], churn)
        self.assertEqual([l.split()[:2] for l in out.splitlines()], [[n, d] for n, _, d in want],
                         err)
        self.assertNotIn("c4a2", out)
        self.assertIn("c4a2", [n for n, _, _ in snapshot()])


if __name__ == "__main__":
    unittest.main()
