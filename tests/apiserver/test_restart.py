"""Restart with state preserved: objects, resourceVersions, CRDs and tokens survive a stop and
start on the same state directory; watches from before the restart get 410 Expired."""

import os
import shutil
import tempfile
import time
import unittest

import yamlish
from harness import HERE, Server


class RestartTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="apiserver-restart-")
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self):
        self.server = Server(state_dir=self.dir).start()
        return self.server, self.server.client()

    def test_stop_and_start_keeps_everything(self):
        s, c = self.start()
        port = s.port
        with open(os.path.join(HERE, "testdata", "widgets-crd.yaml")) as f:
            crd = yamlish.load(f.read())
        self.assertEqual(c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                                crd).status, 201)
        w = c.post("/apis/example.com/v1/namespaces/default/widgets",
                   {"apiVersion": "example.com/v1", "kind": "Widget",
                    "metadata": {"name": "keep"}, "spec": {"size": 4}}).json
        sa = c.post("/api/v1/namespaces/default/serviceaccounts",
                    {"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": "robot"}}).json
        token = s.sa_token("default/robot")
        cm = c.post("/api/v1/namespaces/default/configmaps",
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"},
                     "data": {"a": "1"}}).json
        before = c.get("/api/v1/namespaces/default/configmaps").json["metadata"][
            "resourceVersion"]
        c.close()
        s.stop()

        s, c = self.start()
        self.assertEqual(s.port, port, "restart without --port reuses the previous port")
        got = c.get("/api/v1/namespaces/default/configmaps/keep").json
        self.assertEqual(got["metadata"]["uid"], cm["metadata"]["uid"])
        self.assertEqual(got["metadata"]["resourceVersion"], cm["metadata"]["resourceVersion"])
        self.assertEqual(got["data"], {"a": "1"})
        got = c.get("/apis/example.com/v1/namespaces/default/widgets/keep").json
        self.assertEqual(got["metadata"]["uid"], w["metadata"]["uid"])
        self.assertEqual(got["spec"]["size"], 4)
        self.assertEqual(c.get("/api/v1/namespaces/default/serviceaccounts/robot").json[
            "metadata"]["uid"], sa["metadata"]["uid"])
        after = c.get("/api/v1/namespaces/default/configmaps").json["metadata"][
            "resourceVersion"]
        self.assertGreaterEqual(int(after), int(before))
        new = c.patch("/api/v1/namespaces/default/configmaps/keep", {"data": {"a": "2"}}).json
        self.assertGreater(int(new["metadata"]["resourceVersion"]), int(after))
        # a token made before the restart still works
        tc = s.client(token)
        self.assertEqual(tc.get("/api/v1/namespaces/default/configmaps").status, 200)
        tc.close()
        # watching from a resourceVersion of the previous run: 410, then relist works
        old = w["metadata"]["resourceVersion"]
        self.assertLess(int(old), int(before))
        wch = c.watch("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=" + old)
        ev = wch.next(5)
        self.assertEqual((ev["type"], ev["object"]["code"]), ("ERROR", 410))
        wch.close()
        rv = c.get("/api/v1/namespaces/default/configmaps").json["metadata"]["resourceVersion"]
        wch = c.watch("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=" + rv)
        c.patch("/api/v1/namespaces/default/configmaps/keep", {"data": {"a": "3"}})
        self.assertEqual(wch.next(5)["type"], "MODIFIED")
        wch.close()
        c.close()

    def test_state_survives_a_kill(self):
        s, c = self.start()
        c.post("/api/v1/namespaces/default/configmaps",
               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flushed"}})
        c.close()
        time.sleep(1.5)  # the state file is written in the background within a second
        s.kill()
        s, c = self.start()
        self.assertEqual(c.get("/api/v1/namespaces/default/configmaps/flushed").status, 200)
        c.close()


if __name__ == "__main__":
    unittest.main()
