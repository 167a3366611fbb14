"""Protocol tests over HTTPS: status codes and Status bodies, resourceVersion and generation
rules, status subresource isolation, patch types, server-side apply, deletion, selectors,
pagination, CRD registration and validation."""

import os
import time
import unittest

import store
import yamlish
from harness import HERE, ServerTestCase

CM = "/api/v1/namespaces/default/configmaps"
WD = "/apis/example.com/v1/namespaces/default/widgets"


def cm(name, data=None, labels=None):
    m = {"name": name}
    if labels:
        m["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": m, "data": data or {"a": "1"}}


def widget(name, spec=None):
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": spec if spec is not None else {"size": 2}}


class ProtocolTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(os.path.join(HERE, "testdata", "widgets-crd.yaml")) as f:
            crd = yamlish.load(f.read())
        r = cls.c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        assert r.status == 201, r

    # ---- create / get / errors ------------------------------------------------------------
    def test_create_get_and_exact_errors(self):
        r = self.c.post(CM, cm("p1"))
        self.assertEqual(r.status, 201)
        m = r.json["metadata"]
        self.assertRegex(m["uid"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-")
        self.assertRegex(m["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertTrue(int(m["resourceVersion"]) > 0)
        self.assertNotIn("generation", m)
        r = self.c.post(CM, cm("p1"))
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                  "status": "Failure",
                                  "message": 'configmaps "p1" already exists',
                                  "reason": "AlreadyExists",
                                  "details": {"name": "p1", "kind": "configmaps"}, "code": 409})
        r = self.c.get(CM + "/nope")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json["message"], 'configmaps "nope" not found')
        self.assertEqual(r.json["details"], {"name": "nope", "kind": "configmaps"})
        r = self.c.post("/api/v1/namespaces/missing/configmaps", cm("x"))
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json["message"], 'namespaces "missing" not found')
        r = self.c.post(CM, cm("Bad_Name"))
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["reason"], "Invalid")
        self.assertTrue(r.json["message"].startswith(
            'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a '
            "lowercase RFC 1123 subdomain"), r.json["message"])
        self.assertEqual(r.json["details"]["causes"][0]["field"], "metadata.name")
        body = cm("p2")
        body["metadata"]["resourceVersion"] = "5"
        r = self.c.post(CM, body)
        self.assertEqual(r.status, 500)
        self.assertEqual(r.json["message"], "resourceVersion should not be set on objects to be "
                                            "created")
        body = cm("p3")
        body["metadata"]["namespace"] = "kube-system"
        r = self.c.post(CM, body)
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["message"], "the namespace of the provided object does not match "
                                            "the namespace sent on the request")
        r = self.c.post(CM, {"apiVersion": "apps/v1", "kind": "ConfigMap",
                             "metadata": {"name": "p4"}})
        self.assertEqual(r.status, 400)
        self.assertIn("does not match the expected API version (v1)", r.json["message"])

    def test_unknown_fields_of_builtin_kinds(self):
        body = cm("unk")
        body["spec"] = {"x": 1}
        body["metadata"]["bogus"] = True
        r = self.c.post(CM, body)
        self.assertEqual(r.status, 201)
        self.assertNotIn("spec", r.json)
        self.assertNotIn("bogus", r.json["metadata"])
        self.assertEqual(r.headers.get_all("Warning"),
                         ['299 - "unknown field \\"metadata.bogus\\""',
                          '299 - "unknown field \\"spec\\""'])
        r = self.c.post(CM + "?fieldValidation=Strict", dict(body, metadata={"name": "unk2"}))
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["message"], 'ConfigMap in version "v1" cannot be handled as a '
                                            'ConfigMap: strict decoding error: unknown field '
                                            '"spec"')
        r = self.c.post(CM + "?fieldValidation=Ignore", dict(body, metadata={"name": "unk3"}))
        self.assertEqual(r.status, 201)
        self.assertIsNone(r.headers.get("Warning"))

    def test_generate_name(self):
        r = self.c.post(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"generateName": "gen-"}})
        self.assertEqual(r.status, 201)
        self.assertRegex(r.json["metadata"]["name"], r"^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$")
        r = self.c.post(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
        self.assertEqual(r.status, 422)
        self.assertIn("metadata.name: Required value: name or generateName is required",
                      r.json["message"])

    # ---- resourceVersion ------------------------------------------------------------------
    def test_global_resource_version_and_noop(self):
        a = self.c.post(CM, cm("rv-a")).json
        b = self.c.post("/apis/coordination.k8s.io/v1/namespaces/default/leases",
                        {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                         "metadata": {"name": "rv-b"}, "spec": {"holderIdentity": "x"}}).json
        self.assertGreater(int(b["metadata"]["resourceVersion"]),
                           int(a["metadata"]["resourceVersion"]))
        lst = self.c.get(CM).json
        self.assertGreaterEqual(int(lst["metadata"]["resourceVersion"]),
                                int(b["metadata"]["resourceVersion"]))
        # identical PUT: no new resourceVersion
        r = self.c.put(CM + "/rv-a", a)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["metadata"]["resourceVersion"], a["metadata"]["resourceVersion"])
        # identical merge patch: no bump either
        r = self.c.patch(CM + "/rv-a", {"data": {"a": "1"}})
        self.assertEqual(r.json["metadata"]["resourceVersion"], a["metadata"]["resourceVersion"])
        # a real change bumps
        r = self.c.patch(CM + "/rv-a", {"data": {"a": "2"}})
        self.assertGreater(int(r.json["metadata"]["resourceVersion"]),
                           int(a["metadata"]["resourceVersion"]))

    def test_stale_update_conflict_and_unconditional(self):
        a = self.c.post(CM, cm("stale")).json
        a2 = dict(a, data={"a": "2"})
        r = self.c.put(CM + "/stale", a2)
        self.assertEqual(r.status, 200)
        a3 = dict(a, data={"a": "3"})
        r = self.c.put(CM + "/stale", a3)
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json["reason"], "Conflict")
        self.assertEqual(r.json["message"], 'Operation cannot be fulfilled on configmaps "stale": '
                                            "the object has been modified; please apply your "
                                            "changes to the latest version and try again")
        # ConfigMaps allow unconditional update (no resourceVersion)
        a4 = cm("stale", {"a": "4"})
        r = self.c.put(CM + "/stale", a4)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["data"], {"a": "4"})
        # a patch that sets a stale resourceVersion conflicts
        r = self.c.patch(CM + "/stale", {"metadata": {"resourceVersion": "1"}, "data": {"b": "x"}})
        self.assertEqual(r.status, 409)
        r = self.c.put(CM + "/missing-one", cm("missing-one"))
        self.assertEqual(r.status, 404)

    def test_lease_rules(self):
        path = "/apis/coordination.k8s.io/v1/namespaces/default/leases/lock"
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "lock"},
                "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15,
                         "acquireTime": "2024-12-11T10:00:00.123456Z",
                         "renewTime": "2024-12-11T10:00:00.123456Z", "leaseTransitions": 0}}
        r = self.c.put(path, body)
        self.assertEqual(r.status, 201)  # AllowCreateOnUpdate
        self.assertEqual(r.json["spec"]["acquireTime"], "2024-12-11T10:00:00.123456Z")
        r = self.c.put(path, body)  # no resourceVersion: 422 for leases
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["message"], 'leases.coordination.k8s.io "lock" is invalid: '
                                            "metadata.resourceVersion: Invalid value: 0x0: must be "
                                            "specified for an update")
        bad = dict(body, spec=dict(body["spec"], leaseDurationSeconds=0))
        bad["metadata"] = {"name": "lock", "resourceVersion": r.json and
                           self.c.get(path).json["metadata"]["resourceVersion"]}
        r = self.c.put(path, bad)
        self.assertEqual(r.status, 422)
        self.assertIn("spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                      r.json["message"])

    # ---- generation and status ------------------------------------------------------------
    def test_generation_only_on_spec_changes(self):
        r = self.c.post(WD, widget("gen1"))
        self.assertEqual(r.status, 201)
        w = r.json
        self.assertEqual(w["metadata"]["generation"], 1)
        w["metadata"]["labels"] = {"x": "y"}
        w = self.c.put(WD + "/gen1", w).json
        self.assertEqual(w["metadata"]["generation"], 1)
        w["spec"]["size"] = 3
        w = self.c.put(WD + "/gen1", w).json
        self.assertEqual(w["metadata"]["generation"], 2)
        # status through the main endpoint is ignored and does not bump
        w["status"] = {"phase": "Ready"}
        w2 = self.c.put(WD + "/gen1", w).json
        self.assertNotIn("status", w2)
        self.assertEqual(w2["metadata"]["generation"], 2)
        # client cannot set generation
        w2["metadata"]["generation"] = 99
        w3 = self.c.put(WD + "/gen1", w2).json
        self.assertEqual(w3["metadata"]["generation"], 2)
        # CR PUT without resourceVersion is refused
        del w3["metadata"]["resourceVersion"]
        r = self.c.put(WD + "/gen1", w3)
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["message"], 'widgets.example.com "gen1" is invalid: '
                                            "metadata.resourceVersion: Invalid value: 0x0: must be "
                                            "specified for an update")

    def test_status_subresource_isolation(self):
        w = self.c.post(WD, widget("st1")).json
        w["status"] = {"phase": "Ready", "replicas": 1}
        w["spec"]["size"] = 50
        w["metadata"]["labels"] = {"changed": "yes"}
        r = self.c.put(WD + "/st1/status", w)
        self.assertEqual(r.status, 200)
        out = r.json
        self.assertEqual(out["status"], {"phase": "Ready", "replicas": 1})
        self.assertEqual(out["spec"]["size"], 2)
        self.assertNotIn("labels", out["metadata"])
        self.assertEqual(out["metadata"]["generation"], 1)
        r = self.c.patch(WD + "/st1/status", {"status": {"phase": "Done"}, "spec": {"size": 9}})
        self.assertEqual(r.json["status"]["phase"], "Done")
        self.assertEqual(r.json["spec"]["size"], 2)
        r = self.c.patch(WD + "/st1", {"status": {"phase": "X"}, "spec": {"size": 4}})
        self.assertEqual(r.json["status"]["phase"], "Done")
        self.assertEqual(r.json["metadata"]["generation"], 2)
        stale = dict(out)
        r = self.c.put(WD + "/st1/status", stale)
        self.assertEqual(r.status, 409)
        r = self.c.get(WD + "/st1/scale")
        self.assertEqual(r.json["kind"], "Scale")

    # ---- CRDs ---------------------------------------------------------------------------
    def test_crd_registration_defaults_and_validation(self):
        crd = self.c.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                         "widgets.example.com").json
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        self.assertEqual(conds["Established"], "True")
        self.assertEqual(conds["NamesAccepted"], "True")
        rl = self.c.get("/apis/example.com/v1").json
        names = [r["name"] for r in rl["resources"]]
        self.assertIn("widgets", names)
        self.assertIn("widgets/status", names)
        r = self.c.post(WD, widget("def1", {"tags": ["a"], "unknown": 1}))
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json["spec"]["size"], 1)
        self.assertEqual(r.json["spec"]["color"], "red")
        self.assertNotIn("unknown", r.json["spec"])
        self.assertEqual(r.headers.get("Warning"), '299 - "unknown field \\"spec.unknown\\""')
        r = self.c.post(WD + "?fieldValidation=Strict", widget("def2", {"unknown": 1}))
        self.assertEqual(r.status, 400)
        self.assertIn('strict decoding error: unknown field "spec.unknown"', r.json["message"])
        r = self.c.post(WD, widget("bad1", {"size": 1000}))
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["details"]["causes"][0]["field"], "spec.size")
        self.assertIn('Widget.example.com "bad1" is invalid: spec.size', r.json["message"])
        r = self.c.post(WD, widget("bad2", {"size": 5, "limit": 3}))
        self.assertEqual(r.status, 422)
        self.assertIn("size must not exceed limit", r.json["message"])
        r = self.c.post(WD, widget("bad3", {"color": "pink"}))
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["details"]["causes"][0]["reason"], "FieldValueNotSupported")
        r = self.c.post(WD, {"apiVersion": "example.com/v1", "kind": "Gadget",
                             "metadata": {"name": "k"}})
        self.assertEqual(r.status, 422)
        r = self.c.patch(WD + "/def1", {"spec": {"size": 3}},
                         ctype="application/strategic-merge-patch+json")
        self.assertEqual(r.status, 415)
        self.assertEqual(r.json["message"], "the body of the request was in an unknown format - "
                                            "accepted media types include: application/json-patch"
                                            "+json, application/merge-patch+json, application/"
                                            "apply-patch+yaml")

    def test_crd_invalid_and_deletion_cleans_up(self):
        r = self.c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "wrong.example.org"},
            "spec": {"group": "example.org", "scope": "Namespaced",
                     "names": {"plural": "things", "kind": "Thing"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object"}}}]}})
        self.assertEqual(r.status, 422)
        self.assertIn('metadata.name: Invalid value: "wrong.example.org": must be '
                      'spec.names.plural+"."+spec.group', r.json["message"])
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "things.example.org"},
               "spec": {"group": "example.org", "scope": "Cluster",
                        "names": {"plural": "things", "kind": "Thing"},
                        "versions": [{"name": "v1", "served": True, "storage": True,
                                      "schema": {"openAPIV3Schema": {
                                          "type": "object",
                                          "x-kubernetes-preserve-unknown-fields": True}}}]}}
        r = self.c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json["spec"]["names"]["listKind"], "ThingList")
        r = self.c.post("/apis/example.org/v1/things", {"apiVersion": "example.org/v1",
                                                        "kind": "Thing",
                                                        "metadata": {"name": "t1"},
                                                        "anything": {"goes": 1}})
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json["anything"], {"goes": 1})
        r = self.c.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                          "things.example.org")
        self.assertEqual(r.status, 200)
        self.wait_for(lambda: self.c.get("/apis/apiextensions.k8s.io/v1/"
                                         "customresourcedefinitions/things.example.org").status
                      == 404, what="CRD removal")
        self.assertEqual(self.c.get("/apis/example.org/v1/things").status, 404)
        groups = [g["name"] for g in self.c.get("/apis").json["groups"]]
        self.assertNotIn("example.org", groups)

    # ---- patches ----------------------------------------------------------------------------
    def test_patch_types(self):
        self.c.post(CM, cm("pt", {"a": "1", "b": "2"}))
        r = self.c.patch(CM + "/pt", [{"op": "replace", "path": "/data/a", "value": "9"},
                                      {"op": "remove", "path": "/data/b"}],
                         ctype="application/json-patch+json")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["data"], {"a": "9"})
        r = self.c.patch(CM + "/pt", [{"op": "test", "path": "/data/a", "value": "0"}],
                         ctype="application/json-patch+json")
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["message"], "the server rejected our request due to an error in "
                                            "our request")
        r = self.c.patch(CM + "/pt", {"data": {"a": None, "c": "3"}})
        self.assertEqual(r.json["data"], {"c": "3"})
        r = self.c.patch(CM + "/pt", {"data": {"d": "4"}},
                         ctype="application/strategic-merge-patch+json")
        self.assertEqual(r.json["data"], {"c": "3", "d": "4"})
        r = self.c.patch(CM + "/pt", {"data": {}}, ctype="text/plain")
        self.assertEqual(r.status, 415)
        r = self.c.patch(CM + "/nope", {"data": {}})
        self.assertEqual(r.status, 404)
        r = self.c.patch(CM + "/pt?force=true", {"data": {}})
        self.assertEqual(r.status, 422)
        self.assertIn("force: Forbidden: may not be specified for non-apply patch",
                      r.json["message"])

    def test_strategic_merge_on_deployment_containers(self):
        d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "smp"},
             "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "smp"}},
                      "template": {"metadata": {"labels": {"app": "smp"}},
                                   "spec": {"containers": [
                                       {"name": "a", "image": "x:1",
                                        "env": [{"name": "E1", "value": "1"}]},
                                       {"name": "b", "image": "y:1"}]}}}}
        r = self.c.post("/apis/apps/v1/namespaces/default/deployments", d)
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json["metadata"]["generation"], 1)
        p = {"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "y:2"},
                           {"name": "a", "env": [{"name": "E2", "value": "2"}]}]}}}}
        r = self.c.patch("/apis/apps/v1/namespaces/default/deployments/smp", p,
                         ctype="application/strategic-merge-patch+json")
        self.assertEqual(r.status, 200, r)
        cs = r.json["spec"]["template"]["spec"]["containers"]
        self.assertEqual([c["name"] for c in cs], ["a", "b"])
        self.assertEqual(cs[0]["image"], "x:1")
        self.assertEqual([e["name"] for e in cs[0]["env"]], ["E1", "E2"])
        self.assertEqual(cs[1]["image"], "y:2")
        self.assertEqual(r.json["metadata"]["generation"], 2)
        p = {"spec": {"template": {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}}}}
        r = self.c.patch("/apis/apps/v1/namespaces/default/deployments/smp", p,
                         ctype="application/strategic-merge-patch+json")
        self.assertEqual([c["name"] for c in r.json["spec"]["template"]["spec"]["containers"]],
                         ["a"])

    def test_server_side_apply_ownership_and_conflict(self):
        path = CM + "/ssa1?fieldManager=alice"
        body = cm("ssa1", {"a": "1", "b": "1"})
        r = self.c.patch(path, body, ctype="application/apply-patch+yaml")
        self.assertEqual(r.status, 201)
        mf = r.json["metadata"]["managedFields"]
        self.assertEqual(mf[0]["manager"], "alice")
        self.assertEqual(mf[0]["operation"], "Apply")
        self.assertEqual(mf[0]["fieldsV1"], {"f:data": {"f:a": {}, "f:b": {}}})
        r = self.c.patch(CM + "/ssa1?fieldManager=bob", cm("ssa1", {"a": "2"}),
                         ctype="application/apply-patch+yaml")
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json["message"], 'Apply failed with 1 conflict: conflict with "alice": '
                                            ".data.a")
        self.assertEqual(r.json["details"]["causes"][0]["reason"], "FieldManagerConflict")
        self.assertEqual(r.json["details"]["causes"][0]["field"], ".data.a")
        r = self.c.patch(CM + "/ssa1?fieldManager=bob&force=true", cm("ssa1", {"a": "2"}),
                         ctype="application/apply-patch+yaml")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["data"], {"a": "2", "b": "1"})
        owners = {e["manager"]: e["fieldsV1"] for e in r.json["metadata"]["managedFields"]}
        self.assertEqual(owners["bob"], {"f:data": {"f:a": {}}})
        self.assertEqual(owners["alice"], {"f:data": {"f:b": {}}})
        # alice stops applying b: it is removed (nobody else owns it)
        r = self.c.patch(CM + "/ssa1?fieldManager=alice",
                         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa1"}},
                         ctype="application/apply-patch+yaml")
        self.assertEqual(r.json["data"], {"a": "2"})
        # an Update manager conflicts too
        self.c.patch(CM + "/ssa1?fieldManager=carol", {"data": {"c": "1"}})
        r = self.c.patch(CM + "/ssa1?fieldManager=alice", cm("ssa1", {"c": "2"}),
                         ctype="application/apply-patch+yaml")
        self.assertEqual(r.status, 409)
        self.assertRegex(r.json["message"], r'^Apply failed with 1 conflict: conflict with "carol" '
                         r'using v1 at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: \.data\.c$')
        r = self.c.patch(CM + "/ssa1", cm("ssa1"), ctype="application/apply-patch+yaml")
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json["message"], 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                            "Required value: is required for apply patch")
        # YAML apply body
        r = self.c.request("PATCH", CM + "/ssa2?fieldManager=y",
                           raw=b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa2\n"
                               b"data:\n  k: v\n",
                           ctype="application/apply-patch+yaml")
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json["data"], {"k": "v"})

    # ---- delete -------------------------------------------------------------------------
    def test_delete_with_finalizers(self):
        body = cm("fin1")
        body["metadata"]["finalizers"] = ["example.com/hold"]
        created = self.c.post(CM, body).json
        r = self.c.delete(CM + "/fin1", {"propagationPolicy": "Background"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["kind"], "ConfigMap")
        self.assertIn("deletionTimestamp", r.json["metadata"])
        self.assertEqual(r.json["metadata"]["deletionGracePeriodSeconds"], 0)
        cur = r.json
        cur["metadata"]["finalizers"] = ["example.com/hold", "example.com/new"]
        r = self.c.put(CM + "/fin1", cur)
        self.assertEqual(r.status, 422)
        self.assertIn("no new finalizers can be added if the object is being deleted",
                      r.json["message"])
        r = self.c.patch(CM + "/fin1", {"metadata": {"finalizers": None}})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.c.get(CM + "/fin1").status, 404)
        # immediate delete answers Status Success with the uid
        self.c.post(CM, cm("fin2"))
        r = self.c.delete(CM + "/fin2")
        self.assertEqual(r.json["status"], "Success")
        self.assertEqual(r.json["details"]["name"], "fin2")
        self.assertIn("uid", r.json["details"])
        self.assertNotEqual(r.json["details"]["uid"], created["metadata"]["uid"])
        r = self.c.delete(CM + "/fin2")
        self.assertEqual(r.status, 404)
        self.c.post(CM, cm("fin3"))
        r = self.c.delete(CM + "/fin3", {"preconditions": {"uid": "x"}})
        self.assertEqual(r.status, 409)
        self.assertIn("the UID in the precondition (x) does not match the UID in record",
                      r.json["message"])

    def test_garbage_collection_background_foreground_orphan(self):
        owner = self.c.post(CM, cm("owner1")).json
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner1",
               "uid": owner["metadata"]["uid"], "blockOwnerDeletion": True}
        for n in ("dep1", "dep2"):
            b = cm(n)
            b["metadata"]["ownerReferences"] = [ref]
            self.assertEqual(self.c.post(CM, b).status, 201)
        self.c.delete(CM + "/owner1", {"propagationPolicy": "Background"})
        self.wait_for(lambda: self.c.get(CM + "/dep1").status == 404 and
                      self.c.get(CM + "/dep2").status == 404, what="background GC")
        # foreground: owner stays until dependents are gone
        owner = self.c.post(CM, cm("owner2")).json
        ref = dict(ref, name="owner2", uid=owner["metadata"]["uid"])
        b = cm("dep3")
        b["metadata"]["ownerReferences"] = [ref]
        b["metadata"]["finalizers"] = ["example.com/slow"]
        self.c.post(CM, b)
        r = self.c.delete(CM + "/owner2", {"propagationPolicy": "Foreground"})
        self.assertEqual(r.status, 200)
        self.assertIn("foregroundDeletion", r.json["metadata"]["finalizers"])
        self.wait_for(lambda: "deletionTimestamp" in
                      (self.c.get(CM + "/dep3").json or {}).get("metadata", {}),
                      what="dependent marked for deletion")
        time.sleep(0.3)
        self.assertEqual(self.c.get(CM + "/owner2").status, 200)
        self.c.patch(CM + "/dep3", {"metadata": {"finalizers": None}})
        self.wait_for(lambda: self.c.get(CM + "/owner2").status == 404, what="foreground end")
        # orphan: dependents lose the reference and stay
        owner = self.c.post(CM, cm("owner3")).json
        ref = dict(ref, name="owner3", uid=owner["metadata"]["uid"])
        b = cm("dep4")
        b["metadata"]["ownerReferences"] = [ref]
        self.c.post(CM, b)
        self.c.delete(CM + "/owner3", {"propagationPolicy": "Orphan"})
        self.wait_for(lambda: self.c.get(CM + "/owner3").status == 404, what="orphan end")
        d = self.c.get(CM + "/dep4").json
        self.assertNotIn("ownerReferences", d["metadata"])
        # a dependent whose owner never existed is collected
        b = cm("dep5")
        b["metadata"]["ownerReferences"] = [dict(ref, uid="00000000-0000-4000-8000-000000000000")]
        self.c.post(CM, b)
        self.wait_for(lambda: self.c.get(CM + "/dep5").status == 404, what="dangling owner")

    def test_namespace_deletion(self):
        r = self.c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": "doomed"}})
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json["metadata"]["labels"]["kubernetes.io/metadata.name"], "doomed")
        self.assertEqual(r.json["status"]["phase"], "Active")
        b = cm("held")
        b["metadata"]["finalizers"] = ["example.com/hold"]
        self.c.post("/api/v1/namespaces/doomed/configmaps", b)
        self.c.post("/api/v1/namespaces/doomed/configmaps", cm("free"))
        r = self.c.delete("/api/v1/namespaces/doomed")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["status"]["phase"], "Terminating")
        r = self.c.post("/api/v1/namespaces/doomed/configmaps", cm("late"))
        self.assertEqual(r.status, 403)
        self.assertEqual(r.json["message"], 'configmaps "late" is forbidden: unable to create new '
                                            "content in namespace doomed because it is being "
                                            "terminated")
        self.wait_for(lambda: self.c.get("/api/v1/namespaces/doomed/configmaps/free").status
                      == 404, what="namespace content deletion")
        self.assertEqual(self.c.get("/api/v1/namespaces/doomed").status, 200)
        self.c.patch("/api/v1/namespaces/doomed/configmaps/held",
                     {"metadata": {"finalizers": None}})
        self.wait_for(lambda: self.c.get("/api/v1/namespaces/doomed").status == 404,
                      what="namespace removal")

    # ---- list ---------------------------------------------------------------------------------
    def test_selectors(self):
        self.c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": "sel"}})
        P = "/api/v1/namespaces/sel/configmaps"
        self.c.post(P, cm("s1", labels={"app": "a", "tier": "1"}))
        self.c.post(P, cm("s2", labels={"app": "b", "tier": "2"}))
        self.c.post(P, cm("s3", labels={"app": "c"}))

        def names(q):
            r = self.c.get(P + q)
            self.assertEqual(r.status, 200, r)
            return [i["metadata"]["name"] for i in r.json["items"]
                    if i["metadata"]["name"] != "kube-root-ca.crt"]

        self.assertEqual(names("?labelSelector=app%3Da"), ["s1"])
        self.assertEqual(names("?labelSelector=app!%3Da"), ["s2", "s3"])
        self.assertEqual(names("?labelSelector=app+in+(a,c)"), ["s1", "s3"])
        self.assertEqual(names("?labelSelector=app+notin+(a)"), ["s2", "s3"])
        self.assertEqual(names("?labelSelector=tier"), ["s1", "s2"])
        self.assertEqual(names("?labelSelector=!tier"), ["s3"])
        self.assertEqual(names("?labelSelector=tier>1"), ["s2"])
        self.assertEqual(names("?fieldSelector=metadata.name%3Ds2"), ["s2"])
        self.assertEqual(names("?fieldSelector=metadata.name!%3Ds2,metadata.namespace%3Dsel"
                               "&labelSelector=app"), ["s1", "s3"])
        r = self.c.get(P + "?fieldSelector=spec.foo%3Dx")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["message"], '"spec.foo" is not a known field selector: only '
                                            '"metadata.name", "metadata.namespace"')
        r = self.c.get(P + "?labelSelector=a+in+b")
        self.assertEqual(r.status, 400)
        r = self.c.get(WD + "?fieldSelector=spec.nope%3D1")
        self.assertEqual(r.json["message"], "field label not supported: spec.nope")
        self.c.post(WD, widget("blue1", {"color": "blue"}))
        r = self.c.get(WD + "?fieldSelector=spec.color%3Dblue")
        self.assertEqual([i["metadata"]["name"] for i in r.json["items"]], ["blue1"])

    def test_limit_continue(self):
        self.c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": "pages"}})
        P = "/api/v1/namespaces/pages/configmaps"
        for i in range(7):
            self.c.post(P, cm("c%d" % i))
        seen = []
        r = self.c.get(P + "?limit=3")
        first_rv = r.json["metadata"]["resourceVersion"]
        self.assertEqual(len(r.json["items"]), 3)
        self.assertEqual(r.json["metadata"]["remainingItemCount"], 5)  # 7 + kube-root-ca.crt
        while True:
            seen += [i["metadata"]["name"] for i in r.json["items"]]
            tok = r.json["metadata"].get("continue")
            if not tok:
                break
            self.assertEqual(r.json["metadata"]["resourceVersion"], first_rv)
            r = self.c.get(P + "?limit=3&continue=" + tok)
            self.assertEqual(r.status, 200)
        self.assertEqual(seen, sorted(["c%d" % i for i in range(7)] + ["kube-root-ca.crt"]))
        # A token whose snapshot was compacted away is refused with 410, as kube-apiserver does;
        # a new list without it works.
        tok = self.c.get(P + "?limit=3").json["metadata"]["continue"]
        self.c.post(P, cm("after"))
        self.server.admin("expire-history")
        r = self.c.get(P + "?limit=3&continue=" + tok)
        self.assertEqual(r.status, 410)
        self.assertEqual((r.json["reason"], r.json["code"]), ("Expired", 410))
        self.assertEqual(r.json["message"], "The provided continue parameter is too old to "
                         "display a consistent list result. You can start a new list without "
                         "the continue parameter.")
        self.assertEqual(self.c.get(P + "?limit=3").status, 200)
        r = self.c.get(P + "?limit=3&continue=garbage")
        self.assertEqual(r.status, 400)
        r = self.c.get(P + "?limit=3&continue=abc&resourceVersion=5")
        self.assertEqual(r.json["message"], "specifying resource version is not allowed when "
                                            "using continue")
        r = self.c.get(P + "?resourceVersionMatch=Exact")
        self.assertEqual(r.status, 422)

    # ---- paged lists: one snapshot -----------------------------------------------------------
    def _ns(self, name):
        r = self.c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": name}})
        self.assertEqual(r.status, 201, r)

    @staticmethod
    def _named(items):
        return [(i["metadata"].get("namespace", ""), i["metadata"]["name"],
                 i["metadata"]["resourceVersion"]) for i in items]

    def _pages(self, path, limit, between=None, query=""):
        """Every page of a paged list (JSON bodies), calling between(n) before page n > 0."""
        pages = [self.c.get("%s?limit=%d%s" % (path, limit, query))]
        while True:
            self.assertEqual(pages[-1].status, 200, pages[-1])
            tok = pages[-1].json["metadata"].get("continue")
            if not tok:
                return [p.json for p in pages]
            if between is not None:
                between(len(pages))
            pages.append(self.c.get("%s?limit=%d&continue=%s%s" % (path, limit, tok, query)))

    def test_paged_list_is_one_snapshot(self):
        # kube-apiserver serves every continue page at the first page's revision (etcd MVCC):
        # what changes between pages does not show, every page carries that resourceVersion and
        # remainingItemCount counts what is left of that snapshot.
        self._ns("snap")
        P = "/api/v1/namespaces/snap/configmaps"
        for i in range(10):
            self.assertEqual(self.c.post(P, cm("s%02d" % i)).status, 201)
        before = self.c.get(P).json
        expected = self._named(before["items"])
        self.assertEqual(len(expected), 11)  # and kube-root-ca.crt

        # before each page: a create sorting into what is still to come, updates and a delete of
        # objects still to come, a delete of one already served, a name sorting last
        changes = {1: ("s02a", ("s02", "s05"), "s04", "s00"),
                   2: ("s06a", ("s05", "s08"), "s07", "s02"),
                   3: ("s08a", ("s09",), "s08", "s05")}

        def churn(n):
            new, patched, gone, served = changes[n]
            self.assertEqual(self.c.post(P, cm(new)).status, 201)
            for name in patched:
                r = self.c.patch(P + "/" + name, {"data": {"b": str(n)}})
                self.assertEqual(r.status, 200, r)
            for name in (gone, served):
                self.assertEqual(self.c.delete(P + "/" + name).status, 200)
            self.assertEqual(self.c.post(P, cm("zz%d" % n)).status, 201)

        pages = self._pages(P, 3, churn)
        self.assertEqual(pages[0]["metadata"]["resourceVersion"],
                         before["metadata"]["resourceVersion"])
        self.assertEqual([p["metadata"]["resourceVersion"] for p in pages],
                         [before["metadata"]["resourceVersion"]] * 4)
        self.assertEqual([p["metadata"].get("remainingItemCount") for p in pages],
                         [8, 5, 2, None])
        self.assertEqual([len(p["items"]) for p in pages], [3, 3, 3, 2])
        self.assertEqual(sum((self._named(p["items"]) for p in pages), []), expected)
        # the changes are there for a new list
        now = [n for _, n, _ in self._named(self.c.get(P).json["items"])]
        self.assertIn("zz3", now)
        self.assertNotIn("s00", now)
        # Table pages (kubectl get --chunk-size) likewise
        tab = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
        r = self.c.get(P + "?limit=4", headers=tab)
        t_rv = r.json["metadata"]["resourceVersion"]
        rows = [row["object"]["metadata"]["name"] for row in r.json["rows"]]
        self.assertEqual(self.c.delete(P + "/zz3").status, 200)
        while r.json["metadata"].get("continue"):
            r = self.c.get(P + "?limit=4&continue=" + r.json["metadata"]["continue"],
                           headers=tab)
            self.assertEqual(r.json["metadata"]["resourceVersion"], t_rv)
            rows += [row["object"]["metadata"]["name"] for row in r.json["rows"]]
        self.assertEqual(rows, now)

    def test_paged_list_snapshot_with_selectors_and_across_namespaces(self):
        for ns in ("sel-a", "sel-b", "sel-c"):
            self._ns(ns)
            for i in range(4):
                self.c.post("/api/v1/namespaces/%s/configmaps" % ns,
                            cm("m%d" % i, labels={"pick": "yes" if i % 2 else "no"}))
        ALL = "/api/v1/configmaps"
        q = "&labelSelector=pick%3Dyes"
        before = self.c.get(ALL + "?" + q[1:]).json
        expected = self._named(before["items"])
        self.assertEqual(len(expected), 6)

        def churn(n):
            # m0 of each namespace joins the selection, m1 leaves it, m3 changes, a new one
            for ns in ("sel-a", "sel-b", "sel-c"):
                P = "/api/v1/namespaces/%s/configmaps/" % ns
                self.c.patch(P + "m0", {"metadata": {"labels": {"pick": "yes"}}})
                self.c.patch(P + "m1", {"metadata": {"labels": {"pick": "no"}}})
                self.c.patch(P + "m3", {"data": {"n": str(n)}})
                self.c.post(P[:-1], cm("m%dx" % n, labels={"pick": "yes"}))

        pages = self._pages(ALL, 2, churn, q)
        self.assertEqual(len(pages), 3)
        self.assertEqual({p["metadata"]["resourceVersion"] for p in pages},
                         {before["metadata"]["resourceVersion"]})
        # no remainingItemCount with a selector (kube-apiserver cannot count the matches)
        self.assertEqual([p["metadata"].get("remainingItemCount") for p in pages],
                         [None, None, None])
        self.assertEqual(sum((self._named(p["items"]) for p in pages), []), expected)
        # across namespaces without a selector: pages cross namespace boundaries
        full = self.c.get(ALL).json
        pages = self._pages(ALL, 5, lambda n: self.c.delete(
            "/api/v1/namespaces/sel-b/configmaps/m%d" % (n - 1)))
        self.assertEqual(sum((self._named(p["items"]) for p in pages), []),
                         self._named(full["items"]))
        self.assertEqual(pages[0]["metadata"]["remainingItemCount"], len(full["items"]) - 5)

    def test_continue_token_reuse_expiry_and_other_lists(self):
        self._ns("tok")
        P = "/api/v1/namespaces/tok/configmaps"
        S = "/api/v1/namespaces/tok/secrets"
        for i in range(6):
            self.c.post(P, cm("t%d" % i))
        for name in ("s0", "t1x", "t4x", "u"):
            self.c.post(S, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}})
        first = self.c.get(P + "?limit=2").json
        rv = first["metadata"]["resourceVersion"]
        tok = first["metadata"]["continue"]
        second = self.c.get(P + "?limit=2&continue=" + tok)
        self.c.delete(P + "/t3")
        self.c.post(P, cm("t2a"))
        self.c.post(S, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "t5x"}})
        # the same token again (a retried request) gets the same page, now made from the
        # store's history rather than the kept rest of the list
        again = self.c.get(P + "?limit=2&continue=" + tok)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(self._named(again.json["items"]), self._named(second.json["items"]))
        self.assertEqual(again.json["metadata"], second.json["metadata"])
        r = self.c.get(P + "?limit=10&continue=" + tok)  # another page size: the rest
        self.assertEqual([n for _, n, _ in self._named(r.json["items"])],
                         ["t1", "t2", "t3", "t4", "t5"])
        self.assertEqual(r.json["metadata"], {"resourceVersion": rv})
        r = self.c.get(P + "?continue=" + tok)  # no limit: the rest in one answer
        self.assertEqual(len(r.json["items"]), 5)
        # A token carries no resource, namespace or selector: kube-apiserver reads whatever list
        # it is sent with at the token's revision from the token's key on (storage.
        # DecodeContinue), so another resource's list gets its own objects as of then.
        r = self.c.get(S + "?limit=2&continue=" + tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["metadata"]["resourceVersion"], rv)
        self.assertEqual([n for _, n, _ in self._named(r.json["items"])], ["t1x", "t4x"])
        self.assertEqual(r.json["metadata"]["remainingItemCount"], 1)  # u; not t5x (later)
        r = self.c.get(S + "?limit=2&continue=" + r.json["metadata"]["continue"])
        self.assertEqual([n for _, n, _ in self._named(r.json["items"])], ["u"])
        r = self.c.get(P + "?limit=5&labelSelector=x%21%3Dy&continue=" + tok)
        self.assertEqual([n for _, n, _ in self._named(r.json["items"])],
                         ["t1", "t2", "t3", "t4", "t5"])
        self.assertNotIn("remainingItemCount", r.json["metadata"])
        # once history is compacted past the token's revision: 410 Expired, kept or not
        kept = self.c.get(P + "?limit=2").json["metadata"]["continue"]
        self.c.post(P, cm("later"))
        self.server.admin("expire-history")
        for t in (tok, kept):
            r = self.c.get(P + "?limit=2&continue=" + t)
            self.assertEqual(r.status, 410, r)
            self.assertEqual(r.json, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                      "status": "Failure",
                                      "message": "The provided continue parameter is too old "
                                                 "to display a consistent list result. You can "
                                                 "start a new list without the continue "
                                                 "parameter.",
                                      "reason": "Expired", "code": 410})
        # a list at the current revision still pages after the expiry
        self.assertEqual(len(sum((p["items"] for p in self._pages(P, 2)), [])), 8)

    def test_continue_token_refusals(self):
        import base64
        import json

        def token(obj):
            raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        rv = int(self.c.get(CM).json["metadata"]["resourceVersion"])
        pre = "invalid continue token: continue key is not valid"
        for tok, msg in [
                ("a%2Bb", ": illegal base64 data at input byte 1"),
                ("abcde", ": illegal base64 data at input byte 4"),
                (token(b"nope"), ": invalid character 'n' looking for beginning of value"),
                (token(b"  "), ": unexpected end of JSON input"),
                (token([1]), ": json: cannot unmarshal array into Go value of type "
                             "storage.continueToken"),
                (token({"v": "meta.k8s.io/v1", "rv": "5", "start": "a\u0000"}),
                 ": json: cannot unmarshal string into Go struct field continueToken.rv of "
                 "type int64"),
                (token({"v": "v2", "rv": rv, "start": "a\u0000"}),
                 ": server does not recognize this encoded version v2"),
                (token({"v": "meta.k8s.io/v1", "start": "a\u0000"}),
                 ": incorrect encoded start resourceVersion (version meta.k8s.io/v1)"),
                (token({"v": "meta.k8s.io/v1", "rv": rv, "start": ""}),
                 ": encoded start key empty (version meta.k8s.io/v1)"),
                (token({"v": "meta.k8s.io/v1", "rv": rv, "start": "../secrets/x"}),
                 ": ../secrets/x")]:
            r = self.c.get(CM + "?limit=1&continue=" + tok)
            self.assertEqual((r.status, r.json.get("reason"), r.json.get("message")),
                             (400, "BadRequest", pre + msg), tok)
        # a revision the store has not reached: etcd's error, passed on as kube-apiserver does
        r = self.c.get(CM + "?limit=1&continue=" + token(
            {"v": "meta.k8s.io/v1", "rv": rv + 1000, "start": "a\u0000"}))
        self.assertEqual((r.status, r.json["message"]),
                         (500, "etcdserver: mvcc: required revision is a future revision"))
        self.assertNotIn("reason", r.json)
        # resourceVersion -1: the rest at the latest revision (what kube-apiserver hands out
        # with the 410 of an expired token)
        self.c.post(CM, cm("zzz-late"))
        r = self.c.get(CM + "?limit=100&continue=" + token(
            {"v": "meta.k8s.io/v1", "rv": -1, "start": "zzz\u0000"}))
        self.assertEqual(r.status, 200, r)
        self.assertEqual([i["metadata"]["name"] for i in r.json["items"]], ["zzz-late"])
        self.assertGreater(int(r.json["metadata"]["resourceVersion"]), rv)

    def test_dry_run(self):
        r = self.c.post(CM + "?dryRun=All", cm("dry"))
        self.assertEqual(r.status, 201)
        self.assertEqual(self.c.get(CM + "/dry").status, 404)

    def test_discovery_and_version(self):
        v = self.c.get("/version").json
        self.assertEqual((v["major"], v["minor"]), ("1", "32"))
        r = self.c.get("/api", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;"
                                                  "as=APIGroupDiscoveryList,application/json"})
        self.assertEqual(r.headers["Content-Type"],
                         "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        res = {x["resource"]: x for x in r.json["items"][0]["versions"][0]["resources"]}
        self.assertEqual(res["pods"]["scope"], "Namespaced")
        self.assertEqual(res["pods"]["responseKind"], {"group": "", "version": "v1",
                                                       "kind": "Pod"})
        r = self.c.get("/api")
        self.assertEqual(r.json["kind"], "APIVersions")
        groups = {g["name"] for g in self.c.get("/apis").json["groups"]}
        for g in ("apps", "coordination.k8s.io", "events.k8s.io", "rbac.authorization.k8s.io",
                  "apiextensions.k8s.io", "example.com"):
            self.assertIn(g, groups)
        r = self.c.get("/openapi/v3")
        self.assertIn("api/v1", r.json["paths"])
        self.assertIn("apis/example.com/v1", r.json["paths"])
        url = r.json["paths"]["apis/example.com/v1"]["serverRelativeURL"]
        self.assertEqual(self.c.get(url).status, 200)
        self.assertEqual(self.c.get("/healthz").raw, b"ok")
        r = self.c.get("/apis/nope.io/v1/things")
        self.assertEqual((r.status, r.raw), (404, b"404 page not found\n"))

    def test_events_both_apis(self):
        ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
              "metadata": {"name": "e1"}, "eventTime": "2024-12-11T10:00:00.123456Z",
              "reportingController": "example.com/ctl", "reportingInstance": "ctl-1",
              "action": "Reconcile", "reason": "Done", "note": "all good", "type": "Normal",
              "regarding": {"kind": "ConfigMap", "namespace": "default", "name": "x"}}
        r = self.c.post("/apis/events.k8s.io/v1/namespaces/default/events", ev)
        self.assertEqual(r.status, 201, r)
        core = self.c.get("/api/v1/namespaces/default/events/e1").json
        self.assertEqual(core["message"], "all good")
        self.assertEqual(core["involvedObject"]["name"], "x")
        self.assertEqual(core["reportingComponent"], "example.com/ctl")
        r = self.c.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dx,"
                       "involvedObject.kind%3DConfigMap")
        self.assertEqual([i["metadata"]["name"] for i in r.json["items"]], ["e1"])
        bad = dict(ev, metadata={"name": "e2"})
        del bad["reportingController"]
        r = self.c.post("/apis/events.k8s.io/v1/namespaces/default/events", bad)
        self.assertEqual(r.status, 422)
        self.assertIn("reportingController: Required value", r.json["message"])
        r = self.c.patch("/api/v1/namespaces/default/events/e1", {"count": 2},
                         ctype="application/strategic-merge-patch+json")
        self.assertEqual(r.json["count"], 2)


class PagedListsTest(unittest.TestCase):
    """The store's side of paged lists, in process: reads at a past resourceVersion and the
    bounds on the kept rest of lists."""

    def test_list_at_undoes_later_changes(self):
        st = store.Store()
        key = "configmaps"
        states = {}

        def obj(ns, name, v):
            return {"metadata": {"namespace": ns, "name": name}, "data": {"v": v}}

        def snap():
            states[st.rv] = [(o["metadata"]["namespace"], o["metadata"]["name"],
                              o["metadata"]["resourceVersion"]) for o in st.list(key)]

        snap()
        for i in range(5):
            st.create(key, obj("a" if i % 2 else "b", "o%d" % i, "0"))
            snap()
        st.create("secrets", obj("a", "o1", "s"))  # another resource: not part of the list
        snap()
        cur = st.get(key, "a", "o1")
        st.update(key, obj("a", "o1", "1"), cur)
        snap()
        st.delete(key, st.get(key, "b", "o2"))
        snap()
        st.create(key, obj("b", "o2", "again"))
        snap()
        st.delete(key, st.get(key, "a", "o3"))
        snap()
        for rv, want in states.items():
            got = [(o["metadata"]["namespace"], o["metadata"]["name"],
                    o["metadata"]["resourceVersion"]) for o in st.list_at(key, None, rv)]
            self.assertEqual(got, want, rv)
            self.assertEqual([o["metadata"]["name"] for o in st.list_at(key, "a", rv)],
                             [n for ns, n, _ in want if ns == "a"])
        with self.assertRaises(store.FutureRevision):
            st.list_at(key, None, st.rv + 1)
        st.expire_history()
        self.assertEqual(len(st.list_at(key, None, st.rv)), 4)
        with self.assertRaises(store.Expired):
            st.list_at(key, None, st.rv - 1)

    def test_kept_lists_are_bounded(self):
        p = store.PagedLists()
        items = list(range(10))
        p.put("t1", "L", items, 3, 7)
        self.assertIsNone(p.take("t1", "other list"))
        e = p.take("t1", "L")
        self.assertEqual((e.items, e.pos, e.rv), (items, 3, 7))
        self.assertIsNone(p.take("t1", "L"))  # taken: a page moves it to the next token
        self.assertEqual(p.objects, 0)
        p.put("t2", "L", e.items, 6, e.rv, e)
        self.assertEqual(p.take("t2", "L").pos, 6)
        # compaction past a list's resourceVersion drops it
        p.put("t3", "L", items, 3, 7)
        p.put("t4", "L", items, 3, 9)
        p.compact(8)
        self.assertIsNone(p.take("t3", "L"))
        self.assertIsNotNone(p.take("t4", "L"))
        # so does the time limit
        saved = store.PAGED_LIST_SECONDS
        store.PAGED_LIST_SECONDS = -1.0
        try:
            p.put("t5", "L", items, 3, 7)
        finally:
            store.PAGED_LIST_SECONDS = saved
        self.assertIsNone(p.take("t5", "L"))
        # and the count of lists and of objects, oldest first
        for i in range(store.PAGED_LIST_MAX + 5):
            p.put("n%d" % i, "L", items, 3, 7)
        self.assertEqual(len(p.entries), store.PAGED_LIST_MAX)
        self.assertIsNone(p.take("n4", "L"))
        self.assertIsNotNone(p.take("n5", "L"))
        big = [0] * (store.PAGED_LIST_MAX_OBJECTS // 2 + 1)
        p.put("big1", "L", big, 1, 7)
        p.put("big2", "L", big, 1, 7)
        self.assertLessEqual(p.objects, store.PAGED_LIST_MAX_OBJECTS)
        self.assertIsNone(p.take("big1", "L"))
        self.assertIsNotNone(p.take("big2", "L"))


if __name__ == "__main__":
    unittest.main()
