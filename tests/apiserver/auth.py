"""Credentials of a stand-in instance: its CA and serving certificate (made with the openssl
command), the admin bearer token, service-account tokens (HS256 JWTs signed with a key kept
in the state directory, so they stay valid across restarts) and the kubeconfig."""

import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import tempfile
import time


class User:
    __slots__ = ("name", "groups", "admin", "sa")

    def __init__(self, name, groups, admin=False, sa=None):
        self.name = name
        self.groups = groups
        self.admin = admin
        self.sa = sa  # (namespace, name) for service accounts


def _run(args):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl failed: %s: %s" % (" ".join(args), r.stderr.strip()))


def ensure_certs(state_dir):
    """Create DIR/ca.crt, ca.key, server.crt, server.key once; later starts reuse them."""
    ca_crt = os.path.join(state_dir, "ca.crt")
    ca_key = os.path.join(state_dir, "ca.key")
    srv_crt = os.path.join(state_dir, "server.crt")
    srv_key = os.path.join(state_dir, "server.key")
    if all(os.path.exists(p) for p in (ca_crt, ca_key, srv_crt, srv_key)):
        return ca_crt, srv_crt, srv_key
    _run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ca_key])
    _run(["openssl", "req", "-x509", "-new", "-key", ca_key, "-sha256", "-days", "3650",
          "-subj", "/CN=apiserver-stand-in-ca", "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", ca_crt])
    _run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", srv_key])
    with tempfile.TemporaryDirectory() as tmp:
        csr = os.path.join(tmp, "server.csr")
        ext = os.path.join(tmp, "ext.cnf")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes,"
                    "DNS:kubernetes.default,DNS:kubernetes.default.svc\n")
        _run(["openssl", "req", "-new", "-key", srv_key, "-subj", "/CN=kube-apiserver",
              "-out", csr])
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
              "-CAcreateserial", "-CAserial", os.path.join(tmp, "ca.srl"), "-days", "3650",
              "-sha256", "-extfile", ext, "-out", srv_crt])
    os.chmod(ca_key, 0o600)
    os.chmod(srv_key, 0o600)
    return ca_crt, srv_crt, srv_key


def _secret_file(state_dir, name, nbytes):
    path = os.path.join(state_dir, name)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(nbytes))
    with open(path) as f:
        return f.read().strip()


def admin_token(state_dir):
    return _secret_file(state_dir, "admin.token", 32)


def signing_key(state_dir):
    return _secret_file(state_dir, "sa.key", 32).encode()


def _b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def service_account_token(state_dir, namespace, name):
    key = signing_key(state_dir)
    header = {"alg": "HS256", "typ": "JWT"}
    now = int(time.time())
    payload = {"iss": "https://kubernetes.default.svc.cluster.local",
               "sub": "system:serviceaccount:%s:%s" % (namespace, name),
               "aud": ["https://kubernetes.default.svc.cluster.local"],
               "iat": now, "nbf": now,
               "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name}}}
    signing_input = _b64(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        _b64(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(sig)


def verify_service_account_token(key, token):
    """(namespace, name) of a valid token signed with key, else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        sig = _unb64(parts[2])
        want = hmac.new(key, (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(sig, want):
            return None
        payload = json.loads(_unb64(parts[1]))
        k8s = payload["kubernetes.io"]
        return k8s["namespace"], k8s["serviceaccount"]["name"]
    except (ValueError, KeyError, TypeError):
        return None


class Authenticator:
    def __init__(self, state_dir, store):
        self.admin = admin_token(state_dir)
        self.key = signing_key(state_dir)
        self.store = store
        self.cache = {}

    def authenticate(self, header):
        if not header or not header.startswith("Bearer "):
            return None
        token = header[7:].strip()
        if hmac.compare_digest(token, self.admin):
            return ADMIN
        sa = self.cache.get(token)
        if sa is None:
            sa = verify_service_account_token(self.key, token)
            if sa is None:
                return None
            if len(self.cache) > 10000:
                self.cache.clear()
            self.cache[token] = sa
        if self.store.get("serviceaccounts", sa[0], sa[1]) is None:
            return None
        return User("system:serviceaccount:%s:%s" % sa,
                    ["system:serviceaccounts", "system:serviceaccounts:" + sa[0],
                     "system:authenticated"], sa=sa)


ADMIN = User("kubernetes-admin", ["system:masters", "system:authenticated"], admin=True)


def write_kubeconfig(state_dir, url, ca_path, token):
    with open(ca_path, "rb") as f:
        ca_data = base64.b64encode(f.read()).decode()
    text = """apiVersion: v1
kind: Config
clusters:
- name: stand-in
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: admin@stand-in
  context:
    cluster: stand-in
    user: admin
    namespace: default
current-context: admin@stand-in
preferences: {}
""" % (url, ca_data, token)
    path = os.path.join(state_dir, "kubeconfig")
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def read_kubeconfig(state_dir):
    """(server url, token) from DIR/kubeconfig as written by write_kubeconfig."""
    url = token = None
    with open(os.path.join(state_dir, "kubeconfig")) as f:
        for line in f:
            s = line.strip()
            if s.startswith("server:"):
                url = s.split(":", 1)[1].strip()
            elif s.startswith("token:"):
                token = s.split(":", 1)[1].strip()
    return url, token
