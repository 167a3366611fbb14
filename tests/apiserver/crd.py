"""CustomResourceDefinition rules (reference §7): defaults, validation, status conditions and
the resource types a stored CRD serves."""

import re

from errors import cause
from kinds import inv, req, unsupported
from resources import ResourceType
from util import now_rfc3339

try:
    import schema as schema_mod
except ImportError:  # pragma: no cover - the module is part of the stand-in
    schema_mod = None

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def apply_defaults(crd):
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind") and not names.get("singular"):
        names["singular"] = names["kind"].lower()
    if names.get("kind") and not names.get("listKind"):
        names["listKind"] = names["kind"] + "List"
    conv = spec.setdefault("conversion", {})
    conv.setdefault("strategy", "None")
    for v in spec.get("versions") or []:
        if not isinstance(v, dict):
            continue
        for col in v.get("additionalPrinterColumns") or []:
            if isinstance(col, dict):
                col.setdefault("priority", 0)
    return crd


def validate(crd, old=None):
    causes = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    plural = names.get("plural") or ""
    name = (crd.get("metadata") or {}).get("name", "")
    if not group:
        causes.append(req("spec.group"))
    elif "." not in group:
        causes.append(inv("spec.group", group, "should be a domain with at least one dot"))
    if not plural:
        causes.append(req("spec.names.plural"))
    if not names.get("kind"):
        causes.append(req("spec.names.kind"))
    if plural and group and name != plural + "." + group:
        causes.append(inv("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    for f in ("plural", "singular"):
        v = names.get(f)
        if v and not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", v):
            causes.append(inv("spec.names." + f, v, "a lowercase RFC 1123 label must consist of "
                              "lower case alphanumeric characters or '-', and must start and end "
                              "with an alphanumeric character"))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        causes.append(unsupported("spec.scope", scope or "", ["Cluster", "Namespaced"]))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(inv("spec.versions", versions, "must have exactly one version marked as "
                          "storage version"))
    seen = set()
    storage = 0
    for i, v in enumerate(versions):
        f = "spec.versions[%d]" % i
        vn = v.get("name") if isinstance(v, dict) else None
        if not vn:
            causes.append(req(f + ".name"))
            continue
        if vn in seen:
            causes.append(cause("FieldValueInvalid", "spec.versions",
                                'Invalid value: %s: must contain unique version names' % "[]"))
        seen.add(vn)
        if v.get("storage"):
            storage += 1
        sch = (v.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(sch, dict):
            causes.append(req(f + ".schema.openAPIV3Schema", "schemas are required"))
        elif schema_mod is not None:
            causes += schema_mod.check_structural(sch, f + ".schema.openAPIV3Schema")
    if versions and storage != 1:
        causes.append(inv("spec.versions", "[]" if not versions else versions,
                          "must have exactly one version marked as storage version"))
    if old is not None:
        if (old.get("spec") or {}).get("scope") != scope:
            causes.append(inv("spec.scope", scope, "field is immutable"))
    return causes


def version_order(crd):
    """Served versions in preference order (Kubernetes version priority)."""
    def prio(v):
        m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
        if not m:
            return (3, 0, 0, v)
        major = int(m.group(1))
        if not m.group(2):
            return (0, -major, 0, v)
        return (1 if m.group(2) == "beta" else 2, -major, -int(m.group(3)), v)

    vs = [v["name"] for v in (crd.get("spec") or {}).get("versions") or [] if v.get("served")]
    return sorted(vs, key=prio)


def set_status(crd, conflicts):
    """NamesAccepted / Established conditions; conflicts = message or None."""
    spec = crd["spec"]
    names = spec.get("names") or {}
    st = crd.get("status") if isinstance(crd.get("status"), dict) else {}
    old_conds = {c.get("type"): c for c in st.get("conditions") or [] if isinstance(c, dict)}

    def cond(t, status, reason, message):
        prev = old_conds.get(t)
        ts = prev.get("lastTransitionTime") if prev and prev.get("status") == status else None
        return {"type": t, "status": status, "lastTransitionTime": ts or now_rfc3339(),
                "reason": reason, "message": message}

    conds = []
    if conflicts:
        conds.append(cond("NamesAccepted", "False", conflicts[0], conflicts[1]))
        conds.append(cond("Established", "False", "NotAccepted", "not all names are accepted"))
    else:
        conds.append(cond("NamesAccepted", "True", "NoConflicts", "no conflicts found"))
        conds.append(cond("Established", "True", "InitialNamesAccepted",
                          "the initial names have been accepted"))
    if (crd.get("metadata") or {}).get("deletionTimestamp"):
        conds.append(cond("Terminating", "True", "InstanceDeletionInProgress",
                          "CustomResource deletion is in progress"))
    st = dict(st)
    st["conditions"] = conds
    if not conflicts:
        st["acceptedNames"] = {k: names[k] for k in ("plural", "singular", "kind", "listKind",
                                                      "shortNames", "categories") if k in names}
    else:
        st.setdefault("acceptedNames", {"plural": "", "kind": ""})
    stored = list(st.get("storedVersions") or [])
    for v in spec.get("versions") or []:
        if v.get("storage") and v.get("name") not in stored:
            stored.append(v["name"])
    st["storedVersions"] = stored
    crd["status"] = st


def name_conflict(crd, others):
    """(reason, message) when a name of crd is used by another CRD of the same group."""
    spec = crd["spec"]
    names = spec.get("names") or {}
    for o in others:
        if o["metadata"]["name"] == crd["metadata"]["name"]:
            continue
        os_ = o.get("spec") or {}
        if os_.get("group") != spec.get("group"):
            continue
        on = (o.get("status") or {}).get("acceptedNames") or {}
        if names.get("plural") and names.get("plural") == on.get("plural"):
            return ("PluralConflict", '"%s" is already in use' % names["plural"])
        if names.get("singular") and names.get("singular") == on.get("singular"):
            return ("SingularConflict", '"%s" is already in use' % names["singular"])
        for s in names.get("shortNames") or []:
            if s in (on.get("shortNames") or []):
                return ("ShortNamesConflict", '"%s" is already in use' % s)
        if names.get("kind") and names.get("kind") == on.get("kind"):
            return ("KindConflict", '"%s" is already in use' % names["kind"])
        if names.get("listKind") and names.get("listKind") == on.get("listKind"):
            return ("ListKindConflict", '"%s" is already in use' % names["listKind"])
    return None


def established(crd):
    for c in (crd.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Established":
            return c.get("status") == "True"
    return False


def resource_types(crds):
    """ResourceTypes for every served version of every established CRD."""
    out = []
    for crd in crds:
        if not established(crd):
            continue
        spec = crd["spec"]
        names = spec["names"]
        order = version_order(crd)
        crd = dict(crd)
        crd["_version_order"] = order
        storage_version = next((v["name"] for v in spec["versions"] if v.get("storage")), None)
        terminating = bool(crd["metadata"].get("deletionTimestamp"))
        for v in spec["versions"]:
            if not v.get("served"):
                continue
            subs = []
            sr = v.get("subresources") or {}
            if "status" in sr:
                subs.append("status")
            if "scale" in sr:
                subs.append("scale")
            fields = {}
            for sf in v.get("selectableFields") or []:
                jp = sf.get("jsonPath", "")
                if jp.startswith("."):
                    fields[jp[1:]] = tuple(jp[1:].split("."))
            rt = ResourceType(spec["group"], v["name"], names["plural"], names["kind"],
                              spec.get("scope") == "Namespaced", singular=names.get("singular"),
                              short_names=names.get("shortNames"),
                              categories=names.get("categories"), subresources=subs,
                              generation=True, unconditional_update=False, strategic=False,
                              field_fields=fields, crd=crd, crd_version=v,
                              storage_version=storage_version,
                              verbs=(["delete", "deletecollection", "get", "list", "watch"]
                                     if terminating else None))
            rt.list_kind = names.get("listKind") or names["kind"] + "List"
            rt.version_order = order
            out.append(rt)
    return out
