"""Discovery documents (reference §2.2-§2.3): legacy APIVersions / APIGroupList /
APIResourceList and aggregated apidiscovery.k8s.io/v2 (or v2beta1)."""

import base64
import hashlib

import util

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGG_V2B1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def aggregated_wanted(accept):
    """The aggregated media type to answer with, or None for legacy JSON."""
    if not accept:
        return None
    for part in accept.split(","):
        params = {}
        bits = [b.strip() for b in part.split(";")]
        if bits[0] != "application/json":
            continue
        for b in bits[1:]:
            k, _, v = b.partition("=")
            params[k.strip()] = v.strip()
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == \
                "APIGroupDiscoveryList":
            if params.get("v") == "v2":
                return AGG_V2
            if params.get("v") == "v2beta1":
                return AGG_V2B1
    return None


def _hash(rt):
    d = hashlib.sha256(("%s/%s/%s" % (rt.group, rt.storage_version, rt.kind)).encode()).digest()
    return base64.b64encode(d[:8]).decode()


def _sub_entries(rt):
    out = []
    for sub in sorted(rt.subresources):
        e = {"name": rt.plural + "/" + sub, "singularName": "", "namespaced": rt.namespaced,
             "kind": rt.kind, "verbs": ["get", "patch", "update"]}
        if sub == "scale":
            e.update({"group": "autoscaling", "version": "v1", "kind": "Scale"})
        if sub == "finalize":
            e["verbs"] = ["update"]
        out.append(e)
    return out


def resource_list(registry, group, version):
    rts = [rt for rt in registry.all() if rt.group == group and rt.version == version]
    if not rts:
        return None
    res = []
    for rt in sorted(rts, key=lambda r: r.plural):
        e = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
             "kind": rt.kind, "verbs": list(rt.verbs)}
        if rt.short_names:
            e["shortNames"] = list(rt.short_names)
        if rt.categories:
            e["categories"] = list(rt.categories)
        e["storageVersionHash"] = _hash(rt)
        res.append(e)
        res.extend(_sub_entries(rt))
    doc = {"kind": "APIResourceList", "groupVersion": (group + "/" + version) if group else version,
           "resources": res}
    if group:
        doc["apiVersion"] = "v1"
    return doc


def api_versions(port):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": "127.0.0.1:%d" % port}]}


def _group_entry(group, versions):
    vs = [{"groupVersion": group + "/" + v, "version": v} for v in versions]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


def group_list(registry):
    groups = registry.groups()
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_entry(g, vs) for g, vs in groups.items()]}


def group(registry, name):
    vs = registry.groups().get(name)
    if not vs:
        return None
    d = _group_entry(name, vs)
    d["kind"] = "APIGroup"
    d["apiVersion"] = "v1"
    return d


def _agg_resource(rt):
    e = {"resource": rt.plural, "responseKind": {"group": rt.group, "version": rt.version,
                                                  "kind": rt.kind},
         "scope": "Namespaced" if rt.namespaced else "Cluster",
         "singularResource": rt.singular, "verbs": list(rt.verbs)}
    if rt.short_names:
        e["shortNames"] = list(rt.short_names)
    if rt.categories:
        e["categories"] = list(rt.categories)
    subs = []
    for sub in sorted(rt.subresources):
        s = {"subresource": sub, "responseKind": {"group": rt.group, "version": rt.version,
                                                   "kind": rt.kind},
             "verbs": ["get", "patch", "update"]}
        if sub == "scale":
            s["responseKind"] = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
        if sub == "finalize":
            s["verbs"] = ["update"]
        subs.append(s)
    if subs:
        e["subresources"] = subs
    return e


def aggregated(registry, core, media):
    items = []
    if core:
        rts = [rt for rt in registry.all() if rt.group == ""]
        items.append({"metadata": {"creationTimestamp": None},
                      "versions": [{"version": "v1", "freshness": "Current",
                                    "resources": [_agg_resource(rt) for rt in
                                                  sorted(rts, key=lambda r: r.plural)]}]})
    else:
        for g, vs in registry.groups().items():
            versions = []
            for v in vs:
                rts = [rt for rt in registry.all() if rt.group == g and rt.version == v]
                versions.append({"version": v, "freshness": "Current",
                                 "resources": [_agg_resource(rt) for rt in
                                               sorted(rts, key=lambda r: r.plural)]})
            items.append({"metadata": {"name": g, "creationTimestamp": None},
                          "versions": versions})
    av = "apidiscovery.k8s.io/v2" if media == AGG_V2 else "apidiscovery.k8s.io/v2beta1"
    return {"kind": "APIGroupDiscoveryList", "apiVersion": av, "metadata": {}, "items": items}


class Cache:
    """Encoded discovery answers, rebuilt when the registry changes."""

    def __init__(self, registry):
        self.registry = registry
        self.gen = -1
        self.docs = {}

    def get(self, key, build):
        if self.gen != self.registry.generation:
            self.docs = {}
            self.gen = self.registry.generation
        d = self.docs.get(key)
        if d is None:
            obj = build()
            d = None if obj is None else util.dumpb(obj)
            self.docs[key] = d
        return d
