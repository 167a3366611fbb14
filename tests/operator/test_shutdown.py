"""SIGTERM while a status change waits for its progress interval: the stopping leader writes it
before it exits, rather than leaving it to a next leader that may never come; a write refused
meanwhile is retried within the shutdown time."""

import json
import unittest

from harness import OperatorTest, add_fault, clear_faults, scaled, topology_yaml, wait_until


class ShutdownTest(OperatorTest):
    # Pods deleted below come back Ready only after this long: each case runs within it.
    ready_delay = scaled(4.0)

    def ready_services(self, ns):
        return ((self.topology(ns, "shop") or {}).get("status") or {}).get("readyServices")

    def progress_pending_at_sigterm(self, ns, before_sigterm=None):
        """A Topology of three services made Ready; then a's pods go (Ready turns False, written
        at once), then b's (progress only, so its write waits for the interval), then SIGTERM.
        Returns the operator's log and the Topology's status after it exited."""
        services = [{"name": "web", "calls": [{"service": "a"}, {"service": "b"}]},
                    {"name": "a"}, {"name": "b"}]
        op = self.start_operator("--log-level", "debug")
        self.kubectl.apply(topology_yaml("shop", ns, [json.dumps(s) for s in services]))
        self.wait_condition(ns, "shop", "Ready", "True", timeout=60)
        self.kubectl.run("delete", "pods", "-n", ns, "-l", "app=a", "--wait=false")
        wait_until(lambda: self.ready_services(ns) == "2/3", 10, what="readyServices 2/3")
        mark = len(op.log())
        self.kubectl.run("delete", "pods", "-n", ns, "-l", "app=b", "--wait=false")
        # Normally the write is postponed now. On a machine slow enough that b's change came
        # after the interval, it is written at once instead; either way it must be there.
        wait_until(lambda: ("Progress of topology %s/shop postponed" % ns in op.log()[mark:] or
                            self.ready_services(ns) == "1/3"),
                   10, what="the progress write postponed or done")
        if before_sigterm:
            before_sigterm()
        self.stop_operator(op)
        return op.log(), self.topology(ns, "shop")["status"]

    def test_sigterm_writes_the_postponed_progress(self):
        log, status = self.progress_pending_at_sigterm(self.ns("shutdown"))
        self.assertEqual(status["readyServices"], "1/3", log[-3000:])
        self.assertEqual(self.condition({"status": status}, "Ready")["status"], "False")

    def test_a_refused_flush_write_is_retried(self):
        ns = self.ns("shutdown-retry")
        # The next two status writes fail with 500: the flush retries them (with backoff).
        log, status = self.progress_pending_at_sigterm(
            ns, lambda: add_fault(self.standin, code=500, verb="patch",
                                  resource="topologies/status", count=2, retryAfter=0))
        clear_faults(self.standin)
        self.assertEqual(status["readyServices"], "1/3", log[-3000:])
        self.assertNotIn("not written before stopping", log)


if __name__ == "__main__":
    unittest.main()
