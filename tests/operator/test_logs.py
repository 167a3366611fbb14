"""The operator's log follows the logging conventions (kubebuilder's, operator-conventions §2.15):
every line written while a Topology is reconciled carries controller, namespace, name and a
reconcileID (a version-4 UUID, new for each reconcile); the start-up lines, about no Topology,
carry none of them; times are RFC 3339 with nanoseconds. In JSON (one object per line, the
fields as top-level keys) and in text (one line, key=value pairs after the message)."""

import json
import re
import unittest

from harness import OperatorTest, topology_yaml, wait_converged, wait_until

CONTEXT = ("controller", "namespace", "name", "reconcileID")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
NANO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
# A text line: time, level, message, then key=value pairs; the context's four come last, and
# Kubernetes names need no quotes.
TEXT_LINE = re.compile(r"^(\S+) (DEBUG|INFO |WARN |ERROR) (.*)$")
TEXT_CONTEXT = re.compile(r" controller=(\S+) namespace=(\S+) name=(\S+) reconcileID=(\S+)$")


def parse_json(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def parse_text(text):
    """The lines as records like the JSON ones: time, level, msg and the context's keys."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        m = TEXT_LINE.match(line)
        if not m:
            raise AssertionError("not a log line: %r" % line)
        rec = {"time": m.group(1), "level": m.group(2).strip(), "msg": m.group(3)}
        c = TEXT_CONTEXT.search(m.group(3))
        if c:
            rec["msg"] = m.group(3)[:c.start()]
            rec.update(zip(CONTEXT, c.groups()))
        elif re.search(r" (controller|namespace|name|reconcileID)=", m.group(3)):
            raise AssertionError("context keys out of place: %r" % line)
        out.append(rec)
    return out


class LogsTest(OperatorTest):
    ready_delay = 0.2

    def reconcile_twice(self, fmt):
        """Runs the operator (for one fresh namespace) with --log-format fmt; a Topology is
        created, converges, gets a second service and converges again. Returns the namespace
        and the log as records, split into the lines before the Topology and those after."""
        ns = self.ns("logs-" + fmt)
        op = self.start_operator("--log-format", fmt, "--namespace", ns, "--log-level", "debug")
        parse = parse_json if fmt == "json" else parse_text
        first = topology_yaml("shop", ns, ['{name: web}'])
        second = topology_yaml("shop", ns, ['{name: web, calls: [{service: api}]}', '{name: api}'])
        wait_until(lambda: "Started reconciling" in op.log(), 30,
                   what="the operator to start reconciling")
        mark = len(op.log())
        self.kubectl.apply(first)
        wait_converged(self, ns, "shop", first)
        self.kubectl.apply(second)
        wait_converged(self, ns, "shop", second)
        self.stop_operator(op)
        log = op.log()
        return ns, parse(log[:mark]), parse(log[mark:])

    def check(self, fmt):
        ns, startup, after = self.reconcile_twice(fmt)
        for rec in startup + after:
            self.assertRegex(rec["time"], NANO_TIME, rec)

        # Start-up is about no Topology.
        msgs = [r["msg"] for r in startup]
        self.assertTrue(any(m.startswith("Starting ho11y-operator") for m in msgs), msgs)
        self.assertTrue(any(m.startswith("Cache of") for m in msgs), msgs)
        for rec in startup:
            self.assertEqual([k for k in CONTEXT if k in rec], [], rec)

        # A line with any of the context's keys has all four, for this Topology.
        with_ctx = [r for r in after if any(k in r for k in CONTEXT)]
        for rec in with_ctx:
            self.assertEqual((rec.get("controller"), rec.get("namespace"), rec.get("name")),
                             ("topology", ns, "shop"), rec)
            self.assertRegex(rec.get("reconcileID", ""), UUID4, rec)

        # The reconciles' own lines carry it: the creates of both passes, each pass its own ID.
        def created(kind, name):
            msg = "Created %s %s/%s for topology %s/shop" % (kind, ns, name, ns)
            found = [r for r in after if r["msg"].startswith(msg)]
            self.assertEqual(len(found), 1, "%r in %r" % (msg, [r["msg"] for r in after]))
            self.assertIn("reconcileID", found[0], found[0])
            return found[0]["reconcileID"]

        web = created("Deployment", "web")
        self.assertEqual(created("Service", "web"), web)
        self.assertEqual(created("ConfigMap", "shop-collector"), web)
        api = created("Deployment", "api")
        self.assertEqual(created("Service", "api"), api)
        self.assertNotEqual(web, api)
        # The worker's line about the outcome belongs to the reconcile too.
        done = [r for r in after if r["msg"].startswith("Reconciled topology %s/shop in" % ns)]
        self.assertTrue(done, [r["msg"] for r in after])
        for rec in done:
            self.assertRegex(rec.get("reconcileID", ""), UUID4, rec)
        self.assertIn(web, [r["reconcileID"] for r in done])

    def test_json(self):
        self.check("json")

    def test_text(self):
        self.check("text")


if __name__ == "__main__":
    unittest.main()
