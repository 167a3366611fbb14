"""What GET / does with the behaviour knobs: injected failures (upstream's 49 % and our exact
rate and codes), throttling, latency, parallel calls. Statistical bounds are five standard
deviations wide, so a correct generator fails them about once in two million runs."""

import math
import time
import unittest

from ho11ytest import SCALE, Ho11yCase, metric_value, parse_prometheus

UPSTREAM_CODES = {400, 403, 301, 404, 501}


def bounds(n, p, sigmas=5):
    sd = math.sqrt(n * p * (1 - p))
    return n * p - sigmas * sd, n * p + sigmas * sd


class Failures(Ho11yCase):
    def check_failed_responses(self, results, codes):
        for status, headers, body in results:
            if status == 200:
                self.assertEqual(len(body), 49)
                continue
            self.assertIn(status, codes)
            self.assertEqual(body, b"")
            self.assertNotIn("content-type", headers)

    def test_inject_failure_is_49_percent_of_upstream_codes(self):
        rec = self.recorder()
        h = self.start({"HO11Y_INJECT_FAILURE": "enabled", "DOWNSTREAM0": rec.url,
                        "OTEL_TRACES_EXPORTER": "none"})
        n = 3000
        results = h.get_many(n, workers=8)
        self.assertEqual(len(results), n)
        by_code = {}
        for r in results:
            by_code[r[0]] = by_code.get(r[0], 0) + 1
        failed = n - by_code.get(200, 0)
        lo, hi = bounds(n, 0.49)
        self.assertTrue(lo <= failed <= hi, "%d of %d failed, want %.0f..%.0f" % (failed, n, lo, hi))
        self.assertEqual(set(by_code) - {200}, UPSTREAM_CODES)
        lo, hi = bounds(failed, 0.2)
        for code in UPSTREAM_CODES:
            self.assertTrue(lo <= by_code[code] <= hi, (code, by_code))
        self.check_failed_responses(results, UPSTREAM_CODES)
        # Failed requests call no downstream.
        self.assertEqual(len(rec.requests), by_code[200])
        fams = parse_prometheus(h.metrics()[1])
        for code, count in by_code.items():
            self.assertEqual(metric_value(fams, "ho11y_total", http_status_code=code), count)
        # No log line for failed requests, one per successful one.
        invokes = [l for l in h.lines() if l.get("event") == "invoke"]
        self.assertEqual(len(invokes), by_code[200])

    def test_failure_rate_and_codes(self):
        h = self.start({"HO11Y_FAILURE_RATE": "12.5", "HO11Y_FAILURE_CODES": "503, 418",
                        "OTEL_TRACES_EXPORTER": "none"})
        n = 4000
        results = h.get_many(n, workers=8)
        failed = [r for r in results if r[0] != 200]
        lo, hi = bounds(n, 0.125)
        self.assertTrue(lo <= len(failed) <= hi, "%d of %d failed" % (len(failed), n))
        self.assertEqual({r[0] for r in failed}, {503, 418})
        self.check_failed_responses(results, {503, 418})
        self.assertIn("Failure injection enabled, failing 12.5 % of the requests",
                      [l.get("msg") for l in h.lines()])

    def test_failure_rate_extremes(self):
        every = self.start({"HO11Y_FAILURE_RATE": "100", "HO11Y_FAILURE_CODES": "500",
                            "OTEL_TRACES_EXPORTER": "none"}, name="every")
        # An explicit rate wins over HO11Y_INJECT_FAILURE's 49 %.
        never = self.start({"HO11Y_FAILURE_RATE": "0", "HO11Y_INJECT_FAILURE": "enabled",
                            "OTEL_TRACES_EXPORTER": "none"}, name="never")
        self.assertEqual({r[0] for r in every.get_many(300)}, {500})
        self.assertEqual({r[0] for r in never.get_many(300)}, {200})


class Throttle(Ho11yCase):
    def test_cutoff_tps_engages_and_releases(self):
        rec = self.recorder()
        h = self.start({"HO11Y_CUTOFF_TPS": "20", "DOWNSTREAM0": rec.url,
                        "OTEL_TRACES_EXPORTER": "none"})
        results = []
        c = h.connection()
        end = time.time() + 1.6
        while time.time() < end:  # far above 20 requests per second
            results.append(h.get(conn=c))
        c.close()
        codes = [r[0] for r in results]
        self.assertGreater(len(codes), 60)
        self.assertEqual(set(codes), {200, 429})
        self.assertEqual(codes[0], 200)  # the first window has no previous traffic
        # Once engaged, the requests of busy windows are refused (they count too); only a stall
        # of the machine that leaves a window with 10 requests or fewer lets one through.
        first = codes.index(429)
        after = codes[first:]
        self.assertGreater(after.count(429), 0.8 * len(after), after)
        for status, headers, body in results:
            if status == 429:
                self.assertEqual(body, b"")
        self.assertEqual(len(rec.requests), codes.count(200))
        fams = parse_prometheus(h.metrics()[1])
        self.assertEqual(metric_value(fams, "ho11y_total", http_status_code=429),
                         codes.count(429))
        msgs = [l.get("msg", "") for l in h.lines()]
        self.assertIn("Throttling enabled with a 20 TPS cutoff point", msgs)
        self.assertTrue(any(m.startswith("Throttle engaged, got ") and
                            m.endswith(" TPS with a 20 TPS cutoff point") for m in msgs))
        # Two quiet windows later the rate of the previous one is zero: served again.
        time.sleep(1.1)
        self.assertEqual(h.get()[0], 200)


class Latency(Ho11yCase):
    def timed(self, h, n, workers):
        import threading
        out = []
        lock = threading.Lock()

        def one():
            t = time.monotonic()
            status = h.get()[0]
            with lock:
                out.append((status, time.monotonic() - t))

        threads = [threading.Thread(target=one) for _ in range(n)]
        t0 = time.monotonic()
        for i in range(0, n, workers):
            batch = threads[i:i + workers]
            for t in batch:
                t.start()
            for t in batch:
                t.join()
        return out, time.monotonic() - t0

    def test_fixed_latency_does_not_hold_threads(self):
        h = self.start({"HO11Y_LATENCY": "200ms", "HO11Y_THREADS": "2",
                        "OTEL_TRACES_EXPORTER": "none"})
        out, wall = self.timed(h, 20, 20)
        self.assertEqual({s for s, _ in out}, {200})
        self.assertGreaterEqual(min(d for _, d in out), 0.2)
        # 20 requests waiting 200 ms at once on 2 server threads: they wait together.
        self.assertLess(wall, 0.2 + 0.6 * SCALE, out)

    def test_jitter_spreads_latency(self):
        h = self.start({"HO11Y_LATENCY": "50ms+100ms", "OTEL_TRACES_EXPORTER": "none"})
        out, _ = self.timed(h, 30, 10)
        durations = sorted(d for _, d in out)
        self.assertGreaterEqual(durations[0], 0.05)
        self.assertLess(durations[-1], 0.15 + 0.5 * SCALE)
        self.assertGreater(durations[-1] - durations[0], 0.02, durations)


class Connections(Ho11yCase):
    def test_downstream_connections_are_reused_across_bursts(self):
        rec = self.recorder(delay=0.05)
        h = self.start({"DOWNSTREAM0": rec.url, "OTEL_TRACES_EXPORTER": "none",
                        "HO11Y_THREADS": "1"})
        for _ in range(6):
            # A burst of 20 concurrent calls, then a quiet spell with one call at a time.
            self.assertEqual({r[0] for r in h.get_many(20, workers=20)}, {200})
            for _ in range(3):
                self.assertEqual(h.get()[0], 200)
        ports = {r["_port"] for r in rec.requests}
        self.assertEqual(len(rec.requests), 6 * 23)
        # One connection per concurrent call at most, kept between bursts.
        self.assertLessEqual(len(ports), 24, "%d connections for %d calls" % (
            len(ports), len(rec.requests)))


class Parallel(Ho11yCase):
    def run_three(self, parallel):
        slow = self.recorder(delay=0.4)
        env = {"DOWNSTREAM0": slow.url, "DOWNSTREAM1": slow.url + "b",
               "DOWNSTREAM2": slow.url + "c", "OTEL_TRACES_EXPORTER": "none"}
        if parallel:
            env["HO11Y_PARALLEL"] = "true"
        h = self.start(env, name="parallel" if parallel else "sequential")
        t = time.monotonic()
        status = h.get()[0]
        elapsed = time.monotonic() - t
        self.assertEqual(status, 200)
        self.assertEqual(sorted(r["_path"] for r in slow.requests), ["/", "/b", "/c"])
        return elapsed, slow.max_active

    def test_parallel_calls_run_at_once(self):
        elapsed, most = self.run_three(True)
        self.assertEqual(most, 3)
        self.assertLess(elapsed, 1.15)  # three 0.4 s calls at once, not 1.2 s

    def test_sequential_calls_by_default(self):
        elapsed, most = self.run_three(False)
        self.assertEqual(most, 1)
        self.assertGreaterEqual(elapsed, 1.2)


if __name__ == "__main__":
    unittest.main()
