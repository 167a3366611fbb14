"""Unit tests of server-side Table printing (what `kubectl get` shows)."""

import json
import os
import unittest

import table
from table import JSONPath, human_duration, to_table

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "testdata", "widgets-crd.json")) as _f:
    CRD = json.load(_f)
V1 = CRD["spec"]["versions"][0]
V1BETA1 = CRD["spec"]["versions"][1]

NOW = table.parse_time("2024-06-01T12:00:00Z")


def meta(name, age_s, **extra):
    m = {"name": name, "namespace": "default", "uid": "u-" + name, "resourceVersion": "42",
         "creationTimestamp": _ts(NOW - age_s)}
    m.update(extra)
    return m


def _ts(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def names(t):
    return [c["name"] for c in t["columnDefinitions"]]


def cells(t):
    return [r["cells"] for r in t["rows"]]


class HumanDuration(unittest.TestCase):
    def test_thresholds(self):
        cases = [(-5, "<invalid>"), (-1, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"),
                 (312, "5m12s"), (600, "10m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"),
                 (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (50 * 3600, "2d2h"),
                 (8 * 86400, "8d"), (400 * 86400, "400d"), (730 * 86400, "2y"), (800 * 86400, "2y70d"),
                 (9 * 365 * 86400, "9y")]
        for secs, want in cases:
            self.assertEqual(human_duration(secs), want, secs)


class JSONPathTest(unittest.TestCase):
    OBJ = {"status": {"conditions": [{"type": "Reconciled", "reason": "Done", "observedGeneration": 2},
                                     {"type": "Ready", "reason": "AllReady", "observedGeneration": 3}]},
           "spec": {"services": [{"name": "a", "replicas": 2}, {"name": "b", "replicas": 5}],
                    "m": {"x.y": "dotted"}}}

    def test_paths(self):
        self.assertEqual(JSONPath("{.spec.services[1].name}").find(self.OBJ), ["b"])
        self.assertEqual(JSONPath(".spec.services[*].replicas").find(self.OBJ), [2, 5])
        self.assertEqual(JSONPath(".spec.services[-1].name").find(self.OBJ), ["b"])
        self.assertEqual(JSONPath(".spec.services[0:1].name").find(self.OBJ), ["a"])
        self.assertEqual(JSONPath(".spec.m['x.y']").find(self.OBJ), ["dotted"])
        self.assertEqual(JSONPath("..name").find(self.OBJ), ["a", "b"])
        self.assertEqual(JSONPath(".spec.missing.deeper").find(self.OBJ), [])

    def test_filters(self):
        self.assertEqual(JSONPath('.status.conditions[?(@.type=="Ready")].reason').find(self.OBJ), ["AllReady"])
        self.assertEqual(JSONPath(".status.conditions[?(@.type!='Ready')].reason").find(self.OBJ), ["Done"])
        self.assertEqual(JSONPath(".status.conditions[?(@.observedGeneration>2)].type").find(self.OBJ), ["Ready"])
        self.assertEqual(JSONPath(".spec.services[?(@.replicas)].name").find(self.OBJ), ["a", "b"])
        self.assertEqual(JSONPath('.status.conditions[?(@.type=="Nope")].reason').find(self.OBJ), [])


class BuiltinTables(unittest.TestCase):
    def test_pods(self):
        running = {"metadata": meta("web-1", 312), "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
                   "status": {"phase": "Running", "podIP": "10.0.0.5",
                              "conditions": [{"type": "Ready", "status": "True"}],
                              "containerStatuses": [
                                  {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}},
                                   "lastState": {"terminated": {"exitCode": 1, "finishedAt": _ts(NOW - 90)}}},
                                  {"name": "b", "ready": True, "restartCount": 0, "state": {"running": {}}}]}}
        crash = {"metadata": meta("web-2", 7200), "spec": {"containers": [{"name": "a"}]},
                 "status": {"phase": "Running", "containerStatuses": [
                     {"name": "a", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
        pending = {"metadata": meta("web-3", 30, deletionTimestamp=_ts(NOW)), "spec": {"containers": [{"name": "a"}]},
                   "status": {"phase": "Pending"}}
        done = {"metadata": meta("job-1", 30), "spec": {"containers": [{"name": "a"}]},
                "status": {"phase": "Succeeded", "containerStatuses": [
                    {"name": "a", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}
        t = to_table("pods", [running, crash, pending, done], now=NOW)
        self.assertEqual(names(t), ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"])
        self.assertEqual([c["priority"] for c in t["columnDefinitions"]], [0, 0, 0, 0, 0, 1, 1, 1, 1])
        self.assertEqual(cells(t), [
            ["web-1", "2/2", "Running", "2 (90s ago)", "5m12s", "10.0.0.5", "n1", "<none>", "<none>"],
            ["web-2", "0/1", "CrashLoopBackOff", "0", "120m", "<none>", "<none>", "<none>", "<none>"],
            ["web-3", "0/1", "Terminating", "0", "30s", "<none>", "<none>", "<none>", "<none>"],
            ["job-1", "0/1", "Completed", "0", "30s", "<none>", "<none>", "<none>", "<none>"]])
        self.assertEqual(t["rows"][3]["conditions"][0]["type"], "Completed")

    def test_deployments_and_replicasets(self):
        d = {"metadata": meta("web", 600), "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "tier": "fe"}},
                                                   "template": {"spec": {"containers": [{"name": "app", "image": "nginx:1"},
                                                                                        {"name": "side", "image": "envoy:2"}]}}},
             "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
        t = to_table("deployments", [d], now=NOW)
        self.assertEqual(names(t), ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"])
        self.assertEqual(cells(t), [["web", "2/3", 3, 2, "10m", "app,side", "nginx:1,envoy:2", "app=web,tier=fe"]])
        d2 = {"metadata": meta("new", 5), "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "In", "values": ["y", "x"]}]}}}
        self.assertEqual(cells(to_table("deployments", [d2], now=NOW)), [["new", "0/1", 0, 0, "5s", "", "", "a in (x,y)"]])
        rs = {"metadata": meta("web-abc", 60), "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
              "status": {"replicas": 2, "readyReplicas": 1}}
        t = to_table("replicasets", [rs], now=NOW)
        self.assertEqual(names(t), ["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"])
        self.assertEqual(cells(t), [["web-abc", 2, 2, 1, "60s", "", "", "app=web"]])

    def test_services(self):
        cip = {"metadata": meta("frontend", 3600), "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                                                            "selector": {"app": "frontend"},
                                                            "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"},
                                                                      {"port": 53, "protocol": "UDP"}]}}
        lb = {"metadata": meta("edge", 3600), "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.11",
                                                       "ports": [{"port": 443, "nodePort": 30443}]}}
        ext = {"metadata": meta("db", 3600), "spec": {"type": "ExternalName", "externalName": "db.example.com"}}
        t = to_table("services", [cip, lb, ext], now=NOW)
        self.assertEqual(names(t), ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"])
        self.assertEqual(cells(t), [
            ["frontend", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,53/UDP", "60m", "app=frontend"],
            ["edge", "LoadBalancer", "10.96.0.11", "<pending>", "443:30443/TCP", "60m", "<none>"],
            ["db", "ExternalName", "<none>", "db.example.com", "<none>", "60m", "<none>"]])

    def test_small_kinds(self):
        cm = {"metadata": meta("cfg", 86400 * 3), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
        self.assertEqual(names(to_table("configmaps", [cm], now=NOW)), ["Name", "Data", "Age"])
        self.assertEqual(cells(to_table("configmaps", [cm], now=NOW)), [["cfg", 3, "3d"]])
        sec = {"metadata": meta("tok", 10), "type": "kubernetes.io/service-account-token", "data": {"token": "eA=="}}
        self.assertEqual(cells(to_table("secrets", [sec], now=NOW)), [["tok", "kubernetes.io/service-account-token", 1, "10s"]])
        sa = {"metadata": meta("default", 10)}
        self.assertEqual(cells(to_table("serviceaccounts", [sa], now=NOW)), [["default", 0, "10s"]])
        ns = {"metadata": meta("kube-system", 900000), "status": {"phase": "Active"}}
        self.assertEqual(names(to_table("namespaces", [ns], now=NOW)), ["Name", "Status", "Age"])
        self.assertEqual(cells(to_table("namespaces", [ns], now=NOW)), [["kube-system", "Active", "10d"]])
        lease = {"metadata": meta("ho11y-operator", 20), "spec": {"holderIdentity": "pod-a_1"}}
        self.assertEqual(names(to_table("leases", [lease], now=NOW)), ["Name", "Holder", "Age"])
        self.assertEqual(cells(to_table("leases", [lease], now=NOW)), [["ho11y-operator", "pod-a_1", "20s"]])

    def test_rbac(self):
        role = {"metadata": meta("reader", 100)}
        t = to_table("roles", [role], now=NOW)
        self.assertEqual(names(t), ["Name", "Created At"])
        self.assertEqual(cells(t), [["reader", _ts(NOW - 100)]])
        rb = {"metadata": meta("read", 100), "roleRef": {"kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io"},
              "subjects": [{"kind": "ServiceAccount", "name": "op", "namespace": "ho11y"}, {"kind": "User", "name": "jane"},
                           {"kind": "Group", "name": "devs"}]}
        t = to_table("rolebindings", [rb], now=NOW)
        self.assertEqual(names(t), ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"])
        self.assertEqual(cells(t), [["read", "ClusterRole/view", "100s", "jane", "devs", "ho11y/op"]])

    def test_events(self):
        ev = {"metadata": meta("w1.17f0", 300), "involvedObject": {"kind": "Topology", "name": "w1", "namespace": "default"},
              "reason": "Reconciled", "message": "created 3 Deployments ", "type": "Normal",
              "source": {"component": "ho11y-operator"}, "firstTimestamp": _ts(NOW - 300), "lastTimestamp": _ts(NOW - 30), "count": 4}
        t = to_table("events", [ev], now=NOW)
        self.assertEqual(names(t), ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message",
                                    "First Seen", "Count", "Name"])
        self.assertEqual(cells(t), [["30s", "Normal", "Reconciled", "topology/w1", "", "ho11y-operator",
                                     "created 3 Deployments", "5m", 4, "w1.17f0"]])
        newev = {"apiVersion": "events.k8s.io/v1", "metadata": meta("x", 60), "eventTime": _ts(NOW - 60) .replace("Z", ".000000Z"),
                 "regarding": {"kind": "Lease", "name": "l"}, "reason": "LeaderElection", "note": "a became leader",
                 "type": "Normal", "reportingController": "op", "reportingInstance": "pod-a"}
        self.assertEqual(cells(to_table("events", [newev], now=NOW)),
                         [["60s", "Normal", "LeaderElection", "lease/l", "", "op, pod-a", "a became leader", "60s", 1, "x"]])

    def test_default_convertor_for_crds_and_unknown_kinds(self):
        crd = dict(CRD, metadata=meta("widgets.example.com", 10))
        t = to_table("customresourcedefinitions", [crd], now=NOW)
        self.assertEqual(t["columnDefinitions"][1], {"name": "Created At", "type": "date", "format": "", "description": table.AGE_DESC, "priority": 0})
        self.assertEqual(cells(t), [["widgets.example.com", _ts(NOW - 10)]])


class CustomResourceTables(unittest.TestCase):
    def widget(self, name, age, **status):
        return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta(name, age),
                "spec": {"services": [{"name": "a", "replicas": 3}, {"name": "b", "replicas": 1}], "collector": {"mode": "Managed"}},
                "status": status}

    def test_printer_columns(self):
        w1 = self.widget("w1", 125, readyServices="2/2", conditions=[{"type": "Reconciled", "status": "True", "reason": "Applied"},
                                                                       {"type": "Ready", "status": "True", "reason": "AllReady"}])
        w2 = self.widget("w2", 5)
        t = to_table("widgets", [w1, w2], crd_version=V1, now=NOW)
        self.assertEqual([(c["name"], c["type"], c["priority"]) for c in t["columnDefinitions"]],
                         [("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0),
                          ("Services", "integer", 1), ("Mode", "string", 1), ("Age", "date", 0)])
        self.assertEqual(t["columnDefinitions"][1]["description"], "ready services")
        self.assertEqual(t["columnDefinitions"][2]["description"],
                         'Custom resource definition column (in JSONPath format): .status.conditions[?(@.type=="Ready")].reason')
        self.assertEqual(cells(t), [["w1", "2/2", "AllReady", 3, "Managed", "2m5s"],
                                    ["w2", None, None, 3, "Managed", "5s"]])

    def test_default_columns_and_typed_cells(self):
        t = to_table("widgets", [self.widget("w3", 3 * 86400)], crd_version=V1BETA1, now=NOW)
        self.assertEqual(names(t), ["Name", "Age"])
        self.assertEqual(t["columnDefinitions"][1]["type"], "date")
        self.assertEqual(cells(t), [["w3", "3d"]])
        cv = {"additionalPrinterColumns": [
            {"name": "N", "type": "number", "jsonPath": ".spec.n"}, {"name": "B", "type": "boolean", "jsonPath": ".spec.b"},
            {"name": "S", "type": "string", "jsonPath": ".spec.obj"}, {"name": "I", "type": "integer", "jsonPath": ".spec.s"},
            {"name": "D", "type": "date", "jsonPath": ".spec.when"}]}
        o = {"metadata": meta("x", 1), "spec": {"n": 2, "b": True, "obj": {"k": [1, 2.5]}, "s": "str", "when": "garbage"}}
        self.assertEqual(cells(to_table("things", [o], crd_version=cv, now=NOW)),
                         [["x", 2.0, True, "map[k:[1 2.5]]", None, "<invalid>"]])

    def test_include_object(self):
        w = self.widget("w1", 1)
        t = to_table("widgets", [w], crd_version=V1, now=NOW)
        self.assertEqual(t["kind"], "Table")
        self.assertEqual(t["apiVersion"], "meta.k8s.io/v1")
        self.assertEqual(t["rows"][0]["object"], {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                                  "metadata": w["metadata"]})
        self.assertEqual(t["metadata"], {"resourceVersion": "42"})
        self.assertIs(to_table("widgets", [w], crd_version=V1, include_object="Object", now=NOW)["rows"][0]["object"], w)
        self.assertNotIn("object", to_table("widgets", [w], crd_version=V1, include_object="None", now=NOW)["rows"][0])
        self.assertNotIn("object", to_table("widgets", [w], crd_version=V1, include_object=None, now=NOW)["rows"][0])
        with self.assertRaisesRegex(ValueError, 'unrecognized includeObject value: "Everything"'):
            to_table("widgets", [w], crd_version=V1, include_object="Everything", now=NOW)
        self.assertEqual(to_table("widgets", [], crd_version=V1, now=NOW)["rows"], [])


if __name__ == "__main__":
    unittest.main()
