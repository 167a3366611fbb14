"""--enable-admission-plugins OwnerReferencesPermissionEnforcement (with --rbac), as
kube-apiserver's plugin/pkg/admission/gc: a service account that sets blockOwnerDeletion on an
ownerReference needs `update` on the owner's `<resource>/finalizers`, one that changes the
ownerReferences of an existing object needs `delete` on that object; refusals are 403 with the
plugin's message. Checked with kubectl as a restricted user, and raw requests; the request log
carries the checks the plugin made. Also the flag itself."""

import json
import os
import re
import subprocess
import sys
import unittest

from harness import HERE, SERVER, Server, ServerTestCase, tool

NS = "gc"
PLUGIN = "OwnerReferencesPermissionEnforcement"
FINALIZERS_REFUSED = ("cannot set blockOwnerDeletion if an ownerReference refers to a resource "
                      "you can't set finalizers on: , <nil>")
DELETE_REFUSED = "cannot set an ownerRef on a resource you can't delete: , <nil>"

SETUP = """apiVersion: v1
kind: Namespace
metadata:
  name: gc
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: op
  namespace: gc
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: nodelete
  namespace: gc
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: writer
  namespace: gc
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "create", "update", "patch", "delete"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: writer-no-delete
  namespace: gc
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "create", "update", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: op-writer
  namespace: gc
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: writer}
subjects: [{kind: ServiceAccount, name: op, namespace: gc}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: nodelete-writer
  namespace: gc
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: writer-no-delete}
subjects: [{kind: ServiceAccount, name: nodelete, namespace: gc}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: widget-finalizers
  namespace: gc
rules:
- apiGroups: ["example.com"]
  resources: ["widgets/finalizers"]
  resourceNames: ["owner"]
  verbs: ["update"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: finalize-anything
rules:
- apiGroups: ["*"]
  resources: ["*/finalizers"]
  verbs: ["update"]
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: owner
  namespace: gc
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: other
  namespace: gc
"""

FINALIZERS_BINDING = """apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: op-widget-finalizers
  namespace: gc
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: widget-finalizers}
subjects: [{kind: ServiceAccount, name: op, namespace: gc}]
"""

ANYTHING_BINDING = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: op-finalize-anything
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: finalize-anything}
subjects: [{kind: ServiceAccount, name: op, namespace: gc}]
"""


class OwnerReferencesPermissionEnforcementTest(ServerTestCase):
    rbac = True
    admission_plugins = PLUGIN

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

        def kubectl(*args, input=None):
            r = subprocess.run([tool("kubectl")] + list(args), input=input, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=cls.env(cls), timeout=60)
            if r.returncode:
                raise AssertionError("kubectl %s: %s" % (args, r.stderr))
            return r.stdout
        kubectl("apply", "-f", os.path.join(HERE, "testdata", "widgets-crd.yaml"))
        kubectl("wait", "--for=condition=Established", "crd/widgets.example.com",
                "--timeout=10s")
        kubectl("apply", "-f", "-", input=SETUP)
        cls.owner = json.loads(kubectl("get", "widget", "owner", "-n", NS, "-o", "json"))
        cls.other = json.loads(kubectl("get", "widget", "other", "-n", NS, "-o", "json"))
        cls.kc = {sa: cls.sa_kubeconfig(sa) for sa in ("op", "nodelete")}

    @classmethod
    def sa_kubeconfig(cls, sa):
        path = os.path.join(cls.home, sa + ".kubeconfig")
        with open(cls.server.kubeconfig) as f:
            text = f.read()
        text = re.sub(r"token: .*", "token: " + cls.server.sa_token(NS + "/" + sa), text)
        with open(path, "w") as f:
            f.write(text)
        return path

    def tearDown(self):
        self.kubectl("delete", "rolebinding", "op-widget-finalizers", "-n", NS,
                     "--ignore-not-found")
        self.kubectl("delete", "clusterrolebinding", "op-finalize-anything", "--ignore-not-found")

    def ref(self, block=True, owner=None, **kw):
        o = owner or self.owner
        r = {"apiVersion": "example.com/v1", "kind": "Widget", "name": o["metadata"]["name"],
             "uid": o["metadata"]["uid"], "controller": True}
        if block is not None:
            r["blockOwnerDeletion"] = block
        r.update(kw)
        return r

    def child(self, name, *refs):
        m = {"name": name, "namespace": NS}
        if refs:
            m["ownerReferences"] = list(refs)
        return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": m,
                           "data": {"a": "1"}})

    def as_sa(self, *args, sa="op", input=None, check=True):
        return self.kubectl(*args, input=input, check=check, kubeconfig=self.kc[sa])

    def refused(self, r, name, why, verb="creating"):
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn('Error from server (Forbidden): ', r.stderr)
        if verb:
            self.assertIn('error when %s "STDIN": ' % verb, r.stderr)
        self.assertIn('configmaps "%s" is forbidden: %s' % (name, why), r.stderr)
        self.assertEqual(self.kubectl("get", "configmap", name, "-n", NS, "--ignore-not-found",
                                      "-o", "name").stdout, "")

    def test_refused_without_finalizers_permission(self):
        r = self.as_sa("create", "-f", "-", input=self.child("c1", self.ref()), check=False)
        self.refused(r, "c1", FINALIZERS_REFUSED)
        # Server-side apply, and a dry run, are checked the same way.
        r = self.as_sa("apply", "--server-side", "-f", "-", input=self.child("c1", self.ref()),
                       check=False)
        self.assertIn('configmaps "c1" is forbidden: ' + FINALIZERS_REFUSED, r.stderr)
        r = self.as_sa("create", "--dry-run=server", "-f", "-",
                       input=self.child("c1", self.ref()), check=False)
        self.assertIn('configmaps "c1" is forbidden: ' + FINALIZERS_REFUSED, r.stderr)
        # The Status of the refusal, and the checks the plugin made, in the request log.
        c = self.server.client(self.server.sa_token(NS + "/op"))
        try:
            r = c.post("/api/v1/namespaces/gc/configmaps", json.loads(self.child("c1",
                                                                                  self.ref())))
        finally:
            c.close()
        self.assertEqual(r.status, 403)
        self.assertEqual(r.json, {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'configmaps "c1" is forbidden: ' + FINALIZERS_REFUSED,
            "reason": "Forbidden", "details": {"name": "c1", "kind": "configmaps"},
            "code": 403})
        last = [x for x in self.server.requests() if x["verb"] == "create" and
                x["path"] == "/api/v1/namespaces/gc/configmaps"][-1]
        self.assertEqual(last["code"], 403)
        self.assertEqual(last["admission"], [
            {"plugin": PLUGIN, "verb": "update", "group": "*", "resource": "*/finalizers",
             "namespace": "", "name": "*", "allowed": False},
            {"plugin": PLUGIN, "verb": "update", "group": "example.com",
             "resource": "widgets/finalizers", "namespace": NS, "name": "owner",
             "allowed": False}])

    def test_allowed_with_finalizers_permission(self):
        self.kubectl("apply", "-f", "-", input=FINALIZERS_BINDING)
        r = self.as_sa("create", "-f", "-", input=self.child("c2", self.ref()))
        self.assertEqual(r.stdout.strip(), "configmap/c2 created")
        got = self.kubectl_json("c2")
        self.assertEqual(got["metadata"]["ownerReferences"], [self.ref()])
        last = [x for x in self.server.requests() if x["verb"] == "create" and
                x["path"] == "/api/v1/namespaces/gc/configmaps"][-1]
        self.assertEqual([(a["resource"], a["name"], a["allowed"]) for a in last["admission"]],
                         [("*/finalizers", "*", False), ("widgets/finalizers", "owner", True)])
        # The permission names the owner: another Widget is refused.
        r = self.as_sa("create", "-f", "-", input=self.child("c3", self.ref(owner=self.other)),
                       check=False)
        self.refused(r, "c3", FINALIZERS_REFUSED)
        # Every new blocking reference is checked.
        r = self.as_sa("create", "-f", "-", check=False, input=self.child(
            "c3", self.ref(), self.ref(owner=self.other, controller=False)))
        self.refused(r, "c3", FINALIZERS_REFUSED)

    def test_update_to_blocking_needs_finalizers_permission(self):
        r = self.as_sa("create", "-f", "-", input=self.child("c4", self.ref(block=False)))
        self.assertEqual(r.stdout.strip(), "configmap/c4 created")
        # false -> true is refused; the object keeps its reference.
        patch = json.dumps({"metadata": {"ownerReferences": [self.ref()]}})
        r = self.as_sa("patch", "configmap", "c4", "-n", NS, "--type=merge", "-p", patch,
                       check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('Error from server (Forbidden): configmaps "c4" is forbidden: ' +
                      FINALIZERS_REFUSED, r.stderr)
        self.assertEqual(self.kubectl_json("c4")["metadata"]["ownerReferences"],
                         [self.ref(block=False)])
        self.kubectl("apply", "-f", "-", input=FINALIZERS_BINDING)
        r = self.as_sa("patch", "configmap", "c4", "-n", NS, "--type=merge", "-p", patch)
        self.assertEqual(r.stdout.strip(), "configmap/c4 patched")
        self.assertEqual(self.kubectl_json("c4")["metadata"]["ownerReferences"], [self.ref()])

    def test_not_blocking_needs_nothing_more(self):
        for name, ref in (("c5", self.ref(block=False)), ("c6", self.ref(block=None))):
            r = self.as_sa("create", "-f", "-", input=self.child(name, ref))
            self.assertEqual(r.stdout.strip(), "configmap/%s created" % name)
        # A create never needs delete, even with references.
        r = self.as_sa("create", "-f", "-", input=self.child("c7", self.ref(block=False)),
                       sa="nodelete")
        self.assertEqual(r.stdout.strip(), "configmap/c7 created")
        last = [x for x in self.server.requests() if x["verb"] == "create" and
                x["path"] == "/api/v1/namespaces/gc/configmaps"][-1]
        self.assertNotIn("admission", last)

    def test_update_not_touching_references(self):
        # The admin made the object with a blocking reference; a user without the finalizers
        # permission (and without delete) may change everything else.
        self.kubectl("create", "-f", "-", input=self.child("c8", self.ref()))
        for sa in ("op", "nodelete"):
            r = self.as_sa("patch", "configmap", "c8", "-n", NS, "--type=merge", "-p",
                           '{"data":{"a":"%s"}}' % sa, sa=sa)
            self.assertEqual(r.stdout.strip(), "configmap/c8 patched")
        live = self.kubectl_json("c8")
        live["data"]["b"] = "2"
        r = self.as_sa("replace", "-f", "-", input=json.dumps(live))
        self.assertEqual(r.stdout.strip(), "configmap/c8 replaced")
        r = self.as_sa("apply", "--server-side", "--force-conflicts", "-f", "-",
                       input=self.child("c8", self.ref()))
        self.assertEqual(r.stdout.strip(), "configmap/c8 serverside-applied")
        # Removing the reference, or making it non-blocking, is a change of the references:
        # it needs delete on the object (and nothing about the owner).
        drop = '[{"op":"remove","path":"/metadata/ownerReferences"}]'
        r = self.as_sa("patch", "configmap", "c8", "-n", NS, "--type=json", "-p", drop,
                       sa="nodelete", check=False)
        self.assertIn('configmaps "c8" is forbidden: ' + DELETE_REFUSED, r.stderr)
        r = self.as_sa("patch", "configmap", "c8", "-n", NS, "--type=json", "-p", drop)
        self.assertEqual(r.stdout.strip(), "configmap/c8 patched")
        self.assertNotIn("ownerReferences", self.kubectl_json("c8")["metadata"])
        # Adding a non-blocking one back: delete on the object again.
        add = json.dumps({"metadata": {"ownerReferences": [self.ref(block=False)]}})
        r = self.as_sa("patch", "configmap", "c8", "-n", NS, "--type=merge", "-p", add,
                       sa="nodelete", check=False)
        self.assertIn(DELETE_REFUSED, r.stderr)
        r = self.as_sa("patch", "configmap", "c8", "-n", NS, "--type=merge", "-p", add)
        self.assertEqual(r.stdout.strip(), "configmap/c8 patched")
        # And deleting the object needs nothing but delete.
        r = self.as_sa("delete", "configmap", "c8", "-n", NS)
        self.assertEqual(r.stdout.strip(), 'configmap "c8" deleted')

    def test_unknown_owner_kind(self):
        ref = self.ref(apiVersion="example.com/v9")
        r = self.as_sa("create", "-f", "-", input=self.child("c9", ref), check=False)
        self.refused(r, "c9", "cannot set blockOwnerDeletion in this case because cannot find "
                     'RESTMapping for APIVersion example.com/v9 Kind Widget: no matches for kind '
                     '"Widget" in version "example.com/v9"')
        ref = self.ref(apiVersion="v1", kind="Gadget")
        r = self.as_sa("create", "-f", "-", input=self.child("c9", ref), check=False)
        self.refused(r, "c9", "cannot set blockOwnerDeletion in this case because cannot find "
                     'RESTMapping for APIVersion v1 Kind Gadget: no matches for kind "Gadget" in '
                     'version "v1"')

    def test_finalizers_of_everything(self):
        # update on */finalizers of every group, cluster-wide, passes before any REST mapping.
        self.kubectl("apply", "-f", "-", input=ANYTHING_BINDING)
        r = self.as_sa("create", "-f", "-", input=self.child(
            "c10", self.ref(owner=self.other), self.ref(apiVersion="example.com/v9",
                                                        controller=False)))
        self.assertEqual(r.stdout.strip(), "configmap/c10 created")

    def test_admin_is_not_checked(self):
        r = self.kubectl("create", "-f", "-", input=self.child("c11", self.ref(owner=self.other)))
        self.assertEqual(r.stdout.strip(), "configmap/c11 created")

    def kubectl_json(self, name):
        return json.loads(self.kubectl("get", "configmap", name, "-n", NS, "-o", "json").stdout)


class FlagTest(unittest.TestCase):
    def serve(self, *args):
        return subprocess.run([sys.executable, SERVER, "serve", "--state-dir", "/nonexistent/x"]
                              + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=30)

    def test_unknown_plugin_refused(self):
        r = self.serve("--enable-admission-plugins", PLUGIN + ",NamespaceLifecycle")
        self.assertEqual(r.returncode, 2)
        self.assertIn('enable-admission-plugins plugin "NamespaceLifecycle" is unknown (this '
                      'stand-in implements only OwnerReferencesPermissionEnforcement)', r.stderr)
        self.assertEqual(r.stdout, "")

    def test_without_rbac_nothing_is_checked(self):
        # As kube-apiserver with the AlwaysAllow authorizer: every check the plugin makes passes.
        srv = Server(rbac=False, admission_plugins=" ," + PLUGIN).start()
        try:
            c = srv.client()
            c.post("/api/v1/namespaces/default/serviceaccounts",
                   {"metadata": {"name": "op"}})
            sa = srv.client(srv.sa_token("default/op"))
            r = sa.post("/api/v1/namespaces/default/configmaps", {
                "metadata": {"name": "x", "ownerReferences": [{
                    "apiVersion": "v1", "kind": "ConfigMap", "name": "y",
                    "uid": "00000000-0000-4000-8000-000000000000",
                    "blockOwnerDeletion": True}]}})
            self.assertEqual(r.status, 201, r)
            for x in (c, sa):
                x.close()
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
