"""Hostile input: malformed trace-context headers, oversized headers, garbage requests, slowloris
clients and more idle connections than the limit. The generator must answer sensibly, keep
serving others and never crash."""

import os
import socket
import threading
import time
import unittest

from ho11ytest import SCALE, Ho11yCase, RawConn, metric_value, xray_to_otlp

SERVER = 2
T = "4bf92f3577b34da6a3ce929d0e0e4736"
P = "00f067aa0ba902b7"
ROOT = "1-5759e988-bd862e3fe1be46a994272793"

BAD_TRACEPARENT = [
    "00-%s-%s-01-extra" % (T, P),                     # version 00 is exactly 55 characters
    "00-%s-%s-01" % (T, P) + "0" * 5000,              # far too long
    "00-%s-%s-01" % (T[:-1] + "g", P),                # bad hex
    "00-%s-%s-01" % (T.upper(), P),                   # upper case
    "00-%s-%s-01" % ("0" * 32, P),                    # all-zero trace id
    "00-%s-%s-01" % (T, "0" * 16),                    # all-zero parent id
    "ff-%s-%s-01" % (T, P),                           # forbidden version
    "0x-%s-%s-01" % (T, P),                           # version not hex
    "00-%s-%s-01" % (T[:30], P),                      # short trace id
    "00_%s_%s_01" % (T, P),                           # wrong separators
    "00-%s-%s-0" % (T, P),                            # short flags
    "",
    "-",
    "\t \t",
]

BAD_XRAY = [
    "Root=%s;Parent=%s;Foo=%s" % (ROOT, P, "a" * 3000),  # too long
    "Root=1-5759e98g-bd862e3fe1be46a994272793;Parent=%s" % P,  # bad hex
    "Root=1-00000000-000000000000000000000000;Parent=%s" % P,  # all zeros
    "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=%s" % P,  # wrong version
    "Root=1-5759e988-bd862e3fe1be46a99427279;Parent=%s" % P,  # short
    "Root=1_5759e988_bd862e3fe1be46a994272793;Parent=%s" % P,  # separators
    "Root=%s;Parent=xyz" % ROOT,  # bad parent
    "Root=%s;Parent=%s" % (ROOT, "0" * 16),  # all-zero parent
    "Root=%s;Root=%s;Parent=%s" % (ROOT, ROOT, P),  # twice
    "Parent=%s;Sampled=1" % P,  # no root
    ";;;==;=;",
    "Root=",
]


class MalformedContext(Ho11yCase):
    def setUp(self):
        self.rcv = self.receiver()
        self.h = self.start({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": self.rcv.url})

    def new_trace_for(self, headers, forbidden):
        status, _, body = self.h.get(headers=headers)
        self.assertEqual(status, 200, headers)
        xray = body.decode()[12:-2]
        trace = xray_to_otlp(xray)
        self.assertNotIn(trace, forbidden, headers)
        self.assertLessEqual(abs(int(xray[2:10], 16) - time.time()), 5)
        spans = self.rcv.wait_spans(1, timeout=10 * SCALE, pred=lambda s: s["traceId"] == trace)
        self.assertEqual(len(spans), 1)
        self.assertNotIn("parentSpanId", spans[0], headers)
        self.assertEqual(spans[0].get("traceState", ""), "")

    def test_malformed_traceparent_starts_a_new_trace(self):
        for v in BAD_TRACEPARENT:
            self.new_trace_for({"traceparent": v, "tracestate": "a=b"}, {T, "0" * 32})

    def test_malformed_xray_header_starts_a_new_trace(self):
        for v in BAD_XRAY:
            self.new_trace_for({"X-Amzn-Trace-Id": v}, {xray_to_otlp(ROOT), "0" * 32})

    def test_both_malformed(self):
        self.new_trace_for({"traceparent": BAD_TRACEPARENT[2], "X-Amzn-Trace-Id": BAD_XRAY[1]},
                           {T, xray_to_otlp(ROOT)})

    def test_bad_tracestate_is_dropped_trace_kept(self):
        for ts in ("a" * 600 + "=b", "UPPER=x", "k=v,k=w", ",".join("k%d=v" % i for i in range(40)),
                   "k=\x01"):
            status, _, body = self.h.get(headers={"traceparent": "00-%s-%s-01" % (T, P),
                                                  "tracestate": ts})
            self.assertEqual(status, 200)
            self.assertEqual(xray_to_otlp(body.decode()[12:-2]), T)
        spans = self.rcv.wait_spans(5, timeout=10 * SCALE, pred=lambda s: s["traceId"] == T)
        self.assertEqual(len(spans), 5)
        for s in spans:
            self.assertEqual(s["parentSpanId"], P)
            self.assertEqual(s.get("traceState", ""), "")

    def test_future_traceparent_version_is_read(self):
        status, _, body = self.h.get(headers={"traceparent": "01-%s-%s-03-future" % (T, P)})
        self.assertEqual((status, xray_to_otlp(body.decode()[12:-2])), (200, T))

    def test_non_ascii_header_bytes(self):
        c = RawConn(self.h.port)
        self.addCleanup(c.close)
        status, _, body = c.exchange(b"GET / HTTP/1.1\r\nHost: x\r\ntraceparent: 00-\xff\xfe\x00abc"
                                     b"\r\nX-Amzn-Trace-Id: Root=\xc3\xa9\r\n\r\n")
        self.assertIn(status, (200, 400))
        self.assertEqual(self.h.get()[0], 200)


class Oversized(Ho11yCase):
    def setUp(self):
        self.h = self.start({"OTEL_TRACES_EXPORTER": "none"})

    def send(self, raw):
        c = RawConn(self.h.port)
        try:
            return c.exchange(raw)
        finally:
            c.close()

    def test_huge_headers_are_refused(self):
        cases = [
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
            + b"\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\ntraceparent: " + b"0" * 60000 + b"\r\n\r\n",
            b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        ]
        for raw in cases:
            try:
                status = self.send(raw)[0]
            except (ConnectionError, OSError):
                status = None  # closed without an answer is acceptable too
            self.assertIn(status, (413, 414, 431, None))
        self.assertEqual(self.h.get()[0], 200)
        self.assertIsNone(self.h.proc.poll())

    def test_ordinary_large_headers_are_accepted(self):
        status, _, body = self.h.get(headers={"Cookie": "c" * 6000, "X-Other": "o" * 500})
        self.assertEqual((status, len(body)), (200, 49))

    def test_garbage_requests(self):
        for raw in (b"\x00\x01\x02garbage\r\n\r\n", b"GET\r\n\r\n", b"G\xffT / HTTP/1.1\r\n\r\n",
                    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
            try:
                status = self.send(raw)[0]
                self.assertGreaterEqual(status, 400, raw)
            except (ConnectionError, OSError):
                pass
        self.assertEqual(self.h.get()[0], 200)
        self.assertIsNone(self.h.proc.poll())


class SlowClients(Ho11yCase):
    def test_slowloris_is_cut_and_others_are_served(self):
        h = self.start({"OTEL_TRACES_EXPORTER": "none", "HO11Y_IDLE_TIMEOUT": "2s"})
        closed_after = []
        lock = threading.Lock()

        def trickle():
            s = socket.create_connection(("127.0.0.1", h.port), timeout=0.05)
            req = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"b" * 10000
            t = time.monotonic()
            try:
                for i in range(len(req)):
                    s.sendall(req[i:i + 1])
                    try:
                        if s.recv(100) == b"":
                            break
                    except socket.timeout:
                        pass
                    if time.monotonic() - t > 20 * SCALE:
                        break
                    time.sleep(0.15)
            except OSError:
                pass
            finally:
                s.close()
            with lock:
                closed_after.append(time.monotonic() - t)

        threads = [threading.Thread(target=trickle) for _ in range(5)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        results = h.get_many(200, workers=4)
        self.assertEqual({r[0] for r in results}, {200})
        self.assertLess(time.monotonic() - t0, 2 * SCALE)  # served while the trickles go on
        for t in threads:
            t.join()
        self.assertEqual(len(closed_after), 5)
        for d in closed_after:
            self.assertTrue(1.8 <= d < 2 + 3 * SCALE, closed_after)
        self.assertEqual(metric_value(h.scrape(), "ho11y_http_slow_requests_closed_total"), 5)

    def test_idle_connections_beyond_the_limit(self):
        # Two server threads whatever the machine: the limit is shared between them.
        h = self.start({"OTEL_TRACES_EXPORTER": "none", "HO11Y_IDLE_TIMEOUT": "2s",
                        "HO11Y_MAX_CONNECTIONS": "20", "HO11Y_THREADS": "2"})
        fd_dir = "/proc/%d/fd" % h.proc.pid
        baseline = len(os.listdir(fd_dir))
        socks = []
        for _ in range(60):
            s = socket.create_connection(("127.0.0.1", h.port), timeout=5)
            s.settimeout(0.02)
            socks.append(s)
        self.addCleanup(lambda: [s.close() for s in socks])

        def closed(s):
            try:
                return s.recv(1) == b""
            except socket.timeout:
                return False
            except OSError:
                return True

        # Past the limit, connections wait in the listen backlog: the process holds at most 20.
        time.sleep(0.5)
        self.assertLessEqual(len(os.listdir(fd_dir)), baseline + 20)
        self.assertFalse(any(closed(s) for s in socks[:20]))
        # Idle connections are closed after the idle timeout, 20 at a time, and the process
        # serves again once they are gone.
        deadline = time.monotonic() + 3 * 2 + 6 * SCALE
        while time.monotonic() < deadline and not all(closed(s) for s in socks):
            time.sleep(0.1)
        self.assertTrue(all(closed(s) for s in socks), "idle connections were not closed")
        self.assertEqual(h.get()[0], 200)
        self.assertIsNone(h.proc.poll())


if __name__ == "__main__":
    unittest.main()
