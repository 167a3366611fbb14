"""Unit tests of the OpenAPI v3 documents (what kubectl reads for validation and patches)."""

import copy
import json
import os
import unittest

import openapi
import schema

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "testdata", "widgets-crd.json")) as _f:
    CRD = json.load(_f)

DOCS = openapi.builtin_documents()


def resolve(doc, s):
    """Follow allOf/$ref the way kubectl's patch-meta lookup does."""
    while True:
        if s.get("allOf"):
            s = s["allOf"][0]
        ref = s.get("$ref")
        if not ref:
            return s
        s = doc["components"]["schemas"][ref.split("/")[-1]]


def field(doc, type_name, *path):
    s = doc["components"]["schemas"][type_name]
    for p in path:
        s = resolve(doc, s)
        if p == "[]":
            s = s["items"]
        else:
            s = s["properties"][p]
    return s


def patch_ops(doc, gvk):
    for path, item in doc["paths"].items():
        op = item.get("patch")
        if op and op["x-kubernetes-group-version-kind"] == gvk:
            yield path, op


class Documents(unittest.TestCase):
    def test_group_versions_and_paths(self):
        self.assertEqual(sorted(DOCS), ["apiextensions.k8s.io/v1", "apps/v1", "coordination.k8s.io/v1",
                                        "events.k8s.io/v1", "rbac.authorization.k8s.io/v1", "v1"])
        self.assertEqual(openapi.document_path("", "v1"), "/openapi/v3/api/v1")
        self.assertEqual(openapi.document_path("apps", "v1"), "/openapi/v3/apis/apps/v1")
        for gv, doc in DOCS.items():
            self.assertEqual(doc["openapi"], "3.0.0")
            self.assertEqual(doc["info"], {"title": "Kubernetes", "version": "v1.32.0"})
            json.dumps(doc)  # serialisable

    def test_every_kind_has_a_patch_operation_with_field_validation(self):
        expected = {
            "v1": ["ConfigMap", "Event", "Namespace", "Pod", "Secret", "Service", "ServiceAccount"],
            "apps/v1": ["Deployment", "ReplicaSet"],
            "coordination.k8s.io/v1": ["Lease"],
            "events.k8s.io/v1": ["Event"],
            "rbac.authorization.k8s.io/v1": ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
            "apiextensions.k8s.io/v1": ["CustomResourceDefinition"],
        }
        for gv, kinds in expected.items():
            g, v = ("", "v1") if gv == "v1" else gv.split("/")
            doc = DOCS[gv]
            for k in kinds:
                ops = list(patch_ops(doc, {"group": g, "kind": k, "version": v}))
                self.assertTrue(ops, (gv, k))
                for path, op in ops:
                    names = [p["name"] for p in op["parameters"] if p["in"] == "query"]
                    self.assertIn("fieldValidation", names, path)
                    self.assertIn("fieldManager", names, path)
                    self.assertIn("application/strategic-merge-patch+json", op["requestBody"]["content"])

    def test_paths_for_namespaced_and_cluster_scoped(self):
        core = DOCS["v1"]["paths"]
        self.assertIn("/api/v1/namespaces/{namespace}/configmaps/{name}", core)
        self.assertIn("/api/v1/configmaps", core)
        self.assertIn("/api/v1/namespaces/{name}", core)
        self.assertIn("/api/v1/namespaces/{name}/status", core)
        apps = DOCS["apps/v1"]["paths"]
        scale = apps["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
        self.assertEqual(scale["x-kubernetes-group-version-kind"], {"group": "autoscaling", "kind": "Scale", "version": "v1"})
        self.assertIn("/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}", DOCS["rbac.authorization.k8s.io/v1"]["paths"])

    def test_every_reference_resolves(self):
        for gv, doc in DOCS.items():
            comps = doc["components"]["schemas"]

            def walk(x):
                if isinstance(x, dict):
                    ref = x.get("$ref")
                    if isinstance(ref, str):
                        self.assertIn(ref.split("/")[-1], comps, (gv, ref))
                    for v in x.values():
                        walk(v)
                elif isinstance(x, list):
                    for v in x:
                        walk(v)
            walk(doc)

    def test_kind_schemas_carry_gvk(self):
        d = DOCS["apps/v1"]["components"]["schemas"]
        self.assertEqual(d["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"],
                         [{"group": "apps", "kind": "Deployment", "version": "v1"}])
        self.assertEqual(d["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"],
                         [{"group": "apps", "kind": "DeploymentList", "version": "v1"}])


class FieldCoverage(unittest.TestCase):
    def test_pod_template_fields(self):
        doc = DOCS["apps/v1"]
        dep = "io.k8s.api.apps.v1.Deployment"
        pod = ("spec", "template", "spec")
        containers = field(doc, dep, *pod, "containers")
        self.assertEqual(containers["x-kubernetes-patch-strategy"], "merge")
        self.assertEqual(containers["x-kubernetes-patch-merge-key"], "name")
        self.assertEqual(containers["x-kubernetes-list-type"], "map")
        self.assertEqual(containers["x-kubernetes-list-map-keys"], ["name"])
        c = pod + ("containers", "[]")
        for f in ("image", "imagePullPolicy", "command", "args", "workingDir", "ports", "envFrom", "resources",
                  "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "securityContext",
                  "volumeMounts", "terminationMessagePolicy"):
            field(doc, dep, *c, f)
        self.assertEqual(field(doc, dep, *c, "ports")["x-kubernetes-list-map-keys"], ["containerPort", "protocol"])
        self.assertEqual(field(doc, dep, *c, "env", "[]", "valueFrom", "secretKeyRef", "key")["type"], "string")
        self.assertEqual(field(doc, dep, *c, "env", "[]", "valueFrom", "fieldRef", "fieldPath")["type"], "string")
        self.assertEqual(resolve(doc, field(doc, dep, *c, "livenessProbe", "httpGet", "port"))["x-kubernetes-int-or-string"], True)
        self.assertEqual(field(doc, dep, *c, "resources", "limits")["additionalProperties"]["$ref"],
                         "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity")
        field(doc, dep, *c, "securityContext", "capabilities", "drop")
        field(doc, dep, *c, "securityContext", "seccompProfile", "type")
        for f in ("serviceAccountName", "nodeSelector", "tolerations", "imagePullSecrets", "affinity",
                  "securityContext", "initContainers", "topologySpreadConstraints", "priorityClassName",
                  "terminationGracePeriodSeconds", "dnsPolicy", "hostAliases", "runtimeClassName"):
            field(doc, dep, *pod, f)
        vol = pod + ("volumes", "[]")
        self.assertEqual(field(doc, dep, *pod, "volumes")["x-kubernetes-patch-strategy"], "merge,retainKeys")
        field(doc, dep, *vol, "configMap", "items", "[]", "path")
        field(doc, dep, *vol, "secret", "secretName")
        field(doc, dep, *vol, "emptyDir", "sizeLimit")
        field(doc, dep, *vol, "projected", "sources", "[]", "serviceAccountToken", "expirationSeconds")
        field(doc, dep, *vol, "persistentVolumeClaim", "claimName")
        field(doc, dep, *pod, "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution",
              "[]", "podAffinityTerm", "labelSelector", "matchExpressions", "[]", "operator")
        field(doc, dep, *pod, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
              "nodeSelectorTerms", "[]", "matchExpressions", "[]", "values")
        self.assertEqual(field(doc, dep, "spec", "strategy")["x-kubernetes-patch-strategy"], "retainKeys")
        field(doc, dep, "spec", "strategy", "rollingUpdate", "maxSurge")
        self.assertEqual(field(doc, dep, "metadata", "ownerReferences")["x-kubernetes-patch-merge-key"], "uid")
        self.assertEqual(field(doc, dep, "metadata", "finalizers")["x-kubernetes-list-type"], "set")

    def test_other_kinds(self):
        core = DOCS["v1"]
        svc = "io.k8s.api.core.v1.Service"
        ports = field(core, svc, "spec", "ports")
        self.assertEqual((ports["x-kubernetes-patch-merge-key"], ports["x-kubernetes-list-map-keys"]), ("port", ["port", "protocol"]))
        for f in ("selector", "type", "clusterIP", "externalTrafficPolicy", "sessionAffinity"):
            field(core, svc, "spec", f)
        field(core, svc, "spec", "ports", "[]", "targetPort")
        self.assertEqual(field(core, "io.k8s.api.core.v1.ConfigMap", "binaryData")["additionalProperties"]["format"], "byte")
        field(core, "io.k8s.api.core.v1.Secret", "stringData")
        field(core, "io.k8s.api.core.v1.ServiceAccount", "automountServiceAccountToken")
        field(core, "io.k8s.api.core.v1.Event", "involvedObject", "uid")
        field(DOCS["coordination.k8s.io/v1"], "io.k8s.api.coordination.v1.Lease", "spec", "renewTime")
        field(DOCS["events.k8s.io/v1"], "io.k8s.api.events.v1.Event", "regarding", "kind")
        field(DOCS["rbac.authorization.k8s.io/v1"], "io.k8s.api.rbac.v1.ClusterRole", "rules", "[]", "nonResourceURLs")
        field(DOCS["rbac.authorization.k8s.io/v1"], "io.k8s.api.rbac.v1.RoleBinding", "roleRef", "apiGroup")
        crd = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
        field(DOCS["apiextensions.k8s.io/v1"], crd, "spec", "versions", "[]", "schema", "openAPIV3Schema",
              "x-kubernetes-validations", "[]", "messageExpression")
        field(DOCS["apiextensions.k8s.io/v1"], crd, "spec", "versions", "[]", "additionalPrinterColumns", "[]", "jsonPath")


class PatchMeta(unittest.TestCase):
    def test_deployment(self):
        pm = openapi.patch_meta("apps", "v1", "Deployment")
        self.assertEqual(pm["spec.template.spec.containers"],
                         {"strategy": "merge", "mergeKey": "name", "listType": "map", "listMapKeys": ["name"]})
        self.assertEqual(pm["spec.template.spec.containers.env"]["mergeKey"], "name")
        self.assertEqual(pm["spec.template.spec.containers.ports"]["mergeKey"], "containerPort")
        self.assertEqual(pm["spec.template.spec.containers.volumeMounts"]["mergeKey"], "mountPath")
        self.assertEqual(pm["spec.template.spec.volumes"]["strategy"], "merge,retainKeys")
        self.assertEqual(pm["spec.strategy"], {"strategy": "retainKeys"})
        self.assertEqual(pm["metadata.finalizers"], {"strategy": "merge", "listType": "set"})
        self.assertEqual(pm["spec.template.spec.tolerations"], {"listType": "atomic"})

    def test_other_kinds(self):
        self.assertEqual(openapi.patch_meta("", "v1", "Service")["spec.ports"]["mergeKey"], "port")
        self.assertEqual(openapi.patch_meta("", "v1", "Namespace")["status.conditions"]["mergeKey"], "type")
        self.assertEqual(openapi.patch_meta("apps", "v1", "Deployment")["status.conditions"]["mergeKey"], "type")
        self.assertEqual(openapi.patch_meta("", "v1", "Pod")["spec.containers"]["mergeKey"], "name")
        self.assertEqual(openapi.patch_meta("example.com", "v1", "Widget"), {})


class BuiltinSchemas(unittest.TestCase):
    def test_unknown_fields_of_builtins_are_found(self):
        s = openapi.builtin_schema("apps", "v1", "Deployment")
        self.assertEqual(s["properties"]["spec"]["properties"]["strategy"]["properties"]["rollingUpdate"]["properties"]["maxSurge"],
                         {"x-kubernetes-int-or-string": True})
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"a": "b"},
                                                                           "managedFields": [{"fieldsV1": {"f:spec": {}}}]},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                        "template": {"metadata": {"labels": {"a": "b"}, "creationTimestamp": None},
                                     "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicy": "Always",
                                                              "resources": {"limits": {"cpu": 1, "memory": "1Gi"}},
                                                              "ports": [{"containerPort": 80}], "bogus": 1,
                                                              "env": [{"name": "x", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]}],
                                              "nodeSelectorx": {}}}},
               "status": {"replicas": 1}}
        before = copy.deepcopy(dep)
        pruned = schema.prune(dep, s)
        self.assertEqual(pruned, ["spec.template.spec.containers[0].bogus", "spec.template.spec.nodeSelectorx"])
        del before["spec"]["template"]["spec"]["containers"][0]["bogus"]
        del before["spec"]["template"]["spec"]["nodeSelectorx"]
        self.assertEqual(dep, before)
        self.assertIsNone(openapi.builtin_schema("example.com", "v1", "Widget"))

    def test_crd_objects_keep_their_schemas(self):
        s = openapi.builtin_schema("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
        crd = copy.deepcopy(CRD)
        crd["spec"]["unknownThing"] = 1
        self.assertEqual(schema.prune(crd, s), ["spec.unknownThing"])
        self.assertEqual(crd, CRD)


class CRDDocuments(unittest.TestCase):
    def test_widget_document(self):
        doc = openapi.crd_document("example.com", "v1", [CRD])
        paths = doc["paths"]
        self.assertEqual(sorted(paths), [
            "/apis/example.com/v1/namespaces/{namespace}/widgets",
            "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}",
            "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/scale",
            "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status",
            "/apis/example.com/v1/widgets"])
        op = paths["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
        self.assertEqual(op["x-kubernetes-group-version-kind"], {"group": "example.com", "kind": "Widget", "version": "v1"})
        self.assertIn("fieldValidation", [p["name"] for p in op["parameters"]])
        self.assertEqual(sorted(op["requestBody"]["content"]),
                         ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"])
        comps = doc["components"]["schemas"]
        w = comps["com.example.v1.Widget"]
        self.assertEqual(w["x-kubernetes-group-version-kind"], [{"group": "example.com", "kind": "Widget", "version": "v1"}])
        self.assertEqual(w["properties"]["metadata"]["allOf"][0]["$ref"],
                         "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
        self.assertEqual(w["properties"]["spec"]["properties"]["services"]["x-kubernetes-list-map-keys"], ["name"])
        self.assertIn("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", comps)
        self.assertIn("io.k8s.api.autoscaling.v1.Scale", comps)
        self.assertEqual(comps["com.example.v1.WidgetList"]["properties"]["items"]["items"]["$ref"],
                         "#/components/schemas/com.example.v1.Widget")
        self.assertEqual(CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["metadata"],
                         {"type": "object", "properties": {"name": {"type": "string", "maxLength": 40}}})  # input untouched

    def test_other_versions_and_groups(self):
        doc = openapi.crd_document("example.com", "v1beta1", [CRD])
        self.assertIn("/apis/example.com/v1beta1/namespaces/{namespace}/widgets/{name}", doc["paths"])
        self.assertNotIn("/apis/example.com/v1beta1/namespaces/{namespace}/widgets/{name}/status", doc["paths"])
        self.assertEqual(openapi.crd_document("other.io", "v1", [CRD])["paths"], {})


if __name__ == "__main__":
    unittest.main()
