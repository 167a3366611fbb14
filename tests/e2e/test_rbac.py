"""The chart's permissions are minimal: with any one of them taken away (the installed
ClusterRole or leader-election Role patched with kubectl), the operator, run as the chart's pod
against the stand-in with RBAC enforced, fails with a 403 in its log that names the verb and the
resource it was refused, and the failure shows where a user looks (the Topology's status, the
readiness probe). The cluster enforces owner-reference permissions too (as OpenShift does): without
update on topologies/finalizers, which the operator never requests, the API server refuses every
child (each one's ownerReference blocks the Topology's deletion). test_install.py shows the
complete set is enough and every rule is used."""

import json
import re
import time
import unittest

import e2elib
from e2elib import CHART, EXAMPLES, find
from test_install import NS, RELEASE, OperatorOnCluster

FORBIDDEN = (r'403 Forbidden: [^:]* is forbidden: User "system:serviceaccount:%s:%s" cannot '
             r'%s resource "%s" in API group "%s"')
# The refusal of OwnerReferencesPermissionEnforcement (the cluster enforces it, as OpenShift).
BLOCK_REFUSED = ("cannot set blockOwnerDeletion if an ownerReference refers to a resource you "
                 "can't set finalizers on: , <nil>")


class MinimalRbacTest(OperatorOnCluster):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.cluster
        c.helm("install", RELEASE, CHART, "-n", NS, "--create-namespace", "--wait",
               "--timeout", "60s")
        text = c.helm("get", "manifest", RELEASE, "-n", NS).stdout
        cls.objs = c.objects(text)
        with open(EXAMPLES + "/xray-sample.yaml") as f:
            cls.sample = f.read()

    def setUp(self):
        super().setUp()
        # Every case starts from the chart's roles.
        for o in self.objs:
            if o["kind"] in ("ClusterRole", "Role"):
                self.cluster.kubectl("replace", "-f", "-", input=json.dumps(o))

    def remove(self, kind, name, resource, verb):
        """Patches the installed role so that resource loses verb (only that)."""
        role = json.loads(json.dumps(find(self.objs, kind, name)))
        hits = 0
        for rule in role["rules"]:
            if resource in rule["resources"] and verb in rule["verbs"]:
                rest = [r for r in rule["resources"] if r != resource]
                if rest:  # split the rule: the other resources keep the verb
                    role["rules"].append(dict(rule, resources=[resource],
                                              verbs=[v for v in rule["verbs"] if v != verb]))
                    rule["resources"] = rest
                else:
                    rule["verbs"] = [v for v in rule["verbs"] if v != verb]
                hits += 1
        self.assertEqual(hits, 1, "%s %s grants %s %s %d times" % (kind, name, verb, resource,
                                                                   hits))
        role["rules"] = [r for r in role["rules"] if r["verbs"]]
        args = ["-n", NS] if kind == "Role" else []
        self.cluster.kubectl("replace", "-f", "-", *args, input=json.dumps(role))

    def run_case(self, ns, group, resource, verb, kind="ClusterRole", name=RELEASE, want=None):
        """want: the refusal expected in the log (a regular expression), when it is not the
        403 of RBAC refusing the request itself."""
        c = self.cluster
        self.remove(kind, name, resource, verb)
        c.kubectl("apply", "-f", "-", input=self.sample.replace("example-app", ns))
        pod = e2elib.Pod(c, find(self.objs, "Deployment", RELEASE), "rbac-" + ns,
                         self.tmp).start()
        self.pods.append(pod)
        want = re.compile(want or FORBIDDEN % (NS, RELEASE, verb, resource, group))
        def refused():
            if not pod.running():
                self.fail("operator exited:\n" + pod.log())
            return [ln for ln in pod.log_lines() if want.search(ln.get("msg", ""))]
        try:
            lines = c.wait_for(refused, 30, "a 403 naming %s %s" % (verb, resource))
        except AssertionError as e:
            self.fail("%s; the operator's log:\n%s" % (e, pod.log()[-3000:]))
        # At warning level or above, in the chart's log format (JSON lines).
        for ln in lines:
            self.assertIn(ln.get("level"), ("warning", "error"), ln)
        return pod

    def status(self, ns):
        t = self.cluster.kubectl_json("get", "topology", "xray-sample", "-n", ns)
        return t.get("status") or {}, {x["type"]: x for x in
                                       (t.get("status") or {}).get("conditions") or []}

    def test_create_deployments(self):
        pod = self.run_case("rbac-deploy", "apps", "deployments", "create")

        def reported():
            _, conds = self.status("rbac-deploy")
            r = conds.get("Reconciled")
            return r if r and r["reason"] == "ApiError" else None
        r = self.cluster.wait_for(reported, 30, "Reconciled=False ApiError")
        self.assertEqual(r["status"], "False")
        self.assertIn('cannot create resource "deployments" in API group "apps"', r["message"])
        self.assertEqual(self.cluster.kubectl("get", "deployments", "-n", "rbac-deploy", "-o",
                                              "name").stdout, "")
        self.stop_pods([pod])

    def test_update_topology_finalizers(self):
        # No request goes to topologies/finalizers; without update on it, the API server refuses
        # every child, whose ownerReference blocks the Topology's deletion.
        want = (r'403 Forbidden: (serviceaccounts|configmaps|services|deployments\.apps) '
                r'"[^"]+" is forbidden: ' + re.escape(BLOCK_REFUSED))
        pod = self.run_case("rbac-finalizers", "ho11y.dev", "topologies/finalizers", "update",
                            want=want)

        def reported():
            _, conds = self.status("rbac-finalizers")
            r = conds.get("Reconciled")
            return r if r and r["reason"] == "ApiError" else None
        r = self.cluster.wait_for(reported, 30, "Reconciled=False ApiError")
        self.assertEqual(r["status"], "False")
        self.assertIn(BLOCK_REFUSED, r["message"])
        self.assertEqual(self.children("rbac-finalizers"), {})
        # The refusals were 403s of create requests (the admission check, not RBAC, refused).
        refused = [x for x in self.requests() if x["code"] == 403 and
                   "/namespaces/rbac-finalizers/" in x["path"]]
        self.assertTrue(refused)
        self.assertEqual({x["verb"] for x in refused}, {"create"})
        for x in refused:
            self.assertEqual([(a["resource"], a["allowed"]) for a in x["admission"]],
                             [("*/finalizers", False), ("topologies/finalizers", False)], x)
        # Nothing crashed: the operator stays live and ready, and stops cleanly.
        self.assertTrue(pod.running())
        self.assertTrue(pod.probe("livenessProbe"))
        self.assertTrue(pod.probe("readinessProbe"))
        self.stop_pods([pod])

    def test_patch_topology_status(self):
        pod = self.run_case("rbac-status", "ho11y.dev", "topologies/status", "patch")
        # The children are made, but no status can be written.
        self.cluster.wait_for(lambda: len(self.children("rbac-status")) == 10, 30,
                              "the children")
        self.assertEqual(self.status("rbac-status")[0], {})
        self.stop_pods([pod])

    def test_list_services(self):
        pod = self.run_case("rbac-list", "", "services", "list")
        # The caches never sync: the pod never becomes ready, and nothing is reconciled.
        time.sleep(1)
        self.assertFalse(pod.probe("readinessProbe"))
        self.assertTrue(pod.probe("livenessProbe"))
        self.assertEqual(self.status("rbac-list")[0], {})
        self.stop_pods([pod])

    def test_create_events(self):
        pod = self.run_case("rbac-events", "", "events", "create")
        self.cluster.kubectl("wait", "--for=condition=Ready", "topology/xray-sample", "-n",
                             "rbac-events", "--timeout=60s")
        self.assertEqual(self.cluster.kubectl_json("get", "events", "-n",
                                                   "rbac-events")["items"], [])
        self.stop_pods([pod])

    def test_create_lease(self):
        # The lease left by earlier operators would only need update: start without one.
        self.cluster.kubectl("delete", "lease", RELEASE + "-leader", "-n", NS,
                             "--ignore-not-found")
        pod = self.run_case("rbac-lease", "coordination.k8s.io", "leases", "create",
                            kind="Role", name=RELEASE + "-leader-election")
        # Without the lease it never leads: nothing is reconciled.
        self.assertEqual(pod.metric("leader_election_master_status"), 0)
        self.assertEqual(self.status("rbac-lease")[0], {})
        self.assertEqual(self.children("rbac-lease"), {})
        self.stop_pods([pod])


if __name__ == "__main__":
    unittest.main()
