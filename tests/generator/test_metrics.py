"""/metrics parsed back and checked against every upstream ho11y_* metric (name, type, help,
labels, buckets; reference/ho11y.md section 1.8), the process metrics, and the format
negotiation: OpenMetrics with the traceid exemplar when asked for, plain text with DISABLE_OM."""

import re
import time
import unittest

from ho11ytest import Ho11yCase, metric_value, parse_prometheus

TEXT = "text/plain; version=0.0.4; charset=utf-8"
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
RANDHIST_LE = ["-2", "-1.5", "-1", "-0.5", "0", "0.5", "1", "1.5", "2", "2.5", "+Inf"]
DURATION_LE = ["0.0001", "0.0002", "0.0004", "0.0008", "0.0016", "0.0032", "0.0064", "0.0128",
               "0.0256", "0.0512", "+Inf"]
UPSTREAM = {
    "ho11y_total": ("counter", "Total ho11y invokes."),
    "ho11y_randval": ("gauge", "A random value."),
    "ho11y_randhist": ("histogram", "A histogram of normally distributed random numbers."),
    "ho11y_downstream_payload_bytes": ("summary", "HTTP body size received from a downstream."),
    "ho11y_downstream_duration_seconds": ("histogram", "Duration taken for invoking a downstream."),
}
PROCESS = {"process_cpu_seconds_total": "counter", "process_resident_memory_bytes": "gauge",
           "process_virtual_memory_bytes": "gauge", "process_virtual_memory_max_bytes": "gauge",
           "process_start_time_seconds": "gauge", "process_open_fds": "gauge",
           "process_max_fds": "gauge"}


class Metrics(Ho11yCase):
    def setUp(self):
        self.rec = self.recorder(body=b"x" * 1000)
        self.dummy = "DUMMY:2kB:1ms"

    def run_requests(self, env):
        h = self.start(dict({"DOWNSTREAM0": self.rec.url, "DOWNSTREAM1": self.dummy,
                             "HO11Y_FAILURE_RATE": "30", "OTEL_TRACES_EXPORTER": "none"}, **env))
        results = h.get_many(60, workers=4)
        return h, results

    def test_upstream_metrics_in_text_format(self):
        t0 = time.time()
        h, results = self.run_requests({})
        codes = {}
        for r in results:
            codes[r[0]] = codes.get(r[0], 0) + 1
        ok = codes[200]
        ctype, text = h.metrics()
        self.assertEqual(ctype, TEXT)
        self.assertNotIn("# EOF", text)
        self.assertNotIn("traceid", text)  # exemplars only in OpenMetrics
        fams = parse_prometheus(text)
        for name, (typ, help_) in UPSTREAM.items():
            self.assertEqual((fams[name]["type"], fams[name]["help"]), (typ, help_), name)
        # ho11y_total{http_status_code}: one per GET / with its final status (scrapes excluded).
        total = fams["ho11y_total"]["samples"]
        self.assertEqual({s["name"] for s in total}, {"ho11y_total"})
        self.assertEqual({s["labels"]["http_status_code"]: float(s["value"]) for s in total},
                         {str(k): float(v) for k, v in codes.items()})
        self.assertEqual([set(s["labels"]) for s in total], [{"http_status_code"}] * len(total))
        # ho11y_randval: a label-less gauge; ho11y_randhist: upstream's linear buckets.
        self.assertEqual([(s["name"], s["labels"]) for s in fams["ho11y_randval"]["samples"]],
                         [("ho11y_randval", {})])
        self.check_histogram(fams["ho11y_randhist"], "ho11y_randhist", RANDHIST_LE)
        self.assertGreaterEqual(metric_value(fams, "ho11y_randhist_count"), 1)
        # ho11y_downstream_payload_bytes{downstream}: a summary without quantiles.
        pay = fams["ho11y_downstream_payload_bytes"]["samples"]
        self.assertEqual({s["name"] for s in pay},
                         {"ho11y_downstream_payload_bytes_sum", "ho11y_downstream_payload_bytes_count"})
        for s in pay:
            self.assertEqual(set(s["labels"]), {"downstream"})
            self.assertNotIn("quantile", s["labels"])
        for ds, size in ((self.rec.url, 1000), (self.dummy, 2048)):
            self.assertEqual(metric_value(fams, "ho11y_downstream_payload_bytes_count",
                                          downstream=ds), ok)
            self.assertEqual(metric_value(fams, "ho11y_downstream_payload_bytes_sum",
                                          downstream=ds), ok * size)
        # ho11y_downstream_duration_seconds: exponential buckets, one observation per call.
        hist = self.check_histogram(fams["ho11y_downstream_duration_seconds"],
                                    "ho11y_downstream_duration_seconds", DURATION_LE)
        self.assertEqual(hist["count"], 2 * ok)
        # The DUMMY calls observe their configured 1 ms: bucket 0.0016 holds at least those.
        self.assertGreaterEqual(hist["buckets"]["0.0016"] - hist["buckets"]["0.0008"], ok)
        # Process metrics, read at scrape time.
        for name, typ in PROCESS.items():
            self.assertEqual(fams[name]["type"], typ, name)
        self.assertGreater(metric_value(fams, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(metric_value(fams, "process_open_fds"), 2)
        self.assertLessEqual(abs(metric_value(fams, "process_start_time_seconds") - t0), 5)
        # The peak is read a moment before the current size (families render in name order).
        self.assertGreaterEqual(metric_value(fams, "ho11y_process_resident_memory_peak_bytes"),
                                metric_value(fams, "process_resident_memory_bytes") - (1 << 20))
        self.assertEqual(metric_value(fams, "ho11y_request_duration_seconds_count"), 60)
        # Families are sorted by name, as client_golang's gatherer does.
        names = [l[7:].split(" ")[0] for l in text.splitlines() if l.startswith("# TYPE ")]
        self.assertEqual(names, sorted(names))

    def check_histogram(self, fam, name, les):
        buckets = [s for s in fam["samples"] if s["name"] == name + "_bucket"]
        self.assertEqual([s["labels"]["le"] for s in buckets], les)
        values = [float(s["value"]) for s in buckets]
        self.assertEqual(values, sorted(values))  # cumulative
        count = [float(s["value"]) for s in fam["samples"] if s["name"] == name + "_count"]
        self.assertEqual(count, [values[-1]])
        self.assertEqual(len([s for s in fam["samples"] if s["name"] == name + "_sum"]), 1)
        return {"count": values[-1], "buckets": dict(zip(les, values))}

    def test_openmetrics_with_exemplars(self):
        h, results = self.run_requests({})
        ids = {r[2].decode()[12:-2] for r in results if r[0] == 200}
        ctype, text = h.metrics(accept=PROMETHEUS_ACCEPT)
        self.assertTrue(ctype.startswith("application/openmetrics-text; version=1.0.0"), ctype)
        self.assertTrue(text.endswith("# EOF\n"))
        fams = parse_prometheus(text)
        # An OpenMetrics counter family is named without _total; its sample keeps it.
        self.assertEqual(fams["ho11y"]["type"], "counter")
        self.assertEqual({s["name"] for s in fams["ho11y"]["samples"]}, {"ho11y_total"})
        self.assertNotIn("ho11y_total", fams)
        ex = [s for s in fams["ho11y_downstream_duration_seconds"]["samples"] if s["exemplar"]]
        self.assertTrue(ex, text)
        for s in ex:
            m = re.match(r'^\{traceid="(1-[0-9a-f]{8}-[0-9a-f]{24})"\} (\S+) (\S+)$', s["exemplar"])
            self.assertTrue(m, s["exemplar"])
            self.assertIn(m.group(1), ids)
            le = s["labels"]["le"]
            self.assertTrue(le == "+Inf" or float(m.group(2)) <= float(le))
            self.assertLessEqual(abs(float(m.group(3)) - time.time()), 60)
        # An explicit text request still gets text.
        self.assertEqual(h.metrics(accept="text/plain;version=0.0.4")[0], TEXT)

    def test_disable_om_serves_text_only(self):
        h, _ = self.run_requests({"DISABLE_OM": ""})  # presence alone disables, as upstream
        ctype, text = h.metrics(accept=PROMETHEUS_ACCEPT)
        self.assertEqual(ctype, TEXT)
        self.assertNotIn("# EOF", text)
        self.assertNotIn("traceid", text)
        self.assertIn("ho11y_total", parse_prometheus(text))
        self.assertIn("OpenMetrics disabled", [l.get("msg") for l in h.lines()])

    def test_vec_metrics_appear_with_their_first_observation(self):
        h = self.start({"DOWNSTREAM0": self.rec.url, "OTEL_TRACES_EXPORTER": "none"})
        fams = h.scrape()
        self.assertNotIn("ho11y_total", fams)
        self.assertNotIn("ho11y_downstream_payload_bytes", fams)
        self.assertEqual(metric_value(fams, "ho11y_downstream_duration_seconds_count"), 0)
        self.assertEqual(h.get()[0], 200)
        fams = h.scrape()
        self.assertEqual(metric_value(fams, "ho11y_total", http_status_code=200), 1)
        self.assertEqual(metric_value(fams, "ho11y_downstream_payload_bytes_count",
                                      downstream=self.rec.url), 1)

    def test_randval_changes_every_five_seconds(self):
        h = self.start({"OTEL_TRACES_EXPORTER": "none"})
        first = h.scrape()
        n0 = metric_value(first, "ho11y_randhist_count")
        n1 = h.wait_metric("ho11y_randhist_count", lambda v: v > n0, timeout=7)
        self.assertEqual(n1, n0 + 1)


if __name__ == "__main__":
    unittest.main()
