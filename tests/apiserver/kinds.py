"""Per-kind registry rules for the built-in kinds: metadata validation, defaulting, status
preparation and the small validations kubectl users hit (reference §3, §8-§10)."""

import re

from errors import cause, quote_go
from util import clone, get_path

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")
_QNAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")

MSG_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character "
                 "(e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                 "(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
MSG_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
             "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
             "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
MSG_DNS1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
               "start with an alphabetic character, and end with an alphanumeric character "
               "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
               "'[a-z]([-a-z0-9]*[a-z0-9])?')")
MSG_LABEL_VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, "
                   "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
                   "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                   "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
MSG_QNAME = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
             "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
             "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def inv(field, value, detail):
    return cause("FieldValueInvalid", field, "Invalid value: %s: %s" % (quote_go(value), detail))


def req(field, detail=""):
    return cause("FieldValueRequired", field, "Required value" + (": " + detail if detail else ""))


def forbid(field, detail):
    return cause("FieldValueForbidden", field, "Forbidden: " + detail)


def unsupported(field, value, allowed):
    return cause("FieldValueNotSupported", field, "Unsupported value: %s: supported values: %s"
                 % (quote_go(value), ", ".join('"%s"' % a for a in allowed)))


def check_name(kind_style, field, name):
    if kind_style == "label":
        if len(name) > 63:
            return [inv(field, name, "must be no more than 63 characters")]
        if not _LABEL.match(name):
            return [inv(field, name, MSG_LABEL)]
    elif kind_style == "dns1035":
        if len(name) > 63:
            return [inv(field, name, "must be no more than 63 characters")]
        if not _DNS1035.match(name):
            return [inv(field, name, MSG_DNS1035)]
    elif kind_style == "path":
        if name in (".", ".."):
            return [inv(field, name, 'may not be \'%s\'' % name)]
        for bad in ("/", "%"):
            if bad in name:
                return [inv(field, name, "may not contain '%s'" % bad)]
    else:
        if len(name) > 253:
            return [inv(field, name, "must be no more than 253 characters")]
        if not _SUBDOMAIN.match(name):
            return [inv(field, name, MSG_SUBDOMAIN)]
    return []


_VALID_QNAMES = set()  # keys found valid: the same label and annotation keys come again and again


def check_qualified_name(field, key):
    if key in _VALID_QNAMES:
        return []
    parts = key.split("/")
    if len(parts) > 2:
        return [inv(field, key, "a qualified name " + MSG_QNAME)]
    name = parts[-1]
    if not name:
        return [req(field, "name part must be non-empty")] if len(parts) == 2 else \
            [inv(field, key, "name part must be non-empty")]
    if len(name) > 63:
        return [inv(field, key, "name part must be no more than 63 characters")]
    if not _QNAME.match(name):
        return [inv(field, key, MSG_QNAME)]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix or len(prefix) > 253 or not _SUBDOMAIN.match(prefix):
            return [inv(field, key, "prefix part " + MSG_SUBDOMAIN)]
    if len(_VALID_QNAMES) >= 50000:
        _VALID_QNAMES.clear()
    _VALID_QNAMES.add(key)
    return []


NAME_STYLE = {"namespaces": "label", "services": "dns1035",
              "roles": "path", "rolebindings": "path", "clusterroles": "path",
              "clusterrolebindings": "path"}


def validate_meta(rt, obj, old=None):
    """ObjectMeta rules shared by every kind; returns causes."""
    m = obj.get("metadata") or {}
    causes = []
    name = m.get("name")
    if not name:
        if old is None:
            causes.append(req("metadata.name", "name or generateName is required"))
    elif old is None:
        style = NAME_STYLE.get(rt.plural, "subdomain") if rt.crd is None else "subdomain"
        causes += check_name(style, "metadata.name", name)
    if rt.namespaced and not m.get("namespace"):
        causes.append(req("metadata.namespace"))
    labels = m.get("labels")
    if labels is not None:
        if not isinstance(labels, dict):
            causes.append(inv("metadata.labels", labels, "must be a map"))
        else:
            for k, v in labels.items():
                causes += check_qualified_name("metadata.labels", k)
                if not isinstance(v, str):
                    causes.append(inv("metadata.labels", v, "must be a string"))
                elif len(v) > 63:
                    causes.append(inv("metadata.labels", v, "must be no more than 63 characters"))
                elif not _LABEL_VALUE.match(v):
                    causes.append(inv("metadata.labels", v, MSG_LABEL_VALUE))
    ann = m.get("annotations")
    if isinstance(ann, dict):
        total = 0
        for k, v in ann.items():
            causes += check_qualified_name("metadata.annotations", k.lower())
            total += len(k) + len(v if isinstance(v, str) else "")
        if total > 262144:
            causes.append(cause("FieldValueTooLong", "metadata.annotations",
                                "Too long: may not be more than 262144 bytes"))
    fins = m.get("finalizers")
    if isinstance(fins, list):
        for i, f in enumerate(fins):
            if not isinstance(f, str):
                causes.append(inv("metadata.finalizers[%d]" % i, f, "must be a string"))
                continue
            causes += check_qualified_name("metadata.finalizers[%d]" % i, f)
        if "orphan" in fins and "foregroundDeletion" in fins:
            causes.append(inv("metadata.finalizers", fins,
                              "finalizer orphan and foregroundDeletion cannot be both set"))
    refs = m.get("ownerReferences")
    if isinstance(refs, list):
        controllers = 0
        for i, r in enumerate(refs):
            f = "metadata.ownerReferences[%d]" % i
            if not isinstance(r, dict):
                causes.append(inv(f, r, "must be an object"))
                continue
            for k in ("apiVersion", "kind", "name", "uid"):
                if not r.get(k):
                    causes.append(inv(f + "." + k, r.get(k, ""),
                                      "%s must not be empty" % ("uid" if k == "uid" else k)))
            if r.get("controller"):
                controllers += 1
        if controllers > 1:
            causes.append(inv("metadata.ownerReferences", refs,
                              "Only one reference can have Controller set to true. Found "
                              "\"true\" in references for %s" % ", ".join(
                                  "%s/%s" % (r.get("kind"), r.get("name")) for r in refs
                                  if isinstance(r, dict) and r.get("controller"))))
    return causes


def immutable(field, value):
    return inv(field, value, "field is immutable")


# ---- defaults ---------------------------------------------------------------------------
def default_container(c):
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    img = c.get("image", "")
    if "imagePullPolicy" not in c:
        tag = img.rsplit("/", 1)[-1]
        c["imagePullPolicy"] = "Always" if (":" not in tag or tag.endswith(":latest")) and \
            "@" not in img else "IfNotPresent"
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        pr = c.get(probe)
        if isinstance(pr, dict):
            pr.setdefault("timeoutSeconds", 1)
            pr.setdefault("periodSeconds", 10)
            pr.setdefault("successThreshold", 1)
            pr.setdefault("failureThreshold", 3)
            hg = pr.get("httpGet")
            if isinstance(hg, dict):
                hg.setdefault("path", "/")
                hg.setdefault("scheme", "HTTP")
    for e in c.get("env") or []:
        vf = e.get("valueFrom") if isinstance(e, dict) else None
        if isinstance(vf, dict) and isinstance(vf.get("fieldRef"), dict):
            vf["fieldRef"].setdefault("apiVersion", "v1")


def default_pod_spec(spec):
    if not isinstance(spec, dict):
        return
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(c, dict):
            default_container(c)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    if spec.get("serviceAccountName") and "serviceAccount" not in spec:
        spec["serviceAccount"] = spec["serviceAccountName"]
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        for src in ("configMap", "secret"):
            if isinstance(v.get(src), dict):
                v[src].setdefault("defaultMode", 420)
        if isinstance(v.get("projected"), dict):
            v["projected"].setdefault("defaultMode", 420)


def default_deployment(obj):
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    st = spec.setdefault("strategy", {})
    st.setdefault("type", "RollingUpdate")
    if st["type"] == "RollingUpdate":
        ru = st.setdefault("rollingUpdate", {})
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    tmpl = spec.get("template")
    if isinstance(tmpl, dict):
        tmpl.setdefault("metadata", {})
        default_pod_spec(tmpl.get("spec"))


def default_replicaset(obj):
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    tmpl = spec.get("template")
    if isinstance(tmpl, dict):
        default_pod_spec(tmpl.get("spec"))


def default_service(obj):
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for p in spec.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
            if "targetPort" not in p and "port" in p:
                p["targetPort"] = p["port"]
    if spec.get("type") in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec.setdefault("internalTrafficPolicy", "Cluster")


def default_secret(obj):
    import base64

    obj.setdefault("type", "Opaque")
    sd = obj.pop("stringData", None)
    if isinstance(sd, dict) and sd:
        data = dict(obj.get("data") or {})
        for k, v in sd.items():
            if isinstance(v, str):
                data[k] = base64.b64encode(v.encode("utf-8")).decode()
        obj["data"] = data


DEFAULTERS = {
    "pods": lambda o: default_pod_spec(o.setdefault("spec", {})),
    "deployments": default_deployment,
    "replicasets": default_replicaset,
    "services": default_service,
    "secrets": default_secret,
}


def default(rt, obj):
    if rt.crd is None and rt.group in ("", "apps"):
        fn = DEFAULTERS.get(rt.plural)
        if fn:
            fn(obj)


# ---- create/update preparation -------------------------------------------------------------
def prepare_create(rt, obj):
    """Status and other fields the registry resets on create."""
    p = rt.plural
    if rt.crd is not None:
        return
    if p == "namespaces" and not rt.group:
        spec = obj.setdefault("spec", {})
        fins = spec.setdefault("finalizers", ["kubernetes"])
        if "kubernetes" not in fins:
            fins.append("kubernetes")
        obj["status"] = {"phase": "Active"}
    elif p in ("deployments", "replicasets") and rt.group == "apps":
        obj.pop("status", None)
        obj["status"] = {}
    elif p == "pods" and not rt.group:
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    elif p == "services" and not rt.group:
        obj["status"] = {"loadBalancer": {}}
    elif p == "customresourcedefinitions":
        obj.pop("status", None)


def set_namespace_label(obj):
    m = obj["metadata"]
    labels = m.get("labels")
    labels = dict(labels) if isinstance(labels, dict) else {}
    labels["kubernetes.io/metadata.name"] = m["name"]
    m["labels"] = labels


# ---- validation of specs ---------------------------------------------------------------------
def _validate_containers(prefix, spec):
    causes = []
    cs = spec.get("containers") if isinstance(spec, dict) else None
    if not cs:
        causes.append(req(prefix + ".containers"))
        return causes
    seen = set()
    for i, c in enumerate(cs):
        f = "%s.containers[%d]" % (prefix, i)
        if not isinstance(c, dict):
            causes.append(inv(f, c, "must be an object"))
            continue
        if not c.get("name"):
            causes.append(req(f + ".name"))
        else:
            causes += check_name("label", f + ".name", c["name"])
            if c["name"] in seen:
                causes.append(cause("FieldValueDuplicate", f + ".name",
                                    "Duplicate value: %s" % quote_go(c["name"])))
            seen.add(c["name"])
        if not c.get("image"):
            causes.append(req(f + ".image"))
        for j, p in enumerate(c.get("ports") or []):
            cp = p.get("containerPort") if isinstance(p, dict) else None
            if not isinstance(cp, int) or cp < 1 or cp > 65535:
                causes.append(inv("%s.ports[%d].containerPort" % (f, j), cp,
                                  "must be between 1 and 65535, inclusive"))
    return causes


def validate(rt, obj, old=None):
    """Kind-specific validation; returns causes."""
    if rt.crd is not None:
        return []
    p = rt.plural
    g = rt.group
    causes = []
    if g == "apps" and p in ("deployments", "replicasets"):
        spec = obj.get("spec") or {}
        sel = spec.get("selector")
        r = spec.get("replicas")
        if not isinstance(r, int) or r < 0:
            causes.append(inv("spec.replicas", r, "must be greater than or equal to 0"))
        if not isinstance(sel, dict) or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            causes.append(req("spec.selector"))
        tmpl = spec.get("template") or {}
        tlabels = (tmpl.get("metadata") or {}).get("labels") or {}
        if isinstance(sel, dict):
            from labelsel import from_label_selector

            s = from_label_selector(sel)
            if (sel.get("matchLabels") or sel.get("matchExpressions")) and not s.matches(tlabels):
                causes.append(inv("spec.template.metadata.labels", tlabels,
                                  "`selector` does not match template `labels`"))
        if old is not None and (old.get("spec") or {}).get("selector") != sel:
            causes.append(immutable("spec.selector", sel))
        causes += _validate_containers("spec.template.spec", tmpl.get("spec"))
    elif g == "" and p == "pods":
        causes += _validate_containers("spec", obj.get("spec"))
    elif g == "" and p == "services":
        spec = obj.get("spec") or {}
        t = spec.get("type", "ClusterIP")
        if t not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            causes.append(unsupported("spec.type", t,
                                      ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]))
        ports = spec.get("ports") or []
        if not ports and t != "ExternalName" and spec.get("clusterIP") != "None":
            causes.append(req("spec.ports"))
        for i, port in enumerate(ports):
            pv = port.get("port") if isinstance(port, dict) else None
            if not isinstance(pv, int) or pv < 1 or pv > 65535:
                causes.append(inv("spec.ports[%d].port" % i, pv,
                                  "must be between 1 and 65535, inclusive"))
            if len(ports) > 1 and isinstance(port, dict) and not port.get("name"):
                causes.append(req("spec.ports[%d].name" % i))
        if old is not None:
            oip = (old.get("spec") or {}).get("clusterIP")
            nip = spec.get("clusterIP")
            if oip and nip and oip != nip:
                causes.append(immutable("spec.clusterIPs[0]", nip))
    elif g == "" and p in ("configmaps", "secrets"):
        if old is not None and old.get("immutable") and (
                old.get("data") != obj.get("data") or
                old.get("binaryData") != obj.get("binaryData")):
            what = "data" if old.get("data") != obj.get("data") else "binaryData"
            causes.append(forbid(what, "field is immutable when `immutable` is set"))
        for k in list((obj.get("data") or {}).keys()) + list((obj.get("binaryData") or {}).keys()):
            if not re.fullmatch(r"[-._a-zA-Z0-9]+", k) or len(k) > 253:
                causes.append(inv("data", k, "a valid config key must consist of alphanumeric "
                                  "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  "
                                  "or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
    elif g == "coordination.k8s.io" and p == "leases":
        spec = obj.get("spec") or {}
        d = spec.get("leaseDurationSeconds")
        if d is not None and (not isinstance(d, int) or d <= 0):
            causes.append(inv("spec.leaseDurationSeconds", d, "must be greater than 0"))
        lt = spec.get("leaseTransitions")
        if lt is not None and (not isinstance(lt, int) or lt < 0):
            causes.append(inv("spec.leaseTransitions", lt, "must be greater than or equal to 0"))
    elif g == "events.k8s.io" and p == "events":
        causes += _validate_event_v1(event_to_v1(obj) if obj.get("apiVersion") == "v1" else obj,
                                     old)
    elif g == "rbac.authorization.k8s.io":
        if p in ("rolebindings", "clusterrolebindings"):
            ref = obj.get("roleRef") or {}
            if not ref.get("name"):
                causes.append(req("roleRef.name"))
            if ref.get("kind") not in ("Role", "ClusterRole"):
                causes.append(unsupported("roleRef.kind", ref.get("kind", ""),
                                          ["ClusterRole", "Role"]))
            if p == "clusterrolebindings" and ref.get("kind") == "Role":
                causes.append(unsupported("roleRef.kind", "Role", ["ClusterRole"]))
            if old is not None and (old.get("roleRef") or {}) != ref:
                causes.append(inv("roleRef", ref, "cannot change roleRef"))
            for i, s in enumerate(obj.get("subjects") or []):
                if s.get("kind") not in ("ServiceAccount", "User", "Group"):
                    causes.append(unsupported("subjects[%d].kind" % i, s.get("kind", ""),
                                              ["Group", "ServiceAccount", "User"]))
                if not s.get("name"):
                    causes.append(req("subjects[%d].name" % i))
        else:
            for i, r in enumerate(obj.get("rules") or []):
                if not r.get("verbs"):
                    causes.append(req("rules[%d].verbs" % i, "verbs must contain at least one "
                                      "value"))
    return causes


def _validate_event_v1(obj, old):
    causes = []
    if not obj.get("eventTime"):
        causes.append(req("eventTime"))
    t = obj.get("type")
    if t not in ("Normal", "Warning"):
        causes.append(unsupported("type", t or "", ["Normal", "Warning"]))
    if not obj.get("reportingController"):
        causes.append(req("reportingController"))
    if not obj.get("reportingInstance"):
        causes.append(req("reportingInstance"))
    for f in ("action", "reason"):
        v = obj.get(f)
        if not v:
            causes.append(req(f))
        elif len(v) > 128:
            causes.append(inv(f, v, "can have at most 128 characters"))
    if len(obj.get("note") or "") > 1024:
        causes.append(inv("note", "", "can have at most 1024 characters"))
    series = obj.get("series")
    if isinstance(series, dict):
        if not isinstance(series.get("count"), int) or series["count"] < 2:
            causes.append(inv("series.count", series.get("count"), "should be at least 2"))
        if not series.get("lastObservedTime"):
            causes.append(req("series.lastObservedTime"))
    for f in ("deprecatedSource", "deprecatedFirstTimestamp", "deprecatedLastTimestamp",
              "deprecatedCount"):
        if obj.get(f):
            causes.append(inv(f, "", "needs to be unset"))
    return causes


# ---- core <-> events.k8s.io conversion -------------------------------------------------------
_EV_MAP = [("note", "message"), ("regarding", "involvedObject"),
           ("reportingController", "reportingComponent"), ("deprecatedSource", "source"),
           ("deprecatedFirstTimestamp", "firstTimestamp"),
           ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count")]
_EV_SAME = ["eventTime", "series", "reportingInstance", "action", "reason", "related", "type"]


def event_to_v1(core):
    out = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": core.get("metadata")}
    for f in _EV_SAME:
        if core.get(f) not in (None, "", {}):
            out[f] = core[f]
    for v1, c in _EV_MAP:
        val = core.get(c)
        if val not in (None, "", {}, 0):
            out[v1] = val
    return out


def event_from_v1(v1):
    out = {"apiVersion": "v1", "kind": "Event", "metadata": clone(v1.get("metadata") or {})}
    for f in _EV_SAME:
        if f in v1:
            out[f] = clone(v1[f])
    for v1f, c in _EV_MAP:
        if v1f in v1:
            out[c] = clone(v1[v1f])
    out.setdefault("involvedObject", {})
    out.setdefault("source", {})
    return out


def event_core_defaults(obj):
    obj.setdefault("reportingComponent", "")
    obj.setdefault("reportingInstance", "")
    obj.setdefault("involvedObject", {})
    obj.setdefault("source", {})
    if "eventTime" not in obj:
        obj["eventTime"] = None


def field_values(rt, obj):
    """Field selector values of obj for rt (metadata.name/namespace plus kind fields)."""
    m = obj["metadata"]
    out = {"metadata.name": m.get("name", "")}
    if rt.namespaced:
        out["metadata.namespace"] = m.get("namespace", "")
    for f, path in rt.field_fields.items():
        v = get_path(obj, path)
        if v is None:
            v = ""
        elif isinstance(v, bool):
            v = "true" if v else "false"
        elif not isinstance(v, str):
            v = str(v)
        out[f] = v
    return out
