"""The CRD (crds/ho11y.dev_topologies.yaml) and api/ (ho11yctl validate/render) agree.

- Every example and valid test Topology passes both; every invalid one is refused by api/, and
  by the CRD's schema and CEL rules exactly where its "# schema:" line says (the field the
  server names, "prunes <field>" for unknown fields, or "accepts (why)" for what a schema
  cannot express). The schema is evaluated by the API server stand-in's own code.
- Thousands of one-field variations of a Topology: api/ never accepts what the CRD refuses,
  and the CRD refuses everything api/ refuses except for the documented gaps.
- The CRD's defaults are api/'s defaults (rendering a defaulted object changes nothing), and
  its limits are api/constants.h's.
- The real kubectl applies the CRD to the running stand-in: `kubectl explain` shows the
  descriptions, a valid example is created (and defaulted), invalid ones are refused naming
  the field.
"""

import copy
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
BIN = os.environ.get("HO11Y_BIN_DIR") or os.path.join(SRC, "build", "bin")
HO11YCTL = os.path.join(BIN, "ho11yctl")
YAML2JSON = os.environ.get("HO11Y_YAML2JSON") or os.path.join(BIN, "..", "tests", "yaml2json")
CRD_FILE = os.path.join(SRC, "crds", "ho11y.dev_topologies.yaml")

sys.path.insert(0, os.path.join(SRC, "tests", "apiserver"))
import crd as crdmod  # noqa: E402  (the stand-in's CRD, schema and CEL code)
import schema  # noqa: E402
from harness import ServerTestCase  # noqa: E402

EXAMPLES = sorted(glob.glob(os.path.join(SRC, "examples", "*.yaml")))
VALID = sorted(glob.glob(os.path.join(DATA, "topologies", "valid", "*.yaml")) +
               glob.glob(os.path.join(DATA, "render", "*.json")))
INVALID = sorted(glob.glob(os.path.join(DATA, "topologies", "invalid", "*.yaml")))


_docs = {}


def read_docs(*paths):
    """The documents of each file (a list per file), read with one yaml2json run for the files
    not read before; files of more than one document are read on their own."""
    todo = [p for p in paths if p not in _docs]
    if todo:
        r = subprocess.run([YAML2JSON] + todo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("yaml2json: %s" % r.stderr)
        docs = json.loads(r.stdout)
        if len(docs) == len(todo):
            for p, d in zip(todo, docs):
                _docs[p] = [d]
        else:
            for p in todo:
                r = subprocess.run([YAML2JSON, p], stdout=subprocess.PIPE, text=True,
                                   timeout=60, check=True)
                _docs[p] = json.loads(r.stdout)
    return _docs[paths[0]] if len(paths) == 1 else [_docs[p] for p in paths]


def topologies(path):
    return [d for d in read_docs(path) if isinstance(d, dict) and d.get("kind") == "Topology"]


CRD = read_docs(CRD_FILE)[0]
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
CEL_CACHE = schema._CelCache()  # the rules compiled once, as the server keeps them


def schema_admit(obj):
    """What the API server does with a Topology it is sent: prune unknown fields, apply the
    defaults, validate (OpenAPI and CEL). Returns (pruned paths, causes, defaulted object)."""
    obj = copy.deepcopy(obj)
    pruned = schema.prune(obj, SCHEMA)
    schema.apply_defaults(obj, SCHEMA)
    return pruned, schema.validate(obj, SCHEMA, None, CEL_CACHE), obj


def ctl(*args, input=None):
    r = subprocess.run([HO11YCTL] + list(args), input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def api_valid_names(objs):
    """Names of the Topologies api/ accepts, validating all objs (one-line JSON documents of a
    multi-document YAML file, in files below the input limit) with ho11yctl."""
    ok = set()
    for start in range(0, len(objs), 500):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            for o in objs[start:start + 500]:
                f.write("---\n" + json.dumps(o) + "\n")
        try:
            _, out, _ = ctl("validate", f.name)
        finally:
            os.unlink(f.name)
        ok |= set(re.findall(r"Topology (\S+) is valid", out))
    return ok


def annotation(path):
    with open(path, encoding="utf-8") as f:
        m = re.search(r"^# schema: (.*)$", f.read(), re.M)
    return m.group(1) if m else None


class AgreementTest(unittest.TestCase):
    def test_crd_is_structural_and_accepted(self):
        crd = crdmod.apply_defaults(copy.deepcopy(CRD))
        self.assertEqual(crdmod.validate(crd), [])
        self.assertEqual(CRD["spec"]["names"]["shortNames"], ["topo"])
        self.assertEqual(CRD["spec"]["names"]["categories"], ["ho11y"])
        version = CRD["spec"]["versions"][0]
        self.assertEqual(version["subresources"], {"status": {}})
        self.assertEqual([c["name"] for c in version["additionalPrinterColumns"]],
                         ["Ready", "Status", "Age"])

    def test_every_field_has_a_description(self):
        # What `kubectl explain` shows, all the way down (metadata is described by Kubernetes).
        missing = []

        def walk(s, path):
            for name, sub in (s.get("properties") or {}).items():
                p = path + "." + name if path else name
                if p != "metadata" and not sub.get("description"):
                    missing.append(p)
                if p != "metadata":
                    walk(sub, p)
            if isinstance(s.get("items"), dict):
                walk(s["items"], path + "[]")

        walk(SCHEMA, "")
        self.assertEqual(missing, [])

    def test_valid_topologies_pass_both(self):
        files = EXAMPLES + VALID
        self.assertGreaterEqual(len(files), 10)
        read_docs(*files)
        code, out, err = ctl("validate", *files)
        self.assertEqual(code, 0, err)
        self.assertEqual(len(out.splitlines()), len(files))
        for path in files:
            docs = topologies(path)
            self.assertEqual(len(docs), 1, path)
            pruned, causes, _ = schema_admit(docs[0])
            self.assertEqual((pruned, causes), ([], []), path)

    def test_invalid_topologies_refused_by_both(self):
        self.assertGreaterEqual(len(INVALID), 40)
        read_docs(*INVALID)
        code, out, err = ctl("validate", *INVALID)
        self.assertEqual((code, out), (1, ""))
        caught = 0
        for path in INVALID:
            name = os.path.basename(path)
            ann = annotation(path)
            self.assertIsNotNone(ann, name + " has no '# schema:' line")
            self.assertIn("\n" + path + ":", "\n" + err, name)  # api/ refuses it
            docs = topologies(path)
            self.assertEqual(len(docs), 1, name)
            pruned, causes, _ = schema_admit(docs[0])
            fields = [c["field"] for c in causes]
            if ann.startswith("accepts"):
                # What a schema cannot express; api/ alone refuses it (the operator reports
                # InvalidSpec). The test keeps these notes true.
                self.assertEqual((pruned, causes), ([], []), name)
            elif ann.startswith("prunes "):
                self.assertIn(ann[len("prunes "):], pruned, name)
                caught += 1
            else:
                self.assertIn(ann, fields, "%s: schema said %s" % (name, causes))
                caught += 1
        # Most of the table is caught by the schema already at kubectl apply time.
        self.assertGreaterEqual(caught, 45)

    def test_every_value_agrees(self):
        base = {
            "apiVersion": "ho11y.dev/v1alpha1", "kind": "Topology", "metadata": {"name": "base"},
            "spec": {
                "image": "img:1", "imagePullPolicy": "Always",
                "collector": {
                    "mode": "Managed", "external": {"host": "h.x", "grpcPort": 4317,
                                                    "httpPort": 4318},
                    "image": "c:1", "replicas": 1, "region": "eu-west-1",
                    "roleArn": "arn:aws:iam::123456789012:role/x",
                    "exporters": {"awsxray": {"enabled": True},
                                  "otlp": {"endpoint": "h:4317", "insecure": True},
                                  "debug": {"enabled": True}},
                    "resources": {"limits": {"cpu": "1"}}},
                "services": [
                    {"name": "a", "replicas": 1, "port": 80,
                     "failure": {"rate": 10, "codes": [500]},
                     "latency": {"fixed": "1ms", "jitter": "1ms"}, "cutoffTPS": 5,
                     "parallel": True,
                     "calls": [{"service": "b"}, {"url": "https://x.y/"},
                               {"dummy": {"size": "1kB", "duration": "1ms"}}],
                     "env": [{"name": "E", "value": "v"}],
                     "resources": {"requests": {"memory": "1Mi"}},
                     "podLabels": {"team": "t"}, "podAnnotations": {"note": "n"}},
                    {"name": "b"}],
                "load": {"target": "a", "rate": 5}}}
        paths = [
            "spec.image", "spec.imagePullPolicy", "spec.collector", "spec.collector.mode",
            "spec.collector.external", "spec.collector.external.host",
            "spec.collector.external.grpcPort", "spec.collector.external.httpPort",
            "spec.collector.image", "spec.collector.replicas", "spec.collector.region",
            "spec.collector.serviceAccountName", "spec.collector.roleArn",
            "spec.collector.exporters.awsxray.enabled", "spec.collector.exporters.otlp",
            "spec.collector.exporters.otlp.endpoint", "spec.collector.exporters.otlp.insecure",
            "spec.collector.exporters.debug.enabled", "spec.collector.resources.limits.cpu",
            "spec.services", "spec.services.0.name", "spec.services.1.name",
            "spec.services.0.replicas", "spec.services.0.port", "spec.services.0.failure",
            "spec.services.0.failure.rate", "spec.services.0.failure.codes",
            "spec.services.0.failure.codes.0", "spec.services.0.latency.fixed",
            "spec.services.0.latency.jitter", "spec.services.0.cutoffTPS",
            "spec.services.0.parallel", "spec.services.0.calls", "spec.services.0.calls.0",
            "spec.services.0.calls.0.service", "spec.services.0.calls.1.url",
            "spec.services.0.calls.2.dummy.size", "spec.services.0.calls.2.dummy.duration",
            "spec.services.0.env", "spec.services.0.env.0.name", "spec.services.0.env.0.value",
            "spec.services.0.podLabels.team", "spec.services.0.podAnnotations.note",
            "spec.services.0.resources.requests.memory", "spec.load", "spec.load.target",
            "spec.load.rate"]
        values = [
            "", "a", "b", "Abc", "a b", "-x", "x-", "1x", "A.b", "h.", "a..b", "a.b", "a_b",
            ".", "-", "x" * 41, "x" * 51, "x" * 63, "x" * 64, "x" * 253 + ".a", "x" * 1025,
            "x" * 4097, "x" * 32769, "https://h/", "http://h:99999/", "ftp://h", "h:80",
            "h:4317:1", "h:111111", "https://" + "x" * 2050, "10.0.0.1", "999.1.1.1",
            0, 1, -1, -0.0, 1.5, 80, 99, 100, 599, 600, 1000, 1001, 65535, 65536, 4294967296,
            True, False, None, {}, [], "0", "-0", "-0.", "+1", "+1Mi", "1e3", "1e1.5", "100m",
            "1.5Gi", "0s", "1m", "60s", "61s", "1h", "5\u00b5s", "64MiB", "65MiB", "67108865",
            "1kb", "1KB", "eu-west-1", "arn:aws:iam::123456789012:role/x", "DOWNSTREAM3",
            "HO11Y_PORT", "OTEL_SERVICE_NAME", "Always", "External", "Managed", "1A", "A=B",
            [500, 500], [600], [{"service": "a"}], [{"service": "b", "url": "http://h/"}],
            [{}], [{"name": "a"}, {"name": "a"}], {"target": "zz"}, {"host": ""},
            {"mode": "External"}, [{"name": "E"}, {"name": "E"}]]
        variants = []
        for p in paths:
            for v in values:
                o = copy.deepcopy(base)
                keys = p.split(".")
                cur = o
                for k in keys[:-1]:
                    cur = cur[int(k)] if isinstance(cur, list) else cur[k]
                if isinstance(cur, list):
                    cur[int(keys[-1])] = copy.deepcopy(v)
                else:
                    cur[keys[-1]] = copy.deepcopy(v)
                o["metadata"]["name"] = "v%d" % len(variants)
                variants.append((p, v, o))
        ok = api_valid_names([o for _, _, o in variants])
        self.assertGreater(len(ok), 300)  # the base itself and many variants are valid
        refused_by_crd_only, refused_by_api_only = [], set()
        for p, v, o in variants:
            api_ok = o["metadata"]["name"] in ok
            pruned, causes, _ = schema_admit(o)
            crd_ok = not pruned and not causes
            if api_ok and not crd_ok:
                refused_by_crd_only.append((p, v, pruned, [c["message"] for c in causes]))
            if crd_ok and not api_ok:
                refused_by_api_only.add(p)
        # A Topology ho11yctl calls valid must never be refused by kubectl apply.
        self.assertEqual(refused_by_crd_only, [])
        # What only api/ refuses: ports in URLs above 65535 (the URL pattern does not parse
        # them) and dummy sizes above 64MiB (a pattern cannot bound a value with units); the
        # operator reports those as InvalidSpec.
        self.assertEqual(refused_by_api_only - {
            "spec.collector.exporters.otlp.endpoint", "spec.services.0.calls.1.url",
            "spec.services.0.calls.2.dummy.size"}, set())

    def test_metadata_name_agrees(self):
        for name in ("a", "a-b", "x" * 40, "x" * 41, "A", "1a", "a-", "a.b", "a_b", ""):
            o = {"apiVersion": "ho11y.dev/v1alpha1", "kind": "Topology",
                 "metadata": {"name": name}, "spec": {"services": [{"name": "s"}]}}
            code, _, _ = ctl("validate", "-", input=json.dumps(o))
            pruned, causes, _ = schema_admit(o)
            if name == "":
                continue  # ObjectMeta validation, not the schema, requires a name
            self.assertEqual(code == 0, not causes, (name, causes))

    def test_defaults_agree(self):
        # A Topology defaulted by the CRD renders exactly as the same Topology defaulted by
        # api/: the API server and ho11yctl see the same thing.
        changed = 0
        for path in EXAMPLES + VALID:
            obj = topologies(path)[0]
            _, causes, defaulted = schema_admit(obj)
            self.assertEqual(causes, [])
            changed += defaulted != obj
            code1, plain, err1 = ctl("render", "-o", "json", "-", input=json.dumps(obj))
            code2, by_crd, err2 = ctl("render", "-o", "json", "-", input=json.dumps(defaulted))
            self.assertEqual((code1, code2), (0, 0), err1 + err2)
            self.assertEqual(plain, by_crd, path)
        self.assertGreaterEqual(changed, len(EXAMPLES + VALID) - 1)  # defaults did apply

    def test_limits_and_defaults_match_the_constants(self):
        with open(os.path.join(SRC, "api", "constants.h"), encoding="utf-8") as f:
            text = f.read()

        def const(name):
            m = re.search(r"^#define %s\s+(.+?)\s*(/\*.*)?$" % name, text, re.M)
            self.assertIsNotNone(m, name)
            return m.group(1)

        def num(name):
            v = const(name)
            m = re.fullmatch(r"\((\d+)ull << (\d+)\)", v)
            return int(m.group(1)) << int(m.group(2)) if m else int(v)

        spec = SCHEMA["properties"]["spec"]["properties"]
        svc = spec["services"]["items"]["properties"]
        col = spec["collector"]["properties"]
        call = svc["calls"]["items"]["properties"]
        self.assertEqual(SCHEMA["properties"]["metadata"]["properties"]["name"]["maxLength"],
                         num("TOPO_MAX_NAME_LEN"))
        self.assertEqual(spec["services"]["maxItems"], num("TOPO_MAX_SERVICES"))
        self.assertEqual(svc["name"]["maxLength"], num("TOPO_MAX_SERVICE_NAME_LEN"))
        self.assertEqual(spec["load"]["properties"]["target"]["maxLength"],
                         num("TOPO_MAX_SERVICE_NAME_LEN"))
        self.assertEqual(svc["calls"]["maxItems"], num("TOPO_MAX_CALLS"))
        self.assertEqual(svc["replicas"]["maximum"], num("TOPO_MAX_REPLICAS"))
        self.assertEqual(col["replicas"]["maximum"], num("TOPO_MAX_REPLICAS"))
        self.assertEqual(svc["failure"]["properties"]["codes"]["maxItems"],
                         num("TOPO_MAX_FAILURE_CODES"))
        self.assertEqual(svc["cutoffTPS"]["maximum"], num("TOPO_MAX_CUTOFF_TPS"))
        self.assertEqual(spec["load"]["properties"]["rate"]["maximum"], num("TOPO_MAX_LOAD_RATE"))
        self.assertEqual(svc["env"]["maxItems"], num("TOPO_MAX_ENV"))
        self.assertEqual(svc["podLabels"]["maxProperties"], num("TOPO_MAX_LABELS"))
        self.assertEqual(svc["podAnnotations"]["maxProperties"], num("TOPO_MAX_LABELS"))
        self.assertEqual(svc["podAnnotations"]["additionalProperties"]["maxLength"],
                         num("TOPO_MAX_ANNOTATION_VALUE"))
        self.assertEqual(call["url"]["maxLength"], num("TOPO_MAX_URL_LEN"))
        self.assertEqual(spec["image"]["maxLength"], num("TOPO_MAX_STRING_LEN"))
        self.assertEqual(col["image"]["maxLength"], num("TOPO_MAX_STRING_LEN"))
        self.assertEqual(call["dummy"]["properties"]["size"]["maximum"],
                         num("TOPO_MAX_DUMMY_SIZE"))
        self.assertEqual(svc["port"]["default"], num("TOPO_DEFAULT_SERVICE_PORT"))
        self.assertEqual(svc["failure"]["properties"]["rate"]["default"],
                         num("TOPO_DEFAULT_FAILURE_RATE"))
        codes = re.search(r"#define TOPO_DEFAULT_FAILURE_CODES[^{]*\{([^}]*)\}", text).group(1)
        self.assertEqual(svc["failure"]["properties"]["codes"]["default"],
                         [int(c) for c in re.findall(r"\d+", codes)])
        self.assertEqual(spec["load"]["properties"]["rate"]["default"],
                         num("TOPO_DEFAULT_LOAD_RATE"))
        self.assertEqual(col["mode"]["default"], const("TOPO_DEFAULT_COLLECTOR_MODE").strip('"'))
        self.assertEqual(col["external"]["properties"]["grpcPort"]["default"],
                         num("TOPO_OTLP_GRPC_PORT"))
        self.assertEqual(col["external"]["properties"]["httpPort"]["default"],
                         num("TOPO_OTLP_HTTP_PORT"))
        for f in ("fixed", "jitter"):
            self.assertEqual(svc["latency"]["properties"][f]["default"],
                             const("TOPO_DEFAULT_DURATION").strip('"'))
        self.assertEqual(call["dummy"]["properties"]["size"]["default"],
                         const("TOPO_DEFAULT_DUMMY_SIZE").strip('"'))

    def test_reserved_env_names_agree(self):
        # Every variable the renderer sets is refused as user env by both, and nothing else.
        with open(os.path.join(SRC, "api", "constants.h"), encoding="utf-8") as f:
            ours = set(re.findall(r'^#define TOPO_ENV_\w+\s+"([A-Z0-9_]+)"', f.read(), re.M))
        ours.discard("DOWNSTREAM")
        rule = SCHEMA["properties"]["spec"]["properties"]["services"]["items"]["properties"][
            "env"]["items"]["x-kubernetes-validations"][0]["rule"]
        in_crd = set(re.findall(r"'([A-Z0-9_]+)'", rule))
        self.assertLessEqual(ours, in_crd)
        objs = []
        for name in sorted(in_crd | {"DOWNSTREAM0", "DOWNSTREAM15", "DOWNSTREAM", "MY_VAR",
                                     "HO11Y_DOWNSTREAM_TIMEOUT", "OTEL_RESOURCE_ATTRIBUTES"}):
            objs.append({"apiVersion": "ho11y.dev/v1alpha1", "kind": "Topology",
                         "metadata": {"name": "e" + name.lower().replace("_", "-")},
                         "spec": {"services": [{"name": "s", "env": [{"name": name,
                                                                      "value": "x"}]}]}})
        ok = api_valid_names(objs)
        for o in objs:
            name = o["spec"]["services"][0]["env"][0]["name"]
            _, causes, _ = schema_admit(o)
            reserved = name in in_crd or re.fullmatch(r"DOWNSTREAM[0-9]+", name) is not None
            self.assertEqual(o["metadata"]["name"] not in ok, reserved, name)
            self.assertEqual(bool(causes), reserved, (name, causes))


class KubectlTest(ServerTestCase):
    """The CRD applied with the real kubectl to the running stand-in."""

    ready_delay = 0.1

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.crd_created = False

    def setUp(self):
        if not KubectlTest.crd_created:
            r = self.kubectl("apply", "-f", CRD_FILE)
            self.assertEqual(r.stdout.strip(),
                             "customresourcedefinition.apiextensions.k8s.io/topologies.ho11y.dev "
                             "created")
            self.kubectl("wait", "--for=condition=Established", "--timeout=30s",
                         "crd/topologies.ho11y.dev")
            KubectlTest.crd_created = True

    def test_explain(self):
        r = self.kubectl("explain", "topology.spec.services")
        out = r.stdout
        self.assertRegex(out, r"(?m)^KIND:\s+Topology$")
        self.assertRegex(out, r"(?m)^FIELD:\s+services <\[\]Object>$")
        self.assertIn("The services of the graph.", out)
        fields = dict(re.findall(r"(?m)^  (\w+)\t(.*)$", out))
        self.assertEqual(sorted(fields), sorted([
            "name", "replicas", "port", "failure", "latency", "cutoffTPS", "parallel", "calls",
            "env", "resources", "podLabels", "podAnnotations"]))
        self.assertEqual(fields["name"], "<string> -required-")
        self.assertEqual(fields["replicas"], "<integer>")
        out = self.kubectl("explain", "topology.spec.collector.external.host").stdout
        self.assertIn("DNS name or IPv4 address of the collector", out)
        r = self.kubectl("explain", "topology.spec.services.calls.dummy.size")
        self.assertIn("64MiB", r.stdout)

    def test_valid_example_created_and_defaulted(self):
        r = self.kubectl("apply", "-f", os.path.join(SRC, "examples", "xray-sample.yaml"))
        self.assertEqual(r.stdout.splitlines(), ["namespace/example-app created",
                                                 "topology.ho11y.dev/xray-sample created"])
        obj = json.loads(self.kubectl("-n", "example-app", "get", "topo", "xray-sample", "-o",
                                      "json").stdout)
        self.assertEqual(obj["spec"]["services"][0]["port"], 80)
        self.assertEqual(obj["spec"]["services"][2]["calls"][1]["dummy"],
                         {"size": "187kB", "duration": "42ms"})
        r = self.kubectl("get", "ho11y", "-A")  # the category
        self.assertIn("xray-sample", r.stdout)
        header = self.kubectl("-n", "example-app", "get", "topologies").stdout.splitlines()[0]
        self.assertEqual(header.split(), ["NAME", "READY", "STATUS", "AGE"])
        # Every valid Topology is accepted by the server (dry run, strict field validation).
        c = self.server.client()
        try:
            for path in EXAMPLES + VALID:
                o = topologies(path)[0]
                o["metadata"].pop("namespace", None)
                r = c.post("/apis/ho11y.dev/v1alpha1/namespaces/default/topologies"
                           "?dryRun=All&fieldValidation=Strict", o)
                self.assertEqual(r.status, 201, (path, r))
        finally:
            c.close()

    def test_invalid_refused_with_the_field_named(self):
        r = self.kubectl("apply", "-f", os.path.join(DATA, "topologies", "invalid",
                                                      "service-name-uppercase.yaml"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('is invalid: spec.services[0].name: Invalid value: "Frontend"', r.stderr)
        r = self.kubectl("apply", "-f", os.path.join(DATA, "topologies", "invalid",
                                                      "unknown-reference.yaml"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("spec.services", r.stderr)
        self.assertIn("every calls[].service must name a service of this Topology", r.stderr)
        r = self.kubectl("apply", "-f", os.path.join(DATA, "topologies", "invalid",
                                                      "unknown-field.yaml"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('unknown field "spec.services[0].replica"', r.stderr)
        # Every invalid Topology the schema can catch, straight to the server.
        c = self.server.client()
        checked = 0
        try:
            for path in INVALID:
                ann = annotation(path)
                if ann.startswith("accepts"):
                    continue
                o = topologies(path)[0]
                o["metadata"].pop("namespace", None)
                r = c.post("/apis/ho11y.dev/v1alpha1/namespaces/default/topologies"
                           "?dryRun=All&fieldValidation=Strict", o)
                if ann.startswith("prunes "):
                    self.assertEqual(r.status, 400, (path, r))
                    self.assertIn('unknown field "%s"' % ann[len("prunes "):],
                                  r.json["message"])
                else:
                    self.assertEqual(r.status, 422, (path, r))
                    fields = [x.get("field") for x in r.json["details"]["causes"]]
                    self.assertIn(ann, fields, path)
                checked += 1
        finally:
            c.close()
        self.assertGreaterEqual(checked, 45)
        r = self.kubectl("get", "topologies", "-A", "-o", "name")
        self.assertNotIn("shop", r.stdout)  # nothing invalid was stored


if __name__ == "__main__":
    unittest.main()
