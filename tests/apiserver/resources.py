"""The kinds the stand-in serves: built-in resource types and types made from stored CRDs."""

import threading

STD_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
CR_VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]

SMP = "application/strategic-merge-patch+json"
PATCH_TYPES_CR = ["application/json-patch+json", "application/merge-patch+json",
                  "application/apply-patch+yaml"]
PATCH_TYPES_BUILTIN = ["application/json-patch+json", "application/merge-patch+json", SMP,
                       "application/apply-patch+yaml"]


class ResourceType:
    """One served resource (group, version, plural) and the rules its registry follows."""

    def __init__(self, group, version, plural, kind, namespaced, singular=None, short_names=None,
                 categories=None, subresources=(), generation=False, unconditional_update=True,
                 create_on_update=False, strategic=True, return_deleted=False, field_fields=None,
                 storage_key=None, crd=None, crd_version=None, verbs=None, storage_version=None):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.list_kind = kind + "List"
        self.namespaced = namespaced
        self.singular = singular if singular is not None else kind.lower()
        self.short_names = short_names or []
        self.categories = categories or []
        self.subresources = set(subresources)
        self.generation = generation
        self.unconditional_update = unconditional_update
        self.create_on_update = create_on_update
        self.strategic = strategic
        self.return_deleted = return_deleted
        self.field_fields = field_fields or {}
        self.storage_key = storage_key or ((group + "/" if group else "") + plural)
        self.crd = crd
        self.crd_version = crd_version
        self.verbs = verbs or (CR_VERBS if crd is not None else STD_VERBS)
        self.storage_version = storage_version or version
        self.api_version = (group + "/" + version) if group else version
        self.qualified_resource = plural + ("." + group if group else "")
        self.qualified_kind = kind + ("." + group if group else "")
        self.status_subresource = "status" in self.subresources

    @property
    def gv(self):
        return self.api_version

    def patch_types(self):
        return PATCH_TYPES_BUILTIN if self.strategic else PATCH_TYPES_CR

    def schema(self):
        """The openAPIV3Schema of a CR version, else None."""
        if self.crd_version is None:
            return None
        return ((self.crd_version.get("schema") or {}).get("openAPIV3Schema"))

    def to_version(self, obj):
        """Stored object -> this endpoint's version (conversion strategy None / shared storage)."""
        if obj.get("apiVersion") != self.api_version:
            obj["apiVersion"] = self.api_version
        return obj

    def selectable_fields(self):
        """Field selector names this kind supports besides metadata.name/namespace."""
        return self.field_fields


def _fields(*names):
    return {n: tuple(n.split(".")) for n in names}


EVENT_FIELDS = _fields("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                       "involvedObject.uid", "involvedObject.apiVersion",
                       "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                       "reportingComponent", "type")
EVENT_FIELDS["source"] = ("source", "component")

EVENT_V1_FIELDS = {
    "regarding.kind": ("involvedObject", "kind"),
    "regarding.namespace": ("involvedObject", "namespace"),
    "regarding.name": ("involvedObject", "name"),
    "regarding.uid": ("involvedObject", "uid"),
    "regarding.apiVersion": ("involvedObject", "apiVersion"),
    "regarding.resourceVersion": ("involvedObject", "resourceVersion"),
    "regarding.fieldPath": ("involvedObject", "fieldPath"),
    "reason": ("reason",),
    "reportingController": ("reportingComponent",),
    "type": ("type",),
}


def builtin_types():
    t = []
    add = t.append
    add(ResourceType("", "v1", "namespaces", "Namespace", False, short_names=["ns"],
                     subresources=("status", "finalize"), field_fields=_fields("status.phase")))
    add(ResourceType("", "v1", "services", "Service", True, short_names=["svc"], categories=["all"],
                     subresources=("status",),
                     field_fields=_fields("spec.clusterIP", "spec.type")))
    add(ResourceType("", "v1", "configmaps", "ConfigMap", True, short_names=["cm"]))
    add(ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, short_names=["sa"]))
    add(ResourceType("", "v1", "secrets", "Secret", True, field_fields=_fields("type")))
    add(ResourceType("", "v1", "pods", "Pod", True, short_names=["po"], categories=["all"],
                     subresources=("status",), return_deleted=True,
                     field_fields=_fields("spec.nodeName", "spec.restartPolicy",
                                          "spec.schedulerName", "spec.serviceAccountName",
                                          "spec.hostNetwork", "status.phase", "status.podIP",
                                          "status.nominatedNodeName")))
    add(ResourceType("", "v1", "events", "Event", True, short_names=["ev"], create_on_update=True,
                     field_fields=EVENT_FIELDS))
    add(ResourceType("apps", "v1", "deployments", "Deployment", True, short_names=["deploy"],
                     categories=["all"], subresources=("status", "scale"), generation=True))
    add(ResourceType("apps", "v1", "replicasets", "ReplicaSet", True, short_names=["rs"],
                     categories=["all"], subresources=("status", "scale"), generation=True,
                     field_fields=_fields("status.replicas")))
    add(ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True,
                     unconditional_update=False, create_on_update=True))
    add(ResourceType("events.k8s.io", "v1", "events", "Event", True, short_names=["ev"],
                     create_on_update=True, storage_key="events", field_fields=EVENT_V1_FIELDS))
    for plural, kind, ns in (("roles", "Role", True), ("rolebindings", "RoleBinding", True),
                             ("clusterroles", "ClusterRole", False),
                             ("clusterrolebindings", "ClusterRoleBinding", False)):
        add(ResourceType("rbac.authorization.k8s.io", "v1", plural, kind, ns))
    # CRD objects are typed built-ins served by the generic installer: strategic merge patch is
    # accepted (kubectl apply and helm upgrade send it); only custom resources refuse it.
    add(ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                     "CustomResourceDefinition", False, short_names=["crd", "crds"],
                     subresources=("status",), generation=True, unconditional_update=False))
    return t


class Registry:
    """Maps (group, version, plural) to ResourceType; CR types are rebuilt when CRDs change."""

    def __init__(self):
        self.lock = threading.Lock()
        self.builtins = builtin_types()
        self.crd_types = []
        self.generation = 0
        self._rebuild()

    def _rebuild(self):
        by = {}
        for rt in self.builtins + self.crd_types:
            by[(rt.group, rt.version, rt.plural)] = rt
        self.by_gvr = by
        self.generation += 1

    def set_crd_types(self, types):
        with self.lock:
            self.crd_types = types
            self._rebuild()

    def lookup(self, group, version, plural):
        return self.by_gvr.get((group, version, plural))

    def all(self):
        return list(self.builtins) + list(self.crd_types)

    def groups(self):
        """Ordered {group: [versions in preference order]} for discovery (core group excluded)."""
        out = {}
        for rt in self.all():
            if rt.group == "":
                continue
            vs = out.setdefault(rt.group, [])
            if rt.version not in vs:
                vs.append(rt.version)
        for g, vs in out.items():
            pref = [rt for rt in self.crd_types if rt.group == g]
            if pref:
                order = pref[0].crd.get("_version_order") or vs
                vs.sort(key=lambda v: order.index(v) if v in order else 99)
        return out

    def for_kind(self, api_version, kind):
        """The resource type serving kind in api_version (e.g. for ownerReferences)."""
        for rt in self.all():
            if rt.api_version == api_version and rt.kind == kind:
                if rt.storage_key == "events" and rt.group:
                    continue
                return rt
        return None

    def by_storage(self, key):
        """The preferred resource type for a storage key."""
        for rt in self.builtins + self.crd_types:
            if rt.storage_key == key:
                if rt.crd is not None and rt.version != rt.storage_version:
                    continue
                return rt
        return None
