"""The recipe's graph as real processes: frontend -> downstream0, downstream1; downstream0 calls an
external URL, downstream1 an external URL and two DUMMY calls (recording servers stand in for
the external sites). Every span is collected by the test OTLP receiver and checked."""

import socket
import time
import unittest

from ho11ytest import (HEX16, SCALE, XRAY_ID, Ho11yCase, otlp_to_xray, xray_to_otlp)

SERVER, CLIENT, INTERNAL = 2, 3, 1
KIB = 1024


class RecipeGraph(Ho11yCase):
    def setUp(self):
        self.rcv = self.receiver()
        self.otel_help = self.recorder(body=b"otel.help page")
        self.o11y_news = self.recorder(body=b"o11y.news front page!")
        common = {"DISABLE_OM": "on", "HO11Y_LOG_DEST": "stdout",
                  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": self.rcv.url}
        self.ds0 = self.start(dict(common, OTEL_RESOURCE_ATTRIB="downstream0",
                                   DOWNSTREAM0=self.otel_help.url), name="downstream0")
        self.ds1 = self.start(dict(common, OTEL_RESOURCE_ATTRIB="downstream1",
                                   OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,team=o11y",
                                   DOWNSTREAM0=self.o11y_news.url,
                                   DOWNSTREAM1="DUMMY:187kB:42ms", DOWNSTREAM2="DUMMY:13kB:2ms"),
                              name="downstream1")
        self.frontend = self.start(dict(common, OTEL_RESOURCE_ATTRIB="frontend",
                                        HO11Y_INJECT_FAILURE="enabled",
                                        DOWNSTREAM0=self.ds0.url, DOWNSTREAM1=self.ds1.url),
                                   name="frontend")

    def by_service(self, spans):
        out = {}
        for s in spans:
            out.setdefault(s["service"], []).append(s)
        return out

    def test_every_request_is_one_linked_trace(self):
        n = 60
        t0 = int(time.time())
        results = self.frontend.get_many(n, workers=6)
        t1 = int(time.time())
        ok = [r for r in results if r[0] == 200]
        failed = [r for r in results if r[0] != 200]
        self.assertEqual(len(results), n)
        self.assertTrue(ok, "no request succeeded out of %d" % n)
        self.assertTrue(failed, "no injected failure out of %d" % n)
        expected = 9 * len(ok) + len(failed)
        spans = self.rcv.wait_spans(expected, timeout=15 * SCALE)
        self.assertEqual(self.rcv.errors, [])
        time.sleep(0.3)  # nothing more may arrive
        self.assertEqual(len(self.rcv.spans), expected)

        for status, headers, body in ok:
            self.assertEqual(headers["content-type"], "application/json")
            self.assertEqual(len(body), 49)
            xray = body.decode()[12:-2]
            self.assertRegex(xray, XRAY_ID.pattern)
            self.assertEqual(body.decode(), '{"traceId":"%s"}' % xray)
            epoch = int(xray[2:10], 16)
            self.assertTrue(t0 - 1 <= epoch <= t1 + 1, (t0, epoch, t1))
            self.check_trace(self.rcv.trace(xray_to_otlp(xray)))

        # A failed request has only the frontend's SERVER span, with the code it answered.
        traces = {}
        for s in spans:
            traces.setdefault(s["traceId"], []).append(s)
        self.assertEqual(len(traces), n)  # one trace per request
        lone = [t for t in traces.values() if len(t) == 1]
        self.assertEqual(len(lone), len(failed))
        self.assertEqual(sorted(t[0]["attrs"]["http.status_code"] for t in lone),
                         sorted(r[0] for r in failed))
        for t in lone:
            s = t[0]
            self.assertEqual((s["service"], s["kind"]), ("frontend", SERVER))
            code = s["attrs"]["http.status_code"]
            # As otlp-xray.md: 5xx is a fault (status ERROR), 4xx an error by its status code
            # attribute (a server span leaves the status unset for a client's error), 3xx OK.
            self.assertEqual(s.get("status", {}).get("code", 0), 2 if code >= 500 else 0, s)

        # The external sites got both propagation headers with the ids of the CLIENT spans.
        clients = {s["spanId"]: s for s in spans if s["kind"] == CLIENT}
        for rec in (self.otel_help, self.o11y_news):
            self.assertEqual(len(rec.requests), len(ok))
            for h in rec.requests:
                tp = h["traceparent"].split("-")
                self.assertEqual((tp[0], tp[3]), ("00", "01"))
                span = clients[tp[2]]
                self.assertEqual(span["traceId"], tp[1])
                self.assertEqual(span["attrs"]["http.url"], rec.url)
                self.assertEqual(h["X-Amzn-Trace-Id"], "Root=%s;Parent=%s;Sampled=1" % (
                    otlp_to_xray(tp[1]), tp[2]))
                self.assertNotIn("tracestate", h)

    def check_trace(self, trace):
        svc = self.by_service(trace)
        self.assertEqual({k: len(v) for k, v in svc.items()},
                         {"frontend": 3, "downstream0": 2, "downstream1": 4}, trace)
        ids = {s["spanId"] for s in trace}
        self.assertEqual(len(ids), 9)
        fe_server = [s for s in svc["frontend"] if s["kind"] == SERVER]
        self.assertEqual(len(fe_server), 1)
        root = fe_server[0]
        self.assertNotIn("parentSpanId", root)
        fe_clients = sorted((s for s in svc["frontend"] if s["kind"] == CLIENT),
                            key=lambda s: s["start"])
        self.assertEqual([s["attrs"]["http.url"] for s in fe_clients],
                         [self.ds0.url, self.ds1.url])
        for c in fe_clients:
            self.assertEqual(c["parentSpanId"], root["spanId"])
            self.assertEqual(c["attrs"]["peer.service"], "127.0.0.1")
            self.assertEqual(c["attrs"]["http.method"], "GET")
            self.assertEqual(c["attrs"]["http.status_code"], 200)
            self.assertEqual(c["name"], "GET")
            self.assertEqual(c.get("status", {}).get("code", 0), 0)
            self.assertTrue(root["start"] <= c["start"] <= c["end"] <= root["end"])
        # Sequential calls: the second starts after the first ended.
        self.assertGreaterEqual(fe_clients[1]["start"], fe_clients[0]["end"])
        # Each downstream's SERVER span is the child of the frontend's CLIENT span for it.
        for name, client in (("downstream0", fe_clients[0]), ("downstream1", fe_clients[1])):
            servers = [s for s in svc[name] if s["kind"] == SERVER]
            self.assertEqual(len(servers), 1)
            server = servers[0]
            self.assertEqual(server["parentSpanId"], client["spanId"])
            self.assertEqual(server["name"], "GET /")
            a = server["attrs"]
            self.assertEqual((a["http.method"], a["http.route"], a["http.status_code"]),
                             ("GET", "/", 200))
            self.assertEqual(a["net.peer.ip"], "127.0.0.1")
            for s in svc[name]:
                if s is not server:
                    self.assertEqual(s["parentSpanId"], server["spanId"])
        ds1 = self.by_service(trace)["downstream1"]
        dummies = sorted((s for s in ds1 if s["kind"] == INTERNAL), key=lambda s: s["start"])
        self.assertEqual([d["attrs"]["ho11y.dummy.size_bytes"] for d in dummies],
                         [187 * KIB, 13 * KIB])
        # DUMMY calls really sleep: 42 ms and 2 ms (never shorter; allow a loaded machine).
        for d, ms in zip(dummies, (42, 2)):
            self.assertGreaterEqual(d["end"] - d["start"], ms * 1000000 - 1000000)
            self.assertEqual(d["name"], "DUMMY")
        server1 = [s for s in ds1 if s["kind"] == SERVER][0]
        self.assertGreaterEqual(server1["end"] - server1["start"], 44 * 1000000)
        for s in trace:
            self.assertTrue(HEX16.match(s["spanId"]))
            self.assertEqual(s.get("traceState", ""), "")

    def test_resource_attributes(self):
        status, _, body = self.frontend.get()
        for _ in range(20):
            if status == 200:
                break
            status, _, body = self.frontend.get()
        self.assertEqual(status, 200)
        trace_id = xray_to_otlp(body.decode()[12:-2])
        self.rcv.wait_spans(9, timeout=10 * SCALE, pred=lambda s: s["traceId"] == trace_id)
        host = socket.gethostname()
        for s in self.rcv.trace(trace_id):
            r = s["resource"]
            self.assertEqual(r["host.name"], host)
            self.assertEqual(r["telemetry.sdk.language"], "c")
            self.assertEqual(r["telemetry.sdk.name"], "ho11y")
            self.assertRegex(r["telemetry.sdk.version"], r"^\d+\.\d+\.\d+")
            self.assertIn(r["service.name"], ("frontend", "downstream0", "downstream1"))
            if r["service.name"] == "downstream1":
                self.assertEqual((r["deployment.environment"], r["team"]), ("test", "o11y"))
            else:
                self.assertNotIn("team", r)

    def test_logs_as_upstream(self):
        ok = [r for r in self.frontend.get_many(10, workers=2) if r[0] == 200]
        self.assertTrue(ok)
        time.sleep(0.2)
        xrays = {r[2].decode()[12:-2] for r in ok}
        invokes = [l for l in self.frontend.lines() if l.get("event") == "invoke"]
        self.assertEqual({l["traceID"] for l in invokes}, xrays)
        for l in invokes:
            self.assertEqual((l["level"], l["msg"]), ("info", "ho11y was invoked"))
            self.assertRegex(l["remote"], r"^127\.0\.0\.1:\d+$")
            self.assertRegex(l["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        down = [l for l in self.ds1.lines() if l.get("event") == "downstream"]
        msgs = {l["msg"] for l in down}
        self.assertEqual(msgs, {"ho11y invoked " + self.o11y_news.url,
                                "ho11y invoked DUMMY:187kB:42ms", "ho11y invoked DUMMY:13kB:2ms"})
        sizes = {l["msg"]: l["body_bytes"] for l in down}
        self.assertEqual(sizes["ho11y invoked DUMMY:187kB:42ms"], 187 * KIB)
        self.assertEqual(sizes["ho11y invoked " + self.o11y_news.url], len(self.o11y_news.body))
        for l in down:
            self.assertIsInstance(l["duration_sec"], float)
        start = [l.get("msg") for l in self.ds1.lines()]
        self.assertIn("Using downstream 1: DUMMY:187kB:42ms", start)
        self.assertIn("OpenMetrics disabled", start)
        self.assertIn("Failure injection enabled, dropping half of the requests",
                      [l.get("msg") for l in self.frontend.lines()])


class Propagation(Ho11yCase):
    """Inbound headers read (traceparent first, then X-Amzn-Trace-Id) and both sent onwards."""

    def setUp(self):
        self.rcv = self.receiver()
        self.ext = self.recorder()
        self.svc = self.start({"OTEL_SERVICE_NAME": "svc", "DOWNSTREAM0": self.ext.url,
                               "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": self.rcv.url})

    def call(self, headers):
        status, _, body = self.svc.get(headers=headers)
        self.assertEqual(status, 200)
        xray = body.decode()[12:-2]
        spans = self.rcv.wait_spans(2, timeout=10 * SCALE,
                                    pred=lambda s: s["traceId"] == xray_to_otlp(xray))
        self.assertEqual(len(spans), 2)
        server = [s for s in spans if s["kind"] == SERVER][0]
        client = [s for s in spans if s["kind"] == CLIENT][0]
        return xray, server, client, self.ext.requests[-1]

    def test_traceparent_first_and_tracestate_kept(self):
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        parent = "00f067aa0ba902b7"
        other = "1-5759e988-bd862e3fe1be46a994272793"
        xray, server, client, out = self.call({
            "traceparent": "00-%s-%s-01" % (trace, parent),
            "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
            "X-Amzn-Trace-Id": "Root=%s;Parent=53995c3f42cd8ad8;Sampled=1" % other})
        self.assertEqual(xray, otlp_to_xray(trace))  # the incoming trace id, unchanged
        self.assertEqual(server["parentSpanId"], parent)
        self.assertEqual(server["traceState"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        self.assertEqual(client["parentSpanId"], server["spanId"])
        self.assertEqual(out["traceparent"], "00-%s-%s-01" % (trace, client["spanId"]))
        self.assertEqual(out["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        self.assertEqual(out["X-Amzn-Trace-Id"],
                         "Root=%s;Parent=%s;Sampled=1" % (otlp_to_xray(trace), client["spanId"]))

    def test_xray_header_when_no_traceparent(self):
        root = "1-5759e988-bd862e3fe1be46a994272793"
        xray, server, client, out = self.call({
            "X-Amzn-Trace-Id": "Root=%s;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1"
                               % root})
        self.assertEqual(xray, root)
        self.assertEqual(server["parentSpanId"], "53995c3f42cd8ad8")
        self.assertEqual(out["traceparent"], "00-%s-%s-01" % (xray_to_otlp(root), client["spanId"]))
        self.assertEqual(out["X-Amzn-Trace-Id"],
                         "Root=%s;Parent=%s;Sampled=1;Lineage=a87bd80c:1" % (root, client["spanId"]))

    def test_invalid_traceparent_falls_back_to_xray(self):
        root = "1-5759e988-bd862e3fe1be46a994272793"
        xray, server, _, _ = self.call({
            "traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "X-Amzn-Trace-Id": "Root=%s;Parent=53995c3f42cd8ad8" % root})
        self.assertEqual(xray, root)
        self.assertEqual(server["parentSpanId"], "53995c3f42cd8ad8")

    def test_no_header_starts_a_root_trace(self):
        t0 = int(time.time())
        xray, server, client, out = self.call({})
        self.assertNotIn("parentSpanId", server)
        self.assertLessEqual(abs(int(xray[2:10], 16) - t0), 2)
        self.assertEqual(out["traceparent"].split("-")[1], xray_to_otlp(xray))


if __name__ == "__main__":
    unittest.main()
