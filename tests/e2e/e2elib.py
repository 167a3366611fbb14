"""Shared pieces of the end-to-end tests: where the repository, the built binaries and the real
kubectl and helm are; an API server stand-in per test class (tests/apiserver/harness.py); kubectl
and helm runs with their own HOME and caches; turning manifests into JSON objects."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CHART = os.path.join(REPO, "helm", "ho11y-operator")
CRD_FILE = os.path.join(REPO, "crds", "ho11y.dev_topologies.yaml")
CHART_CRD_LINK = os.path.join(CHART, "files", "crds", "ho11y.dev_topologies.yaml")
EXAMPLES = os.path.join(REPO, "examples")

sys.path.insert(0, os.path.join(REPO, "tests", "apiserver"))
import harness  # noqa: E402  (the stand-in's process harness)


def tool(name):
    """Path of kubectl or helm as installed by scripts/setup.sh --test."""
    return harness.tool(name)


def bin_path(name):
    """Path of a built program: $HO11Y_BIN_DIR (set by ctest) or build/bin."""
    d = os.environ.get("HO11Y_BIN_DIR") or os.path.join(REPO, "build", "bin")
    path = os.path.join(d, name)
    if not os.access(path, os.X_OK):
        raise AssertionError("%s not found at %s: build the project first (cmake --build build)"
                             % (name, path))
    return path


def project_version():
    """VERSION of project() in the top CMakeLists.txt."""
    import re

    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        m = re.search(r"project\(\s*\S+\s+VERSION\s+([0-9][0-9.]*)", f.read())
    if not m:
        raise AssertionError("no project(... VERSION x.y.z) in CMakeLists.txt")
    return m.group(1)


def json_stream(text):
    """Every JSON value of a stream of concatenated values (kubectl -o json of several objects)."""
    dec = json.JSONDecoder()
    out = []
    i = 0
    n = len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return out
        obj, i = dec.raw_decode(text, i)
        if isinstance(obj, dict) and obj.get("kind") == "List":
            out.extend(obj.get("items") or [])
        else:
            out.append(obj)


class Cluster:
    """One stand-in plus kubectl/helm environments pointing at it."""

    def __init__(self, rbac=False, ready_delay=0.3):
        self.server = harness.Server(rbac=rbac, ready_delay=ready_delay).start(timeout=60)
        self.home = tempfile.mkdtemp(prefix="ho11y-e2e-home-")
        self.kubeconfig = self.server.kubeconfig

    def close(self):
        self.server.cleanup()
        shutil.rmtree(self.home, ignore_errors=True)

    def env(self, kubeconfig=None):
        e = dict(os.environ)
        e["KUBECONFIG"] = kubeconfig or self.kubeconfig
        e["HOME"] = self.home
        e["KUBECACHEDIR"] = os.path.join(self.home, "kube-cache")
        e["HELM_CACHE_HOME"] = os.path.join(self.home, "helm-cache")
        e["HELM_CONFIG_HOME"] = os.path.join(self.home, "helm-config")
        e["HELM_DATA_HOME"] = os.path.join(self.home, "helm-data")
        return e

    def run(self, name, args, input=None, check=True, timeout=120, kubeconfig=None):
        r = subprocess.run([tool(name)] + list(args), input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=self.env(kubeconfig),
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("%s %s failed (%d):\n%s%s" % (name, " ".join(args),
                                                             r.returncode, r.stdout, r.stderr))
        return r

    def kubectl(self, *args, **kw):
        return self.run("kubectl", args, **kw)

    def helm(self, *args, **kw):
        return self.run("helm", args, **kw)

    def kubectl_json(self, *args, **kw):
        return json.loads(self.kubectl(*(list(args) + ["-o", "json"]), **kw).stdout)

    def objects(self, manifests):
        """The objects of a YAML manifest stream, as JSON (kubectl's own YAML decoding)."""
        r = self.kubectl("create", "--dry-run=client", "-o", "json", "-f", "-",
                         input=manifests)
        return json_stream(r.stdout)

    def wait_for(self, fn, timeout, what):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.1)
        raise AssertionError("timed out after %ss waiting for %s (last: %r)"
                             % (timeout, what, last))


def write_values(directory, values, name="values.json"):
    """A values file (JSON is YAML) for helm -f."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        json.dump(values, f)
    return path


def find(objs, kind, name=None):
    """The single object of kind (and name) in objs; fails when absent or ambiguous."""
    hits = [o for o in objs if o.get("kind") == kind and
            (name is None or o["metadata"].get("name") == name)]
    if len(hits) != 1:
        raise AssertionError("expected one %s%s, found %d: %s" % (
            kind, " " + name if name else "", len(hits),
            [(o.get("kind"), o["metadata"].get("name")) for o in objs]))
    return hits[0]


class ClusterTestCase(unittest.TestCase):
    rbac = False

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(rbac=cls.rbac)
        cls.tmp = tempfile.mkdtemp(prefix="ho11y-e2e-")

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)
