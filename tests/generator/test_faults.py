"""Things going wrong around the generator: downstreams that refuse, hang, cannot be resolved
or answer errors; a collector that is down, throttles, refuses or rejects part of a batch; an
export queue that overflows. The generator goes on answering and counts what happened."""

import time
import unittest

from ho11ytest import SCALE, Ho11yCase, OtlpReceiver, closed_port, metric_value

SERVER, CLIENT = 2, 3


class DownstreamErrors(Ho11yCase):
    def test_failing_downstreams_become_error_spans(self):
        rcv = self.receiver()
        hang = self.hang()
        ok = self.recorder()
        broken = self.recorder(status=500, body=b"oops")
        dead = "http://127.0.0.1:%d/" % closed_port()
        nowhere = "http://ho11y-test.invalid/"
        h = self.start({"DOWNSTREAM0": dead, "DOWNSTREAM1": hang.url, "DOWNSTREAM2": nowhere,
                        "DOWNSTREAM3": broken.url, "DOWNSTREAM4": ok.url,
                        "HO11Y_DOWNSTREAM_TIMEOUT": "500ms",
                        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rcv.url})
        status, _, body = h.get()
        self.assertEqual(status, 200)  # the request goes on past every failure
        self.assertEqual(len(body), 49)
        trace = body.decode()[12:-2].replace("-", "")[1:]
        spans = rcv.wait_spans(6, timeout=10 * SCALE, pred=lambda s: s["traceId"] == trace)
        self.assertEqual(len(spans), 6)
        server = [s for s in spans if s["kind"] == SERVER][0]
        self.assertEqual(server.get("status", {}).get("code", 0), 0)
        clients = {s["attrs"]["http.url"]: s for s in spans if s["kind"] == CLIENT}
        self.assertEqual(set(clients), {dead, hang.url, nowhere, broken.url, ok.url})
        for url, kind in ((dead, "connect"), (hang.url, "timeout"), (nowhere, "dns")):
            s = clients[url]
            self.assertEqual(s["status"]["code"], 2, s)
            self.assertTrue(s["status"].get("message"), s)
            self.assertEqual(s["attrs"]["error.type"], kind)
            self.assertNotIn("http.status_code", s["attrs"])
            self.assertEqual(s["parentSpanId"], server["spanId"])
            events = s.get("events", [])
            self.assertEqual([e["name"] for e in events], ["exception"])
        self.assertEqual(clients[nowhere]["attrs"]["peer.service"], "ho11y-test.invalid")
        # The hanging call ends at the timeout, not before and not much later.
        d = (clients[hang.url]["end"] - clients[hang.url]["start"]) / 1e9
        self.assertTrue(0.45 <= d < 0.5 + 2 * SCALE, d)
        # A downstream's 500 is an answer: an error span with its code, the request goes on.
        s = clients[broken.url]
        self.assertEqual((s["status"]["code"], s["attrs"]["http.status_code"]), (2, 500))
        s = clients[ok.url]
        self.assertEqual((s.get("status", {}).get("code", 0), s["attrs"]["http.status_code"]),
                         (0, 200))
        self.assertEqual(len(ok.requests), 1)
        fams = h.scrape()
        for url, kind in ((dead, "connect"), (hang.url, "timeout"), (nowhere, "dns")):
            self.assertEqual(metric_value(fams, "ho11y_downstream_errors_total", downstream=url,
                                          reason=kind), 1)
        errors = [l for l in h.lines() if l.get("level") == "error"]
        self.assertEqual(sorted(l["msg"] for l in errors),
                         sorted("HTTP GET to %s failed" % u for u in (dead, hang.url, nowhere)))
        self.assertEqual(h.get("/healthz")[0], 200)
        self.assertIsNone(h.proc.poll())


class Collector(Ho11yCase):
    def counters(self, h):
        fams = h.scrape()
        dropped = sum(metric_value(fams, "ho11y_spans_dropped_total", reason=r)
                      for r in ("queue_full", "export_failed", "shutdown"))
        return (metric_value(fams, "ho11y_spans_created_total"),
                metric_value(fams, "ho11y_spans_exported_total"), dropped,
                metric_value(fams, "ho11y_export_queue_spans"))

    def test_collector_down_then_up(self):
        port = closed_port()
        h = self.start({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:%d/v1/traces" % port,
                        "OTEL_BSP_EXPORT_TIMEOUT": "700"})
        for status, _, _ in h.get_many(20, workers=4):
            self.assertEqual(status, 200)
        # Nothing listens: after the export timeout the spans are dropped and counted.
        h.wait_metric("ho11y_spans_dropped_total", lambda v: v >= 20, reason="export_failed")
        created, exported, dropped, queued = self.counters(h)
        self.assertEqual((created, exported, dropped, queued), (20, 0, 20, 0))
        rcv = OtlpReceiver(port=port)
        self.addCleanup(rcv.close)
        for status, _, _ in h.get_many(30, workers=4):
            self.assertEqual(status, 200)
        spans = rcv.wait_spans(30, timeout=10 * SCALE)
        self.assertEqual(len(spans), 30)
        self.assertEqual(rcv.errors, [])
        h.wait_metric("ho11y_spans_exported_total", lambda v: v >= 30)
        created, exported, dropped, queued = self.counters(h)
        self.assertEqual(created, 50)
        self.assertEqual(created, exported + dropped + queued)
        self.assertEqual((exported, dropped), (30, 20))
        self.assertIsNone(h.proc.poll())
        fams = h.scrape()
        self.assertGreaterEqual(metric_value(fams, "ho11y_export_errors_total", status="connect"), 1)
        self.assertTrue(any(l.get("msg") == "trace export recovered" for l in h.lines()))

    def test_endpoint_precedence_headers_and_batches(self):
        rcv = self.receiver()
        base = "http://127.0.0.1:%d" % rcv.port
        # The generic variable is a base URL that gets v1/traces; extra headers are decoded.
        h = self.start({"OTEL_EXPORTER_OTLP_ENDPOINT": base,
                        "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=abc%20def,tenant=t1",
                        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "tenant=t2",
                        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10", "OTEL_SERVICE_NAME": "svc-a",
                        "OTEL_RESOURCE_ATTRIB": "svc-b"}, name="generic")
        self.assertEqual({r[0] for r in h.get_many(35, workers=5)}, {200})
        spans = rcv.wait_spans(35, timeout=10 * SCALE)
        self.assertEqual(len(spans), 35)
        self.assertEqual({s["service"] for s in spans}, {"svc-a"})
        self.assertEqual({r["path"] for r in rcv.requests}, {"/v1/traces"})
        for r in rcv.requests:
            self.assertEqual(r["headers"]["x-api-key"], "abc def")
            self.assertEqual(r["headers"]["tenant"], "t2")  # the traces variable wins
            self.assertLessEqual(r["spans"], 10)
        self.assertGreaterEqual(len(rcv.requests), 4)
        # The per-signal URL is used as it is, and wins over the generic one.
        n = len(rcv.requests)
        h2 = self.start({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % closed_port(),
                         "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": base + "/custom/path"},
                        name="per-signal")
        self.assertEqual(h2.get()[0], 200)
        self.assertEqual(len(rcv.wait_spans(36, timeout=10 * SCALE)), 36)
        self.assertEqual(rcv.requests[n]["path"], "/custom/path")

    def test_retries_honour_retry_after(self):
        rcv = self.receiver()
        rcv.script = [(503, {"Retry-After": "1"}, {}), (429, {"Retry-After": "1"}, {}),
                      (502, {}, {})]
        h = self.start({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rcv.url})
        self.assertEqual(h.get()[0], 200)
        spans = rcv.wait_spans(1, timeout=15 * SCALE)
        self.assertEqual(len(spans), 1)
        times = [r["time"] for r in rcv.requests]
        self.assertEqual(len(times), 4)
        self.assertGreaterEqual(times[1] - times[0], 0.95)  # Retry-After: 1
        self.assertGreaterEqual(times[2] - times[1], 0.95)
        self.assertLess(times[3] - times[2], 1.0 + SCALE)  # back-off without Retry-After
        h.wait_metric("ho11y_spans_exported_total", lambda v: v >= 1)
        fams = h.scrape()
        for code in ("503", "429", "502"):
            self.assertEqual(metric_value(fams, "ho11y_export_requests_total", status=code), 1)
            self.assertEqual(metric_value(fams, "ho11y_export_errors_total", status=code), 1)
        self.assertEqual(metric_value(fams, "ho11y_export_requests_total", status="200"), 1)
        self.assertEqual(metric_value(fams, "ho11y_spans_exported_total"), 1)

    def test_no_retry_on_400(self):
        rcv = self.receiver()
        rcv.script = [(400, {}, {"code": 3, "message": "bad span"})]
        h = self.start({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rcv.url})
        self.assertEqual(h.get()[0], 200)
        self.assertEqual(h.wait_metric("ho11y_spans_dropped_total", lambda v: v >= 1,
                                       reason="export_failed"), 1)
        time.sleep(1.0)  # a retry would come within the first back-off
        self.assertEqual(len(rcv.requests), 1)
        self.assertEqual(h.get()[0], 200)  # the next batch goes through
        self.assertEqual(len(rcv.wait_spans(1, timeout=10 * SCALE)), 1)
        self.assertEqual(len(rcv.requests), 2)

    def test_partial_success_counts_rejected_spans(self):
        rcv = self.receiver()
        rcv.script = [(200, {}, {"partialSuccess": {"rejectedSpans": "2",
                                                    "errorMessage": "2 spans too old"}})]
        h = self.start({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rcv.url,
                        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "3", "OTEL_BSP_SCHEDULE_DELAY": "60000"})
        for status, _, _ in h.get_many(3, workers=3):
            self.assertEqual(status, 200)
        self.assertEqual(h.wait_metric("ho11y_spans_rejected_total", lambda v: v >= 2), 2)
        fams = h.scrape()
        self.assertEqual(metric_value(fams, "ho11y_spans_exported_total"), 1)
        time.sleep(0.5)
        self.assertEqual(len(rcv.requests), 1)  # partial success is never retried
        self.assertEqual(rcv.requests[0]["size"] > 0, True)
        self.assertTrue(any(l.get("msg") == "OTLP receiver rejected spans" for l in h.lines()))

    def test_spans_queued_behind_a_slow_collector_arrive_whole(self):
        # The first batch waits a second for its retry while 35 more spans queue up: past half
        # the queue they are queued as JSON rather than packed, and the next batch mixes both.
        rcv = self.receiver()
        rcv.script = [(503, {"Retry-After": "1"}, {})]
        h = self.start({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rcv.url,
                        "OTEL_BSP_MAX_QUEUE_SIZE": "40", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "40",
                        "OTEL_BSP_SCHEDULE_DELAY": "10"})
        parent = "00-6b1332c3ef46a4df968a77d6eb353c2c-00f067aa0ba902b7-01"
        self.assertEqual(h.get(headers={"traceparent": parent, "tracestate": "k=v,a=b"})[0],
                         200)
        time.sleep(0.2)  # the first batch is out and waiting for its retry
        ids = set()
        for status, _, body in h.get_many(35, workers=5):
            self.assertEqual(status, 200)
            ids.add(body.decode()[12:-2].replace("-", "")[1:])
        spans = rcv.wait_spans(36, timeout=15 * SCALE)
        self.assertEqual(rcv.errors, [])
        self.assertEqual(len(spans), 36)
        self.assertEqual({sp["traceId"] for sp in spans},
                         ids | {"6b1332c3ef46a4df968a77d6eb353c2c"})
        first = [sp for sp in spans if sp.get("parentSpanId")]
        self.assertEqual([(sp["parentSpanId"], sp.get("traceState")) for sp in first],
                         [("00f067aa0ba902b7", "k=v,a=b")])
        for sp in spans:
            self.assertEqual((sp["kind"], sp["attrs"]["http.status_code"]), (SERVER, 200), sp)
        # The receiver has the spans before the exporter has read its answer and counted them.
        h.wait_metric("ho11y_spans_exported_total", lambda v: v >= 36)
        created, exported, dropped, queued = self.counters(h)
        self.assertEqual((created, exported, dropped), (36, 36, 0))

    def test_queue_overflow_drops_without_blocking(self):
        hang = self.hang()  # a collector that never answers
        h = self.start({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": hang.url + "v1/traces",
                        "OTEL_BSP_MAX_QUEUE_SIZE": "10", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10",
                        "OTEL_BSP_SCHEDULE_DELAY": "10"})
        t = time.monotonic()
        results = h.get_many(500, workers=8)
        elapsed = time.monotonic() - t
        self.assertEqual({r[0] for r in results}, {200})
        self.assertLess(elapsed, 3 * SCALE)  # requests never wait for the exporter
        created, exported, dropped, queued = self.counters(h)
        self.assertEqual(created, 500)
        self.assertEqual(exported, 0)
        fams = h.scrape()
        full = metric_value(fams, "ho11y_spans_dropped_total", reason="queue_full")
        # At most one batch in flight plus a full queue are kept; the rest is dropped.
        self.assertGreaterEqual(full, 500 - 20)
        self.assertLessEqual(queued, 10)
        self.assertEqual(metric_value(fams, "ho11y_export_queue_capacity_spans"), 10)


if __name__ == "__main__":
    unittest.main()
