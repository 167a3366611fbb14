"""Process-level test harness for ho11y-operator: runs the API server stand-in and the operator
binary as real processes, drives them with the real kubectl, and reads the stand-in's request
log. Paths come from the environment (set by tests/operator/CMakeLists.txt):

  HO11Y_OPERATOR  the ho11y-operator binary
  HO11YCTL        the ho11yctl binary
  KUBECTL         kubectl (default <repo>/.tools/bin/kubectl)
  HO11Y_SOURCE_DIR the repository (default: two folders up)
  HO11Y_TIME_SCALE multiplies every wait (sanitizer builds are slower; default 1)
"""

import http.client
import importlib.util
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("HO11Y_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
CRD = os.path.join(REPO, "crds", "ho11y.dev_topologies.yaml")
EXAMPLES = os.path.join(REPO, "examples")
SCALE = float(os.environ.get("HO11Y_TIME_SCALE", "1") or 1)
OPERATOR_SA = "ho11y-system/ho11y-operator"
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
# A sanitizer's report in the operator's log (stderr). TSan's halt_on_error ends the process,
# which a test that kills or restarts the operator anyway might not notice otherwise.
SANITIZER_REPORT = re.compile(r"WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer|"
                              r"runtime error: ")

# The stand-in's harness, tests/apiserver/harness.py, owns the stand-in process and the helpers
# these tests share with the end-to-end tests and the benchmarks. Both files are named harness.py,
# so it is loaded by path, as the module apiserver_harness.
_spec = importlib.util.spec_from_file_location(
    "apiserver_harness", os.path.join(REPO, "tests", "apiserver", "harness.py"))
apiserver_harness = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = apiserver_harness
_spec.loader.exec_module(apiserver_harness)
from apiserver_harness import (_children, epoch as _epoch,  # noqa: E402
                               forget, http_get, kill_process, subset, token_kubeconfig)
# For the tests, with subset and _epoch.
check_children = apiserver_harness.check_children


def binary(env, default=None):
    path = os.environ.get(env) or default
    if not path or not os.access(path, os.X_OK):
        raise AssertionError("%s not set or not executable (%r); run the tests through ctest"
                             % (env, path))
    return path


def kubectl_path():
    return binary("KUBECTL", os.path.join(REPO, ".tools", "bin", "kubectl"))


def scaled(seconds):
    return seconds * SCALE


def wait_until(fn, timeout, interval=0.05, what="condition"):
    """Polls fn until it returns a truthy value; returns it, or fails after timeout seconds."""
    deadline = time.monotonic() + scaled(timeout)
    last = None
    while True:
        try:
            last = fn()
        except AssertionError as e:
            last = e
        if last and not isinstance(last, AssertionError):
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                                 % (scaled(timeout), what, last))
        time.sleep(interval)


class StandIn(apiserver_harness.Server):
    """The API server stand-in as a process, with this suite's longer waits."""

    stop_timeout = 20
    admin_timeout = 60

    def __init__(self, ready_delay=0.0, rbac=False):
        super().__init__(rbac=rbac, ready_delay=ready_delay, prefix="ho11y-op-standin-")

    def start(self, timeout=60):
        return super().start(timeout)

    def restart(self):
        """Stops and starts again on the same state folder and port (state is kept)."""
        self.stop()
        return self.start()

    def request(self, method, path, body=None, ctype="application/json", token=None):
        """One HTTPS request as admin; returns (status, parsed JSON or None)."""
        ctx = ssl.create_default_context(cafile=self.ca)
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)
        hdrs = {"Accept": "application/json",
                "Authorization": "Bearer " + (token or self.token)}
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            hdrs["Content-Type"] = ctype
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            raw = r.read()
        finally:
            conn.close()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw


def operator_user(sa=OPERATOR_SA):
    ns, name = sa.split("/")
    return "system:serviceaccount:%s:%s" % (ns, name)


def writes(requests, user=None, exclude=("leases",)):
    """The write requests of user (all users when None), leases excluded by default."""
    return [r for r in requests if r.get("verb") in WRITE_VERBS and
            (user is None or r.get("user") == user) and r.get("resource") not in exclude]


class Kubectl:
    def __init__(self, kubeconfig, cache_dir):
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir

    def run(self, *args, input=None, check=True, timeout=120):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, KUBECACHEDIR=self.cache_dir)
        r = subprocess.run([kubectl_path()] + [str(a) for a in args], input=input,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                           timeout=scaled(timeout))
        if check and r.returncode != 0:
            raise AssertionError("kubectl %s failed (%d): %s%s" % (" ".join(map(str, args)),
                                                                  r.returncode, r.stdout,
                                                                  r.stderr))
        return r

    def json(self, *args):
        return json.loads(self.run(*args, "-o", "json").stdout)

    def apply(self, text, *args):
        return self.run("apply", "-f", "-", *args, input=text)

    def get(self, kind, name, ns):
        r = self.run("get", kind, name, "-n", ns, "-o", "json", check=False)
        if r.returncode != 0:
            if "NotFound" in r.stderr:
                return None
            raise AssertionError("kubectl get %s %s: %s" % (kind, name, r.stderr))
        return json.loads(r.stdout)


class Operator:
    """ho11y-operator as a process, logging to a file."""

    seq = 0

    def __init__(self, kubeconfig=None, args=(), env=None, name="operator", workdir=None):
        self.kubeconfig = kubeconfig
        self.args = list(args)
        self.env = env or {}
        self.workdir = workdir or tempfile.mkdtemp(prefix="ho11y-op-")
        Operator.seq += 1
        self.log_path = os.path.join(self.workdir, "%s-%d.log" % (name, Operator.seq))
        self.proc = None
        self.health_port = None
        self.metrics_port = None
        self.test_id = None  # the test that started it

    def start(self, wait_ready=True):
        args = [binary("HO11Y_OPERATOR"), "--health-addr", "127.0.0.1:0",
                "--metrics-addr", "127.0.0.1:0", "--generator-image", "ho11y:test",
                "--log-level", "debug"] + self.args
        if self.kubeconfig:
            args += ["--kubeconfig", self.kubeconfig]
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        env.update(self.env)
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf, env=env)
        _children.append(self.proc)
        self.health_port = wait_until(lambda: self._port("Health endpoints"), 30,
                                      what="the operator's health port")
        self.metrics_port = wait_until(lambda: self._port("Metrics endpoint"), 30,
                                       what="the operator's metrics port")
        if wait_ready:
            self.wait_ready()
        return self

    def _port(self, what):
        if self.proc.poll() is not None:
            raise AssertionError("operator exited with %s:\n%s" % (self.proc.returncode,
                                                                   self.log()[-4000:]))
        m = re.findall(what + r" listening on port (\d+)", self.log())
        return int(m[-1]) if m else None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def http(self, port, path):
        return http_get(port, path, 10)

    def ready(self):
        return self.http(self.health_port, "/readyz")[0] == 200

    def wait_ready(self, timeout=60):
        wait_until(self.ready, timeout, 0.05, what="/readyz")

    def metrics(self):
        status, body = self.http(self.metrics_port, "/metrics")
        if status != 200:
            raise AssertionError("/metrics answered %d" % status)
        return body

    def metric(self, name, labels=None):
        """Sum of the samples of name whose labels include labels."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)', line)
            if not m or m.group(1) != name:
                continue
            have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            if all(have.get(k) == v for k, v in (labels or {}).items()):
                total += float(m.group(3))
        return total

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=40):
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(5)
            raise AssertionError("operator did not exit within %ss of SIGTERM" % timeout)
        finally:
            self._forget()
        return rc

    def kill(self):
        kill_process(self.proc)
        self._forget()

    def _forget(self):
        forget(self.proc)
        try:
            self.logf.close()
        except (AttributeError, OSError):
            pass


def operator_kubeconfig(standin, path, sa=OPERATOR_SA, token=None, ca=None):
    """A kubeconfig for the operator's service account (so its requests are told apart)."""
    return token_kubeconfig(path, standin.url, ca or standin.ca, token or standin.sa_token(sa))


class OperatorTest(unittest.TestCase):
    """Base: one stand-in per test class with the CRD applied and the operator's service
    account created; helpers to run the operator, kubectl and ho11yctl."""

    ready_delay = 0.0
    rbac = False

    @classmethod
    def setUpClass(cls):
        cls.standin = StandIn(ready_delay=cls.ready_delay, rbac=cls.rbac).start()
        cls.tmp = tempfile.mkdtemp(prefix="ho11y-op-test-")
        cls.kubectl = Kubectl(cls.standin.kubeconfig, os.path.join(cls.tmp, "kcache"))
        cls.kubectl.run("apply", "-f", CRD)
        cls.kubectl.run("wait", "--for=condition=Established", "crd/topologies.ho11y.dev")
        cls.kubectl.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: ho11y-system}\n"
                          "---\napiVersion: v1\nkind: ServiceAccount\n"
                          "metadata: {name: ho11y-operator, namespace: ho11y-system}\n")
        cls.op_kubeconfig = operator_kubeconfig(cls.standin,
                                                os.path.join(cls.tmp, "operator.kubeconfig"))
        cls.operators = []

    @classmethod
    def tearDownClass(cls):
        for op in cls.operators:
            op.kill()
        cls.standin.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start_operator(self, *args, env=None, kubeconfig=None, name="operator", wait_ready=True):
        # A test that failed midway may have left its operators running: they must not keep
        # reconciling into this test.
        for other in self.operators:
            if other.test_id != self.id():
                other.kill()
        op = Operator(kubeconfig or self.op_kubeconfig, args, env, name, self.tmp)
        op.test_id = self.id()
        self.operators.append(op)
        self.check_sanitizers(op)
        op.start(wait_ready=wait_ready)
        return op

    def check_sanitizers(self, op):
        """Fails the test, once it has ended, if a sanitizer reported anything in op's log."""
        def check():
            try:
                text = op.log()
            except OSError:
                return
            m = SANITIZER_REPORT.search(text)
            if m:
                self.fail("sanitizer report in the operator's log:\n" +
                          text[max(0, m.start() - 200):m.start() + 8000])
        self.addCleanup(check)

    def stop_operator(self, op):
        rc = op.stop()
        self.assertEqual(rc, 0, "operator exit status on SIGTERM; log:\n" + op.log()[-4000:])

    def ns(self, name):
        self.kubectl.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n" % name)
        return name

    def ho11yctl_render(self, text):
        r = subprocess.run([binary("HO11YCTL"), "render", "-", "-o", "json",
                            "--generator-image", "ho11y:test"], input=text,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise AssertionError("ho11yctl render failed: %s" % r.stderr)
        return json.loads(r.stdout)["items"]

    def topology(self, ns, name):
        return self.kubectl.get("topology", name, ns)

    def condition(self, topo, ctype):
        for c in ((topo or {}).get("status") or {}).get("conditions") or ():
            if c.get("type") == ctype:
                return c
        return None

    def wait_condition(self, ns, name, ctype, status, reason=None, timeout=30):
        def check():
            t = self.topology(ns, name)
            c = self.condition(t, ctype)
            if not c or c.get("status") != status:
                return None
            if reason and c.get("reason") != reason:
                return None
            if c.get("observedGeneration") != t["metadata"].get("generation"):
                return None
            return t
        return wait_until(check, timeout, 0.1, "%s %s=%s on %s/%s" % (ctype, status, reason,
                                                                       ns, name))

    def children(self, ns, kinds="deployments,services,configmaps,serviceaccounts"):
        """Objects in ns carrying the managed-by label, keyed by (kind, name)."""
        items = self.kubectl.json("get", kinds, "-n", ns, "-l",
                                  "app.kubernetes.io/managed-by=ho11y-operator")["items"]
        return {(o["kind"], o["metadata"]["name"]): o for o in items}

    def events(self, ns, name=None):
        items = self.kubectl.json("get", "events", "-n", ns)["items"]
        return [e for e in items if name is None or e["involvedObject"]["name"] == name]


def topology_yaml(name, ns, services, extra=""):
    """A Topology manifest; services: list of (name, calls) or dicts in YAML flow style."""
    lines = ["apiVersion: ho11y.dev/v1alpha1", "kind: Topology",
             "metadata: {name: %s, namespace: %s}" % (name, ns), "spec:"]
    if extra:
        lines += ["  " + l for l in extra.strip("\n").split("\n")]
    lines.append("  services:")
    for s in services:
        lines.append("    - " + (s if isinstance(s, str) else json.dumps(s)))
    return "\n".join(lines) + "\n"


# ---- helpers for the resilience, leader-election, auth and valgrind tests ----------------------

def log_times(op, pattern):
    """Epoch times of the operator's text log lines matching the regex pattern, in order."""
    out = []
    for line in op.log().splitlines():
        if re.search(pattern, line):
            stamp = line.split(" ", 1)[0]
            try:
                out.append(_epoch(stamp))
            except ValueError:
                continue
    return out


def service_account(kubectl, sa):
    """Creates the service account "namespace/name" (and its namespace) if missing."""
    ns, name = sa.split("/")
    kubectl.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n"
                  "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: %s, namespace: %s}\n"
                  % (ns, name, ns))


def write_kubeconfig(path, server, user, ca_data=None, ca_file=None, insecure=False):
    """A kubeconfig with one cluster, one context and the user mapping given as JSON-compatible
    dict (token, tokenFile, exec, ...). ca_data is PEM bytes."""
    import base64
    cluster = {"server": server}
    if ca_data is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
    if ca_file is not None:
        cluster["certificate-authority"] = ca_file
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "t",
           "clusters": [{"name": "c", "cluster": cluster}],
           "contexts": [{"name": "t", "context": {"cluster": "c", "user": "u"}}],
           "users": [{"name": "u", "user": user}]}
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path


def add_fault(standin, **rule):
    """Adds a stand-in fault rule (code, verb, resource, path, probability, count, retryAfter,
    latency) through the admin endpoint."""
    status, body = standin.request("POST", "/_admin/faults", rule)
    if status not in (200, 201):
        raise AssertionError("fault rule %r refused: %s %s" % (rule, status, body))
    return body


def clear_faults(standin):
    status, body = standin.request("DELETE", "/_admin/faults")
    if status != 200:
        raise AssertionError("clearing faults failed: %s %s" % (status, body))


def converged(test, ns, name, text):
    """None when the Topology name in ns is Ready for its generation and its children are exactly
    the objects `ho11yctl render` prints for text, each holding every rendered field and owned
    by the Topology; otherwise a description of the first difference."""
    t = test.topology(ns, name)
    if t is None:
        return "topology %s/%s missing" % (ns, name)
    c = test.condition(t, "Ready")
    if not c or c.get("status") != "True" or \
            c.get("observedGeneration") != t["metadata"].get("generation"):
        return "topology %s/%s not Ready for its generation: %r" % (ns, name, c)
    rendered = {(o["kind"], o["metadata"]["name"]): o for o in test.ho11yctl_render(text)}
    live = {k: v for k, v in test.children(ns).items()
            if (v["metadata"].get("labels") or {}).get("ho11y.dev/topology") == name}
    if sorted(live) != sorted(rendered):
        return "children of %s/%s: have %s, want %s" % (ns, name, sorted(live), sorted(rendered))
    uid = t["metadata"]["uid"]
    for k, o in rendered.items():
        diff = subset(o, live[k])
        if diff:
            return "%s %s differs at %s" % (k[0], k[1], diff)
        refs = live[k]["metadata"].get("ownerReferences") or []
        if [r.get("uid") for r in refs] != [uid]:
            return "%s %s owner references %r" % (k[0], k[1], refs)
    return None


def wait_converged(test, ns, name, text, timeout=60):
    def check():
        why = converged(test, ns, name, text)
        if why:
            raise AssertionError(why)
        return True
    return wait_until(check, timeout, 0.2, "%s/%s to converge" % (ns, name))
