"""HO11Y_CONNECT_TO: calls keep their URL (and so their spans and Host header) and connect to
the mapped address instead, as libcurl's CURLOPT_CONNECT_TO does. This is how `ho11yctl run`
calls "http://backend:8765" on a local port; names under .invalid never resolve, so a request
that reached the mapped port can only have gone through the mapping."""

import unittest

from ho11ytest import SCALE, Ho11yCase, closed_port, metric_value

SERVER, CLIENT = 2, 3


class ConnectTo(Ho11yCase):
    def test_downstream_call_reaches_the_mapped_port(self):
        rcv = self.receiver()
        backend = self.recorder(body=b"backend")
        other = self.recorder(body=b"other")
        dead = closed_port()
        h = self.start({
            "DOWNSTREAM0": "http://backend.invalid:8765",
            "DOWNSTREAM1": "http://other.invalid/path",
            "DOWNSTREAM2": "http://ghost.invalid:8080/",
            "DOWNSTREAM3": "http://unmapped.invalid/",
            "HO11Y_CONNECT_TO": "backend.invalid:8765:127.0.0.1:%d, other.invalid:80:127.0.0.1:%d,"
                                "ghost.invalid:8080:127.0.0.1:%d" % (backend.port, other.port,
                                                                      dead),
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rcv.url})
        status, _, body = h.get()
        self.assertEqual(status, 200)
        trace = body.decode()[12:-2].replace("-", "")[1:]
        spans = rcv.wait_spans(5, timeout=10 * SCALE, pred=lambda s: s["traceId"] == trace)
        clients = {s["attrs"]["http.url"]: s for s in spans if s["kind"] == CLIENT}
        self.assertEqual(set(clients), {"http://backend.invalid:8765", "http://other.invalid/path",
                                        "http://ghost.invalid:8080/", "http://unmapped.invalid/"})
        # The mapped calls arrived with the URL's Host header and path.
        self.assertEqual([(r["Host"], r["_path"]) for r in backend.requests],
                         [("backend.invalid:8765", "/")])
        self.assertEqual([(r["Host"], r["_path"]) for r in other.requests],
                         [("other.invalid", "/path")])
        # The spans are those of a call to the URL: peer.service is the host, not the address
        # connected to.
        for url, peer, code in (("http://backend.invalid:8765", "backend.invalid", 200),
                                ("http://other.invalid/path", "other.invalid", 200)):
            s = clients[url]
            self.assertEqual((s["attrs"]["peer.service"], s["attrs"]["server.address"],
                              s["attrs"]["url.full"], s["attrs"]["http.status_code"]),
                             (peer, peer, url, code), s)
        # Mapped to a closed port: refused, like a Service without endpoints.
        s = clients["http://ghost.invalid:8080/"]
        self.assertEqual((s["attrs"]["peer.service"], s["attrs"]["error.type"]),
                         ("ghost.invalid", "connect"), s)
        # No entry for it: the name is looked up, and .invalid never resolves.
        self.assertEqual(clients["http://unmapped.invalid/"]["attrs"]["error.type"], "dns")
        notes = [l.get("msg") for l in h.lines()]
        self.assertIn("Connecting as HO11Y_CONNECT_TO says: backend.invalid:8765:127.0.0.1:%d"
                      % backend.port, notes)

    def test_load_driver_connects_through_the_mapping(self):
        leaf = self.start({"OTEL_TRACES_EXPORTER": "none"}, name="leaf")
        load = self.start({"HO11Y_LOAD_TARGET": "http://frontend.invalid/",
                           "HO11Y_LOAD_RATE": "50", "HO11Y_LOAD_REQUESTS": "10",
                           "HO11Y_CONNECT_TO": "frontend.invalid:80:127.0.0.1:%d" % leaf.port,
                           "OTEL_TRACES_EXPORTER": "none"}, name="load")
        done = load.wait_metric("ho11y_load_requests_total", lambda v: v >= 10,
                                timeout=10 * SCALE, status_code="200")
        self.assertEqual(done, 10)
        self.assertEqual(metric_value(leaf.scrape(), "ho11y_total", http_status_code=200), 10)


if __name__ == "__main__":
    unittest.main()
