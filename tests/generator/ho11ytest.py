"""Helpers for the generator's process-level tests (Python 3 standard library only).

- OtlpReceiver: an OTLP/HTTP JSON trace receiver that checks every request against the
  encoding rules (hex ids, integer enums, 64-bit integers as strings, lowerCamelCase keys) and
  can be scripted to answer with errors, Retry-After or partial success.
- Recorder: a plain HTTP server that records request headers (a downstream that is not ho11y).
- Ho11y: runs the real binary with an environment, reads the port from its start-up line,
  and always kills it in the end.
- Ho11yCase: a unittest.TestCase that cleans up every process and server it started.
"""

import http.client
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIN_DIR = os.environ.get("HO11Y_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
HO11Y = os.path.join(BIN_DIR, "ho11y")
# Waits and timing margins are multiplied by this (larger under sanitizers).
SCALE = float(os.environ.get("HO11Y_TIME_SCALE", "1"))

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
DIGITS = re.compile(r"^[0-9]+$")
XRAY_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
SNAKE = re.compile(r"_")


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print peers' resets (ho11y is killed at will)."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def xray_to_otlp(xray_id):
    return xray_id[2:10] + xray_id[11:]


def otlp_to_xray(trace_id):
    return "1-%s-%s" % (trace_id[:8], trace_id[8:])


def attr_value(v):
    """The Python value of an OTLP AnyValue."""
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    raise ValueError("unsupported AnyValue %r" % (v,))


def check_keys_camel(obj, path, errors):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in ("key",) and SNAKE.search(k) and path.endswith("value") is False:
                errors.append("%s: snake_case key %r" % (path, k))
            check_keys_camel(v, path + "." + k, errors)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            check_keys_camel(v, "%s[%d]" % (path, i), errors)


def validate_request(body):
    """Returns (spans, errors) for an ExportTraceServiceRequest, checked per otlp-xray rules."""
    errors = []
    spans = []
    check_keys_camel(body, "$", errors)
    for rs in body.get("resourceSpans", []):
        res = {a["key"]: attr_value(a["value"]) for a in rs.get("resource", {}).get("attributes", [])}
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                if not HEX32.match(s.get("traceId", "")):
                    errors.append("bad traceId %r" % s.get("traceId"))
                if not HEX16.match(s.get("spanId", "")):
                    errors.append("bad spanId %r" % s.get("spanId"))
                if "parentSpanId" in s and not HEX16.match(s["parentSpanId"]):
                    errors.append("bad parentSpanId %r" % s["parentSpanId"])
                if not isinstance(s.get("kind"), int):
                    errors.append("kind is not an integer: %r" % s.get("kind"))
                for k in ("startTimeUnixNano", "endTimeUnixNano"):
                    if not isinstance(s.get(k), str) or not DIGITS.match(s[k]):
                        errors.append("%s is not a decimal string: %r" % (k, s.get(k)))
                st = s.get("status", {})
                if not isinstance(st.get("code", 0), int):
                    errors.append("status.code is not an integer")
                attrs = {}
                for a in s.get("attributes", []):
                    v = a["value"]
                    if "intValue" in v and not isinstance(v["intValue"], str):
                        errors.append("intValue %r is not a string" % (v["intValue"],))
                    attrs[a["key"]] = attr_value(v)
                span = dict(s)
                span["attrs"] = attrs
                span["resource"] = res
                span["service"] = res.get("service.name")
                span["start"] = int(s["startTimeUnixNano"])
                span["end"] = int(s["endTimeUnixNano"])
                spans.append(span)
    return spans, errors


class _QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive without Nagle's delay, and no request log on stderr."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stall

    def log_message(self, *args):
        pass


class _ReceiverHandler(_QuietHandler):
    def do_POST(self):
        rcv = self.server.receiver
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        with rcv.lock:
            rcv.requests.append({"path": self.path, "headers": dict(self.headers), "size": len(raw),
                                 "time": time.monotonic()})
            script = rcv.script.pop(0) if rcv.script else None
        status, headers, body = script if script else (200, {}, {})
        try:
            spans, errors = validate_request(json.loads(raw))
        except ValueError as e:
            spans, errors = [], ["not JSON: %s" % e]
        if self.headers.get("Content-Type") != "application/json":
            errors.append("Content-Type %r" % self.headers.get("Content-Type"))
        with rcv.lock:
            rcv.errors.extend(errors)
            rcv.requests[-1]["spans"] = len(spans)
            if status == 200:
                rejected = 0
                if isinstance(body, dict):
                    rejected = int(body.get("partialSuccess", {}).get("rejectedSpans", 0))
                rcv.spans.extend(spans[rejected:])
                rcv.rejected += rejected
            rcv.cond.notify_all()
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class OtlpReceiver:
    """An OTLP/HTTP JSON receiver on 127.0.0.1; script entries are (status, headers, body)."""

    def __init__(self, port=0):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.spans = []
        self.errors = []
        self.requests = []
        self.script = []
        self.rejected = 0
        self.httpd = QuietServer(("127.0.0.1", port), _ReceiverHandler)
        self.httpd.daemon_threads = True
        self.httpd.receiver = self
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/v1/traces" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_spans(self, n, timeout=10.0, pred=None):
        """Waits until at least n (matching) spans arrived; returns them."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                got = [s for s in self.spans if pred is None or pred(s)]
                if len(got) >= n or time.time() >= deadline:
                    return list(got)
                self.cond.wait(0.05)

    def trace(self, trace_id):
        with self.lock:
            return [s for s in self.spans if s["traceId"] == trace_id]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _RecorderHandler(_QuietHandler):
    def do_GET(self):
        rec = self.server.recorder
        with rec.lock:
            rec.requests.append(dict(self.headers, _path=self.path, _port=self.client_address[1]))
            rec.active += 1
            rec.max_active = max(rec.max_active, rec.active)
        if rec.delay:
            time.sleep(rec.delay)
        with rec.lock:
            rec.active -= 1
        body = rec.body
        self.send_response(rec.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Recorder:
    """An HTTP server that answers GET with a fixed status and body and records headers."""

    def __init__(self, status=200, body=b"hello", delay=0.0):
        self.lock = threading.Lock()
        self.requests = []
        self.status = status
        self.body = body
        self.delay = delay
        self.active = 0
        self.max_active = 0
        self.httpd = QuietServer(("127.0.0.1", 0), _RecorderHandler)
        self.httpd.daemon_threads = True
        self.httpd.recorder = self
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Hang:
    """A TCP server on 127.0.0.1 that accepts connections, reads, and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d/" % self.port
        self.conns = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            c.close()


class RawConn:
    """A raw HTTP/1.1 connection that keeps unread bytes between responses (for pipelining)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buf += chunk

    def exchange(self, request):
        """Sends request (may be b"") and reads one response: (status, headers, body)."""
        if request:
            self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(lines[0].split()[1]), headers, body

    def close(self):
        self.sock.close()


def closed_port():
    """A loopback port with nothing listening (connections are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Ho11y:
    """The real ho11y binary, started with env (added to a minimal environment)."""

    def __init__(self, env, name="ho11y", wait=True, split=False):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix="ho11y-%s-" % name, suffix=".log", delete=False)
        # split: stdout goes to self.log and stderr to self.errlog (else both to self.log).
        self.errlog = None
        if split:
            self.errlog = tempfile.NamedTemporaryFile(prefix="ho11y-%s-" % name, suffix=".err",
                                                      delete=False)
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HO11Y_PORT": "0",
                "HO11Y_BIND_ADDRESS": "127.0.0.1", "OTEL_BSP_SCHEDULE_DELAY": "50",
                "HO11Y_SHUTDOWN_TIMEOUT": "5s"}
        for k, v in env.items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = v
        self.env = full
        self.proc = subprocess.Popen([HO11Y], env=full, stdout=self.log,
                                     stderr=self.errlog or self.log, stdin=subprocess.DEVNULL)
        self.port = None
        if wait:
            self.port = self.wait_port()
        self.url = "http://127.0.0.1:%s/" % self.port

    def lines(self, stream=None):
        """Parsed JSON log lines so far (non-JSON lines are returned as {'raw': line}); stream
        "stdout" or "stderr" picks one of the split streams, None reads everything."""
        files = [self.log, self.errlog]
        if stream == "stdout":
            files = [self.log]
        elif stream == "stderr":
            files = [self.errlog]
        out = []
        for fh in files:
            if fh is None:
                continue
            with open(fh.name, "rb") as f:
                for raw in f.read().decode("utf-8", "replace").splitlines():
                    try:
                        out.append(json.loads(raw))
                    except ValueError:
                        out.append({"raw": raw})
        return out

    def wait_port(self, timeout=10.0):
        deadline = time.time() + timeout * SCALE
        while time.time() < deadline:
            for line in self.lines():
                if line.get("event") == "listening" and "port" in line:
                    return int(line["port"])
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with %s before listening:\n%s" % (
                    self.name, self.proc.returncode, self.output()))
            time.sleep(0.02)
        raise AssertionError("%s did not report its port:\n%s" % (self.name, self.output()))

    def output(self):
        out = ""
        for f in (self.log, self.errlog):
            if f is not None:
                with open(f.name, "rb") as fh:
                    out += fh.read().decode("utf-8", "replace")
        return out

    def get(self, path="/", headers=None, method="GET", conn=None):
        """One request; returns (status, headers dict, body bytes)."""
        own = conn is None
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request(method, path, headers=headers or {})
            r = c.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            if own:
                c.close()

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def metrics(self, accept=None):
        status, headers, body = self.get("/metrics", headers={"Accept": accept} if accept else None)
        assert status == 200, status
        return headers.get("content-type"), body.decode()

    def scrape(self):
        """The parsed Prometheus text of /metrics."""
        return parse_prometheus(self.metrics()[1])

    def wait_metric(self, name, pred, timeout=10.0, **labels):
        """Scrapes until pred(value of name{labels}) holds; returns the last value."""
        deadline = time.time() + timeout * SCALE
        while True:
            v = metric_value(self.scrape(), name, **labels)
            if pred(v) or time.time() >= deadline:
                return v
            time.sleep(0.05)

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout=20.0):
        return self.proc.wait(timeout * SCALE)

    def get_many(self, n, workers=8, path="/", headers=None):
        """n GET requests over `workers` concurrent keep-alive connections; returns
        [(status, headers, body)] in completion order."""
        out = []
        lock = threading.Lock()
        counter = [n]
        errors = []

        def run():
            c = self.connection()
            try:
                while True:
                    with lock:
                        if counter[0] == 0:
                            return
                        counter[0] -= 1
                    r = self.get(path, headers=headers, conn=c)
                    with lock:
                        out.append(r)
            except Exception as e:  # reported to the caller
                errors.append(e)
            finally:
                c.close()

        threads = [threading.Thread(target=run) for _ in range(min(workers, n))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for f in (self.log, self.errlog):
            if f is None:
                continue
            f.close()
            try:
                os.unlink(f.name)
            except OSError:
                pass


def metric_value(families, name, **labels):
    """The value of the sample `name` with exactly these labels (0 when absent)."""
    for fam in families.values():
        for smp in fam["samples"]:
            if smp["name"] == name and smp["labels"] == {k: str(v) for k, v in labels.items()}:
                return float(smp["value"])
    return 0.0


def parse_prometheus(text):
    """Parses the Prometheus text format into {family: {"type", "help", "samples": [...]}}."""
    families = {}
    current = None
    sample_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\})? (\S+)'
                           r'( \S+)?( # .*)?$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            families.setdefault(name, {"samples": []})["help"] = help_
            current = name
        elif line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            families.setdefault(name, {"samples": []})["type"] = typ
            current = name
        elif line.startswith("# EOF"):
            continue
        elif line.startswith("#"):
            raise ValueError("unexpected comment %r" % line)
        else:
            m = sample_re.match(line)
            if not m:
                raise ValueError("bad sample line %r" % line)
            labels = dict(label_re.findall(m.group(3) or ""))
            fam = families[current]
            fam["samples"].append({"name": m.group(1), "labels": labels, "value": m.group(4),
                                   "exemplar": (m.group(6) or "")[3:] or None})
    return families


class Ho11yCase(unittest.TestCase):
    """Starts processes and servers that are always stopped at the end of the test."""

    def start(self, env, name="ho11y", wait=True, split=False):
        h = Ho11y(env, name=name, wait=wait, split=split)
        self.addCleanup(self._dump_and_kill, h)
        return h

    def hang(self):
        h = Hang()
        self.addCleanup(h.close)
        return h

    def receiver(self):
        r = OtlpReceiver()
        self.addCleanup(r.close)
        return r

    def recorder(self, **kw):
        r = Recorder(**kw)
        self.addCleanup(r.close)
        return r

    def _failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return False
        return any(t is self for t, _ in list(result.failures) + list(result.errors))

    def _dump_and_kill(self, h):
        if self._failed() or os.environ.get("HO11Y_TEST_VERBOSE"):
            print("---- log of %s (last lines) ----\n%s" % (h.name, h.output()[-6000:]))
        h.kill()
