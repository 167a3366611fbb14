"""The main user story, end to end, against the API server stand-in with RBAC enforced:
`helm install` the chart; run the operator as the chart's ServiceAccount with the chart's args
and env, the way the kubelet runs the pod (in-cluster configuration, two replicas, probes);
`kubectl apply -f examples/xray-sample.yaml`; `kubectl wait` for Ready; `kubectl get pods -w`
sees the simulated pods; every object checked against `ho11yctl render`; edits of the Topology
that need every permission of the chart (and no other); `helm upgrade` with changed values and
their effect; `helm uninstall`, then deleting the Topology collects its children. Also the
namespace-scoped mode (watchNamespace)."""

import json
import os
import re
import subprocess
import threading
import time
import unittest

import e2elib
from e2elib import CHART, EXAMPLES, find

NS = "ho11y-system"
RELEASE = "ho11y-operator"
APP = "example-app"
SA_USER = "system:serviceaccount:%s:%s" % (NS, RELEASE)
CHILD_KINDS = "deployments,services,configmaps,serviceaccounts"
MANAGED = "app.kubernetes.io/managed-by=ho11y-operator"
OWNER_REFS = "OwnerReferencesPermissionEnforcement"
SAMPLE = os.path.join(EXAMPLES, "xray-sample.yaml")
# kubectl verbs of the request log for the HTTP methods the operator sends.
VERB_OF = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def quantity_bytes(q):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", q)
    return int(m.group(1)) * {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}[m.group(2)]


class PodWatch:
    """`kubectl get pods -w` in the background, as a user runs it, with a time limit."""

    def __init__(self, cluster, namespace, limit):
        self.lines = []
        self.proc = subprocess.Popen([e2elib.tool("kubectl"), "get", "pods", "-n", namespace,
                                      "-w", "--request-timeout=%ds" % limit],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=cluster.env())
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def running(self):
        """{pod name: line} of the rows that show a pod Running and 1/1 ready."""
        out = {}
        for line in list(self.lines):
            f = line.split()
            if len(f) >= 3 and f[1] == "1/1" and f[2] == "Running":
                out[f[0]] = line
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


class OperatorOnCluster(e2elib.ClusterTestCase):
    """Helpers: the release's rendered objects, its pods run as processes, the request log.
    The cluster enforces RBAC and owner-reference permissions (as OpenShift does)."""

    rbac = True
    admission_plugins = OWNER_REFS

    def setUp(self):
        self.pods = []

    def tearDown(self):
        for p in self.pods:
            p.kill()

    def manifest(self):
        """The objects of the installed release, from `helm get manifest`."""
        text = self.cluster.helm("get", "manifest", RELEASE, "-n", NS).stdout
        return self.cluster.objects(text)

    def start_pods(self, deployment):
        """Starts one operator process per Running pod of the Deployment's current ReplicaSet
        (the stand-in simulates the pods; the processes are their containers)."""
        c = self.cluster
        c.kubectl("rollout", "status", "deployment/" + deployment["metadata"]["name"], "-n", NS,
                  "--timeout=60s")
        sel = ",".join("%s=%s" % kv for kv in
                       deployment["spec"]["selector"]["matchLabels"].items())
        want = deployment["spec"]["replicas"]
        rs = [r for r in c.kubectl_json("get", "replicasets", "-n", NS, "-l", sel)["items"]
              if r["spec"].get("replicas")]
        self.assertEqual(len(rs), 1, "one active ReplicaSet expected")
        h = rs[0]["metadata"]["labels"]["pod-template-hash"]

        def pods():
            items = c.kubectl_json("get", "pods", "-n", NS, "-l",
                                   sel + ",pod-template-hash=" + h)["items"]
            items = [p for p in items if not p["metadata"].get("deletionTimestamp")]
            return items if len(items) == want else None

        out = []
        for p in c.wait_for(pods, 30, "%d pods of %s" % (want, h)):
            pod = e2elib.Pod(c, deployment, p["metadata"]["name"], self.tmp).start()
            self.pods.append(pod)
            out.append(pod)
        for pod in out:
            c.wait_for(lambda: pod.probe("readinessProbe") or
                       (not pod.running() and self.fail("operator exited:\n" + pod.log())),
                       60, "the readiness probe of " + pod.pod_name)
            self.assertTrue(pod.probe("livenessProbe"))
        return out

    def stop_pods(self, pods):
        for p in pods:
            self.assertEqual(p.stop(), 0, "exit status on SIGTERM; log:\n" + p.log()[-3000:])
            self.assertIn("Shut down cleanly", p.log())

    def leader(self, pods):
        def one():
            lead = [p for p in pods if p.metric("leader_election_master_status") == 1]
            return lead[0] if len(lead) == 1 else None
        return self.cluster.wait_for(one, 30, "exactly one leader")

    def identity(self, pod):
        m = re.search(r"Starting ho11y-operator \S+ as (\S+) against", pod.log())
        self.assertIsNotNone(m, pod.log())
        return m.group(1)

    def requests(self, user=SA_USER):
        return [r for r in self.cluster.server.requests() if r.get("user") == user]

    def wait_ready(self, ns, name, timeout="60s"):
        self.cluster.kubectl("wait", "--for=condition=Ready", "topology/" + name, "-n", ns,
                             "--timeout=" + timeout)
        t = self.cluster.kubectl_json("get", "topology", name, "-n", ns)
        self.assertEqual(t["status"]["observedGeneration"], t["metadata"]["generation"])
        return t

    def wait_generation_ready(self, ns, name):
        """Waits for Ready of the Topology's current generation (kubectl wait may see the
        condition of the previous one)."""
        c = self.cluster

        def ready():
            t = c.kubectl_json("get", "topology", name, "-n", ns)
            conds = {x["type"]: x for x in t.get("status", {}).get("conditions") or []}
            r = conds.get("Ready")
            return (t if r and r["status"] == "True" and
                    r.get("observedGeneration") == t["metadata"]["generation"] else None)
        return c.wait_for(ready, 60, "Ready of the current generation of %s/%s" % (ns, name))

    def children(self, ns):
        items = self.cluster.kubectl_json("get", CHILD_KINDS, "-n", ns, "-l", MANAGED)["items"]
        return {(o["kind"], o["metadata"]["name"]): o for o in items}

    def render(self, text, generator_image, collector_image=None):
        args = [e2elib.bin_path("ho11yctl"), "render", "-", "-o", "json",
                "--generator-image", generator_image]
        if collector_image:
            args += ["--collector-image", collector_image]
        r = subprocess.run(args, input=text, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["items"]

    def check_children(self, ns, topo, rendered):
        """The live children are exactly the rendered objects, owned by the Topology."""
        live = self.children(ns)
        e2elib.harness.check_children(self, live, rendered, topo)
        return live


def arg(container, flag):
    vals = [a.split("=", 1)[1] for a in container["args"] if a.startswith(flag + "=")]
    return vals[-1] if vals else None


class InstallTest(OperatorOnCluster):
    def test_install_use_upgrade_uninstall(self):
        c = self.cluster
        # ---- helm install (two replicas: one leads, one waits) ---------------------------------
        r = c.helm("install", RELEASE, CHART, "-n", NS, "--create-namespace",
                   "--set", "replicaCount=2", "--wait", "--timeout", "60s")
        self.assertIn("STATUS: deployed", r.stdout)
        self.assertIn("kubectl apply -f examples/xray-sample.yaml", r.stdout)
        objs = self.manifest()
        dep = find(objs, "Deployment", RELEASE)
        self.assertEqual(dep["spec"]["replicas"], 2)
        container = e2elib.container_of(dep)
        self.assertIn("--leader-elect=true", container["args"])
        gen_image = arg(container, "--generator-image")
        self.assertEqual(gen_image, "ho11y-operator:" + e2elib.project_version())
        pods = self.start_pods(dep)
        for p in pods:
            self.assertIn("(in-cluster)", p.log())
        lead = self.leader(pods)
        lease = c.kubectl_json("get", "lease", RELEASE + "-leader", "-n", NS)
        self.assertEqual(lease["spec"]["holderIdentity"], self.identity(lead))

        # ---- kubectl apply the sample, watch the pods, wait for Ready --------------------------
        r = c.kubectl("apply", "-f", SAMPLE)
        self.assertIn("namespace/example-app created", r.stdout)
        self.assertIn("topology.ho11y.dev/xray-sample created", r.stdout)
        watch = PodWatch(c, APP, 60)
        try:
            topo = self.wait_ready(APP, "xray-sample")
            deployments = ["frontend", "downstream0", "downstream1", "xray-sample-collector"]
            seen = c.wait_for(lambda: (lambda run: run if all(
                any(n.startswith(d + "-") for n in run) for d in deployments) else None)(
                    watch.running()), 30, "kubectl get pods -w to show every pod Running")
        finally:
            watch.stop()
        self.assertEqual(len(seen), 4, "\n".join(watch.lines))
        self.assertEqual(watch.lines[0].split()[:3], ["NAME", "READY", "STATUS"])
        out = c.kubectl("get", "topology", "-n", APP).stdout
        self.assertRegex(out, r"(?m)^xray-sample\s+3/3\s+Ready\s")

        # ---- every object ------------------------------------------------------------------
        with open(SAMPLE) as f:
            sample = f.read()
        rendered = self.render(sample, gen_image)
        live = self.check_children(APP, topo, rendered)
        self.assertEqual(sorted(k for k, _ in live), ["ConfigMap"] + ["Deployment"] * 4 +
                         ["Service"] * 4 + ["ServiceAccount"])
        for name in deployments:
            d = live[("Deployment", name)]
            self.assertEqual(d["status"]["readyReplicas"], 1)
            (ctr,) = d["spec"]["template"]["spec"]["containers"]
            if name != "xray-sample-collector":
                self.assertEqual(ctr["image"], gen_image)
        st = topo["status"]
        self.assertEqual(st["readyServices"], "3/3")
        self.assertEqual([s["name"] for s in st["services"]],
                         ["frontend", "downstream0", "downstream1"])
        self.assertEqual(st["collector"]["endpoint"], "xray-sample-collector:4317")
        events = c.kubectl_json("get", "events", "-n", APP)["items"]
        self.assertEqual(sorted(e["reason"] for e in events
                                if e["involvedObject"]["name"] == "xray-sample"),
                         ["Ready", "Reconciled"])
        reqs = self.requests()
        self.assertEqual([r for r in reqs if r["code"] in (401, 403)], [])
        # The chart's memory request covers the operator's peak RSS (measured on the plain
        # build: a sanitizer's shadow memory is not the operator's).
        request = quantity_bytes(container["resources"]["requests"]["memory"])
        if not e2elib.sanitized(e2elib.bin_path("ho11y-operator")):
            for p in pods:
                self.assertLess(p.rss_bytes(), request, "peak RSS of %s" % p.pod_name)

        # ---- drift: a user deletes a child; the operator makes it again ----------------------
        old_uid = live[("Service", "downstream0")]["metadata"]["uid"]
        c.kubectl("delete", "service", "downstream0", "-n", APP)

        def recreated():
            r = c.kubectl("get", "service", "downstream0", "-n", APP, "-o", "json", check=False)
            return r.returncode == 0 and json.loads(r.stdout)["metadata"]["uid"] != old_uid
        c.wait_for(recreated, 30, "the operator to create Service downstream0 again")

        # ---- fail-over: the leader's pod goes away, the other takes the lease ----------------
        self.stop_pods([lead])
        rest = [p for p in pods if p is not lead]
        self.leader(rest)
        lease = c.kubectl_json("get", "lease", RELEASE + "-leader", "-n", NS)
        self.assertEqual(lease["spec"]["holderIdentity"], self.identity(rest[0]))
        self.assertGreaterEqual(lease["spec"].get("leaseTransitions", 0), 1)

        # ---- helm upgrade: debug logs and another generator image -------------------------------
        new_image = "registry.example.com/ho11y:2"
        r = c.helm("upgrade", RELEASE, CHART, "-n", NS, "--reuse-values", "--set",
                   "logLevel=debug", "--set", "generator.image=" + new_image, "--wait",
                   "--timeout", "60s")
        self.assertIn("STATUS: deployed", r.stdout)
        self.assertIn("REVISION: 2", r.stdout)
        dep2 = find(self.manifest(), "Deployment", RELEASE)
        c2 = e2elib.container_of(dep2)
        self.assertEqual(arg(c2, "--log-level"), "debug")
        self.assertEqual(arg(c2, "--generator-image"), new_image)
        # The kubelet replaces the pods: old containers get SIGTERM, new ones start.
        self.stop_pods(rest)
        pods = self.start_pods(dep2)
        self.leader(pods)

        def rolled():
            ds = c.kubectl_json("get", "deployments", "-n", APP, "-l", MANAGED)["items"]
            imgs = {d["metadata"]["name"]:
                    d["spec"]["template"]["spec"]["containers"][0]["image"] for d in ds}
            return imgs if all(imgs[n] == new_image for n in deployments[:3]) else None
        imgs = c.wait_for(rolled, 60, "the generator Deployments to use " + new_image)
        self.assertNotEqual(imgs["xray-sample-collector"], new_image)
        topo = self.wait_generation_ready(APP, "xray-sample")
        self.check_children(APP, topo, self.render(sample, new_image))
        debug = [ln for p in pods for ln in p.log_lines() if ln.get("level") == "debug"]
        self.assertTrue(debug, "no debug line after the upgrade to logLevel=debug")
        for p in pods:
            for ln in p.log_lines():
                self.assertIn("level", ln, "not a JSON log line: %r" % ln)

        # ---- edits that need the remaining permissions -----------------------------------------
        # A foreign object in the way of a new service: create answers 409, the operator reads
        # the object (get), reports NameConflict (and repeats the event: patch).
        c.kubectl("create", "-n", APP, "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "downstream2"},
            "spec": {"ports": [{"port": 80}], "selector": {"app": "other"}}}))
        topo = c.kubectl_json("get", "topology", "xray-sample", "-n", APP)
        services = topo["spec"]["services"]
        services.append({"name": "downstream2"})
        services[0]["calls"].append({"service": "downstream2"})
        c.kubectl("patch", "topology", "xray-sample", "-n", APP, "--type=merge", "-p",
                  json.dumps({"spec": {"services": services}}))

        seen = {}

        def conflict():
            t = c.kubectl_json("get", "topology", "xray-sample", "-n", APP)
            conds = {x["type"]: x for x in t["status"].get("conditions") or []}
            seen["status"] = t["status"]
            return conds["Reconciled"] if conds["Reconciled"]["reason"] == "NameConflict" \
                else None
        try:
            cond = c.wait_for(conflict, 30, "Reconciled=False NameConflict")
        except AssertionError as e:
            self.fail("%s; status: %s; leader's log:\n%s" % (
                e, json.dumps(seen.get("status")), self.leader(pods).log()[-4000:]))
        self.assertIn("downstream2", cond["message"])
        foreign = c.kubectl_json("get", "service", "downstream2", "-n", APP)
        self.assertNotIn("ownerReferences", foreign["metadata"])
        c.kubectl("delete", "service", "downstream2", "-n", APP)
        topo = self.wait_generation_ready(APP, "xray-sample")
        self.assertEqual(topo["status"]["readyServices"], "4/4")
        # Updates of every child kind: a service port (Service), the IRSA role and the debug
        # exporter (ServiceAccount, ConfigMap, and the collector Deployment's config hash).
        services = topo["spec"]["services"]
        services[3]["port"] = 8080
        c.kubectl("patch", "topology", "xray-sample", "-n", APP, "--type=merge", "-p",
                  json.dumps({"spec": {"services": services, "collector": {
                      "region": "eu-west-1",
                      "roleArn": "arn:aws:iam::111122223333:role/ho11y-xray",
                      "exporters": {"debug": {"enabled": True}}}}}))
        topo = self.wait_generation_ready(APP, "xray-sample")
        live = self.check_children(APP, topo, self.render(json.dumps(topo), new_image))
        self.assertEqual(live[("ServiceAccount", "xray-sample-collector")]["metadata"]
                         ["annotations"]["eks.amazonaws.com/role-arn"],
                         "arn:aws:iam::111122223333:role/ho11y-xray")
        self.assertEqual(live[("Service", "downstream2")]["spec"]["ports"][0]["port"], 8080)
        self.assertIn("debug", live[("ConfigMap", "xray-sample-collector")]["data"]
                      ["config.yaml"])
        # Deletes of every child kind: an External collector and one service fewer.
        services = topo["spec"]["services"][:3]
        services[0]["calls"] = [x for x in services[0]["calls"]
                                if x.get("service") != "downstream2"]
        c.kubectl("patch", "topology", "xray-sample", "-n", APP, "--type=merge", "-p",
                  json.dumps({"spec": {"services": services, "collector": {
                      "mode": "External", "external": {"host": "adot-collector.adot-col"}}}}))
        topo = self.wait_generation_ready(APP, "xray-sample")
        live = self.check_children(APP, topo, self.render(json.dumps(topo), new_image))
        self.assertEqual(sorted(live), sorted([("Deployment", n) for n in deployments[:3]] +
                                              [("Service", n) for n in deployments[:3]]))

        # Every permission of the chart was used, and nothing it lacks was tried. A permission
        # is used by a request to it, or when the API server checked it for a request and it
        # was needed: the stand-in logs the checks of OwnerReferencesPermissionEnforcement
        # (update on topologies/finalizers, for each child's blocking ownerReference).
        reqs = self.requests()
        self.assertEqual([r for r in reqs if r["code"] in (401, 403)], [])
        used = {}
        for r in reqs:
            used.setdefault(r["resource"], set()).add(r["verb"])
            for a in r.get("admission") or []:
                if a["allowed"]:
                    used.setdefault(a["resource"], set()).add(a["verb"])
        checked = {(a["verb"], a["group"], a["resource"]) for r in reqs
                   for a in r.get("admission") or [] if a["allowed"]}
        self.assertIn(("update", "ho11y.dev", "topologies/finalizers"), checked)
        for role in [o for o in objs if o["kind"] in ("ClusterRole", "Role")]:
            for rule in role["rules"]:
                for res in rule["resources"]:
                    for verb in rule["verbs"]:
                        self.assertIn(verb, used.get(res, set()),
                                      "%s %s: %s granted but never used" % (
                                          role["kind"], role["metadata"]["name"], verb + " " +
                                          res))

        # ---- helm uninstall: the operator goes, the Topology and its objects stay -------------
        r = c.helm("uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "60s")
        self.assertIn('release "ho11y-operator" uninstalled', r.stdout)
        self.stop_pods(pods)
        left = c.kubectl("get", "deployments,services,serviceaccounts,roles,rolebindings",
                         "-n", NS, "-l", "app.kubernetes.io/instance=" + RELEASE, "-o",
                         "name").stdout.split()
        self.assertEqual(left, [])
        left = c.kubectl("get", "clusterroles,clusterrolebindings", "-l",
                         "app.kubernetes.io/instance=" + RELEASE, "-o", "name").stdout.split()
        self.assertEqual(left, [])
        c.kubectl("get", "crd", "topologies.ho11y.dev")  # kept (helm.sh/resource-policy)
        self.assertEqual(len(self.children(APP)), 6)
        # Deleting the Topology now: garbage collection removes what it owned, down to the pods.
        c.kubectl("delete", "topology", "xray-sample", "-n", APP, "--timeout=60s")

        def collected():
            left = c.kubectl("get", CHILD_KINDS + ",replicasets,pods", "-n", APP, "-o",
                             "name").stdout.split()
            # Every namespace has these two; nothing else may remain.
            left = [x for x in left if x not in ("serviceaccount/default",
                                                 "configmap/kube-root-ca.crt")]
            self.last_left = left
            return not left or None
        try:
            c.wait_for(collected, 30, "the Topology's children to be collected")
        except AssertionError:
            self.fail("left after deleting the Topology: %s" % self.last_left)


class WatchNamespaceTest(OperatorOnCluster):
    def test_watch_one_namespace(self):
        c = self.cluster
        c.kubectl("create", "namespace", "team-a")
        r = c.helm("install", RELEASE, CHART, "-n", NS, "--create-namespace",
                   "--set", "watchNamespace=team-a", "--wait", "--timeout", "60s")
        self.assertIn("watching Topologies in namespace team-a only", r.stdout)
        objs = self.manifest()
        self.assertEqual([o["kind"] for o in objs if o["kind"].startswith("Cluster")
                          and o["kind"] != "CustomResourceDefinition"], [])
        dep = find(objs, "Deployment", RELEASE)
        self.assertEqual(arg(e2elib.container_of(dep), "--namespace"), "team-a")
        (pod,) = self.start_pods(dep)
        self.leader([pod])
        with open(SAMPLE) as f:
            sample = f.read()
        c.kubectl("apply", "-f", "-", input=sample.replace("namespace: example-app",
                                                           "namespace: team-a"))
        c.kubectl("apply", "-f", SAMPLE)
        topo = self.wait_ready("team-a", "xray-sample")
        self.check_children("team-a", topo, self.render(
            sample.replace("namespace: example-app", "namespace: team-a"),
            arg(e2elib.container_of(dep), "--generator-image")))
        # The Topology in example-app is none of this operator's business.
        time.sleep(1)
        other = c.kubectl_json("get", "topology", "xray-sample", "-n", APP)
        self.assertNotIn("status", other)
        self.assertEqual(self.children(APP), {})
        reqs = self.requests()
        self.assertTrue(reqs)
        self.assertEqual([r for r in reqs if r["code"] in (401, 403)], [])
        outside = [r["path"] for r in reqs if not
                   re.match(r"^/apis?/[^?]*/namespaces/(team-a|%s)/" % NS, r["path"])]
        self.assertEqual(outside, [])
        c.helm("uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "60s")
        self.stop_pods([pod])


if __name__ == "__main__":
    unittest.main()
