"""docs/generator.md stays in step with the generator: every environment variable the
configuration reads is documented, every documented variable is read, and every metric family
the running binary exposes is listed. Also the command line: --help, --version and nothing else."""

import os
import re
import subprocess
import time
import unittest

from ho11ytest import HO11Y, SCALE, Ho11yCase, closed_port

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CONFIG_C = os.path.join(ROOT, "generator", "config.c")
DOC = os.path.join(ROOT, "docs", "generator.md")

# A string literal that is a whole variable name (prefixes such as "HO11Y_" end in "_").
LITERAL = re.compile(r'"((?:HO11Y|OTEL|DISABLE)_[A-Z0-9_]*[A-Z0-9])"')
# A variable name inside a backquoted table cell.
CELL_NAME = re.compile(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]|DOWNSTREAM[0-9]+)`")
DOWNSTREAM = "DOWNSTREAM0..15"


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def source_names():
    """Variable names config.c reads; the DOWNSTREAMn slots as one name."""
    src = read(CONFIG_C)
    names = set(LITERAL.findall(src))
    if '"DOWNSTREAM%u"' in src:
        names.add(DOWNSTREAM)
    return names


def doc_tables():
    """First cells of the doc's table rows, header and rule rows left out."""
    cells = []
    for line in read(DOC).splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        first = line.split("|")[1].strip()
        if first in ("Variable", "Family", "Request"):
            continue
        cells.append(first)
    return cells


def doc_names():
    """Variable names the doc's tables document; DOWNSTREAM0 .. DOWNSTREAM15 as one name."""
    names = set()
    for cell in doc_tables():
        for name in CELL_NAME.findall(cell):
            if re.fullmatch(r"DOWNSTREAM[0-9]+", name):
                names.add(DOWNSTREAM if name in ("DOWNSTREAM0", "DOWNSTREAM15") else name)
            elif name.upper() == name:
                names.add(name)
    return names


def doc_families():
    families = set()
    for cell in doc_tables():
        families.update(re.findall(r"`([a-z][a-z0-9_]*)`", cell))
    return families


class DocVariables(unittest.TestCase):
    def test_source_extraction_is_sane(self):
        names = source_names()
        # A regex that silently matched nothing would pass every check below.
        for name in ("HO11Y_PORT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "DISABLE_OM",
                     "HO11Y_LOAD_REQUESTS", DOWNSTREAM):
            self.assertIn(name, names)
        self.assertGreater(len(names), 40)

    def test_every_variable_read_is_documented(self):
        missing = sorted(source_names() - doc_names())
        self.assertEqual(missing, [], "read by generator/config.c but not in docs/generator.md")

    def test_every_documented_variable_is_read(self):
        extra = sorted(doc_names() - source_names())
        self.assertEqual(extra, [], "in docs/generator.md but not read by generator/config.c")

    def test_downstream_slots_are_documented_as_a_range(self):
        cells = " ".join(doc_tables())
        self.assertIn("`DOWNSTREAM0` .. `DOWNSTREAM15`", cells)


class DocMetrics(Ho11yCase):
    def test_every_exposed_family_is_documented(self):
        # As many families as one process shows: load mode, a DUMMY and a failing downstream,
        # and an export that fails (export requests and errors).
        target = self.recorder()
        h = self.start({"DOWNSTREAM0": "DUMMY:1kB:1ms",
                        "DOWNSTREAM1": "http://127.0.0.1:%d/" % closed_port(),
                        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % closed_port(),
                        "OTEL_BSP_EXPORT_TIMEOUT": "200",
                        "HO11Y_LOAD_TARGET": target.url, "HO11Y_LOAD_RATE": "50",
                        "HO11Y_LOAD_REQUESTS": "5"})
        self.assertEqual(h.get()[0], 200)
        h.wait_metric("ho11y_load_requests_total", lambda v: v == 5, status_code="200")
        deadline = time.time() + 10 * SCALE
        while True:
            _, text = h.metrics()
            if "\nho11y_export_errors_total{" in text or time.time() >= deadline:
                break
            time.sleep(0.05)
        exposed = set(re.findall(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ", text, re.M))
        for family in ("ho11y_total", "ho11y_downstream_errors_total",
                       "ho11y_export_errors_total", "ho11y_load_requests_total"):
            self.assertIn(family, exposed)
        missing = sorted(exposed - doc_families())
        self.assertEqual(missing, [], "exposed on /metrics but not in docs/generator.md")


def run_args(*args):
    return subprocess.run([HO11Y, *args], capture_output=True, text=True, timeout=10 * SCALE,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


class CommandLine(unittest.TestCase):
    def test_help(self):
        for flag in ("--help", "-h"):
            r = run_args(flag)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("docs/generator.md", r.stdout)
            for name in ("HO11Y_PORT", "DOWNSTREAM0", "OTEL_EXPORTER_OTLP_ENDPOINT"):
                self.assertIn(name, r.stdout)
            self.assertEqual(r.stderr, "")

    def test_version(self):
        r = run_args("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^ho11y [0-9]+\.[0-9]+\.[0-9]+\S*\n$")

    def test_other_arguments_are_refused(self):
        for args in (["--port=8765"], ["serve"], ["-"], [""], ["--help", "extra"],
                     ["--version", "--help"]):
            r = run_args(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(r.stdout, "", args)
            self.assertIn("unexpected argument", r.stderr, args)
            self.assertIn("environment", r.stderr, args)

    def test_arguments_win_over_a_bad_environment(self):
        # --help must work even where the configuration would not load.
        r = subprocess.run([HO11Y, "--help"], capture_output=True, text=True,
                           timeout=10 * SCALE, env={"HO11Y_PORT": "abc"})
        self.assertEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main()
