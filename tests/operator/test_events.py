"""Events are one logical event across restarts of the operator: a Topology that keeps reporting
the same NameConflict while the operator is restarted (cleanly, then killed) has exactly one
Event object for it, whose count grows; the restarted operator counts on the existing Event
(its create is answered 409 AlreadyExists) instead of creating another, and creates nothing
else. A different event still gets an Event of its own."""

import time
import unittest

from harness import OperatorTest, operator_user, topology_yaml, wait_converged, wait_until, writes

EXTERNAL = "collector: {mode: External, external: {host: otel.obs}}\n"
FOREIGN = """apiVersion: v1
kind: Service
metadata: {name: cart, namespace: %s}
spec:
  selector: {app: legacy-cart}
  ports: [{port: 9000, targetPort: 9000}]
"""
MESSAGE = "Service cart exists and is not controlled by this Topology"


class EventsTest(OperatorTest):
    ready_delay = 0.1

    def conflict_events(self, ns):
        return [e for e in self.events(ns, "shop") if e["reason"] == "NameConflict"]

    def test_same_event_across_restarts(self):
        op = self.start_operator()
        ns = self.ns("events")
        self.kubectl.apply(FOREIGN % ns)
        text = topology_yaml("shop", ns, [{"name": "web", "calls": [{"service": "cart"}]},
                                          {"name": "cart"}], EXTERNAL)
        self.kubectl.apply(text)
        topo = self.wait_condition(ns, "shop", "Reconciled", "False", "NameConflict")
        self.assertEqual(self.condition(topo, "Reconciled")["message"], MESSAGE)
        wait_until(lambda: len(self.conflict_events(ns)) == 1, 10, 0.1, "the NameConflict event")
        first = self.conflict_events(ns)[0]
        self.assertEqual((first["type"], first["message"], first["count"]),
                         ("Warning", MESSAGE, 1))
        self.assertEqual(first["involvedObject"]["uid"], topo["metadata"]["uid"])
        names = sorted(e["metadata"]["name"] for e in self.events(ns, "shop"))

        # Each new operator process reports the conflict again (it remembers nothing); the
        # report is counted on the same Event. Stopped cleanly once, killed once.
        for count, stop in ((2, self.stop_operator), (3, lambda o: o.kill())):
            stop(op)
            t0 = time.time()
            op = self.start_operator()
            wait_until(lambda: [e["count"] for e in self.conflict_events(ns)] == [count], 20,
                       0.1, "the NameConflict event counted %d times" % count)
            time.sleep(1.0)
            evs = self.conflict_events(ns)
            self.assertEqual(len(evs), 1, evs)
            ev = evs[0]
            self.assertEqual(ev["metadata"]["name"], first["metadata"]["name"])
            self.assertEqual(ev["metadata"]["uid"], first["metadata"]["uid"])
            self.assertEqual((ev["type"], ev["message"], ev["count"]), ("Warning", MESSAGE, count))
            self.assertEqual(ev["firstTimestamp"], first["firstTimestamp"])
            self.assertGreaterEqual(ev["lastTimestamp"], first["lastTimestamp"])
            self.assertEqual(sorted(e["metadata"]["name"] for e in self.events(ns, "shop")), names)
            # The restarted operator's event requests: a create refused with 409, then two
            # patches of the existing Event (lastTimestamp, whose answer carries the count,
            # then the count).
            w = writes(self.standin.requests(since=t0), operator_user())
            self.assertEqual([(r["verb"], r["code"], r["path"].rsplit("/", 1)[1])
                              for r in w if r["resource"] == "events"],
                             [("create", 409, "events"),
                              ("patch", 200, ev["metadata"]["name"]),
                              ("patch", 200, ev["metadata"]["name"])])
            self.assertEqual(op.metric("ho11y_operator_events_total", {"action": "create"}), 0)
            self.assertEqual(op.metric("ho11y_operator_events_total", {"action": "patch"}), 1)

        # A different event is an Event of its own: the name is free again, the Topology
        # takes it over and reports what it created.
        self.kubectl.run("delete", "service", "cart", "-n", ns)
        wait_converged(self, ns, "shop", text, timeout=25)
        created = wait_until(lambda: [e for e in self.events(ns, "shop")
                                      if e["message"] == "Created Service cart"], 10, 0.1,
                             "the Created Service cart event")
        self.assertEqual(len(created), 1, created)
        self.assertEqual((created[0]["type"], created[0]["count"]), ("Normal", 1))
        self.assertEqual(len(self.conflict_events(ns)), 1)
        self.stop_operator(op)


if __name__ == "__main__":
    unittest.main()
