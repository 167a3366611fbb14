"""Test hooks: injected status codes (409, 429 with Retry-After, 500, 503) matched by verb,
resource and path with a probability and a count, latency, pause/resume, the request log and
its summary command."""

import json
import os
import subprocess
import sys
import threading
import time
import unittest

from harness import SERVER, ServerTestCase

CM = "/api/v1/namespaces/default/configmaps"


def cm(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


class HooksTest(ServerTestCase):
    def tearDown(self):
        self.server.hook("DELETE", "faults")
        self.server.hook("POST", "resume")

    def test_injected_codes(self):
        out = self.server.admin("fault", "--code", "429", "--verb", "create", "--resource",
                                "configmaps", "--retry-after", "3", "--count", "1")
        self.assertEqual(out["code"], 429)
        r = self.c.post(CM, cm("f1"))
        self.assertEqual(r.status, 429)
        self.assertEqual(r.headers["Retry-After"], "3")
        self.assertEqual(r.json["reason"], "TooManyRequests")
        self.assertEqual(r.json["details"]["retryAfterSeconds"], 3)
        self.assertEqual(self.c.post(CM, cm("f1")).status, 201)  # count exhausted
        self.server.admin("fault", "--code", "503", "--path", "/configmaps/f1$")
        r = self.c.get(CM + "/f1")
        self.assertEqual(r.status, 503)
        self.assertEqual(r.json["reason"], "ServiceUnavailable")
        self.assertIn("Retry-After", r.headers)
        self.assertEqual(self.c.get(CM).status, 200)  # path did not match
        self.server.hook("DELETE", "faults")
        self.server.hook("POST", "faults", {"code": 409, "verb": "update"})
        r = self.c.put(CM + "/f1", cm("f1"))
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json["reason"], "Conflict")
        self.assertEqual(r.json["message"], 'Operation cannot be fulfilled on configmaps "f1": the '
                                            "object has been modified; please apply your changes "
                                            "to the latest version and try again")
        self.server.hook("DELETE", "faults")
        self.server.hook("POST", "faults", {"code": 500, "resource": "leases"})
        r = self.c.get("/apis/coordination.k8s.io/v1/namespaces/default/leases")
        self.assertEqual(r.status, 500)
        self.assertEqual(r.json["reason"], "InternalError")
        self.assertEqual(self.c.get(CM).status, 200)
        st = self.server.hook("GET", "status")
        self.assertEqual(len(st["rules"]), 1)
        self.assertEqual(st["rules"][0]["hits"], 1)
        r = subprocess.run([sys.executable, SERVER, "admin", "--state-dir", self.server.state_dir,
                            "fault", "--code", "418"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("code must be one of 409, 429, 500, 503", r.stderr)

    def test_probability(self):
        self.server.hook("POST", "faults", {"code": 500, "verb": "get", "path": "/prob$",
                                            "probability": 0.5})
        codes = [self.c.get(CM + "/prob").status for _ in range(200)]
        failed = codes.count(500)
        self.assertEqual(failed + codes.count(404), 200)
        self.assertTrue(60 <= failed <= 140, failed)

    def test_latency(self):
        self.server.admin("latency", "--seconds", "0.4", "--verb", "list")
        t = time.monotonic()
        self.assertEqual(self.c.get(CM).status, 200)
        self.assertGreaterEqual(time.monotonic() - t, 0.4)
        t = time.monotonic()
        self.c.get(CM + "/nothing")
        self.assertLess(time.monotonic() - t, 0.3)

    def test_pause_and_resume(self):
        self.server.hook("POST", "pause")
        result = {}

        def call():
            c = self.server.client()
            result["r"] = c.post(CM, cm("paused"))
            result["t"] = time.monotonic()
            c.close()

        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.8)
        self.assertNotIn("r", result, "request answered while paused")
        resumed = time.monotonic()
        self.server.hook("POST", "resume")
        t.join(10)
        self.assertEqual(result["r"].status, 201)
        self.assertGreaterEqual(result["t"], resumed)

    def test_request_log_and_summary(self):
        self.server.hook("POST", "reset-log")
        self.c.post(CM, cm("logged"))
        self.c.post(CM, cm("logged"))
        self.c.get(CM + "/logged")
        self.c.get(CM)
        self.c.delete(CM + "/logged")
        self.server.hook("POST", "flush")
        path = os.path.join(self.server.state_dir, "requests.log")
        with open(path) as f:
            entries = [json.loads(l) for l in f if l.strip()]
        api = [e for e in entries if "/_admin/" not in e["path"]]
        self.assertEqual([(e["verb"], e["code"]) for e in api],
                         [("create", 201), ("create", 409), ("get", 200), ("list", 200),
                          ("delete", 200)])
        for e in api:
            self.assertEqual(set(e), {"time", "user", "verb", "resource", "path", "code",
                                      "duration"})
            self.assertEqual(e["user"], "kubernetes-admin")
            self.assertEqual(e["resource"], "configmaps")
            self.assertGreaterEqual(e["duration"], 0)
        r = subprocess.run([sys.executable, SERVER, "summary", "--state-dir",
                            self.server.state_dir, "--json"], stdout=subprocess.PIPE, text=True,
                           check=True)
        s = json.loads(r.stdout)
        self.assertEqual(s["byVerbAndCode"]["create"], {"201": 1, "409": 1})
        self.assertEqual(s["byVerb"]["get"], 1)
        r = subprocess.run([sys.executable, SERVER, "summary", "--state-dir",
                            self.server.state_dir], stdout=subprocess.PIPE, text=True,
                           check=True)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split()[:2], ["verb", "total"])
        self.assertIn("create", [l.split()[0] for l in lines])


if __name__ == "__main__":
    unittest.main()
