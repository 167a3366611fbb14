"""Test harness: runs the stand-in as a real process on a free port with a temporary state
directory, talks to it over HTTPS, and runs the real kubectl and helm against it."""

import atexit
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


def tool(name):
    """Path of kubectl/helm installed by scripts/setup.sh --test; fails the test if absent."""
    path = os.path.join(REPO, ".tools", "bin", name)
    if not os.access(path, os.X_OK):
        raise AssertionError("%s not found at %s: run scripts/setup.sh --test to install it"
                             % (name, path))
    return path


class Server:
    def __init__(self, rbac=False, ready_delay=0.2, state_dir=None, port=None):
        self.own_dir = state_dir is None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="apiserver-test-")
        self.rbac = rbac
        self.ready_delay = ready_delay
        self.port = port
        self.proc = None
        self.url = None
        self.output = []

    def start(self, timeout=30):
        args = [sys.executable, SERVER, "serve", "--state-dir", self.state_dir,
                "--ready-delay", str(self.ready_delay)]
        if self.port is not None:
            args += ["--port", str(self.port)]
        if self.rbac:
            args.append("--rbac")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        _children.append(self.proc)
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if line.startswith("listening on "):
                self.url = line.split()[-1].strip()
                self.port = int(self.url.rsplit(":", 1)[1])
                threading.Thread(target=self._drain, daemon=True).start()
                with open(os.path.join(self.state_dir, "admin.token")) as f:
                    self.token = f.read().strip()
                self.ca = os.path.join(self.state_dir, "ca.crt")
                self.kubeconfig = os.path.join(self.state_dir, "kubeconfig")
                return self
        self.stop()
        raise AssertionError("stand-in did not start: %s" % "".join(self.output))

    def _drain(self):
        proc = self.proc
        try:
            for line in proc.stdout:
                self.output.append(line)
        except (OSError, ValueError):
            pass

    def stop(self):
        """Graceful stop (SIGTERM: the state file is written)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._forget()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._forget()

    def _forget(self):
        if self.proc is not None:
            if self.proc in _children:
                _children.remove(self.proc)
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
        r = subprocess.run([sys.executable, SERVER, "token", "--state-dir", self.state_dir,
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
        r = subprocess.run([sys.executable, SERVER, "admin", "--state-dir", self.state_dir] +
                           list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError("admin %s failed: %s" % (args, r.stderr))
        return json.loads(r.stdout)


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

    @classmethod
    def setUpClass(cls):
        cls.server = Server(rbac=cls.rbac, ready_delay=cls.ready_delay).start()
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
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.05)
        self.fail("timed out waiting for %s (last: %r)" % (what, last))
