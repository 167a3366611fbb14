"""Load mode (HO11Y_LOAD_TARGET, HO11Y_LOAD_RATE): an open loop at a fixed rate, with bounded
concurrency, reporting achieved rate, answers, errors and latency in its own metrics."""

import time
import unittest

from ho11ytest import SCALE, Ho11yCase, closed_port, metric_value


class LoadMode(Ho11yCase):
    def test_rate_is_kept(self):
        leaf = self.start({"OTEL_TRACES_EXPORTER": "none"}, name="leaf")
        # A concurrency bound far above rate x latency: a stall of the loaded machine must not
        # turn into skipped requests here (skipping is tested below).
        load = self.start({"HO11Y_LOAD_TARGET": leaf.url, "HO11Y_LOAD_RATE": "200",
                           "HO11Y_LOAD_CONCURRENCY": "2000", "OTEL_TRACES_EXPORTER": "none"},
                          name="load")
        time.sleep(0.5)
        t0 = time.monotonic()
        n0 = metric_value(leaf.scrape(), "ho11y_total", http_status_code=200)
        time.sleep(2.0)
        n1 = metric_value(leaf.scrape(), "ho11y_total", http_status_code=200)
        rate = (n1 - n0) / (time.monotonic() - t0)
        margin = 0.1 * SCALE  # answers may bunch up around a stall of the machine
        self.assertTrue(200 * (1 - margin) <= rate <= 200 * (1 + margin), rate)
        time.sleep(0.6)  # let a whole second more into the achieved-rate window
        fams = load.scrape()
        achieved = metric_value(fams, "ho11y_load_achieved_rate")
        self.assertTrue(195 <= achieved <= 205, achieved)  # sent by due time: exact
        self.assertEqual(metric_value(fams, "ho11y_load_target_rate"), 200)
        answered = metric_value(fams, "ho11y_load_requests_total", status_code=200)
        self.assertGreater(answered, 400)
        self.assertEqual(metric_value(fams, "ho11y_load_skipped_total"), 0)
        lat = metric_value(fams, "ho11y_load_request_duration_seconds_count")
        self.assertTrue(answered <= lat <= answered + 5, (answered, lat))
        fast = metric_value(fams, "ho11y_load_request_duration_seconds_bucket", le="0.1")
        self.assertGreater(fast, 0.9 * lat)  # a leaf on loopback answers fast

    def test_duration_sends_exactly_rate_times_duration(self):
        leaf = self.start({"OTEL_TRACES_EXPORTER": "none", "HO11Y_FAILURE_RATE": "20",
                           "HO11Y_FAILURE_CODES": "503"}, name="leaf")
        load = self.start({"HO11Y_LOAD_TARGET": leaf.url, "HO11Y_LOAD_RATE": "150",
                           "HO11Y_LOAD_DURATION": "2s", "OTEL_TRACES_EXPORTER": "none"},
                          name="load")
        t0 = time.monotonic()
        done = load.wait_metric("ho11y_load_request_duration_seconds_count",
                                lambda v: v >= 300, timeout=6)
        elapsed = time.monotonic() - t0
        self.assertEqual(done, 300)
        self.assertLess(elapsed, 2.0 + 1.5 * SCALE)
        time.sleep(0.5)
        fams = load.scrape()
        ok = metric_value(fams, "ho11y_load_requests_total", status_code=200)
        failed = metric_value(fams, "ho11y_load_requests_total", status_code=503)
        self.assertEqual(ok + failed, 300)
        self.assertGreater(failed, 20)  # errors of the target are counted by status
        leaf_fams = leaf.scrape()
        self.assertEqual(metric_value(leaf_fams, "ho11y_total", http_status_code=200), ok)
        self.assertEqual(metric_value(leaf_fams, "ho11y_total", http_status_code=503), failed)
        self.assertIn("load finished", [l.get("msg") for l in load.lines()])
        self.assertIsNone(load.proc.poll())  # still serving its metrics

    def test_transport_errors_are_counted(self):
        load = self.start({"HO11Y_LOAD_TARGET": "http://127.0.0.1:%d/" % closed_port(),
                           "HO11Y_LOAD_RATE": "100", "OTEL_TRACES_EXPORTER": "none"})
        time.sleep(2.0)
        fams = load.scrape()
        errors = metric_value(fams, "ho11y_load_errors_total", reason="connect")
        self.assertTrue(150 <= errors <= 260, errors)
        self.assertEqual(metric_value(fams, "ho11y_load_skipped_total"), 0)

    def test_concurrency_bound_skips_instead_of_slowing(self):
        hang = self.hang()
        load = self.start({"HO11Y_LOAD_TARGET": hang.url, "HO11Y_LOAD_RATE": "100",
                           "HO11Y_LOAD_CONCURRENCY": "5", "HO11Y_DOWNSTREAM_TIMEOUT": "30s",
                           "OTEL_TRACES_EXPORTER": "none"})
        time.sleep(1.5)
        fams = load.scrape()
        self.assertEqual(metric_value(fams, "ho11y_load_in_flight"), 5)
        skipped = metric_value(fams, "ho11y_load_skipped_total")
        self.assertTrue(100 <= skipped <= 175, skipped)
        self.assertEqual(metric_value(fams, "ho11y_load_achieved_rate") <= 5, True)

    def test_request_count_waits_for_a_slot_instead_of_skipping(self):
        # Each answer takes 1 s and 5 may be in flight: 20 requests due within 0.2 s go out in
        # four waves, all of them, none skipped.
        leaf = self.start({"OTEL_TRACES_EXPORTER": "none", "HO11Y_LATENCY": "1s"}, name="leaf")
        t0 = time.monotonic()
        load = self.start({"HO11Y_LOAD_TARGET": leaf.url, "HO11Y_LOAD_RATE": "100",
                           "HO11Y_LOAD_REQUESTS": "20", "HO11Y_LOAD_CONCURRENCY": "5",
                           "OTEL_TRACES_EXPORTER": "none"}, name="load")
        done = load.wait_metric("ho11y_load_requests_total", lambda v: v >= 20,
                                timeout=15 * SCALE, status_code="200")
        elapsed = time.monotonic() - t0
        self.assertEqual(done, 20)
        self.assertGreaterEqual(elapsed, 3.9)
        time.sleep(0.5)  # nothing more goes out
        fams = load.scrape()
        self.assertEqual(metric_value(fams, "ho11y_load_skipped_total"), 0)
        self.assertEqual(metric_value(fams, "ho11y_load_requests_total", status_code="200"), 20)
        self.assertEqual(metric_value(leaf.scrape(), "ho11y_total", http_status_code=200), 20)
        # Latency counts from the due time: the last wave waited about 3 s for its slots.
        self.assertGreater(metric_value(fams, "ho11y_load_request_duration_seconds_sum"), 40)
        finished = [l for l in load.lines() if l.get("msg") == "load finished"]
        self.assertEqual([(l["sent"], l["skipped"]) for l in finished], [(20, 0)])

    def test_request_count_without_waiting_keeps_the_rate(self):
        leaf = self.start({"OTEL_TRACES_EXPORTER": "none"}, name="leaf")
        t0 = time.monotonic()
        load = self.start({"HO11Y_LOAD_TARGET": leaf.url, "HO11Y_LOAD_RATE": "20",
                           "HO11Y_LOAD_REQUESTS": "30", "OTEL_TRACES_EXPORTER": "none"},
                          name="load")
        load.wait_metric("ho11y_load_requests_total", lambda v: v >= 30, timeout=10 * SCALE,
                         status_code="200")
        elapsed = time.monotonic() - t0
        self.assertTrue(1.4 <= elapsed < 1.5 + 2 * SCALE, elapsed)  # request 29 is due at 1.45 s
        time.sleep(0.3)
        self.assertEqual(metric_value(leaf.scrape(), "ho11y_total", http_status_code=200), 30)


if __name__ == "__main__":
    unittest.main()
