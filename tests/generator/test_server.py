"""The HTTP surface and the process life cycle: routes and methods, keep-alive, log destination,
and a clean stop on SIGTERM or SIGINT (no new connections, in-flight requests finished, spans
flushed, exit 0)."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from ho11ytest import HO11Y, SCALE, Ho11yCase, RawConn


class Routes(Ho11yCase):
    def setUp(self):
        self.h = self.start({"OTEL_TRACES_EXPORTER": "none"})

    def test_methods_and_paths(self):
        for method in ("POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"):
            status, headers, body = self.h.get("/", method=method)
            self.assertEqual(status, 405, method)
            self.assertEqual(headers.get("allow"), "GET")
            self.assertEqual(body, b"")
        for path in ("/nope", "/index.html", "/metrics/x", "/healthz/"):
            status, headers, body = self.h.get(path)
            self.assertEqual((status, body), (404, b"404 page not found\n"), path)
        status, headers, body = self.h.get("/healthz")
        self.assertEqual(status, 200)
        # /metrics answers any method, as upstream's r.Handle does.
        self.assertEqual(self.h.get("/metrics", method="POST")[0], 200)
        status, headers, body = self.h.get("/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertRegex(body.decode(), r'^\{"traceId":"1-[0-9a-f]{8}-[0-9a-f]{24}"\}$')

    def test_keep_alive(self):
        s = RawConn(self.h.port)
        self.addCleanup(s.close)
        ids = set()
        for path in ("/", "/metrics", "/healthz", "/nope", "/") * 20:
            status, headers, body = s.exchange(
                b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertNotEqual(headers.get("connection"), "close")
            if path == "/":
                self.assertEqual(status, 200)
                ids.add(body)
        self.assertEqual(len(ids), 40)  # every request on the one connection was answered
        # Pipelined requests on the same connection are answered in order.
        s.sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                       b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(s.exchange(b"")[0], 200)
        self.assertEqual(s.exchange(b"")[0], 404)

    def test_many_requests_over_keep_alive_are_fast(self):
        t = time.monotonic()
        results = self.h.get_many(3000, workers=4)
        elapsed = time.monotonic() - t
        self.assertEqual({r[0] for r in results}, {200})
        self.assertEqual(len({r[2] for r in results}), 3000)  # one trace id each
        self.assertLess(elapsed, 10 * SCALE)


class AllInterfaces(Ho11yCase):
    def test_default_listens_on_all_interfaces(self):
        h = self.start({"HO11Y_BIND_ADDRESS": None, "OTEL_TRACES_EXPORTER": "none"})
        launch = [l["msg"] for l in h.lines() if l.get("event") == "listening"][0]
        self.assertEqual(launch, "Launching ho11y: I am [ho11y-svc] listening on port :%d on all "
                                 "local IPs." % h.port)
        self.assertEqual(h.get()[0], 200)
        if socket.has_ipv6:
            try:
                c = socket.create_connection(("::1", h.port), timeout=5)
            except OSError:
                c = None  # no IPv6 loopback on this machine
            if c is not None:
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                self.assertTrue(c.recv(100).startswith(b"HTTP/1.1 200"))
                c.close()
        # A second generator on the same port fails instead of sharing it.
        second = self.start({"HO11Y_BIND_ADDRESS": None, "HO11Y_PORT": str(h.port),
                             "OTEL_TRACES_EXPORTER": "none"}, name="second", wait=False)
        self.assertEqual(second.wait(), 1)
        self.assertIn("cannot listen on all interfaces port %d" % h.port, second.output())


class Threads(Ho11yCase):
    def test_threads_follow_the_cpus_it_may_use(self):
        h = self.start({"OTEL_TRACES_EXPORTER": "none", "HO11Y_BIND_ADDRESS": "127.0.0.1"})
        line = [l for l in h.lines() if l.get("event") == "listening"][0]
        want = len(os.sched_getaffinity(0))
        try:
            with open("/sys/fs/cgroup/cpu.max") as f:
                quota, period = f.read().split()
            if quota != "max":
                want = min(want, -(-int(quota) // int(period)))
        except (OSError, ValueError):
            pass
        self.assertEqual(line["threads"], want)
        # Pinned to one CPU (as a container with a CPU limit of 1 would be): one thread.
        env = dict(h.env, HO11Y_PORT="0")
        p = subprocess.Popen([HO11Y], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}))
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        for raw in p.stdout:
            line = json.loads(raw)
            if line.get("event") == "listening":
                self.assertEqual(line["threads"], 1)
                break
        else:
            self.fail("no listening line")


class Logs(Ho11yCase):
    def test_default_destination_is_stderr(self):
        h = self.start({"OTEL_TRACES_EXPORTER": "none"}, split=True)
        self.assertEqual(h.get()[0], 200)
        time.sleep(0.1)
        self.assertEqual(h.lines("stdout"), [])
        events = [l.get("event") for l in h.lines("stderr")]
        self.assertIn("invoke", events)

    def test_stdout_destination(self):
        h = self.start({"OTEL_TRACES_EXPORTER": "none", "HO11Y_LOG_DEST": "stdout"}, split=True)
        self.assertEqual(h.get()[0], 200)
        time.sleep(0.1)
        self.assertEqual(h.lines("stderr"), [])
        out = h.lines("stdout")
        self.assertIn("invoke", [l.get("event") for l in out])
        for l in out:
            self.assertEqual(set(l) >= {"level", "msg", "time"}, True, l)
        launch = [l["msg"] for l in out if l.get("event") == "listening"][0]
        self.assertEqual(launch, "Launching ho11y: I am [ho11y-svc] listening on port :%d on "
                                 "127.0.0.1." % h.port)


class Shutdown(Ho11yCase):
    def stop_with(self, sig):
        rcv = self.receiver()
        # Spans are flushed only at shutdown: the batch delay is a minute.
        h = self.start({"HO11Y_LATENCY": "1s", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rcv.url,
                        "OTEL_BSP_SCHEDULE_DELAY": "60000", "HO11Y_SHUTDOWN_TIMEOUT": "10s"})
        results = []
        lock = threading.Lock()

        def call():
            r = h.get()
            with lock:
                results.append(r)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.4)
        t_sig = time.monotonic()
        h.signal(sig)
        # New connections are refused at once.
        refused = False
        deadline = time.monotonic() + 0.5 * SCALE
        while time.monotonic() < deadline and not refused:
            try:
                socket.create_connection(("127.0.0.1", h.port), timeout=1).close()
                time.sleep(0.02)
            except (ConnectionRefusedError, ConnectionResetError):
                refused = True  # a reset: the listening socket closed during the handshake
        self.assertTrue(refused, "still accepting after the signal")
        for t in threads:
            t.join()
        self.assertEqual(h.wait(), 0)
        # In-flight requests were finished, not cut.
        self.assertEqual([r[0] for r in results], [200] * 4)
        self.assertGreater(time.monotonic() - t_sig, 0.5)
        spans = rcv.wait_spans(4, timeout=1)
        self.assertEqual(len(spans), 4)
        self.assertEqual(rcv.errors, [])
        stopped = [l for l in h.lines() if l.get("msg") == "Stopped"][0]
        self.assertEqual((stopped["spans_exported"], stopped["spans_dropped"]), (4, 0))
        self.assertTrue(stopped["drained"])

    def test_sigterm(self):
        self.stop_with(signal.SIGTERM)

    def test_sigint(self):
        self.stop_with(signal.SIGINT)

    def test_sigterm_idle_exits_at_once(self):
        h = self.start({"OTEL_TRACES_EXPORTER": "none"})
        t = time.monotonic()
        h.signal(signal.SIGTERM)
        self.assertEqual(h.wait(), 0)
        self.assertLess(time.monotonic() - t, 2 * SCALE)

    def test_shutdown_with_collector_down_is_bounded(self):
        hang = self.hang()
        h = self.start({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": hang.url + "v1/traces",
                        "OTEL_BSP_SCHEDULE_DELAY": "60000", "HO11Y_SHUTDOWN_TIMEOUT": "1s"})
        self.assertEqual(h.get()[0], 200)
        t = time.monotonic()
        h.signal(signal.SIGTERM)
        self.assertEqual(h.wait(), 0)
        self.assertLess(time.monotonic() - t, 1 + 3 * SCALE)
        stopped = [l for l in h.lines() if l.get("msg") == "Stopped"][0]
        self.assertEqual((stopped["spans_exported"], stopped["spans_dropped"]), (0, 1))


if __name__ == "__main__":
    unittest.main()
