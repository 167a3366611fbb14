"""Shared pieces of the end-to-end tests: where the repository, the built binaries and the real
kubectl and helm are; an API server stand-in per test class (tests/apiserver/harness.py); kubectl
and helm runs with their own HOME and caches; turning manifests into JSON objects."""

import json
import re
import os
import shutil
import subprocess
import sys
import tempfile
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

    def __init__(self, rbac=False, ready_delay=0.3, admission_plugins=None):
        self.server = harness.Server(rbac=rbac, ready_delay=ready_delay,
                                     admission_plugins=admission_plugins).start(timeout=60)
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
        return harness.wait_for(fn, timeout, what, 0.1)


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
    admission_plugins = None  # the stand-in's --enable-admission-plugins

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(rbac=cls.rbac, admission_plugins=cls.admission_plugins)
        cls.tmp = tempfile.mkdtemp(prefix="ho11y-e2e-")

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)


def sanitized(path):
    """Whether the program at path was built with ASan or TSan (their runtimes are linked in)."""
    with open(path, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def container_of(deployment, name=None):
    """The (first or named) container of a Deployment's pod template."""
    cs = deployment["spec"]["template"]["spec"]["containers"]
    if name is None:
        return cs[0]
    return next(c for c in cs if c["name"] == name)


class Pod:
    """The operator container of one pod, run the way the kubelet would run it, but as a local
    process: the chart's args and env exactly, the downward API resolved, the in-cluster
    configuration (KUBERNETES_SERVICE_HOST/PORT and a service-account folder holding token,
    ca.crt and namespace, moved from /var/run/secrets/kubernetes.io/serviceaccount with
    HO11Y_SERVICEACCOUNT_DIR) and nothing else from the test's environment. A pod has its own
    network namespace; here each container port becomes a free port on 127.0.0.1, and listen
    addresses in the args (`--x-addr=:PORT`) are rewritten to it. The probes of the container
    spec are run against those ports, as the kubelet runs them."""

    def __init__(self, cluster, deployment, pod_name, workdir):
        self.cluster = cluster
        self.deployment = deployment
        self.pod_name = pod_name
        self.container = container_of(deployment)
        self.namespace = deployment["metadata"]["namespace"]
        self.sa = deployment["spec"]["template"]["spec"].get("serviceAccountName") or "default"
        self.dir = tempfile.mkdtemp(prefix="pod-", dir=workdir)
        self.log_path = os.path.join(self.dir, "operator.log")
        self.ports = {}  # containerPort -> host port
        self.named = {}  # port name -> host port
        for p in self.container.get("ports") or []:
            hp = free_port()
            self.ports[p["containerPort"]] = hp
            if p.get("name"):
                self.named[p["name"]] = hp
        self.proc = None

    def _args(self):
        out = []
        for a in self.container.get("args") or []:
            m = re.match(r"^(--[a-z-]+-addr=)(0\.0\.0\.0)?:(\d+)$", a)
            if m and int(m.group(3)) in self.ports:
                a = "%s127.0.0.1:%d" % (m.group(1), self.ports[int(m.group(3))])
            out.append(a)
        return out

    def _field(self, path):
        values = {"metadata.namespace": self.namespace, "metadata.name": self.pod_name,
                  "spec.serviceAccountName": self.sa, "status.podIP": "127.0.0.1"}
        if path not in values:
            raise AssertionError("downward API field %s not simulated" % path)
        return values[path]

    def env(self):
        sa_dir = os.path.join(self.dir, "serviceaccount")
        os.makedirs(sa_dir, exist_ok=True)
        srv = self.cluster.server
        with open(os.path.join(sa_dir, "token"), "w") as f:
            f.write(srv.sa_token("%s/%s" % (self.namespace, self.sa)))
        shutil.copy(srv.ca, os.path.join(sa_dir, "ca.crt"))
        with open(os.path.join(sa_dir, "namespace"), "w") as f:
            f.write(self.namespace)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin",
               "KUBERNETES_SERVICE_HOST": "127.0.0.1",
               "KUBERNETES_SERVICE_PORT": str(srv.port),
               "HO11Y_SERVICEACCOUNT_DIR": sa_dir}
        for e in self.container.get("env") or []:
            if "value" in e:
                env[e["name"]] = e["value"]
            elif "fieldRef" in (e.get("valueFrom") or {}):
                env[e["name"]] = self._field(e["valueFrom"]["fieldRef"]["fieldPath"])
            else:
                raise AssertionError("env %s: only value and fieldRef are simulated" % e)
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        return env

    def start(self):
        if self.container.get("command"):
            raise AssertionError("the chart sets a command; the image's entry point is the "
                                 "operator: %r" % self.container["command"])
        argv = [bin_path("ho11y-operator")] + self._args()
        self.argv = argv
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=self.env(), cwd=self.dir)
        harness._children.append(self.proc)
        return self

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_lines(self):
        """The log as parsed JSON lines (--log-format=json); other lines as {"msg": line}."""
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"msg": line})
        return out

    def probe(self, kind):
        """Runs the container's livenessProbe or readinessProbe once: True on 2xx/3xx."""
        import http.client

        p = self.container[kind]["httpGet"]
        port = p["port"]
        port = self.named[port] if isinstance(port, str) else self.ports[port]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", p.get("path", "/"))
            return 200 <= conn.getresponse().status < 400
        except OSError:
            return False
        finally:
            conn.close()

    def get(self, port_name, path):
        return harness.http_get(self.named[port_name], path, 5)

    def metric(self, name):
        """Value of an unlabelled (or single) sample of name in /metrics."""
        status, body = self.get("metrics", "/metrics")
        if status != 200:
            raise AssertionError("/metrics answered %d" % status)
        m = re.search(r"(?m)^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), body)
        return float(m.group(1)) if m else None

    def rss_bytes(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
        return int(m.group(1)) * 1024

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=40):
        """SIGTERM, as the kubelet sends when the pod is deleted; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("the operator did not exit within %ss of SIGTERM" % timeout)
        finally:
            harness.forget(self.proc)
            self.logf.close()
        return rc

    def kill(self):
        harness.kill_process(self.proc)
