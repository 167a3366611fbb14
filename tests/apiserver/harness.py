"""Test harness: runs the stand-in as a real process on a free port with a temporary state
directory, talks to it over HTTPS, and runs the real kubectl and helm against it.

The operator's tests (tests/operator/harness.py), the end-to-end tests (tests/e2e/e2elib.py) and
the benchmarks (bench/) build on this file: child processes killed at exit, starting the
stand-in, its admin commands and request log, waiting, and comparing objects live here once."""

import atexit
import base64
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SERVER = os.path.join(HERE, "apiserver.py")
# Every child process a test starts; those still running when Python exits are killed.
_children = []


def _cleanup():
    for p in list(_children):
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


atexit.register(_cleanup)


def forget(proc):
    """proc, stopped by its owner, is no longer killed at exit."""
    if proc in _children:
        _children.remove(proc)


def stop_process(proc, timeout, sig=signal.SIGTERM):
    """Sends sig to proc if it still runs and waits up to timeout seconds for it to exit; kills
    it after that."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def kill_process(proc):
    """SIGKILL for proc if it still runs, and waits (5 s) for it to exit."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(5)


def _drain(proc, output):
    try:
        for line in proc.stdout:
            output.append(line)
    except (OSError, ValueError):
        pass


def launch(argv, output, timeout):
    """Starts the stand-in command argv (`apiserver.py serve ...`), killed at exit if still
    running, and collects its output lines in output until it prints "listening on URL"; from
    then on a thread keeps collecting them, so that the stand-in never blocks on a full pipe.
    Returns (process, URL); the URL is None when the process ended or timeout seconds passed
    first, and the caller stops the process."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _children.append(proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        if line.startswith("listening on "):
            threading.Thread(target=_drain, args=(proc, output), daemon=True).start()
            return proc, line.split()[-1].strip()
    return proc, None


def tool(name):
    """Path of kubectl/helm installed by scripts/setup.sh --test; fails the test if absent."""
    path = os.path.join(REPO, ".tools", "bin", name)
    if not os.access(path, os.X_OK):
        raise AssertionError("%s not found at %s: run scripts/setup.sh --test to install it"
                             % (name, path))
    return path


def wait_for(fn, timeout, what="condition", interval=0.05):
    """Polls fn until it returns a truthy value and returns that; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def http_get(port, path, timeout):
    """GET of path from 127.0.0.1:port over plain HTTP: (status, body as text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def epoch(rfc3339):
    """Seconds since the epoch of a UTC RFC 3339 time (the request log's "time")."""
    base, _, frac = rfc3339.rstrip("Z").partition(".")
    t = time.mktime(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) - time.timezone
    return t + (float("0." + frac) if frac else 0.0)


def token_kubeconfig(path, server, ca_file, token):
    """Writes a kubeconfig for server (its CA certificate read from ca_file) with a bearer
    token, e.g. a service account's, so that the requests made with it are told apart."""
    with open(ca_file, "rb") as f:
        ca_data = base64.b64encode(f.read()).decode()
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: Config\ncurrent-context: op\n"
                "clusters:\n- name: c\n  cluster:\n    server: %s\n"
                "    certificate-authority-data: %s\n"
                "contexts:\n- name: op\n  context: {cluster: c, user: op}\n"
                "users:\n- name: op\n  user:\n    token: %s\n" % (server, ca_data, token))
    return path


class Server:
    """The stand-in as a process on a state folder (a temporary one unless state_dir is given).
    Subclasses (the operator's tests, the benchmarks) set longer waits."""

    script = SERVER  # the apiserver.py that runs (a benchmark may run another copy)
    stop_timeout = 15  # seconds SIGTERM may take before the process is killed
    admin_timeout = 30

    def __init__(self, rbac=False, ready_delay=0.2, state_dir=None, port=None,
                 prefix="apiserver-test-", admission_plugins=None):
        self.own_dir = state_dir is None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix=prefix)
        self.rbac = rbac
        self.admission_plugins = admission_plugins  # --enable-admission-plugins (a string)
        self.ready_delay = ready_delay
        self.port = port
        self.proc = None
        self.url = None
        self.output = []

    def start(self, timeout=30):
        args = [sys.executable, self.script, "serve", "--state-dir", self.state_dir,
                "--ready-delay", str(self.ready_delay)]
        if self.port is not None:
            args += ["--port", str(self.port)]
        if self.rbac:
            args.append("--rbac")
        if self.admission_plugins:
            args += ["--enable-admission-plugins", self.admission_plugins]
        self.proc, self.url = launch(args, self.output, timeout)
        if self.url is None:
            self.stop()
            raise AssertionError("stand-in did not start: %s" % "".join(self.output))
        self.port = int(self.url.rsplit(":", 1)[1])
        with open(os.path.join(self.state_dir, "admin.token")) as f:
            self.token = f.read().strip()
        self.ca = os.path.join(self.state_dir, "ca.crt")
        self.kubeconfig = os.path.join(self.state_dir, "kubeconfig")
        return self

    def stop(self):
        """Graceful stop (SIGTERM: the state file is written)."""
        stop_process(self.proc, self.stop_timeout)
        self._forget()

    def kill(self):
        kill_process(self.proc)
        self._forget()

    def _forget(self):
        if self.proc is not None:
            forget(self.proc)
            try:
                self.proc.stdout.close()
            except (OSError, ValueError):
                pass
        self.proc = None

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def client(self, token=None):
        return Client(self, self.token if token is None else token)

    def sa_token(self, sa):
        r = subprocess.run([sys.executable, self.script, "token", "--state-dir", self.state_dir,
                            "--service-account", sa], stdout=subprocess.PIPE, text=True,
                           check=True)
        return r.stdout.strip()

    def hook(self, method, action, body=None):
        """Call the admin endpoint directly (what the admin subcommand does)."""
        c = self.client()
        try:
            r = c.request(method, "/_admin/" + action, body)
        finally:
            c.close()
        if r.status >= 300:
            raise AssertionError("admin %s failed: %r" % (action, r))
        return r.json

    def admin(self, *args):
        r = subprocess.run([sys.executable, self.script, "admin", "--state-dir",
                            self.state_dir] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=self.admin_timeout)
        if r.returncode != 0:
            raise AssertionError("stand-in admin %s failed: %s" % (args, r.stderr))
        return json.loads(r.stdout) if r.stdout.strip() else None

    def requests(self, since=None):
        """Every logged request (dicts), after flushing the log; since: a time.time() value."""
        self.admin("flush")
        out = []
        with open(os.path.join(self.state_dir, "requests.log")) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if since is None or epoch(r["time"]) >= since:
                    out.append(r)
        return out


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


class Client:
    """A keep-alive HTTPS client speaking JSON."""

    def __init__(self, server, token):
        self.server = server
        self.token = token
        self.ctx = ssl.create_default_context(cafile=server.ca)
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPSConnection("127.0.0.1", self.server.port, context=self.ctx,
                                                timeout=30)

    def request(self, method, path, body=None, ctype="application/json", headers=None,
                raw=None):
        hdrs = {"Accept": "application/json"}
        if self.token:
            hdrs["Authorization"] = "Bearer " + self.token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            hdrs["Content-Type"] = ctype
        hdrs.update(headers or {})
        for attempt in range(2):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                out = Response(r.status, r.headers, r.read())
                if r.will_close:
                    self.conn.close()
                    self.conn = None
                return out
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body, ctype="application/merge-patch+json", **kw):
        return self.request("PATCH", path, body, ctype=ctype, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def watch(self, path, headers=None):
        return Watch(self.server, self.token, path, headers)


class Watch:
    """A watch stream read event by event (the body is chunked newline-delimited JSON)."""

    def __init__(self, server, token, path, headers=None):
        ctx = ssl.create_default_context(cafile=server.ca)
        self.conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx,
                                                timeout=30)
        hdrs = {"Accept": "application/json", "Authorization": "Bearer " + token}
        hdrs.update(headers or {})
        self.conn.request("GET", path, headers=hdrs)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = self.resp.headers
        self.buf = b""
        self.ended = False

    def next(self, timeout=10.0):
        """The next event as a dict, or None when the stream ended or timeout passed."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.ended:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.conn.sock.settimeout(left)
            try:
                chunk = self.resp.read1(65536)
            except (TimeoutError, OSError):
                return None
            if not chunk:
                self.ended = True
                continue
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def events(self, n, timeout=10.0):
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            ev = self.next(max(0.01, deadline - time.monotonic()))
            if ev is None:
                break
            out.append(ev)
        return out

    def close(self):
        try:
            self.conn.close()
        except OSError:
            pass


class ServerTestCase(unittest.TestCase):
    """Starts one stand-in for the test class; kubectl/helm helpers point at it."""

    rbac = False
    ready_delay = 0.2
    admission_plugins = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(rbac=cls.rbac, ready_delay=cls.ready_delay,
                            admission_plugins=cls.admission_plugins).start()
        cls.c = cls.server.client()
        cls.home = tempfile.mkdtemp(prefix="apiserver-kube-")

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.server.cleanup()
        shutil.rmtree(cls.home, ignore_errors=True)

    def env(self, kubeconfig=None):
        e = dict(os.environ)
        e["KUBECONFIG"] = kubeconfig or self.server.kubeconfig
        e["KUBECACHEDIR"] = os.path.join(self.home, "cache")
        e["HOME"] = self.home
        e["HELM_CACHE_HOME"] = os.path.join(self.home, "helm-cache")
        e["HELM_CONFIG_HOME"] = os.path.join(self.home, "helm-config")
        e["HELM_DATA_HOME"] = os.path.join(self.home, "helm-data")
        return e

    def kubectl(self, *args, input=None, check=True, timeout=60, kubeconfig=None):
        r = subprocess.run([tool("kubectl")] + list(args), input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=self.env(kubeconfig),
                           timeout=timeout)
        if check and r.returncode != 0:
            self.fail("kubectl %s failed (%d):\n%s%s" % (" ".join(args), r.returncode, r.stdout,
                                                        r.stderr))
        return r

    def helm(self, *args, check=True, timeout=120):
        r = subprocess.run([tool("helm")] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=self.env(), timeout=timeout)
        if check and r.returncode != 0:
            self.fail("helm %s failed (%d):\n%s%s" % (" ".join(args), r.returncode, r.stdout,
                                                     r.stderr))
        return r

    def wait_for(self, fn, timeout=10.0, what="condition"):
        return wait_for(fn, timeout, what)


# ---- shared by the operator's tests (tests/operator) and the end-to-end tests (tests/e2e) ----

def subset(desired, live, path=""):
    """The first path where live does not hold desired's value, or None (same rules as the
    operator: fields the server adds are ignored)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return path or "(root)"
        for k, v in desired.items():
            p = (path + "." if path else "") + k
            if k not in live:
                if v in (None, {}, [], "", False):
                    continue
                return p
            d = subset(v, live[k], p)
            if d:
                return d
        return None
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return path
        for i, (d, l) in enumerate(zip(desired, live)):
            p = subset(d, l, "%s[%d]" % (path, i))
            if p:
                return p
        return None
    return None if desired == live else path


def check_children(test, live, rendered, topo):
    """Asserts that live, objects keyed by (kind, name), are exactly the rendered objects, each
    holding every rendered field and owned by the Topology topo as its controller."""
    test.assertEqual(sorted(live), sorted((o["kind"], o["metadata"]["name"]) for o in rendered))
    for o in rendered:
        got = live[(o["kind"], o["metadata"]["name"])]
        diff = subset(o, got)
        test.assertIsNone(diff, "%s %s differs at %s" % (o["kind"], o["metadata"]["name"], diff))
        test.assertEqual(got["metadata"]["ownerReferences"], [{
            "apiVersion": "ho11y.dev/v1alpha1", "kind": "Topology",
            "name": topo["metadata"]["name"], "uid": topo["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}])
