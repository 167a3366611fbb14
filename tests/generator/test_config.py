"""Every malformed environment value stops the generator at start-up with an error naming the
variable and a non-zero exit status; it never runs with something it did not understand. Also
the start-up notes for values it reads with a surprising meaning."""

import json
import subprocess
import unittest
from concurrent.futures import ThreadPoolExecutor

from ho11ytest import HO11Y, SCALE, Ho11yCase

LONG = "x" * 100000

# (variable, bad value[, extra variables needed for the variable to be read])
BAD = [
    ("HO11Y_PORT", "abc"), ("HO11Y_PORT", "70000"), ("HO11Y_PORT", "-1"), ("HO11Y_PORT", "80 "),
    ("HO11Y_PORT", ":8765"), ("HO11Y_PORT", LONG),
    ("HO11Y_LOG_DEST", "file.log"), ("HO11Y_LOG_LEVEL", "loud"), ("HO11Y_LOG_FORMAT", "xml"),
    ("HO11Y_CUTOFF_TPS", "abc"), ("HO11Y_CUTOFF_TPS", "1.5"), ("HO11Y_CUTOFF_TPS", "-3"),
    ("HO11Y_CUTOFF_TPS", "99999999999999999999999"),
    ("HO11Y_FAILURE_RATE", "101"), ("HO11Y_FAILURE_RATE", "abc"), ("HO11Y_FAILURE_RATE", "-1"),
    ("HO11Y_FAILURE_RATE", "1e2"), ("HO11Y_FAILURE_RATE", "nan"), ("HO11Y_FAILURE_RATE", "5."),
    ("HO11Y_FAILURE_CODES", "99"), ("HO11Y_FAILURE_CODES", "600"), ("HO11Y_FAILURE_CODES", "abc"),
    ("HO11Y_FAILURE_CODES", "500,"), ("HO11Y_FAILURE_CODES", ",500"),
    ("HO11Y_FAILURE_CODES", ",".join(["500"] * 40)),
    ("HO11Y_LATENCY", "abc"), ("HO11Y_LATENCY", "10"), ("HO11Y_LATENCY", "2m"),
    ("HO11Y_LATENCY", "10ms+"), ("HO11Y_LATENCY", "-5ms"), ("HO11Y_LATENCY", "fixed=1s,speed=2"),
    ("HO11Y_PARALLEL", "maybe"), ("HO11Y_PARALLEL", "2"),
    ("HO11Y_DOWNSTREAM_TIMEOUT", "0"), ("HO11Y_DOWNSTREAM_TIMEOUT", "abc"),
    ("HO11Y_DOWNSTREAM_TIMEOUT", "10"), ("HO11Y_DOWNSTREAM_TIMEOUT", "2h"),
    ("DOWNSTREAM0", "ftp://example.invalid/"), ("DOWNSTREAM0", "not a url"),
    ("DOWNSTREAM0", "downstream0"), ("DOWNSTREAM0", "http://"), ("DOWNSTREAM3", "file:///etc/passwd"),
    ("DOWNSTREAM0", "DUMMY"), ("DOWNSTREAM0", "DUMMY:1kB"), ("DOWNSTREAM0", "DUMMY:1:2:3"),
    ("DOWNSTREAM0", "DUMMY:abc:1ms"), ("DOWNSTREAM0", "DUMMY:1Kb:1ms"),
    ("DOWNSTREAM0", "DUMMY:100MiB:1ms"), ("DOWNSTREAM0", "DUMMY:1kB:2m"),
    ("DOWNSTREAM0", "DUMMY:1kB:fast"), ("DOWNSTREAM0", "DUMMY:-1:1ms"),
    ("DOWNSTREAM15", "http://"), ("DOWNSTREAM16", "http://example.invalid/"),
    ("HO11Y_BIND_ADDRESS", "localhost"), ("HO11Y_BIND_ADDRESS", "999.1.1.1"),
    ("HO11Y_THREADS", "0"), ("HO11Y_THREADS", "1000"), ("HO11Y_MAX_CONNECTIONS", "0"),
    ("HO11Y_IDLE_TIMEOUT", "0"), ("HO11Y_IDLE_TIMEOUT", "5"), ("HO11Y_SHUTDOWN_TIMEOUT", "forever"),
    ("HO11Y_LOAD_TARGET", "notaurl", {"HO11Y_LOAD_RATE": "5"}),
    ("HO11Y_LOAD_TARGET", "", {"HO11Y_LOAD_RATE": "5"}),
    ("HO11Y_LOAD_RATE", "0", {"HO11Y_LOAD_TARGET": "http://127.0.0.1:9/"}),
    ("HO11Y_LOAD_RATE", "fast", {"HO11Y_LOAD_TARGET": "http://127.0.0.1:9/"}),
    ("HO11Y_LOAD_RATE", "", {"HO11Y_LOAD_TARGET": "http://127.0.0.1:9/"}),
    ("HO11Y_LOAD_RATE", "-5", {"HO11Y_LOAD_TARGET": "http://127.0.0.1:9/"}),
    ("HO11Y_LOAD_RATE", "0.0000000001", {"HO11Y_LOAD_TARGET": "http://127.0.0.1:9/"}),
    ("HO11Y_LOAD_CONCURRENCY", "0"), ("HO11Y_LOAD_DURATION", "soon"),
    ("HO11Y_LOAD_REQUESTS", "0"), ("HO11Y_LOAD_REQUESTS", "ten"), ("HO11Y_LOAD_REQUESTS", "-1"),
    ("HO11Y_CONNECT_TO", "backend:8765"), ("HO11Y_CONNECT_TO", "backend:8765:127.0.0.1"),
    ("HO11Y_CONNECT_TO", "a:1:b:2:c"), ("HO11Y_CONNECT_TO", "a:1:b:2,"),
    ("HO11Y_CONNECT_TO", "a:1:b:2;c:3:d:4"), ("HO11Y_CONNECT_TO", "a:http:b:2"),
    ("HO11Y_CONNECT_TO", "a:1:b:70000"), ("HO11Y_CONNECT_TO", "a b:1:c:2"),
    ("HO11Y_CONNECT_TO", "[::1:1:b:2"), ("HO11Y_CONNECT_TO", "a:1::"),
    ("HO11Y_CONNECT_TO", "http://a:1:b:2"), ("HO11Y_CONNECT_TO", ",".join(["a:1:b:2"] * 65)),
    ("HO11Y_CONNECT_TO", "a:1:%s:2" % ("h" * 300)),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "a b:4317"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:99999"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4318"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "notaurl"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://collector:4317"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"), ("OTEL_EXPORTER_OTLP_HEADERS", "a b=c"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "content-type=text/plain"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "x=%zz"), ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "=v"),
    ("OTEL_RESOURCE_ATTRIBUTES", "noequals"), ("OTEL_RESOURCE_ATTRIBUTES", "=v"),
    ("OTEL_RESOURCE_ATTRIBUTES", "k=%zz"),
    ("OTEL_SERVICE_NAME", "s" * 300), ("OTEL_RESOURCE_ATTRIB", "r" * 300),
    ("OTEL_BSP_SCHEDULE_DELAY", "abc"), ("OTEL_BSP_SCHEDULE_DELAY", "5s"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "0"), ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0"),
    ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "5000"), ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "abc"), ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0"),
    ("OTEL_TRACES_EXPORTER", "zipkin"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
    ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
    ("OTEL_SDK_DISABLED", "maybe"),
    ("HO11Y_PORT", "\x01\x7f"), ("HO11Y_LATENCY", "\udcff\udcfe"),  # control and non-UTF-8 bytes
    ("DOWNSTREAM0", "http://exa\x01mple/"),
]


def run_bad(case):
    name, value = case[0], case[1]
    env = {"PATH": "/usr/bin:/bin", "HO11Y_PORT": "0", "HO11Y_BIND_ADDRESS": "127.0.0.1"}
    env.update(case[2] if len(case) > 2 else {})
    env[name] = value
    benv = {k.encode(): v.encode("utf-8", "surrogateescape") for k, v in env.items()}
    p = subprocess.run([HO11Y], env=benv, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=20 * SCALE)
    return case, p


class Config(Ho11yCase):
    def test_every_malformed_value_is_refused_by_name(self):
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(run_bad, BAD))
        for (case, p) in results:
            label = "%s=%r" % (case[0], case[1][:40])
            self.assertEqual(p.returncode, 2, "%s: exit %s\n%s" % (label, p.returncode, p.stderr[-2000:]))
            self.assertEqual(p.stdout, b"", label)
            lines = [json.loads(l) for l in p.stderr.decode().splitlines()]
            self.assertEqual(len(lines), 1, (label, lines))
            line = lines[0]
            self.assertEqual((line["level"], line["event"]), ("error", "config"), label)
            want = "DOWNSTREAM" if case[0].startswith("DOWNSTREAM1") and case[0] != "DOWNSTREAM15" \
                else case[0]
            self.assertTrue(line["msg"].startswith(want + ":"), (label, line["msg"]))
            self.assertLess(len(line["msg"]), 1000, label)  # the value is quoted, not echoed whole

    def test_good_values_start(self):
        h = self.start({"HO11Y_LATENCY": "fixed=1ms,jitter=2ms", "HO11Y_PARALLEL": "on",
                        "HO11Y_FAILURE_RATE": "0.5%", "HO11Y_CUTOFF_TPS": "0",
                        "DOWNSTREAM15": "DUMMY:0:0s", "HO11Y_DOWNSTREAM_TIMEOUT": "1.5s",
                        "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=abc%20def,tenant=t1",
                        "OTEL_RESOURCE_ATTRIBUTES": "a=1,b=two%2Cthree",
                        "HO11Y_CONNECT_TO": "a.invalid:80:127.0.0.1:9, [::1]:8080::8081,::b:",
                        "HO11Y_LOAD_REQUESTS": "5",
                        "OTEL_TRACES_EXPORTER": "none"})
        self.assertEqual(h.get()[0] in (200, 400, 403, 301, 404, 501), True)

    def test_surprising_values_are_noted(self):
        h = self.start({"HO11Y_INJECT_FAILURE": "false", "HO11Y_TYPO": "1",
                        "OTEL_EXPORTER_OTLP_ENDPOINT": "collector.invalid:4317"})
        warnings = [l["msg"] for l in h.lines() if l.get("level") == "warning"]
        self.assertTrue(any(w.startswith("HO11Y_INJECT_FAILURE=false turns failure injection on")
                            for w in warnings), warnings)
        self.assertTrue(any(w.startswith("HO11Y_TYPO is not a variable") for w in warnings))
        self.assertTrue(any("collector.invalid:4317 has no scheme" in w for w in warnings))
        self.assertIn("Using Otel collector at http://collector.invalid:4318/v1/traces",
                      [l.get("msg") for l in h.lines()])

    def test_port_in_use(self):
        h = self.start({"OTEL_TRACES_EXPORTER": "none"})
        env = {"PATH": "/usr/bin:/bin", "HO11Y_PORT": str(h.port), "HO11Y_BIND_ADDRESS": "127.0.0.1",
               "OTEL_TRACES_EXPORTER": "none"}
        p = subprocess.run([HO11Y], env=env, capture_output=True, timeout=20 * SCALE)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"cannot listen on 127.0.0.1 port %d" % h.port, p.stderr)


if __name__ == "__main__":
    unittest.main()
