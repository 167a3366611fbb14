"""SIGTERM while a status change waits for its progress interval: the stopping leader writes it
before it exits, rather than leaving it to a next leader that may never come."""

import json
import unittest

from harness import OperatorTest, scaled, topology_yaml, wait_until


class ShutdownTest(OperatorTest):
    # Pods deleted below come back Ready only after this long: the test runs within it.
    ready_delay = scaled(4.0)

    def ready_services(self, ns):
        return ((self.topology(ns, "shop") or {}).get("status") or {}).get("readyServices")

    def test_sigterm_writes_the_postponed_progress(self):
        ns = self.ns("shutdown")
        services = [{"name": "web", "calls": [{"service": "a"}, {"service": "b"}]},
                    {"name": "a"}, {"name": "b"}]
        op = self.start_operator("--log-level", "debug")
        self.kubectl.apply(topology_yaml("shop", ns, [json.dumps(s) for s in services]))
        self.wait_condition(ns, "shop", "Ready", "True", timeout=scaled(60))
        # a's pods go: Ready turns False, a transition, written at once.
        self.kubectl.run("delete", "pods", "-n", ns, "-l", "app=a", "--wait=false")
        wait_until(lambda: self.ready_services(ns) == "2/3", scaled(10), what="readyServices 2/3")
        # b's pods go too: only progress changes (readyServices), so that write waits for the
        # end of the interval since the last one.
        mark = len(op.log())
        self.kubectl.run("delete", "pods", "-n", ns, "-l", "app=b", "--wait=false")
        try:
            wait_until(lambda: "Progress of topology %s/shop postponed" % ns in op.log()[mark:],
                       scaled(10), what="the progress write postponed")
        except AssertionError as e:
            raise AssertionError("%s; the operator's log since:\n%s" % (e, op.log()[mark:][-4000:]))
        self.stop_operator(op)
        status = self.topology(ns, "shop")["status"]
        self.assertEqual(status["readyServices"], "1/3", op.log()[-3000:])
        self.assertEqual(self.condition({"status": status}, "Ready")["status"], "False")


if __name__ == "__main__":
    unittest.main()
