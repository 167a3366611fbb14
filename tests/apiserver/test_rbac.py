"""RBAC with --rbac: service-account tokens are authorized against Roles, ClusterRoles and their
bindings; admin tokens bypass it; bad tokens get 401. Checked with kubectl and raw requests."""

import os
import unittest

from harness import ServerTestCase

ROLE = """apiVersion: v1
kind: ServiceAccount
metadata:
  name: op
  namespace: default
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: cm-reader
  namespace: default
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["configmaps"]
  resourceNames: ["writable"]
  verbs: ["update", "patch"]
- apiGroups: ["apps"]
  resources: ["deployments/status"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: op-cm-reader
  namespace: default
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: cm-reader
subjects:
- kind: ServiceAccount
  name: op
  namespace: default
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ns-lister
rules:
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: op-ns-lister
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: ns-lister
subjects:
- kind: ServiceAccount
  name: op
  namespace: default
"""


class RBACTest(ServerTestCase):
    rbac = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.token = cls.server.sa_token("default/op")

    def sa_kubeconfig(self):
        path = os.path.join(self.home, "sa.kubeconfig")
        with open(self.server.kubeconfig) as f:
            text = f.read()
        import re

        text = re.sub(r"token: .*", "token: " + self.token, text)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_allow_and_refuse(self):
        self.kubectl("apply", "-f", "-", input=ROLE)
        self.kubectl("create", "configmap", "writable", "--from-literal=a=1")
        self.kubectl("create", "configmap", "other", "--from-literal=a=1")
        kc = self.sa_kubeconfig()
        r = self.kubectl("get", "configmaps", "-o", "name", kubeconfig=kc)
        self.assertIn("configmap/writable", r.stdout)
        r = self.kubectl("get", "secrets", kubeconfig=kc, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr.strip(),
                         'Error from server (Forbidden): secrets is forbidden: User '
                         '"system:serviceaccount:default:op" cannot list resource "secrets" in '
                         'API group "" in the namespace "default"')
        r = self.kubectl("patch", "configmap", "writable", "--type=merge", "-p",
                         '{"data":{"a":"2"}}', kubeconfig=kc)
        self.assertEqual(r.stdout.strip(), "configmap/writable patched")
        r = self.kubectl("patch", "configmap", "other", "--type=merge", "-p",
                         '{"data":{"a":"2"}}', kubeconfig=kc, check=False)
        self.assertIn('configmaps "other" is forbidden: User "system:serviceaccount:default:op" '
                      'cannot patch resource "configmaps" in API group "" in the namespace '
                      '"default"', r.stderr)
        r = self.kubectl("delete", "configmap", "writable", kubeconfig=kc, check=False)
        self.assertIn("cannot delete resource", r.stderr)
        r = self.kubectl("get", "namespaces", "-o", "name", kubeconfig=kc)
        self.assertIn("namespace/default", r.stdout)
        r = self.kubectl("get", "namespace", "default", kubeconfig=kc, check=False)
        self.assertIn('namespaces "default" is forbidden: User "system:serviceaccount:default:op"'
                      ' cannot get resource "namespaces" in API group "" in the namespace "default"',
                      r.stderr)
        r = self.kubectl("get", "configmaps", "-n", "kube-system", kubeconfig=kc, check=False)
        self.assertIn('in the namespace "kube-system"', r.stderr)

    def test_raw_requests(self):
        self.kubectl("apply", "-f", "-", input=ROLE)
        c = self.server.client(self.token)
        r = c.get("/apis/apps/v1/namespaces/default/deployments/x/status")
        self.assertEqual(r.status, 404)  # allowed through RBAC, then not found
        r = c.get("/apis/apps/v1/namespaces/default/deployments/x")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.json["details"], {"name": "x", "group": "apps", "kind": "deployments"})
        self.assertEqual(r.json["reason"], "Forbidden")
        self.assertEqual(c.get("/api").status, 200)  # system:discovery
        self.assertEqual(c.get("/version").status, 200)
        r = c.get("/_admin/status")
        self.assertEqual(r.status, 403)
        bad = self.server.client("not-a-token")
        r = bad.get("/api/v1/namespaces")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                  "status": "Failure", "message": "Unauthorized",
                                  "reason": "Unauthorized", "code": 401})
        none = self.server.client("")
        self.assertEqual(none.get("/api/v1/namespaces").status, 401)
        # a token of a service account that does not exist is not accepted
        ghost = self.server.client(self.server.sa_token("default/ghost"))
        self.assertEqual(ghost.get("/api/v1/namespaces").status, 401)
        # the admin token bypasses RBAC
        self.assertEqual(self.c.get("/api/v1/namespaces/default/secrets").status, 200)
        for x in (c, bad, none, ghost):
            x.close()


if __name__ == "__main__":
    unittest.main()
