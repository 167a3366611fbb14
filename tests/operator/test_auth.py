"""TLS and credentials: a kubeconfig whose CA did not sign the server's certificate is refused
with a clear error (and the operator exits 1 once its caches could not sync); TLS verification
is off only when the kubeconfig says insecure-skip-tls-verify, with a warning; in-cluster mode
keeps working across a rotation of the service-account token; an exec credential plugin
(client.authentication.k8s.io/v1) is run, run again after a 401 and again once its credential
expires."""

import os
import subprocess
import sys
import time
import unittest

from harness import (Operator, OperatorTest, _epoch, binary, operator_user, scaled, service_account,
                     topology_yaml, wait_converged, wait_until, write_kubeconfig, writes)

PLUGIN = r'''
import datetime, json, os, sys, time
log, token_file, bad_first, ttl = sys.argv[1:5]
info = json.loads(os.environ.get("KUBERNETES_EXEC_INFO") or "{}")
if info.get("apiVersion") != "client.authentication.k8s.io/v1" or \
        info.get("kind") != "ExecCredential" or info.get("spec", {}).get("interactive"):
    sys.stderr.write("plugin: unexpected KUBERNETES_EXEC_INFO %r\n" % info)
    sys.exit(1)
n = sum(1 for _ in open(log)) if os.path.exists(log) else 0
with open(log, "a") as f:
    f.write("%f\n" % time.time())
# The environment the operator gave the plugin: its own GLIBC_TUNABLES setting must not leak.
with open(log + ".env", "w") as f:
    f.write(os.environ.get("GLIBC_TUNABLES", "<unset>"))
token = open(token_file).read().strip()
if n == 0 and bad_first == "1":
    token = "not-a-valid-token"
exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=float(ttl))
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": token,
                             "expirationTimestamp": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
'''
# The plugin's credential lives this long; the operator refreshes it 10 s before it expires.
EXEC_TTL_S = 15
EXEC_SLACK_S = 10


def topo(ns, services):
    return topology_yaml("t", ns, [{"name": s} for s in services],
                         "collector: {mode: External, external: {host: otel.obs}}")


def other_ca(folder):
    """A CA certificate (PEM bytes) that did not sign the stand-in's certificate."""
    key, crt = os.path.join(folder, "other-ca.key"), os.path.join(folder, "other-ca.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "1", "-subj", "/CN=not-the-stand-in-ca"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(crt, "rb") as f:
        return f.read()


class AuthTest(OperatorTest):
    def kc(self, name, **kw):
        return write_kubeconfig(os.path.join(self.tmp, name), self.standin.url, **kw)

    def refused(self, kubeconfig, name):
        op = self.start_operator("--cache-sync-timeout", "3s", kubeconfig=kubeconfig, name=name,
                                 wait_ready=False)
        status, body = op.http(op.health_port, "/readyz")
        self.assertEqual(status, 500, body)
        self.assertTrue(body.startswith("[+]ping ok\n[-]informers failed: "), body)
        self.assertTrue(body.endswith("\nreadyz check failed\n"), body)
        # Without the failing check the rest passes; the check alone says why it fails.
        self.assertEqual(op.http(op.health_port, "/readyz?exclude=informers"), (200, "ok"))
        status, body = op.http(op.health_port, "/readyz/informers")
        self.assertEqual(status, 500, body)
        self.assertTrue(body.startswith("internal server error: "), body)
        rc = op.proc.wait(scaled(20))
        op._forget()
        log = op.log()
        self.assertEqual(rc, 1, log[-3000:])
        self.assertIn("SSL certificate problem", log)
        self.assertIn("check the certificate-authority of the kubeconfig", log)
        self.assertIn("Caches not synced within 3000 ms", log)
        self.assertNotIn("Cache of", log)
        return log

    def test_wrong_ca_is_refused(self):
        t0 = time.time()
        kc = self.kc("wrong-ca.kubeconfig", user={"token": self.standin.token},
                     ca_data=other_ca(self.tmp))
        self.refused(kc, "wrong-ca")
        # Nothing reached the server: the handshake failed before any request. (Requests are
        # logged when they end; a watch of an earlier test may end now, but began before.)
        self.assertEqual([r for r in self.standin.requests(since=t0)
                          if r["user"] == "kubernetes-admin" and
                          not r["path"].startswith("/_admin") and
                          _epoch(r["time"]) - r["duration"] >= t0], [])

    def test_tls_verified_unless_the_kubeconfig_says_insecure(self):
        # No CA in the kubeconfig: the system's trust store, which does not know the stand-in.
        log = self.refused(self.kc("no-ca.kubeconfig", user={"token": self.standin.token}),
                           "no-ca")
        self.assertNotIn("insecure-skip-tls-verify", log)
        # Said explicitly: it works, with a warning.
        op = self.start_operator(kubeconfig=self.kc("insecure.kubeconfig", insecure=True,
                                                    user={"token": self.standin.token}),
                                 name="insecure")
        self.assertRegex(op.log(), r"WARN .*TLS verification of https://127\.0\.0\.1:\d+ is off "
                                   r"\(insecure-skip-tls-verify")
        ns = self.ns("auth-insecure")
        text = topo(ns, ["front"])
        self.kubectl.apply(text)
        wait_converged(self, ns, "t", text)
        self.stop_operator(op)
        # Both a CA and insecure-skip-tls-verify: refused before any request, as client-go does.
        with open(self.standin.ca, "rb") as f:
            both = self.kc("both.kubeconfig", insecure=True, ca_data=f.read(),
                           user={"token": self.standin.token})
        r = subprocess.run([binary("HO11Y_OPERATOR"), "--kubeconfig", both,
                            "--health-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=scaled(20))
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn("clusters[0].cluster.insecure-skip-tls-verify: Invalid value: true: "
                      "specifying a root certificates file with the insecure flag is not allowed",
                      r.stdout + r.stderr)

    def test_incluster_token_rotation(self):
        sa_a, sa_b = "auth-ic/rotated-a", "auth-ic/rotated-b"
        for sa in (sa_a, sa_b):
            service_account(self.kubectl, sa)
        sa_dir = os.path.join(self.tmp, "serviceaccount")
        os.makedirs(sa_dir, exist_ok=True)
        token_path = os.path.join(sa_dir, "token")

        def put_token(sa):
            # As the kubelet does: the new file replaces the old one at once.
            with open(token_path + ".new", "w") as f:
                f.write(self.standin.sa_token(sa))
            os.replace(token_path + ".new", token_path)

        put_token(sa_a)
        with open(self.standin.ca, "rb") as src, open(os.path.join(sa_dir, "ca.crt"), "wb") as d:
            d.write(src.read())
        with open(os.path.join(sa_dir, "namespace"), "w") as f:
            f.write("auth-ic\n")
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1",
               "KUBERNETES_SERVICE_PORT": str(self.standin.port),
               "HO11Y_SERVICEACCOUNT_DIR": sa_dir}
        # No kubeconfig at all: the in-cluster configuration.
        op = Operator(None, ["--leader-elect"], env, "incluster", self.tmp)
        self.operators.append(op)
        self.check_sanitizers(op)
        op.start()
        self.assertIn("(in-cluster)", op.log())
        wait_until(lambda: self.kubectl.get("lease", "ho11y-operator-leader", "auth-ic"), 20,
                   0.1, "the lease in the service account's namespace")
        ns = self.ns("auth-rot")
        t0 = time.time()
        text = topo(ns, ["front"])
        self.kubectl.apply(text)
        wait_converged(self, ns, "t", text)
        self.assertTrue(writes(self.standin.requests(since=t0), operator_user(sa_a)))

        # Rotate: a new token in the file, and the old one no longer valid.
        put_token(sa_b)
        self.kubectl.run("delete", "serviceaccount", sa_a.split("/")[1], "-n", "auth-ic")
        rotated = time.time()
        text = topo(ns, ["front", "back"])
        self.kubectl.apply(text)
        # Well within the minute of the periodic re-read: the 401 made it read the file.
        wait_converged(self, ns, "t", text, timeout=15)
        reqs = self.standin.requests(since=rotated)
        new = writes(reqs, operator_user(sa_b))
        self.assertTrue(new)
        # (Timeouts scale with slow builds; this bound does not, and stays below the minute.)
        self.assertLess(min(_epoch(r["time"]) for r in new) - rotated, 20)
        self.assertEqual(writes([r for r in reqs if r["code"] < 400], operator_user(sa_a)), [])
        self.assertTrue([r for r in reqs if r["code"] == 401], "the old token was never refused")
        self.assertIsNone(op.proc.poll())
        self.stop_operator(op)

    def test_exec_plugin(self):
        script = os.path.join(self.tmp, "plugin.py")
        with open(script, "w") as f:
            f.write(PLUGIN)
        calls = os.path.join(self.tmp, "plugin.calls")
        token_file = os.path.join(self.tmp, "plugin.token")
        with open(token_file, "w") as f:
            f.write(self.standin.token)
        user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                         "command": sys.executable,
                         "args": [script, calls, token_file, "1", str(EXEC_TTL_S)],
                         "interactiveMode": "Never"}}
        with open(self.standin.ca, "rb") as f:
            ca = f.read()
        op = self.start_operator(kubeconfig=self.kc("exec.kubeconfig", user=user, ca_data=ca),
                                 name="exec")

        def times():
            with open(calls) as f:
                return [float(l) for l in f if l.strip()]

        def check_spacing(t):
            # After the refused first credential the plugin ran again at once; after that only
            # when the credential was due, never more often.
            self.assertGreaterEqual(len(t), 2, t)
            self.assertLess(t[1] - t[0], scaled(5), t)
            for a, b in zip(t[1:], t[2:]):
                self.assertGreaterEqual(b - a, EXEC_TTL_S - EXEC_SLACK_S - 0.5, t)

        # Every informer got a 401 for the first credential; the plugin ran again at once, once.
        check_spacing(times())
        ns = self.ns("auth-exec")
        text = topo(ns, ["front"])
        self.kubectl.apply(text)
        wait_converged(self, ns, "t", text)
        check_spacing(times())
        # Once the credential is due the next request runs the plugin again.
        n = len(times())
        time.sleep(max(0.0, times()[-1] + EXEC_TTL_S - EXEC_SLACK_S + 0.5 - time.time()))
        text = topo(ns, ["front", "back"])
        self.kubectl.apply(text)
        wait_converged(self, ns, "t", text)
        t = times()
        self.assertGreater(len(t), n, t)
        check_spacing(t)
        # The operator's second start (glibc's per-thread caches off) is not passed on.
        with open(calls + ".env") as f:
            self.assertEqual(f.read(), os.environ.get("GLIBC_TUNABLES", "<unset>"))
        self.stop_operator(op)


if __name__ == "__main__":
    unittest.main()
