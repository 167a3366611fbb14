"""Deleting a Topology leaves its children to the garbage collector (the operator deletes
nothing and creates nothing while it goes); a Topology created again under the same name gets
fresh children. Many Topologies across namespaces converge with the minimum of writes;
`--namespace` restricts the operator to one namespace, in its requests too."""

import time
import unittest

import os

from harness import (OperatorTest, operator_kubeconfig, operator_user, service_account,
                     topology_yaml, wait_converged, wait_until, writes)


def two_services(name, ns, extra=""):
    return topology_yaml(name, ns, [{"name": name + "-web", "calls": [{"service": name + "-db"}]},
                                    {"name": name + "-db"}], extra)


class NamespacesTest(OperatorTest):
    ready_delay = 0.1

    def test_delete_collects_children(self):
        op = self.start_operator()
        self.addCleanup(self.stop_operator, op)
        ns = self.ns("gc")
        text = two_services("shop", ns)
        self.kubectl.apply(text)
        wait_converged(self, ns, "shop", text)
        old_uid = self.topology(ns, "shop")["metadata"]["uid"]
        self.assertEqual(len(self.children(ns)), 8)
        t0 = time.time()
        self.kubectl.run("delete", "topology", "shop", "-n", ns)
        wait_until(lambda: not self.children(ns), 15, 0.1, "the children to be collected")
        time.sleep(0.5)
        self.assertEqual(self.children(ns), {})
        ops = [(r["verb"], r["resource"]) for r in writes(self.standin.requests(since=t0),
                                                         operator_user())]
        self.assertEqual(ops, [], "the operator wrote while the Topology was deleted")
        wait_until(lambda: op.metric("ho11y_operator_topologies") == 0, 5, 0.1,
                   "the Topology to leave the metrics")

        # The same name again: a new Topology (new uid) and new children owned by it.
        self.kubectl.apply(text)
        wait_converged(self, ns, "shop", text)
        topo = self.topology(ns, "shop")
        self.assertNotEqual(topo["metadata"]["uid"], old_uid)
        evs = [e for e in self.events(ns, "shop") if e["involvedObject"]["uid"] ==
               topo["metadata"]["uid"]]
        self.assertEqual(sorted(e["reason"] for e in evs), ["Ready", "Reconciled"])

    def test_many_topologies_across_namespaces(self):
        op = self.start_operator("--workers", "2")
        self.addCleanup(self.stop_operator, op)
        docs, names = [], []
        for i in range(4):
            ns = "fleet-%d" % i
            docs.append("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n" % ns)
            for j in range(3):
                name = "t%d" % j
                ext = "" if j else "collector: {mode: External, external: {host: otel.obs}}\n"
                docs.append(two_services(name, ns, ext))
                names.append((ns, name))
        t0 = time.time()
        self.kubectl.apply("---\n".join(docs))
        for ns, name in names:
            wait_converged(self, ns, name, two_services(name, ns, "" if name != "t0" else
                                                        "collector: {mode: External, external: "
                                                        "{host: otel.obs}}\n"), timeout=60)
        def ready_everywhere():
            items = self.kubectl.json("get", "topologies", "-A")["items"]
            return len([t for t in items
                        if (self.condition(t, "Ready") or {}).get("status") == "True"])
        wait_until(lambda: op.metric("ho11y_operator_topologies", {"condition": "Ready"}) ==
                   ready_everywhere(), 10, 0.1, "every Ready Topology counted")
        time.sleep(1.0)
        w = writes(self.standin.requests(since=t0), operator_user())
        creates = [r for r in w if r["verb"] == "create" and r["resource"] != "events"]
        # t0 of each namespace: 2 Deployments + 2 Services; t1, t2: 4 + collector's 4.
        self.assertEqual(len(creates), 4 * (4 + 8 + 8))
        self.assertEqual([r for r in w if r["verb"] in ("update", "delete")], [])
        status = [r for r in w if r["resource"] == "topologies/status"]
        self.assertLessEqual(len(status), 2 * len(names))
        events = [r for r in w if r["resource"] == "events"]
        self.assertLessEqual(len(events), 2 * len(names))
        self.assertFalse([r for r in w if r["code"] >= 400], w)
        # No busy loop: a handful of reconciles per Topology (its creation, its children's
        # watch events coalesced, Ready), no errors.
        total = op.metric("controller_runtime_reconcile_total")
        self.assertLessEqual(total, 12 * len(names), "reconciles: %d" % total)
        self.assertEqual(op.metric("controller_runtime_reconcile_errors_total"), 0)

    def test_namespace_flag(self):
        a, b = self.ns("team-a"), self.ns("team-b")
        ta, tb = two_services("shop", a), two_services("shop", b)
        # Its own service account, so that its requests are told apart in the log.
        sa = "ho11y-system/team-a-operator"
        service_account(self.kubectl, sa)
        kc = operator_kubeconfig(self.standin, os.path.join(self.tmp, "team-a.kubeconfig"), sa)
        op = self.start_operator("--namespace", a, kubeconfig=kc)
        self.addCleanup(op.kill)
        self.kubectl.apply(ta + "---\n" + tb)
        wait_converged(self, a, "shop", ta)
        time.sleep(1.5)
        self.assertIsNone(self.topology(b, "shop").get("status"))
        self.assertEqual(self.children(b), {})
        op.kill()
        mine = [r for r in self.standin.requests() if r["user"] == operator_user(sa)]
        self.assertEqual(sorted(r["resource"] for r in mine if r["verb"] == "list"),
                         ["configmaps", "deployments", "serviceaccounts", "services",
                          "topologies"])
        outside = [r["path"] for r in mine if "/namespaces/%s/" % a not in r["path"]]
        self.assertEqual(outside, [], "requests outside --namespace")

        # An operator for every namespace picks team-b up.
        op2 = self.start_operator()
        self.addCleanup(self.stop_operator, op2)
        wait_converged(self, b, "shop", tb)
        wait_converged(self, a, "shop", ta)


if __name__ == "__main__":
    unittest.main()
