"""An invalid Topology that the CRD schema lets through (a call cycle, a service named like the
collector: rules CEL cannot express) gets Reconciled=False/InvalidSpec with every error in the
message and one Warning event per generation, and nothing is created; other Topologies keep
being reconciled; fixing the spec reconciles it. A reference to an unknown service is refused
by the CRD's rule, but one stored while the CRD lacked that rule (an older CRD) is reported as
InvalidSpec the same way; the rule, once back, refuses updates that change the services but
keep the bad reference."""

import json
import time
import unittest

from harness import (CRD, OperatorTest, converged, operator_user, topology_yaml, wait_converged,
                     wait_until, writes)

EXTERNAL = "collector: {mode: External, external: {host: otel.obs}}\n"
CRD_NAME = "topologies.ho11y.dev"
REF_RULE_MESSAGE = "every calls[].service must name a service of this Topology"
CYCLE = [{"name": "a", "calls": [{"service": "b"}]},
         {"name": "b", "calls": [{"service": "c"}]},
         {"name": "c", "calls": [{"service": "a"}]},
         {"name": "loop-collector"}]
ERRORS = ['spec.services[3].name: Invalid value: "loop-collector": is reserved for the '
          'collector of this Topology',
          'spec.services[2].calls[0].service: Invalid value: "a": call cycle a -> b -> c -> a '
          '(the requests would loop forever)']


class InvalidTest(OperatorTest):
    ready_delay = 0.1

    def setUp(self):
        self.op = self.start_operator()
        self.addCleanup(lambda: self.stop_operator(self.op))

    def invalid_events(self, ns, name):
        return [e for e in self.events(ns, name) if e["reason"] == "InvalidSpec"]

    def test_invalid_spec_reported_nothing_created(self):
        ns = self.ns("invalid")
        good = topology_yaml("good", ns, [{"name": "solo"}], EXTERNAL)
        self.kubectl.apply(good)
        wait_converged(self, ns, "good", good)

        bad = topology_yaml("loop", ns, CYCLE)
        t0 = time.time()
        self.kubectl.apply(bad, "--validate=false")
        topo = self.wait_condition(ns, "loop", "Reconciled", "False", "InvalidSpec")
        msg = self.condition(topo, "Reconciled")["message"]
        for err in ERRORS:
            self.assertIn(err, msg)
        ready = self.condition(topo, "Ready")
        self.assertEqual((ready["status"], ready["reason"]), ("False", "InvalidSpec"))
        self.assertEqual(topo["status"]["observedGeneration"], topo["metadata"]["generation"])

        # Another Topology applied after the invalid one is reconciled as usual.
        later = topology_yaml("later", ns, [{"name": "other"}], EXTERNAL)
        self.kubectl.apply(later)
        wait_converged(self, ns, "later", later)
        time.sleep(1.0)
        loop_children = [k for k, o in self.children(ns).items()
                         if o["metadata"]["labels"].get("ho11y.dev/topology") == "loop"]
        self.assertEqual(loop_children, [])
        loop_writes = [r for r in writes(self.standin.requests(since=t0), operator_user())
                       if "/topologies/loop" in r["path"]]
        self.assertEqual([(r["verb"], r["resource"]) for r in loop_writes],
                         [("patch", "topologies/status")])
        evs = self.invalid_events(ns, "loop")
        self.assertEqual(len(evs), 1, evs)
        self.assertEqual((evs[0]["type"], evs[0]["count"]), ("Warning", 1))
        for err in ERRORS:
            self.assertIn(err, evs[0]["message"])
        self.assertEqual(self.op.metric("ho11y_operator_topologies",
                                        {"condition": "InvalidSpec"}), 1)
        # The good Topology was left alone all along.
        self.assertIsNone(converged(self, ns, "good", good))

        # A restarted operator does not report the same generation again.
        self.op.kill()
        t1 = time.time()
        self.op = self.start_operator()
        wait_until(lambda: self.op.metric("controller_runtime_reconcile_total") >= 3, 20, 0.1,
                   "the restarted operator to reconcile every Topology")
        time.sleep(1.0)
        self.assertEqual(writes(self.standin.requests(since=t1), operator_user()), [])
        self.assertEqual(len(self.invalid_events(ns, "loop")), 1)

        # A new generation that is still invalid is reported once more.
        bad2 = topology_yaml("loop", ns, CYCLE[:3] + [{"name": "d", "replicas": 2}])
        self.kubectl.apply(bad2, "--validate=false")
        topo = wait_until(lambda: (lambda t: t if self.condition(t, "Reconciled").get(
            "observedGeneration") == t["metadata"]["generation"] else None)(
                self.topology(ns, "loop")), 10, 0.1, "the second generation to be reported")
        msg2 = self.condition(topo, "Reconciled")["message"]
        self.assertIn(ERRORS[1], msg2)
        self.assertNotIn("loop-collector", msg2)
        wait_until(lambda: len(self.invalid_events(ns, "loop")) == 2, 10, 0.1,
                   "a second InvalidSpec event")

        # Fixed: everything is created.
        fixed = topology_yaml("loop", ns, CYCLE[:2] + [{"name": "c"}], EXTERNAL)
        self.kubectl.apply(fixed)
        wait_converged(self, ns, "loop", fixed)
        self.assertEqual(len(self.invalid_events(ns, "loop")), 2)

        # Invalid again: what exists stays as it is; nothing is changed or deleted, and the
        # status keeps the services it reported.
        def loop_children():
            return sorted(k for k, o in self.children(ns).items()
                          if o["metadata"]["labels"].get("ho11y.dev/topology") == "loop")
        have = loop_children()
        self.assertEqual(len(have), 6)
        t2 = time.time()
        self.kubectl.apply(bad, "--validate=false")
        topo = self.wait_condition(ns, "loop", "Reconciled", "False", "InvalidSpec")
        self.assertEqual([s["name"] for s in topo["status"]["services"]], ["a", "b", "c"])
        time.sleep(1.0)
        self.assertEqual(loop_children(), have)
        child_writes = [r for r in writes(self.standin.requests(since=t2), operator_user())
                        if r["resource"] not in ("events", "topologies/status")]
        self.assertEqual(child_writes, [])
        # One more report for this generation, with the first generation's errors: counted on
        # the first generation's Event, although the operator that recorded it was restarted
        # since.
        wait_until(lambda: sum(e["count"] for e in self.invalid_events(ns, "loop")) == 3, 10,
                   0.1, "a third InvalidSpec report")
        time.sleep(0.5)
        evs = self.invalid_events(ns, "loop")
        self.assertEqual(sorted((e["count"], ERRORS[0] in e["message"]) for e in evs),
                         [(1, False), (2, True)], evs)

    def ref_rule_pointer(self):
        """The JSON pointer of the CRD's rule on calls[].service, or None when it is absent."""
        crd = self.kubectl.json("get", "crd", CRD_NAME)
        for vi, v in enumerate(crd["spec"]["versions"]):
            services = v["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
                "services"]
            for ri, rule in enumerate(services.get("x-kubernetes-validations") or ()):
                if rule.get("message") == REF_RULE_MESSAGE:
                    return ("/spec/versions/%d/schema/openAPIV3Schema/properties/spec/properties/"
                            "services/x-kubernetes-validations/%d" % (vi, ri))
        return None

    def test_unknown_reference_stored_before_the_rule(self):
        ns = self.ns("invalid-old")
        good = topology_yaml("good", ns, [{"name": "solo"}], EXTERNAL)
        dangling = [{"name": "a", "calls": [{"service": "ghost"}]}, {"name": "b"}]
        bad = topology_yaml("dangling", ns, dangling, EXTERNAL)

        # An older CRD without the rule on references, as on a cluster upgraded later.
        pointer = self.ref_rule_pointer()
        self.assertIsNotNone(pointer)
        self.addCleanup(self.kubectl.run, "apply", "-f", CRD)
        patch = [{"op": "test", "path": pointer + "/message", "value": REF_RULE_MESSAGE},
                 {"op": "remove", "path": pointer}]
        self.kubectl.run("patch", "crd", CRD_NAME, "--type=json", "-p", json.dumps(patch))
        self.assertIsNone(self.ref_rule_pointer())
        t0 = time.time()
        self.kubectl.apply(bad + "---\n" + good)
        # The current CRD again: the rule does not touch what is stored.
        self.kubectl.run("apply", "-f", CRD)
        self.assertIsNotNone(self.ref_rule_pointer())
        self.assertIsNotNone(self.topology(ns, "dangling"))

        topo = self.wait_condition(ns, "dangling", "Reconciled", "False", "InvalidSpec")
        msg = self.condition(topo, "Reconciled")["message"]
        self.assertIn('spec.services[0].calls[0].service: Not found: "ghost"', msg)
        ready = self.condition(topo, "Ready")
        self.assertEqual((ready["status"], ready["reason"]), ("False", "InvalidSpec"))
        wait_converged(self, ns, "good", good)
        time.sleep(1.0)
        evs = self.invalid_events(ns, "dangling")
        self.assertEqual(len(evs), 1, evs)
        self.assertEqual((evs[0]["type"], evs[0]["count"]), ("Warning", 1))
        self.assertIn('"ghost"', evs[0]["message"])
        self.assertEqual([k for k, o in self.children(ns).items()
                          if o["metadata"]["labels"].get("ho11y.dev/topology") == "dangling"], [])
        # The only objects written are those of the good Topology (one service).
        w = writes(self.standin.requests(since=t0), operator_user())
        self.assertEqual(sorted(r["resource"] for r in w
                                if r["resource"] not in ("events", "topologies/status")),
                         ["deployments", "services"])
        self.assertEqual([(r["verb"], r["resource"]) for r in w
                          if "/topologies/dangling" in r["path"]],
                         [("patch", "topologies/status")])

        # The rule applies to updates that change the services: one that keeps the bad
        # reference is refused. An update elsewhere leaves the unchanged services alone
        # (validation ratcheting), as the operator's own status writes did above.
        changed = topology_yaml("dangling", ns, [dict(dangling[0], replicas=2), dangling[1]],
                                EXTERNAL)
        r = self.kubectl.run("apply", "-f", "-", input=changed, check=False)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn(REF_RULE_MESSAGE, r.stderr)
        self.kubectl.run("label", "topology", "dangling", "-n", ns, "team=payments")
        after = self.topology(ns, "dangling")
        self.assertEqual(after["metadata"]["generation"], topo["metadata"]["generation"])
        self.assertEqual(after["spec"]["services"][0]["calls"], [{"service": "ghost"}])

        # Fixed: reconciled as usual.
        fixed = topology_yaml("dangling", ns, [{"name": "a", "calls": [{"service": "b"}]},
                                               {"name": "b"}], EXTERNAL)
        self.kubectl.apply(fixed)
        wait_converged(self, ns, "dangling", fixed)
        self.assertEqual(len(self.invalid_events(ns, "dangling")), 1)

    def test_unknown_reference_refused_by_the_schema(self):
        ns = self.ns("invalid-ref")
        bad = topology_yaml("dangling", ns, [{"name": "a", "calls": [{"service": "ghost"}]}])
        r = self.kubectl.run("apply", "-f", "-", "--validate=false", input=bad, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("spec.services", r.stderr)
        self.assertIsNone(self.topology(ns, "dangling"))


if __name__ == "__main__":
    unittest.main()
