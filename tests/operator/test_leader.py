"""Leader election: two operators with --leader-elect and short lease timings. Only the leader
writes (told apart by their service accounts in the stand-in's request log) and reports
leader_election_master_status 1; kill -9 of the leader hands over within the lease duration,
SIGTERM releases the lease so the other takes over within two retry periods, and a leader that
cannot renew stops reconciling."""

import os
import signal
import time
import unittest

from harness import (OperatorTest, add_fault, clear_faults, log_times, operator_kubeconfig,
                     operator_user, scaled, service_account, topology_yaml, wait_converged,
                     wait_until, writes)

LEASE_S = 6.0
RENEW_S = 4.0
RETRY_S = 1.0
SA_A = "ho11y-system/operator-a"
SA_B = "ho11y-system/operator-b"
LEASE_NS = "ho11y-system"


def topo(ns, services):
    return topology_yaml("t", ns, [{"name": s} for s in services],
                         "collector: {mode: External, external: {host: otel.obs}}")


class LeaderTest(OperatorTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for sa in (SA_A, SA_B):
            service_account(cls.kubectl, sa)
        cls.kc = {sa: operator_kubeconfig(cls.standin, os.path.join(
            cls.tmp, sa.split("/")[1] + ".kubeconfig"), sa=sa) for sa in (SA_A, SA_B)}

    def tearDown(self):
        clear_faults(self.standin)
        # Operators a failed test left running would reconcile during the next one.
        for op in self.operators:
            op.kill()

    def elector(self, sa, lease, name):
        return self.start_operator(
            "--leader-elect", "--leader-elect-id", lease, "--leader-elect-namespace", LEASE_NS,
            "--leader-elect-lease-duration", "%gs" % LEASE_S,
            "--leader-elect-renew-deadline", "%gs" % RENEW_S,
            "--leader-elect-retry-period", "%gs" % RETRY_S,
            kubeconfig=self.kc[sa], name=name)

    def leading(self, op):
        return op.metric("leader_election_master_status") == 1

    def lease(self, name):
        return self.kubectl.get("lease", name, LEASE_NS)

    def identity(self, op):
        import re
        m = re.search(r"Became leader: lease \S+ held by (\S+)", op.log())
        return m.group(1) if m else None

    def two(self, lease):
        """Starts A, waits until it leads, then starts B."""
        a = self.elector(SA_A, lease, "a")
        wait_until(lambda: self.leading(a), 20, 0.05, "operator a to lead")
        b = self.elector(SA_B, lease, "b")
        return a, b

    def test_only_leader_writes_and_kill_hands_over(self):
        ns = self.ns("le-kill")
        a, b = self.two("lock-kill")
        t0 = time.time()
        text = topo(ns, ["front", "back"])
        self.kubectl.apply(text)
        wait_converged(self, ns, "t", text)
        time.sleep(2 * RETRY_S)
        self.assertEqual([self.leading(a), self.leading(b)], [True, False])
        self.assertEqual(self.lease("lock-kill")["spec"]["holderIdentity"], self.identity(a))
        reqs = self.standin.requests(since=t0)
        self.assertTrue(writes(reqs, operator_user(SA_A)), "the leader wrote nothing")
        self.assertEqual(writes(reqs, operator_user(SA_B)), [], "the follower wrote")
        # The follower keeps polling the lease, and only the lease.
        b_leases = [r for r in reqs if r["user"] == operator_user(SA_B) and
                    r["resource"] == "leases"]
        self.assertTrue(b_leases)
        self.assertFalse([r for r in b_leases if r["verb"] != "get"], b_leases)

        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)
        killed = time.time()
        a._forget()
        wait_until(lambda: self.identity(b), LEASE_S + 10, 0.02, "operator b to lead")
        took = log_times(b, r"Became leader")[0] - killed
        # Never before the lease could have run out: the last renewal was at most one retry
        # period before the kill, and b dates it from its previous read, at most 1.5 retry
        # periods earlier. Always within the lease duration.
        self.assertGreater(took, LEASE_S - 3 * RETRY_S, "took over a valid lease")
        self.assertLess(took, LEASE_S + scaled(0.5), "took over too late")
        self.assertTrue(self.leading(b))
        self.assertEqual(self.lease("lock-kill")["spec"]["holderIdentity"], self.identity(b))
        self.assertEqual(self.lease("lock-kill")["spec"]["leaseTransitions"], 1)
        # The new leader reconciles: a change made now is carried out by b.
        t1 = time.time()
        text = topo(ns, ["front", "back", "extra"])
        self.kubectl.apply(text)
        wait_converged(self, ns, "t", text)
        w = writes(self.standin.requests(since=t1))
        self.assertTrue(w)
        self.assertEqual({r["user"] for r in w if r["user"].startswith("system:service")},
                         {operator_user(SA_B)})
        self.stop_operator(b)

    def test_sigterm_releases_the_lease(self):
        # Alone first: the released Lease is what the conventions say.
        c = self.elector(SA_A, "lock-release", "c")
        wait_until(lambda: self.leading(c), 20, 0.05, "operator c to lead")
        before = self.lease("lock-release")["spec"]
        self.stop_operator(c)
        self.assertIn("Released lease", c.log())
        spec = self.lease("lock-release")["spec"]
        self.assertFalse(spec.get("holderIdentity"), spec)
        self.assertEqual(spec["leaseDurationSeconds"], 1)
        self.assertEqual(spec["renewTime"], spec["acquireTime"])
        self.assertGreater(spec["renewTime"], before["renewTime"])
        self.assertEqual(spec.get("leaseTransitions"), before.get("leaseTransitions"))

        # Two: the follower takes over within two retry periods of the release.
        ns = self.ns("le-term")
        a, b = self.two("lock-term")
        time.sleep(RETRY_S)
        self.assertFalse(self.leading(b))
        a.signal(signal.SIGTERM)
        rc = a.proc.wait(scaled(30))
        a._forget()
        self.assertEqual(rc, 0, a.log()[-3000:])
        # A clean stop is no loss: nothing in the log says leadership was lost.
        self.assertNotIn("leadership lost", a.log())
        self.assertNotIn("not renewed", a.log())
        self.assertIn("Stopped leading", a.log())
        released = log_times(a, r"Released lease")
        self.assertTrue(released, a.log()[-3000:])
        wait_until(lambda: self.identity(b), 4 * RETRY_S, 0.02, "operator b to lead")
        took = log_times(b, r"Became leader")[0] - released[0]
        self.assertLess(took, 2 * RETRY_S + scaled(0.25), "takeover after a release")
        text = topo(ns, ["one"])
        self.kubectl.apply(text)
        wait_converged(self, ns, "t", text)
        self.stop_operator(b)

    def test_leader_that_cannot_renew_stops_reconciling_and_exits(self):
        ns = self.ns("le-renew")
        a, b = self.two("lock-renew")
        text = topo(ns, ["front"])
        self.kubectl.apply(text)
        wait_converged(self, ns, "t", text)
        # Every Lease request fails now: the leader cannot renew, the follower cannot acquire.
        add_fault(self.standin, code=503, resource="leases", retryAfter=1)
        cut = time.time()
        wait_until(lambda: not self.leading(a), RENEW_S + 2 * RETRY_S + 2, 0.02,
                   "operator a to stop leading")
        stopped = log_times(a, r"Stopped reconciling")
        self.assertTrue(stopped, a.log()[-3000:])
        # It stops once the renew deadline has passed since its last renewal, not later.
        self.assertLess(stopped[0] - cut, RENEW_S + RETRY_S + scaled(0.5))
        # Then it exits with status 1 (the pod restarts with fresh caches), as controller-runtime
        # does on a lost election.
        rc = a.proc.wait(scaled(30))
        a._forget()
        self.assertEqual(rc, 1, a.log()[-3000:])
        self.assertIn("Exiting: leadership was lost", a.log())
        self.assertNotIn("Shut down cleanly", a.log())
        self.assertFalse(self.leading(b))
        # A change now is not carried out by anyone: nobody leads.
        changed = time.time()
        self.kubectl.apply(topo(ns, ["front", "late"]))
        time.sleep(3)
        self.assertIsNone(self.kubectl.get("deployment", "late", ns))
        w = [r for r in writes(self.standin.requests(since=stopped[0]))
             if r["user"].startswith("system:serviceaccount")]
        self.assertEqual(w, [], "writes after leadership was lost")
        self.assertGreater(changed, stopped[0])
        # The API heals: the other one leads and carries the change out.
        clear_faults(self.standin)
        wait_until(lambda: self.leading(b), LEASE_S + 10, 0.05, "operator b to lead")
        wait_converged(self, ns, "t", topo(ns, ["front", "late"]))
        self.stop_operator(b)


if __name__ == "__main__":
    unittest.main()
