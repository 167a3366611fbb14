"""Watch protocol tests: initial events, exact resumption without gaps or duplicates under
concurrent writes, 410 Expired and relist, bookmarks, timeouts, selector transitions."""

import threading
import time
import unittest

from harness import ServerTestCase

NS = "/api/v1/namespaces/%s/configmaps"


def cm(name, labels=None, data=None):
    m = {"name": name}
    if labels is not None:
        m["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": m, "data": data or {"k": "v"}}


class WatchTest(ServerTestCase):
    ns_counter = 0

    def new_ns(self):
        WatchTest.ns_counter += 1
        name = "w%d" % WatchTest.ns_counter
        r = self.c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": name}})
        self.assertEqual(r.status, 201)
        # the namespace controller adds kube-root-ca.crt; wait so it does not mix with events
        self.wait_for(lambda: self.c.get(NS % name + "/kube-root-ca.crt").status == 200)
        return name, NS % name

    def test_initial_events_then_changes(self):
        ns, P = self.new_ns()
        self.c.post(P, cm("a"))
        self.c.post(P, cm("b"))
        for rv in ("", "0"):
            w = self.c.watch(P + "?watch=true&resourceVersion=" + rv + "&labelSelector=!x")
            self.assertEqual(w.status, 200)
            self.assertEqual(w.headers["Content-Type"], "application/json")
            self.assertEqual(w.headers["Transfer-Encoding"], "chunked")
            evs = w.events(3, timeout=3)
            self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs],
                             [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "kube-root-ca.crt")])
            self.assertEqual(evs[0]["object"]["kind"], "ConfigMap")
            self.assertEqual(evs[0]["object"]["apiVersion"], "v1")
            self.c.patch(P + "/a", {"data": {"k": rv or "empty"}})
            ev = w.next(5)
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("MODIFIED", "a"))
            w.close()
        # the deprecated /watch/ path and a watch on one object by name
        w = self.c.watch("/api/v1/watch/namespaces/%s/configmaps/b" % ns)
        ev = w.next(5)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "b"))
        self.c.delete(P + "/b")
        ev = w.next(5)
        self.assertEqual(ev["type"], "DELETED")
        self.assertEqual(ev["object"]["metadata"]["name"], "b")
        lst = self.c.get(P).json
        self.assertEqual(ev["object"]["metadata"]["resourceVersion"],
                         lst["metadata"]["resourceVersion"])
        w.close()

    def test_resume_exact_no_gaps_no_duplicates_under_concurrent_writes(self):
        ns, P = self.new_ns()
        start = self.c.get(P).json["metadata"]["resourceVersion"]
        full = self.c.watch(P + "?watch=true&resourceVersion=" + start)
        n_writes = 300
        stop = threading.Event()

        def writer():
            c = self.server.client()
            for i in range(n_writes):
                name = "c%d" % (i % 40)
                if i < 40:
                    c.post(P, cm(name))
                elif i % 7 == 0:
                    c.delete(P + "/" + name)
                    c.post(P, cm(name))
                else:
                    c.patch(P + "/" + name, {"data": {"i": str(i)}})
            c.close()
            stop.set()

        t = threading.Thread(target=writer)
        t.start()
        # a client that keeps disconnecting and resuming from the last seen resourceVersion
        resumed = []
        last = start
        while True:
            w = self.c.watch(P + "?watch=true&resourceVersion=%s" % last)
            self.assertEqual(w.status, 200)
            got = w.events(25, timeout=1.5)
            w.close()
            for e in got:
                self.assertNotEqual(e["type"], "ERROR", e)
                resumed.append(e)
                last = e["object"]["metadata"]["resourceVersion"]
            if stop.is_set() and not got:
                break
        t.join()
        everything = []
        while True:
            e = full.next(1.5)
            if e is None:
                break
            everything.append(e)
        full.close()

        def key(e):
            return (e["type"], e["object"]["metadata"]["name"],
                    e["object"]["metadata"]["resourceVersion"])

        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in everything]
        self.assertEqual(rvs, sorted(set(rvs)), "events out of order or duplicated")
        expected = n_writes + sum(1 for i in range(40, n_writes) if i % 7 == 0)
        self.assertEqual(len(everything), expected)
        self.assertEqual([key(e) for e in resumed], [key(e) for e in everything])

    def test_expired_history_gives_410_then_relist_works(self):
        ns, P = self.new_ns()
        old = self.c.post(P, cm("x")).json["metadata"]["resourceVersion"]
        self.c.patch(P + "/x", {"data": {"k": "2"}})
        self.server.admin("expire-history")
        w = self.c.watch(P + "?watch=true&resourceVersion=" + old)
        self.assertEqual(w.status, 200)
        ev = w.next(5)
        self.assertEqual(ev["type"], "ERROR")
        st = ev["object"]
        self.assertEqual((st["kind"], st["code"], st["reason"]), ("Status", 410, "Expired"))
        self.assertRegex(st["message"], r"^too old resource version: %s \(\d+\)$" % old)
        self.assertIsNone(w.next(2), "stream must end after the ERROR event")
        w.close()
        lst = self.c.get(P).json
        rv = lst["metadata"]["resourceVersion"]
        w = self.c.watch(P + "?watch=true&resourceVersion=" + rv)
        self.c.patch(P + "/x", {"data": {"k": "3"}})
        ev = w.next(5)
        self.assertEqual((ev["type"], ev["object"]["data"]["k"]), ("MODIFIED", "3"))
        w.close()

    def test_bookmarks_and_timeout(self):
        ns, P = self.new_ns()
        c = self.c.post(P, cm("bm")).json
        t0 = time.monotonic()
        w = self.c.watch(P + "?watch=true&allowWatchBookmarks=true&timeoutSeconds=4"
                              "&resourceVersion=" + c["metadata"]["resourceVersion"])
        self.c.patch(P + "/bm", {"data": {"k": "2"}})
        ev = w.next(5)
        self.assertEqual(ev["type"], "MODIFIED")
        mod_rv = int(ev["object"]["metadata"]["resourceVersion"])
        self.server.admin("bookmark")
        bm = w.next(5)
        self.assertEqual(bm["type"], "BOOKMARK")
        self.assertEqual(bm["object"]["kind"], "ConfigMap")
        self.assertEqual(set(bm["object"]["metadata"]), {"resourceVersion"})
        brv = int(bm["object"]["metadata"]["resourceVersion"])
        self.assertGreaterEqual(brv, mod_rv)
        self.assertLessEqual(brv, int(self.c.get(P).json["metadata"]["resourceVersion"]))
        bm2 = w.next(5)  # the one about 2 s before the timeout
        self.assertEqual(bm2["type"], "BOOKMARK")
        self.assertIsNone(w.next(5))
        elapsed = time.monotonic() - t0
        self.assertTrue(3.5 <= elapsed <= 6, elapsed)
        w.close()
        # no bookmarks unless asked
        w = self.c.watch(P + "?watch=true&timeoutSeconds=3&resourceVersion=" +
                         c["metadata"]["resourceVersion"])
        evs = []
        while True:
            e = w.next(5)
            if e is None:
                break
            evs.append(e["type"])
        self.assertEqual(evs, ["MODIFIED"])
        w.close()

    def test_selector_transitions(self):
        ns, P = self.new_ns()
        rv = self.c.get(P).json["metadata"]["resourceVersion"]
        w = self.c.watch(P + "?watch=true&labelSelector=app%3Dx&resourceVersion=" + rv)
        self.c.post(P, cm("t", labels={"app": "y"}))
        self.c.patch(P + "/t", {"metadata": {"labels": {"app": "x"}}})
        self.c.patch(P + "/t", {"data": {"k": "2"}})
        last = self.c.patch(P + "/t", {"metadata": {"labels": {"app": "z"}}, "data": {"k": "3"}})
        evs = w.events(3, timeout=5)
        self.assertEqual([e["type"] for e in evs], ["ADDED", "MODIFIED", "DELETED"])
        gone = evs[2]["object"]
        self.assertEqual(gone["metadata"]["labels"], {"app": "x"}, "DELETED carries the old state")
        self.assertEqual(gone["data"], {"k": "2"})
        self.assertEqual(gone["metadata"]["resourceVersion"],
                         last.json["metadata"]["resourceVersion"])
        self.assertIsNone(w.next(0.5))
        w.close()

    def test_send_initial_events_and_errors(self):
        ns, P = self.new_ns()
        w = self.c.watch(P + "?watch=true&sendInitialEvents=true&resourceVersionMatch="
                             "NotOlderThan&allowWatchBookmarks=true")
        evs = w.events(2, timeout=3)
        self.assertEqual(evs[0]["type"], "ADDED")
        self.assertEqual(evs[1]["type"], "BOOKMARK")
        self.assertEqual(evs[1]["object"]["metadata"]["annotations"],
                         {"k8s.io/initial-events-end": "true"})
        w.close()
        r = self.c.get(P + "?watch=true&sendInitialEvents=true")
        self.assertEqual(r.status, 422)
        self.assertIn("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                      r.json["message"])
        r = self.c.get(P + "?watch=true&fieldSelector=bogus%3D1")
        self.assertEqual(r.status, 400)

    def test_close_watches_hook(self):
        ns, P = self.new_ns()
        w = self.c.watch(P + "?watch=true&resourceVersion=" +
                         self.c.get(P).json["metadata"]["resourceVersion"])
        time.sleep(0.2)
        out = self.server.admin("close-watches")
        self.assertGreaterEqual(out["closed"], 1)
        self.assertIsNone(w.next(3))
        self.assertTrue(w.ended)
        w.close()


if __name__ == "__main__":
    unittest.main()
