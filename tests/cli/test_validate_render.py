"""ho11yctl validate and render, run as users run them: exit codes, summaries, every error with
file:line, bad input, the rendered YAML (byte for byte the golden files, and accepted by the
real kubectl against the API server stand-in), image options, --help and --version."""

import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

SRC = os.environ.get("HO11Y_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("HO11Y_TEST_DATA") or os.path.join(SRC, "tests", "data")
HO11YCTL = os.environ.get("HO11YCTL") or os.path.join(
    os.environ.get("HO11Y_BIN_DIR", os.path.join(SRC, "build", "bin")), "ho11yctl")
YAML2JSON = os.environ.get("HO11Y_YAML2JSON")
TIME_SCALE = float(os.environ.get("HO11Y_TIME_SCALE", "1"))

sys.path.insert(0, os.path.join(SRC, "tests", "apiserver"))
from harness import ServerTestCase  # noqa: E402  (the stand-in's test harness)

GEN = "ho11y:golden"
COL = "otel-collector:golden"
EXAMPLES = sorted(glob.glob(os.path.join(SRC, "examples", "*.yaml")))
VALID = sorted(glob.glob(os.path.join(DATA, "topologies", "valid", "*.yaml")))
INVALID = sorted(glob.glob(os.path.join(DATA, "topologies", "invalid", "*.yaml")))


def ctl(*args, input=None, cwd=None):
    """Runs ho11yctl; returns (exit status, stdout, stderr) as text (bytes kept for stdin)."""
    r = subprocess.run([HO11YCTL] + list(args), input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, cwd=cwd, timeout=60 * TIME_SCALE)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def expectations(path):
    """The "# expect: LINE: ERROR" lines of an invalid fixture, as (line, error)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"# expect: (\d+): (.*)$", line.rstrip("\n"))
            if m:
                out.append((int(m.group(1)), m.group(2)))
    return out


def yaml_docs(text):
    """Documents of YAML text, read by the project's own reader (Python has no YAML library)."""
    if not YAML2JSON:
        raise unittest.SkipTest("HO11Y_YAML2JSON not set (run through ctest)")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    try:
        r = subprocess.run([YAML2JSON, f.name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
    finally:
        os.unlink(f.name)
    if r.returncode != 0:
        raise AssertionError("yaml2json: " + r.stderr)
    return json.loads(r.stdout)


class ValidateTest(unittest.TestCase):
    def test_examples_and_valid_fixtures(self):
        files = EXAMPLES + VALID
        self.assertGreaterEqual(len(files), 8)
        code, out, err = ctl("validate", *files)
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        # One summary line per file (each holds one Topology), in the order given.
        self.assertEqual(len(lines), len(files), out)
        for path, line in zip(files, lines):
            self.assertTrue(line.startswith(path + ": Topology "), line)
            self.assertIn(" is valid: ", line)
        # Non-Topology documents are only noted, on stderr.
        self.assertIn("xray-sample.yaml:15: note: skipping Namespace \"example-app\": not a "
                      "Topology", err)
        self.assertNotIn("error", err)

    def test_summary_says_what_will_run(self):
        code, out, _ = ctl("validate", "xray-sample.yaml", cwd=os.path.join(SRC, "examples"))
        self.assertEqual(code, 0)
        self.assertEqual(out, "xray-sample.yaml: Topology example-app/xray-sample is valid: "
                              "3 services, 6 calls, Managed collector exporting to awsxray, "
                              "no load\n")
        code, out, _ = ctl("validate", "deep-graph.yaml", "external-collector.yaml",
                           cwd=os.path.join(SRC, "examples"))
        self.assertEqual(code, 0)
        self.assertEqual(out.splitlines(), [
            "deep-graph.yaml: Topology shop/shop is valid: 6 services, 10 calls, Managed "
            "collector exporting to debug, load 10/s to gateway",
            "external-collector.yaml: Topology example-app/xray-external is valid: 3 services, "
            "6 calls, External collector at adot-collector.adot-col:4317, no load"])

    def test_every_error_with_file_and_line(self):
        # All the invalid fixtures in one run: every error of every file, in file order, each
        # with its file and line, and nothing on stdout.
        self.assertGreaterEqual(len(INVALID), 40)
        code, out, err = ctl("validate", *INVALID)
        self.assertEqual((code, out), (1, ""))
        lines = err.splitlines()
        expected, total = [], 0
        for path in INVALID:
            want = expectations(path)
            self.assertTrue(want, path)
            total += len(want)
            expected += ["%s:%d: %s" % (path, n, e) if n > 0 else "%s: %s" % (path, e)
                         for n, e in want]
        self.assertEqual(lines[:-1], expected)
        self.assertEqual(lines[-1], "ho11yctl validate: %d errors" % total)
        # One file alone: its errors and the count.
        path = os.path.join(DATA, "topologies", "invalid", "several-errors.yaml")
        code, out, err = ctl("validate", path)
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err.splitlines(), ["%s:%d: %s" % (path, n, e)
                                            for n, e in expectations(path)] +
                         ["ho11yctl validate: 5 errors"])

    def test_several_files_at_once(self):
        good = os.path.join(DATA, "topologies", "valid", "minimal.yaml")
        bad1 = os.path.join(DATA, "topologies", "invalid", "several-errors.yaml")
        bad2 = os.path.join(DATA, "topologies", "invalid", "cycle-length-5.yaml")
        code, out, err = ctl("validate", bad1, good, bad2)
        self.assertEqual(code, 1)
        # The valid file still gets its summary; every error of both bad files is reported.
        self.assertEqual(out.splitlines(), [
            good + ": Topology minimal is valid: 1 service, 0 calls, Managed collector "
                   "exporting to awsxray, no load"])
        n = 0
        for path in (bad1, bad2):
            for line, e in expectations(path):
                self.assertIn("%s:%d: %s\n" % (path, line, e), err)
                n += 1
        self.assertTrue(err.endswith("ho11yctl validate: %d errors\n" % n), err)
        # Errors come in file order.
        self.assertLess(err.index(bad1), err.index(bad2))

    def test_bad_input(self):
        with tempfile.TemporaryDirectory() as d:
            garbage = os.path.join(d, "garbage.yaml")
            with open(garbage, "wb") as f:
                f.write(bytes(range(256)) * 4)
            empty = os.path.join(d, "empty.yaml")
            open(empty, "w").close()
            comments = os.path.join(d, "comments.yaml")
            with open(comments, "w") as f:
                f.write("# nothing here\n---\n")
            broken = os.path.join(d, "broken.yaml")
            with open(broken, "w") as f:
                f.write("apiVersion: ho11y.dev/v1alpha1\nkind: Topology\nspec:\n  services: [\n")
            latin1 = os.path.join(d, "latin1.yaml")
            with open(latin1, "wb") as f:
                f.write(b"apiVersion: ho11y.dev/v1alpha1\nkind: Topology\nmetadata: {name: caf\xe9}\n")
            scalar = os.path.join(d, "scalar.yaml")
            with open(scalar, "w") as f:
                f.write("just a string\n")
            huge = os.path.join(d, "huge.yaml")
            with open(huge, "w") as f:
                f.write("# " + "x" * (4 << 20) + "\n")
            missing = os.path.join(d, "missing.yaml")
            cases = [
                (garbage, garbage + ": input contains NUL bytes (binary data?)"),
                (empty, empty + ": no Topology in this file"),
                (comments, comments + ": no Topology in this file"),
                (broken, broken + ":5: "),
                (latin1, latin1 + ":"),
                (scalar, scalar + ":1: document is not a mapping (expected a Topology object)"),
                (huge, huge + ": file is larger than the limit of"),
                (missing, missing + ": No such file or directory"),
                (d, d + ": is a directory"),
            ]
            for path, message in cases:
                for cmd in ("validate", "render"):
                    code, out, err = ctl(cmd, path)
                    self.assertEqual(code, 1, (cmd, path, err))
                    self.assertEqual(out, "", (cmd, path))
                    self.assertTrue(err.startswith(message), (cmd, path, err))
                    self.assertNotIn("AddressSanitizer", err)
            # Bad files do not hide good ones, and the exit status reports them.
            code, out, err = ctl("validate", missing, os.path.join(SRC, "examples",
                                                                   "xray-sample.yaml"))
            self.assertEqual(code, 1)
            self.assertIn("xray-sample is valid", out)
            self.assertIn("ho11yctl validate: 1 error\n", err)

    def test_standard_input(self):
        with open(os.path.join(SRC, "examples", "deep-graph.yaml"), "rb") as f:
            text = f.read()
        code, out, _ = ctl("validate", "-", input=text)
        self.assertEqual(code, 0)
        self.assertTrue(out.startswith("-: Topology shop/shop is valid: 6 services"), out)
        code, out, err = ctl("validate", "-", input=b"\x00\x01\x02")
        self.assertEqual((code, out), (1, ""))
        self.assertTrue(err.startswith("-: "), err)

    def test_usage_errors(self):
        for args in (["validate"], ["validate", "--bogus", "x.yaml"], ["render"],
                     ["render", "a.yaml", "b.yaml"], ["render", "--nope", "a.yaml"],
                     ["render", "a.yaml", "--generator-image"],
                     ["render", "a.yaml", "--generator-image="],
                     ["render", "a.yaml", "--image-pull-policy", "Sometimes"],
                     ["render", "a.yaml", "-o", "xml"], ["frobnicate"], []):
            code, out, err = ctl(*args)
            self.assertEqual(code, 2, args)
            self.assertEqual(out, "", args)
            self.assertIn("Usage: ho11yctl", err, args)


class RenderTest(unittest.TestCase):
    def test_golden_files_byte_for_byte(self):
        # The same files the library test compares with (tests/data/golden/README.md).
        pairs = {"xray-sample": "examples/xray-sample.yaml",
                 "deep-graph": "examples/deep-graph.yaml",
                 "external-collector": "examples/external-collector.yaml",
                 "full": "tests/data/topologies/valid/full.yaml",
                 "minimal": "tests/data/topologies/valid/minimal.yaml",
                 "external": "tests/data/topologies/valid/external.yaml"}
        for name, rel in pairs.items():
            code, out, err = ctl("render", "--generator-image", GEN, "--collector-image", COL,
                                 os.path.join(SRC, rel))
            self.assertEqual(code, 0, err)
            with open(os.path.join(DATA, "golden", name + ".yaml"), encoding="utf-8") as f:
                self.assertEqual(out, f.read(), name)

    def test_multi_document_yaml_of_every_object(self):
        code, out, _ = ctl("render", os.path.join(SRC, "examples", "xray-sample.yaml"))
        self.assertEqual(code, 0)
        self.assertTrue(out.startswith("---\napiVersion: v1\nkind: ServiceAccount\n"), out[:80])
        docs = yaml_docs(out)
        self.assertEqual(out.count("\n---\n") + 1, len(docs))
        self.assertEqual([(d["kind"], d["metadata"]["name"]) for d in docs], [
            ("ServiceAccount", "xray-sample-collector"), ("ConfigMap", "xray-sample-collector"),
            ("Service", "xray-sample-collector"), ("Service", "frontend"),
            ("Service", "downstream0"), ("Service", "downstream1"),
            ("Deployment", "xray-sample-collector"), ("Deployment", "frontend"),
            ("Deployment", "downstream0"), ("Deployment", "downstream1")])
        for d in docs:
            self.assertEqual(d["metadata"]["namespace"], "example-app")
            self.assertNotIn("ownerReferences", d["metadata"])  # no uid before creation
            self.assertEqual(d["metadata"]["labels"]["app.kubernetes.io/managed-by"],
                             "ho11y-operator")

    def test_json_output_is_the_same_list(self):
        path = os.path.join(SRC, "examples", "deep-graph.yaml")
        code, yaml_out, _ = ctl("render", path)
        self.assertEqual(code, 0)
        code, json_out, _ = ctl("render", "-o", "json", path)
        self.assertEqual(code, 0)
        lst = json.loads(json_out)
        self.assertEqual((lst["apiVersion"], lst["kind"]), ("v1", "List"))
        self.assertEqual(lst["items"], yaml_docs(yaml_out))

    def test_images_and_pull_policy(self):
        path = os.path.join(SRC, "examples", "deep-graph.yaml")
        code, out, _ = ctl("render", "--generator-image", "gen:1", "--collector-image=col:2",
                           "--image-pull-policy", "Never", path)
        self.assertEqual(code, 0)
        seen = set()
        for d in yaml_docs(out):
            if d["kind"] != "Deployment":
                continue
            c = d["spec"]["template"]["spec"]["containers"][0]
            want = "col:2" if d["metadata"]["name"] == "shop-collector" else "gen:1"
            self.assertEqual(c["image"], want, d["metadata"]["name"])
            self.assertEqual(c["imagePullPolicy"], "Never")
            seen.add(d["metadata"]["name"])
        self.assertIn("shop-load", seen)
        self.assertEqual(len(seen), 8)
        # Without options: the documented defaults, which --help names.
        code, out, _ = ctl("render", path)
        _, usage, _ = ctl("render", "--help")
        images = set(re.findall(r"^\s+image: (\S+)$", out, re.M))
        self.assertEqual(len(images), 2, images)
        for image in images:
            self.assertIn("(default " + image + ")", usage)
        # Images given in the Topology win (the load driver always runs ours).
        code, out, _ = ctl("render", "--generator-image", "gen:1", "--collector-image", "col:2",
                           os.path.join(DATA, "topologies", "valid", "full.yaml"))
        self.assertEqual(code, 0)
        images = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
                  for d in yaml_docs(out) if d["kind"] == "Deployment"}
        self.assertEqual(images, {"full-collector": "otel/opentelemetry-collector-contrib:0.100.0",
                                  "edge": "registry.example/ho11y:1.2.3",
                                  "core": "registry.example/ho11y:1.2.3",
                                  "full-load": "gen:1"})

    def test_invalid_input_prints_nothing(self):
        # Two Topologies, the second invalid: no partial output.
        with open(os.path.join(SRC, "examples", "xray-sample.yaml"), "rb") as f:
            good = f.read()
        with open(os.path.join(DATA, "topologies", "invalid", "unknown-reference.yaml"),
                  "rb") as f:
            bad = f.read()
        code, out, err = ctl("render", "-", input=good + b"\n---\n" + bad)
        self.assertEqual(code, 1)
        self.assertEqual(out, "")
        self.assertIn('Not found: "', err)
        for path in INVALID[::8]:
            code, out, err = ctl("render", path)
            self.assertEqual((code, out), (1, ""), path)
            n, e = expectations(path)[0]
            self.assertIn(("%s:%d: %s" % (path, n, e)) if n else "%s: %s" % (path, e), err)


class HelpTest(unittest.TestCase):
    def test_help_on_every_command(self):
        code, out, err = ctl("--help")
        self.assertEqual((code, err), (0, ""))
        self.assertTrue(out.startswith("Usage: ho11yctl COMMAND"), out)
        self.assertEqual(ctl("-h")[1], out)
        self.assertEqual(ctl("help")[1], out)
        commands = re.findall(r"^  ([a-z]+) {2,}\S", out.split("Commands:", 1)[1], re.M)
        self.assertIn("validate", commands)
        self.assertIn("render", commands)
        for cmd in commands:
            for args in ([cmd, "--help"], [cmd, "-h"], ["help", cmd]):
                code, text, err = ctl(*args)
                self.assertEqual((code, err), (0, ""), args)
                self.assertTrue(text.startswith("Usage: ho11yctl " + cmd), (args, text))
                self.assertIn("Exit status", text, args)

    def test_version(self):
        with open(os.path.join(SRC, "CMakeLists.txt"), encoding="utf-8") as f:
            version = re.search(r"project\(\S+ VERSION (\S+)", f.read()).group(1)
        code, out, err = ctl("--version")
        self.assertEqual((code, out, err), (0, "ho11yctl %s\n" % version, ""))


class KubectlTest(ServerTestCase):
    """The rendered YAML as `kubectl apply -f -` takes it, against the stand-in (kubectl needs
    discovery and the OpenAPI schema even for --dry-run=client)."""

    ready_delay = 0.1

    def test_kubectl_accepts_the_rendered_objects(self):
        for rel in ("examples/xray-sample.yaml", "examples/deep-graph.yaml",
                    "examples/external-collector.yaml",
                    "tests/data/topologies/valid/full.yaml"):
            with open(os.path.join(SRC, rel), "rb") as f:
                text = f.read()
            # Two examples use the same service names in example-app; their selectors differ
            # (they carry the Topology's name), and selectors are immutable: keep them apart.
            if rel.endswith("external-collector.yaml"):
                text = text.replace(b"namespace: example-app", b"namespace: example-ext")
            code, out, err = ctl("render", "-", input=text)
            self.assertEqual(code, 0, err)
            docs = yaml_docs(out)
            ns = docs[0]["metadata"]["namespace"]
            r = self.kubectl("apply", "--dry-run=client", "-f", "-", input=out)
            self.assertEqual(len(r.stdout.splitlines()), len(docs), r.stdout)
            self.assertTrue(all(l.endswith(" created (dry run)") for l in r.stdout.splitlines()),
                            r.stdout)
            # For real, with the server's strict schema validation of every field.
            self.kubectl("create", "namespace", ns)
            r = self.kubectl("apply", "--validate=strict", "-f", "-", input=out)
            self.assertEqual(r.stdout.splitlines(),
                             ["%s/%s created" % (k8s_name(d), d["metadata"]["name"])
                              for d in docs])
            self.assertEqual(r.stderr, "")
            r = self.kubectl("apply", "-f", "-", input=out)
            self.assertTrue(all(l.endswith(" unchanged") for l in r.stdout.splitlines()),
                            r.stdout)
        r = self.kubectl("-n", "example-app", "get", "deployments,services", "-o", "name")
        for name in ("deployment.apps/frontend", "deployment.apps/downstream0",
                     "deployment.apps/xray-sample-collector", "service/downstream1",
                     "service/xray-sample-collector"):
            self.assertIn(name, r.stdout.splitlines())
        r = self.kubectl("-n", "example-app", "get", "deployment", "frontend", "-o",
                         "jsonpath={.spec.template.spec.containers[0].env[5].value}")
        self.assertEqual(r.stdout, "http://xray-sample-collector:4318/v1/traces")
        r = self.kubectl("-n", "example-ext", "get", "deployment", "frontend", "-o",
                         "jsonpath={.spec.template.spec.containers[0].env[4].value}")
        self.assertEqual(r.stdout, "adot-collector.adot-col:4317")


def k8s_name(doc):
    """How kubectl names the object's type in its messages."""
    return {"Deployment": "deployment.apps"}.get(doc["kind"], doc["kind"].lower())


if __name__ == "__main__":
    unittest.main()
