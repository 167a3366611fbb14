"""Bad input gets the right Kubernetes error and the server keeps serving everyone else:
malformed JSON and YAML, wrong content types, unknown resources, oversized bodies, broken
HTTP and broken watch clients."""

import socket
import ssl
import unittest

from harness import ServerTestCase

CM = "/api/v1/namespaces/default/configmaps"


class BadInputTest(ServerTestCase):
    def assert_alive(self):
        r = self.c.get("/version")
        self.assertEqual(r.status, 200)

    def test_malformed_json_and_yaml(self):
        r = self.c.request("POST", CM, raw=b'{"apiVersion": "v1", "kind": ')
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["reason"], "BadRequest")
        self.assertTrue(r.json["message"].startswith("couldn't get version/kind; json parse "
                                                     "error: "), r.json["message"])
        r = self.c.request("POST", CM, raw=b"[1, 2]")
        self.assertEqual(r.status, 400)
        r = self.c.request("POST", CM, raw=b"")
        self.assertEqual(r.status, 400)
        r = self.c.request("POST", CM, raw=b"\xff\xfe", ctype="application/json")
        self.assertEqual(r.status, 400)
        r = self.c.request("POST", CM, raw=b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                           b"  name: from-yaml\ndata:\n  a: '1'\n",
                           ctype="application/yaml")
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json["data"], {"a": "1"})
        r = self.c.request("POST", CM, raw=b"apiVersion: v1\nkind: [unclosed\n",
                           ctype="application/yaml")
        self.assertEqual(r.status, 400)
        self.assertIn("yaml:", r.json["message"])
        r = self.c.request("PATCH", CM + "/from-yaml", raw=b"{not json",
                           ctype="application/merge-patch+json")
        self.assertEqual(r.status, 400)
        r = self.c.request("PATCH", CM + "/from-yaml?fieldManager=x", raw=b"a: [",
                           ctype="application/apply-patch+yaml")
        self.assertEqual(r.status, 400)
        r = self.c.request("PATCH", CM + "/from-yaml", raw=b'{"op":"add"}',
                           ctype="application/json-patch+json")
        self.assertEqual(r.status, 400)
        r = self.c.request("DELETE", CM + "/from-yaml", raw=b"{bad")
        self.assertEqual(r.status, 400)
        r = self.c.post(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": "oops"})
        self.assertEqual(r.status, 400)
        r = self.c.post(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "labels", "labels": {"bad key!": "x"}}})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["details"]["causes"][0]["field"], "metadata.labels")
        self.assert_alive()

    def test_content_types(self):
        r = self.c.request("POST", CM, raw=b"name=x", ctype="application/x-www-form-urlencoded")
        self.assertEqual(r.status, 415)
        self.assertEqual(r.json["reason"], "UnsupportedMediaType")
        self.assertEqual(r.json["message"], "the body of the request was in an unknown format - "
                                            "accepted media types include: application/json, "
                                            "application/yaml, application/vnd.kubernetes."
                                            "protobuf")
        r = self.c.request("POST", CM, raw=b"k8s\x00garbage",
                           ctype="application/vnd.kubernetes.protobuf")
        self.assertIn(r.status, (400, 415))
        r = self.c.request("POST", CM, raw=b'{"apiVersion":"v1","kind":"ConfigMap",'
                                           b'"metadata":{"name":"noctype"}}', ctype="")
        self.assertEqual(r.status, 201)  # no Content-Type: decoded as JSON
        self.assert_alive()

    def test_unknown_resources_and_methods(self):
        for path in ("/api/v1/widgets", "/apis/nope.example.com/v1/things", "/apis/apps/v9/x",
                     "/nothing/here", "/api/v1/namespaces/default/configmaps/a/b/c"):
            r = self.c.get(path)
            self.assertEqual((r.status, r.raw), (404, b"404 page not found\n"), path)
            self.assertEqual(r.headers["Content-Type"], "text/plain; charset=utf-8")
        r = self.c.post("/api/v1/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                               "metadata": {"name": "x"}})
        self.assertEqual(r.status, 405)
        self.assertEqual(r.json["reason"], "MethodNotAllowed")
        r = self.c.get(CM + "/x/status")
        self.assertEqual(r.status, 404)
        self.assert_alive()

    def test_oversized_body(self):
        big = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"' + \
            b"x" * (3 * 1024 * 1024) + b'"}}'
        r = self.c.request("POST", CM, raw=big)
        self.assertEqual(r.status, 413)
        self.assertEqual(r.json["reason"], "RequestEntityTooLarge")
        self.assertEqual(r.json["message"], "Request entity too large: limit is 3145728")
        self.c.close()
        # just under the limit is accepted by the transport (and then validated)
        ok = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fits"},"data":{"a":"' + \
            b"x" * (1024 * 1024) + b'"}}'
        r = self.c.request("POST", CM, raw=ok)
        self.assertEqual(r.status, 201)
        self.assert_alive()

    def _raw_tls(self):
        ctx = ssl.create_default_context(cafile=self.server.ca)
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        return ctx.wrap_socket(s, server_hostname="127.0.0.1")

    def test_broken_http_clients(self):
        s = self._raw_tls()
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        data = s.recv(4096)
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data)
        s.close()
        # a client that sends half a request and disappears
        s = self._raw_tls()
        s.sendall(b"POST " + CM.encode() + b" HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        s.close()
        # plain TCP garbage instead of a TLS handshake
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n")
        raw.close()
        self.assert_alive()

    def test_broken_watch_client(self):
        s = self._raw_tls()
        tok = self.server.token
        s.sendall(("GET %s?watch=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                   % (CM, tok)).encode())
        s.recv(100)
        # the client stops reading; many events pile up, then it vanishes
        for i in range(200):
            self.c.post(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "flood-%d" % i}, "data": {"x": "y" * 2000}})
        s.close()
        w = self.c.watch(CM + "?watch=true&resourceVersion=" +
                         self.c.get(CM).json["metadata"]["resourceVersion"])
        self.c.post(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after"}})
        ev = w.next(5)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "after"))
        w.close()

        def watches():
            return self.server.hook("GET", "status")["watches"]

        self.wait_for(lambda: watches() == 0, timeout=10, what="dead watches reaped")
        self.assert_alive()


if __name__ == "__main__":
    unittest.main()
