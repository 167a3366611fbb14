"""The Helm chart (helm/ho11y-operator): helm lint, the rendered objects for the default values
and for every mode the values offer, and `helm template | kubectl apply --dry-run=server` against
the API server stand-in, with the real helm and kubectl."""

import json
import os
import re
import shutil
import tarfile
import tempfile
import unittest

import e2elib
from e2elib import CHART, CHART_CRD_LINK, CRD_FILE, REPO, find

NS = "ho11y-system"
RELEASE = "ho11y-operator"

# What the operator does with each kind (operator/ is the source; the end-to-end test checks
# that the operator, run with RBAC enforced, uses every one of these and needs nothing else).
WATCHED_RULES = {
    ("ho11y.dev", "topologies", ""): {"get", "list", "watch"},
    ("ho11y.dev", "topologies/status", ""): {"patch"},
    ("ho11y.dev", "topologies/finalizers", ""): {"update"},
    ("apps", "deployments", ""): {"get", "list", "watch", "create", "update", "delete"},
    ("", "services", ""): {"get", "list", "watch", "create", "update", "delete"},
    ("", "configmaps", ""): {"get", "list", "watch", "create", "update", "delete"},
    ("", "serviceaccounts", ""): {"get", "list", "watch", "create", "update", "delete"},
    ("", "events", ""): {"create", "patch"},
}
LEASE_RULES = {("coordination.k8s.io", "leases", ""): {"create"},
               ("coordination.k8s.io", "leases", "ho11y-operator-leader"): {"get", "update"}}

SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "names": {"kind": "ServiceMonitor", "listKind": "ServiceMonitorList",
                  "plural": "servicemonitors", "singular": "servicemonitor"},
        "scope": "Namespaced",
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
            "openAPIV3Schema": {"type": "object", "properties": {"spec": {
                "type": "object", "required": ["selector", "endpoints"],
                "properties": {
                    "selector": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "namespaceSelector": {"type": "object",
                                          "x-kubernetes-preserve-unknown-fields": True},
                    "endpoints": {"type": "array", "items": {
                        "type": "object", "properties": {
                            "port": {"type": "string"}, "path": {"type": "string"},
                            "interval": {"type": "string"},
                            "scrapeTimeout": {"type": "string"}}}}}}}}}}],
    },
}


def rules_of(role):
    """{(group, resource, resourceName or ""): set(verbs)} of a Role or ClusterRole; fails on
    wildcards and non-resource URLs."""
    out = {}
    for r in role.get("rules") or []:
        for field in ("apiGroups", "resources", "verbs"):
            if "*" in (r.get(field) or []):
                raise AssertionError("wildcard %s in %s" % (field, role["metadata"]["name"]))
        if r.get("nonResourceURLs"):
            raise AssertionError("unexpected rule %r" % r)
        for g in r["apiGroups"]:
            for res in r["resources"]:
                for name in r.get("resourceNames") or [""]:
                    out.setdefault((g, res, name), set()).update(r["verbs"])
    return out


class ChartTest(e2elib.ClusterTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.cluster
        for ns in (NS, "team-a", "grafana"):
            c.kubectl("create", "namespace", ns)
        # The Prometheus Operator's CRD, as a cluster with it installed has (a minimal schema).
        c.kubectl("apply", "-f", "-", input=json.dumps(SERVICE_MONITOR_CRD))
        c.wait_for(lambda: c.kubectl("get", "servicemonitors", "-A", check=False).returncode
                   == 0, 20, "the ServiceMonitor CRD to be served")

    # ---- helpers ------------------------------------------------------------------------------
    def helm_template(self, values=None, namespace=NS, chart=CHART, check=True, extra=()):
        args = ["template", RELEASE, chart, "-n", namespace]
        if values is not None:
            args += ["-f", e2elib.write_values(self.tmp, values)]
        return self.cluster.helm(*(args + list(extra)), check=check)

    def render(self, values=None, **kw):
        return self.cluster.objects(self.helm_template(values, **kw).stdout)

    def deployment(self, values=None):
        d = find(self.render(values), "Deployment", RELEASE)
        (c,) = d["spec"]["template"]["spec"]["containers"]
        return d, c

    # ---- lint and versions --------------------------------------------------------------------
    def test_lint_is_clean(self):
        variants = [None,
                    {"watchNamespace": "team-a", "replicaCount": 2},
                    {"dashboard": {"enabled": True},
                     "metrics": {"serviceMonitor": {"enabled": True}}},
                    {"crds": {"create": False}, "rbac": {"create": False},
                     "serviceAccount": {"create": False, "name": "existing"}}]
        for v in variants:
            with self.subTest(values=v):
                args = ["lint", "--strict", CHART]
                if v is not None:
                    args += ["-f", e2elib.write_values(self.tmp, v)]
                r = self.cluster.helm(*args)
                self.assertIn("1 chart(s) linted, 0 chart(s) failed", r.stdout)
                self.assertNotIn("[WARNING]", r.stdout)
                self.assertNotIn("[ERROR]", r.stdout)

    def test_chart_version_is_the_project_version(self):
        with open(os.path.join(CHART, "Chart.yaml")) as f:
            text = f.read()
        want = e2elib.project_version()
        self.assertRegex(text, r"(?m)^apiVersion: v2$")
        self.assertEqual(re.search(r'(?m)^version: "?([^"\s]+)"?$', text).group(1), want)
        self.assertEqual(re.search(r'(?m)^appVersion: "?([^"\s]+)"?$', text).group(1), want)
        _, c = self.deployment()
        self.assertEqual(c["image"], "ho11y-operator:" + want)

    # ---- the CRD ------------------------------------------------------------------------------
    def test_crd_is_the_crds_folder_file(self):
        self.assertTrue(os.path.islink(CHART_CRD_LINK), "%s must be a symbolic link to %s"
                        % (CHART_CRD_LINK, CRD_FILE))
        self.assertEqual(os.path.realpath(CHART_CRD_LINK), os.path.realpath(CRD_FILE))
        with open(CRD_FILE) as f:
            want = self.cluster.objects(f.read())
        self.assertEqual(len(want), 1)
        want = want[0]
        got = find(self.render(), "CustomResourceDefinition", "topologies.ho11y.dev")
        meta = got["metadata"]
        self.assertEqual(meta["annotations"].pop("helm.sh/resource-policy"), "keep")
        if not meta["annotations"]:
            del meta["annotations"]
        labels = meta.pop("labels")
        self.assertEqual(labels["app.kubernetes.io/managed-by"], "Helm")
        for k, v in (want["metadata"].get("labels") or {}).items():
            self.assertEqual(labels.get(k), v)
        want["metadata"].pop("labels", None)
        self.assertEqual(got, want, "the chart's CRD differs from %s" % CRD_FILE)

    def test_packaged_chart_carries_the_crd(self):
        out = tempfile.mkdtemp(dir=self.tmp)
        r = self.cluster.helm("package", CHART, "-d", out)
        self.assertIn("Successfully packaged chart", r.stdout)
        (tgz,) = os.listdir(out)
        self.assertEqual(tgz, "ho11y-operator-%s.tgz" % e2elib.project_version())
        path = os.path.join(out, tgz)
        with tarfile.open(path) as tar:
            member = tar.getmember("ho11y-operator/files/crds/ho11y.dev_topologies.yaml")
            self.assertTrue(member.isfile(), "the package must hold the file, not a link")
            data = tar.extractfile(member).read()
        with open(CRD_FILE, "rb") as f:
            self.assertEqual(data, f.read())
        from_dir = find(self.render(), "CustomResourceDefinition")
        from_tgz = find(self.render(chart=path), "CustomResourceDefinition")
        self.assertEqual(from_dir, from_tgz)

    def test_crd_values(self):
        crd = find(self.render({"crds": {"keep": False}}), "CustomResourceDefinition")
        self.assertNotIn("helm.sh/resource-policy", crd["metadata"].get("annotations") or {})
        objs = self.render({"crds": {"create": False}})
        self.assertEqual([o for o in objs if o["kind"] == "CustomResourceDefinition"], [])

    # ---- accepted by the API server -----------------------------------------------------------
    def test_server_side_dry_run(self):
        variants = {
            "defaults": None,
            "everything": {"replicaCount": 2, "dashboard": {"enabled": True,
                                                            "namespace": "grafana"},
                           "metrics": {"serviceMonitor": {"enabled": True,
                                                          "labels": {"release": "prom"}}},
                           "imagePullSecrets": ["regcred"], "nodeSelector": {"a": "b"},
                           "tolerations": [{"key": "k", "operator": "Exists",
                                            "effect": "NoSchedule"}],
                           "extraEnv": [{"name": "X", "value": "y"}]},
            "namespaced": {"watchNamespace": "team-a"},
            "bare": {"crds": {"create": False}, "rbac": {"create": False},
                     "serviceAccount": {"create": False, "name": "default"},
                     "metrics": {"service": {"enabled": False}},
                     "leaderElection": {"enabled": False}},
        }
        for name, v in variants.items():
            with self.subTest(variant=name):
                text = self.helm_template(v).stdout
                r = self.cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=text)
                n = len(self.cluster.objects(text))
                self.assertEqual(r.stdout.count("(server dry run)"), n, r.stdout)

    # ---- the Deployment -----------------------------------------------------------------------
    def test_deployment_defaults(self):
        d, c = self.deployment()
        v = e2elib.project_version()
        self.assertEqual(d["metadata"]["namespace"], NS)
        self.assertEqual(d["spec"]["replicas"], 1)
        self.assertEqual(d["spec"]["selector"]["matchLabels"],
                         {"app.kubernetes.io/name": "ho11y-operator",
                          "app.kubernetes.io/instance": RELEASE})
        pod = d["spec"]["template"]["spec"]
        self.assertEqual(pod["serviceAccountName"], RELEASE)
        self.assertEqual(c["image"], "ho11y-operator:" + v)
        args = c["args"]
        for want in ("--leader-elect=true", "--leader-elect-id=ho11y-operator-leader",
                     "--leader-elect-lease-duration=15s", "--leader-elect-renew-deadline=10s",
                     "--leader-elect-retry-period=2s", "--graceful-shutdown-timeout=25s",
                     "--generator-image=ho11y-operator:" + v,
                     "--metrics-addr=:8080", "--health-addr=:8081", "--log-level=info",
                     "--log-format=json", "--workers=4", "--cache-sync-timeout=2m"):
            self.assertIn(want, args)
        self.assertFalse([a for a in args if a.startswith(("--namespace", "--collector-image",
                                                           "--image-pull-policy"))])
        self.assertNotIn("command", c)  # the image's entry point is the operator
        env = {e["name"]: e for e in c["env"]}
        self.assertEqual(env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"],
                         "metadata.namespace")
        # Restricted security context.
        psc = pod["securityContext"]
        self.assertIs(psc["runAsNonRoot"], True)
        self.assertEqual(psc["seccompProfile"], {"type": "RuntimeDefault"})
        sc = c["securityContext"]
        self.assertIs(sc["readOnlyRootFilesystem"], True)
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertEqual(sc["capabilities"], {"drop": ["ALL"]})
        self.assertNotIn("privileged", sc)
        # Probes and ports.
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(ports, {"metrics": 8080, "health": 8081})
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "health"})
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "health"})
        # Small requests and limits.
        res = c["resources"]
        self.assertEqual(set(res), {"requests", "limits"})
        self.assertEqual(res["requests"], {"cpu": "10m", "memory": "32Mi"})
        self.assertEqual(res["limits"], {"cpu": "500m", "memory": "64Mi"})

    def test_deployment_values(self):
        values = {
            "replicaCount": 2,
            "image": {"repository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ho11y-operator",
                      "tag": "dev", "pullPolicy": "Always"},
            "imagePullSecrets": ["regcred", {"name": "other"}],
            "generator": {"image": "ho11y:upstream", "imagePullPolicy": "Always"},
            "collector": {"image": "otel/opentelemetry-collector-contrib:0.100.0"},
            "watchNamespace": "team-a",
            "workers": 8,
            "cacheSyncTimeout": "5m",
            "leaderElection": {"leaseDuration": "30s", "renewDeadline": "20s",
                               "retryPeriod": "4s"},
            "logLevel": "debug", "logFormat": "text",
            "health": {"port": 9081}, "metrics": {"port": 9080},
            "nodeSelector": {"kubernetes.io/arch": "amd64"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops",
                             "effect": "NoSchedule"}],
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {
                    "topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name":
                                                      "ho11y-operator"}}}}]}},
            "priorityClassName": "system-cluster-critical", "terminationGracePeriodSeconds": 60,
            "podAnnotations": {"a": "1"}, "podLabels": {"team": "ops"},
            "extraArgs": ["--extra=1"], "extraEnv": [{"name": "HTTPS_PROXY", "value": "p:3128"}],
            "resources": {"requests": {"cpu": "20m", "memory": "40Mi"}},
        }
        d, c = self.deployment(values)
        pod = d["spec"]["template"]["spec"]
        self.assertEqual(d["spec"]["replicas"], 2)
        self.assertEqual(c["image"], values["image"]["repository"] + ":dev")
        self.assertEqual(c["imagePullPolicy"], "Always")
        self.assertEqual(pod["imagePullSecrets"], [{"name": "regcred"}, {"name": "other"}])
        args = c["args"]
        for want in ("--generator-image=ho11y:upstream", "--image-pull-policy=Always",
                     "--leader-elect-lease-duration=30s", "--leader-elect-renew-deadline=20s",
                     "--leader-elect-retry-period=4s", "--graceful-shutdown-timeout=55s",
                     "--collector-image=otel/opentelemetry-collector-contrib:0.100.0",
                     "--namespace=team-a", "--workers=8", "--cache-sync-timeout=5m",
                     "--log-level=debug",
                     "--log-format=text", "--metrics-addr=:9080", "--health-addr=:9081",
                     "--extra=1"):
            self.assertIn(want, args)
        self.assertEqual({p["name"]: p["containerPort"] for p in c["ports"]},
                         {"metrics": 9080, "health": 9081})
        self.assertEqual(pod["nodeSelector"], values["nodeSelector"])
        self.assertEqual(pod["tolerations"], values["tolerations"])
        self.assertEqual(pod["affinity"], values["affinity"])
        self.assertEqual(pod["priorityClassName"], "system-cluster-critical")
        self.assertEqual(pod["terminationGracePeriodSeconds"], 60)
        meta = d["spec"]["template"]["metadata"]
        self.assertEqual(meta["annotations"]["a"], "1")
        self.assertEqual(meta["labels"]["team"], "ops")
        self.assertEqual(d["spec"]["selector"]["matchLabels"],
                         {"app.kubernetes.io/name": "ho11y-operator",
                          "app.kubernetes.io/instance": RELEASE})
        self.assertIn({"name": "HTTPS_PROXY", "value": "p:3128"}, c["env"])
        # Helm merges maps: the requests change, the default limits stay.
        self.assertEqual(c["resources"], {"requests": {"cpu": "20m", "memory": "40Mi"},
                                          "limits": {"cpu": "500m", "memory": "64Mi"}})

    def test_leader_election_values(self):
        _, c = self.deployment({"leaderElection": {"enabled": False}})
        self.assertIn("--leader-elect=false", c["args"])
        objs = self.render({"leaderElection": {"enabled": False}})
        self.assertEqual([o for o in objs if o["metadata"]["name"].endswith("leader-election")],
                         [])

    # ---- RBAC ---------------------------------------------------------------------------------
    def test_rbac_cluster_wide(self):
        objs = self.render()
        sa = find(objs, "ServiceAccount", RELEASE)
        self.assertEqual(sa["metadata"]["namespace"], NS)
        role = find(objs, "ClusterRole", RELEASE)
        self.assertEqual(rules_of(role), WATCHED_RULES)
        crb = find(objs, "ClusterRoleBinding", RELEASE)
        self.assertEqual(crb["roleRef"], {"apiGroup": "rbac.authorization.k8s.io",
                                          "kind": "ClusterRole", "name": RELEASE})
        self.assertEqual(crb["subjects"], [{"kind": "ServiceAccount", "name": RELEASE,
                                            "namespace": NS}])
        lease = find(objs, "Role", RELEASE + "-leader-election")
        self.assertEqual(lease["metadata"]["namespace"], NS)
        self.assertEqual(rules_of(lease), LEASE_RULES)
        rb = find(objs, "RoleBinding", RELEASE + "-leader-election")
        self.assertEqual(rb["metadata"]["namespace"], NS)
        self.assertEqual(rb["roleRef"]["name"], RELEASE + "-leader-election")
        self.assertEqual(rb["subjects"], crb["subjects"])
        self.assertEqual([o for o in objs if o["kind"] == "Role"], [lease])

    def test_rbac_one_namespace(self):
        objs = self.render({"watchNamespace": "team-a"})
        self.assertEqual([o for o in objs if o["kind"].startswith("Cluster") and
                          o["kind"] != "CustomResourceDefinition"], [])
        role = find(objs, "Role", RELEASE)
        self.assertEqual(role["metadata"]["namespace"], "team-a")
        self.assertEqual(rules_of(role), WATCHED_RULES)
        rb = find(objs, "RoleBinding", RELEASE)
        self.assertEqual(rb["metadata"]["namespace"], "team-a")
        self.assertEqual(rb["roleRef"], {"apiGroup": "rbac.authorization.k8s.io",
                                         "kind": "Role", "name": RELEASE})
        self.assertEqual(rb["subjects"], [{"kind": "ServiceAccount", "name": RELEASE,
                                           "namespace": NS}])
        lease = find(objs, "Role", RELEASE + "-leader-election")
        self.assertEqual(lease["metadata"]["namespace"], NS)

    def test_rbac_and_service_account_off(self):
        objs = self.render({"rbac": {"create": False},
                            "serviceAccount": {"create": False, "name": "ops-sa"}})
        kinds = {o["kind"] for o in objs}
        self.assertFalse(kinds & {"ServiceAccount", "Role", "RoleBinding", "ClusterRole",
                                  "ClusterRoleBinding"}, kinds)
        d = find(objs, "Deployment")
        self.assertEqual(d["spec"]["template"]["spec"]["serviceAccountName"], "ops-sa")
        r = self.helm_template({"serviceAccount": {"create": False}}, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("serviceAccount.name is required", r.stderr)

    # ---- metrics ------------------------------------------------------------------------------
    def test_metrics_service_and_service_monitor(self):
        objs = self.render({"metrics": {"serviceMonitor": {"enabled": True,
                                                           "labels": {"release": "prom"}}}})
        d = find(objs, "Deployment")
        svc = find(objs, "Service", RELEASE + "-metrics")
        pod_labels = d["spec"]["template"]["metadata"]["labels"]
        for k, v in svc["spec"]["selector"].items():
            self.assertEqual(pod_labels.get(k), v)
        self.assertEqual(svc["spec"]["ports"], [{"name": "metrics", "port": 8080,
                                                 "targetPort": "metrics", "protocol": "TCP"}])
        sm = find(objs, "ServiceMonitor")
        self.assertEqual(sm["metadata"]["labels"]["release"], "prom")
        for k, v in sm["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(svc["metadata"]["labels"].get(k), v)
        self.assertEqual(sm["spec"]["endpoints"][0]["port"], "metrics")
        self.assertEqual(sm["spec"]["endpoints"][0]["path"], "/metrics")
        self.assertEqual(sm["spec"]["namespaceSelector"], {"matchNames": [NS]})
        r = self.helm_template({"metrics": {"service": {"enabled": False},
                                            "serviceMonitor": {"enabled": True}}}, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("metrics.serviceMonitor.enabled needs metrics.service.enabled", r.stderr)
        self.assertEqual([o for o in self.render() if o["kind"] == "ServiceMonitor"], [])

    # ---- Grafana dashboard --------------------------------------------------------------------
    def test_dashboard(self):
        self.assertEqual([o for o in self.render() if o["kind"] == "ConfigMap"], [])
        ds = 'X-Ray "prod" eu-west-1'
        objs = self.render({"dashboard": {"enabled": True, "datasource": ds,
                                          "frontendService": "web",
                                          "downstreamServices": ["api", "db"],
                                          "namespace": "grafana",
                                          "annotations": {"grafana_folder": "ho11y"}}})
        cm = find(objs, "ConfigMap", RELEASE + "-dashboard")
        self.assertEqual(cm["metadata"]["namespace"], "grafana")
        self.assertEqual(cm["metadata"]["labels"]["grafana_dashboard"], "1")
        self.assertEqual(cm["metadata"]["annotations"], {"grafana_folder": "ho11y"})
        dash = json.loads(cm["data"]["xray-sample.json"])
        self.assertEqual(dash["title"], "X-Ray sample (ho11y)")
        self.assertNotIn("__inputs", dash)
        self.assertIsNone(dash["id"])
        panels = [p for p in dash["panels"] if p["type"] != "row"]
        self.assertEqual({p["type"] for p in panels}, {"nodeGraph", "timeseries", "table"})
        for p in panels:
            self.assertEqual(p["datasource"], ds)
        self.assertNotIn("DS_XRAY", cm["data"]["xray-sample.json"])
        queries = {t["queryType"]: t["query"] for p in panels for t in p["targets"]}
        self.assertEqual(queries["getTimeSeriesServiceStatistics"], 'service("web")')
        self.assertEqual(queries["getTraceSummaries"], 'service("api") or service("db")')
        self.assertEqual(queries["getServiceMap"], "\n")

    def test_dashboard_file_is_importable(self):
        with open(os.path.join(CHART, "dashboards", "xray-sample.json")) as f:
            dash = json.load(f)
        (inp,) = dash["__inputs"]
        self.assertEqual((inp["name"], inp["pluginId"]), ("DS_XRAY", "grafana-x-ray-datasource"))
        for p in dash["panels"]:
            if p["type"] != "row":
                self.assertEqual(p["datasource"], "${DS_XRAY}")

    # ---- values: schema and documentation -----------------------------------------------------
    def test_bad_values_are_refused_by_name(self):
        cases = [({"logFormat": "xml"}, "logFormat"),
                 ({"workers": 0}, "workers"),
                 ({"replicas": 2}, "Additional property replicas is not allowed"),
                 ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy"),
                 ({"leaderElection": {"leaseDuration": "15"}}, "leaderElection.leaseDuration"),
                 ({"cacheSyncTimeout": "2 minutes"}, "cacheSyncTimeout"),
                 ({"watchNamespace": "Team_A"}, "watchNamespace")]
        for values, needle in cases:
            with self.subTest(values=values):
                r = self.helm_template(values, check=False)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(needle, r.stderr)

    def _values(self):
        """The chart's default values as Helm sees them (toJson of .Values)."""
        tmp = tempfile.mkdtemp(dir=self.tmp)
        copy = os.path.join(tmp, "ho11y-operator")
        shutil.copytree(CHART, copy, symlinks=False)
        with open(os.path.join(copy, "templates", "zz-values.yaml"), "w") as f:
            f.write("{{ toJson .Values }}\n")
        out = self.helm_template(chart=copy, extra=["--show-only",
                                                    "templates/zz-values.yaml"]).stdout
        return json.loads(out.split("\n", 2)[2])

    def test_every_value_is_documented(self):
        values = self._values()
        with open(os.path.join(CHART, "README.md")) as f:
            readme = f.read()
        documented = set(re.findall(r"(?m)^\| `([A-Za-z0-9_.]+)` \|", readme))

        def covered(path):
            parts = path.split(".")
            return any(".".join(parts[:i]) in documented for i in range(1, len(parts) + 1))

        def leaves(v, prefix=""):
            if isinstance(v, dict) and v and not covered(prefix.rstrip(".") or "-"):
                for k, x in v.items():
                    yield from leaves(x, prefix + k + ".")
            else:
                yield prefix.rstrip(".")

        missing = [p for p in leaves(values) if not covered(p)]
        self.assertEqual(missing, [], "values missing from the README table")

        def exists(path):
            v = values
            for p in path.split("."):
                if not isinstance(v, dict) or p not in v:
                    return False
                v = v[p]
            return True

        stale = sorted(p for p in documented if not exists(p))
        self.assertEqual(stale, [], "README documents values that do not exist")
        # Each documented value has a comment in values.yaml, right above it.
        with open(os.path.join(CHART, "values.yaml")) as f:
            lines = f.read().split("\n")
        stack = []
        for i, line in enumerate(lines):
            m = re.match(r"^( *)([A-Za-z0-9_]+):", line)
            if not m:
                continue
            indent = len(m.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, m.group(2)))
            path = ".".join(k for _, k in stack)
            if path in documented:
                prev = next((x for x in reversed(lines[:i]) if x.strip()), "")
                self.assertTrue(prev.strip().startswith("#"),
                                "values.yaml: %s has no comment above it" % path)

    # ---- NOTES.txt ----------------------------------------------------------------------------
    def test_notes_say_what_to_do_next(self):
        r = self.cluster.helm("install", RELEASE, CHART, "-n", NS, "--dry-run")
        notes = r.stdout.split("NOTES:", 1)[1]
        for want in ("kubectl -n ho11y-system rollout status deployment/ho11y-operator",
                     "kubectl apply -f examples/xray-sample.yaml",
                     "kubectl -n example-app get pods -w",
                     "kubectl -n example-app port-forward svc/frontend 8765:80",
                     "curl -s localhost:8765/"):
            self.assertIn(want, notes)
        self.assertTrue(os.path.exists(os.path.join(REPO, "examples", "xray-sample.yaml")))
        # Watching one namespace: the notes say so.
        r = self.cluster.helm("install", RELEASE, CHART, "-n", NS, "--dry-run",
                              "--set", "watchNamespace=team-a")
        self.assertIn("watching Topologies in namespace team-a only", r.stdout)
        # The inline Topology of the notes is valid for the CRD.
        m = re.search(r"<<'YAML'\n(.*?)\n\s*YAML\n", notes, re.S)
        self.assertIsNotNone(m, notes)
        topo = "\n".join(line[5:] for line in m.group(1).split("\n"))
        c = self.cluster
        c.kubectl("apply", "-f", CRD_FILE)
        try:
            c.wait_for(lambda: c.kubectl("get", "topologies", "-A",
                                         check=False).returncode == 0,
                       20, "the Topology CRD to be served")
            c.kubectl("create", "namespace", "demo")
            r = c.kubectl("-n", "demo", "apply", "--dry-run=server", "-f", "-", input=topo)
            self.assertIn("topology.ho11y.dev/demo created (server dry run)", r.stdout)
        finally:
            c.kubectl("delete", "crd", "topologies.ho11y.dev", "--timeout=30s", check=False)

if __name__ == "__main__":
    unittest.main()
