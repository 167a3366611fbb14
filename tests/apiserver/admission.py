"""Admission plugins that `serve --enable-admission-plugins` turns on. Only one is implemented:
OwnerReferencesPermissionEnforcement, as kube-apiserver's plugin/pkg/admission/gc/gc_admission.go
(v1.32) does it. It is a validating plugin for create and update (PUT, every patch type and
server-side apply are updates; an apply that creates is a create), run after the object was
validated and before it is stored (so also for dryRun):

- If the ownerReferences of the object do not change (create: it has none), nothing is checked.
  pods/status is exempt.
- On an update that changes them, the user must be allowed to `delete` the object itself (same
  resource, subresource, namespace and name); otherwise 403 "cannot set an ownerRef on a
  resource you can't delete: ...". A create needs no such permission.
- For every ownerReference that is new with blockOwnerDeletion true, or whose
  blockOwnerDeletion changes from absent/false to true (references matched by uid), the user
  must be allowed `update` on `<owner's resource>/finalizers`, in the owner's API group (from the
  reference's apiVersion), named like the owner, in the object's namespace when the owner's
  resource is namespaced; otherwise 403 "cannot set blockOwnerDeletion if an ownerReference
  refers to a resource you can't set finalizers on: ...". A user allowed to update
  `*/finalizers` of every group at the cluster scope (resourceNames unset) passes at once. A kind
  the REST mapping does not know gives 403 "cannot set blockOwnerDeletion in this case because
  cannot find RESTMapping for APIVersion ... Kind ...: ...".

The refusal is admission.NewForbidden: a 403 Forbidden Status `<resource>[.<group>] "<name>" is
forbidden: <why>` (the API reference's field comment says 422; the plugin's code answers 403).
The `<reason>, <error>` suffix is that of the authorizer chain Node,RBAC: RBAC gives no reason
and no error for a plain denial, hence ", <nil>".

Only requests authorized by RBAC (--rbac, service-account tokens) are checked: the admin token is
allowed everything, as system:masters is, and without --rbac every check would be allowed.
Every authorization check the plugin makes is recorded on the request, and the request log
carries them (`"admission"`), so that a test can see which permissions a client needed."""

import json

import rbac
from errors import APIError

OWNER_REFS = "OwnerReferencesPermissionEnforcement"
KNOWN = (OWNER_REFS,)
# Requests the plugin lets through without looking (their strategies keep ownerReferences).
WHITELIST = (("", "pods", "status"),)
REF_FIELDS = ("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion")


def parse_plugins(values):
    """The plugin names of --enable-admission-plugins (repeatable, comma-separated, as the
    string-slice flag of kube-apiserver); raises ValueError naming an unknown one."""
    out = []
    for v in values or ():
        for name in v.split(","):
            name = name.strip()
            if not name:
                continue
            if name not in KNOWN:
                raise ValueError("enable-admission-plugins plugin %s is unknown (this stand-in "
                                 "implements only %s)" % (_quote(name), ", ".join(KNOWN)))
            if name not in out:
                out.append(name)
    return out


def _quote(s):
    return json.dumps(s)


def _refs(obj):
    if obj is None:
        return []
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [r for r in refs if isinstance(r, dict)]


def _same_ref(a, b):
    # apiequality.Semantic.DeepEqual of two metav1.OwnerReference: every field; a pointer
    # (controller, blockOwnerDeletion) absent or null is nil, which differs from false.
    return all(a.get(f) == b.get(f) for f in REF_FIELDS)


def changing_owner_references(new, old):
    """isChangingOwnerReference: does this write add, remove or alter any ownerReference?"""
    new_refs = _refs(new)
    if old is None:
        return len(new_refs) > 0
    old_refs = _refs(old)
    if len(old_refs) != len(new_refs):
        return True
    return any(not _same_ref(o, n) for o, n in zip(old_refs, new_refs))


def new_blocking_refs(new, old):
    """newBlockingOwnerDeletionRefs: references that block owner deletion now and did not before
    (new ones, or blockOwnerDeletion from absent/false to true), matched by uid."""
    blocking = [r for r in _refs(new) if r.get("blockOwnerDeletion") is True]
    if not blocking or old is None:
        return blocking
    old_by_uid = {r.get("uid"): r for r in _refs(old)}
    out = []
    for r in blocking:
        o = old_by_uid.get(r.get("uid"))
        if o is None or o.get("blockOwnerDeletion") is not True:
            out.append(r)
    return out


class NoMapping(Exception):
    pass


def _parse_group_version(gv):
    """schema.ParseGroupVersion."""
    if not gv or gv == "/":
        return "", ""
    n = gv.count("/")
    if n == 0:
        return "", gv
    if n == 1:
        return tuple(gv.split("/", 1))
    raise NoMapping("unexpected GroupVersion string: %s" % gv)


def rest_mappings(registry, api_version, kind):
    """The resource types a (apiVersion, kind) maps to (RESTMapper.RESTMappings with the
    reference's version); raises NoMapping with the RESTMapper's error text."""
    group, version = _parse_group_version(api_version)
    out = []
    for rt in registry.all():
        if rt.group != group or rt.kind != kind or (version and rt.version != version):
            continue
        if all(rt.plural != o.plural for o in out):  # (no version: every served one)
            out.append(rt)
    if not out:
        searched = group + "/" + version if group else version
        raise NoMapping('no matches for kind "%s" in version "%s"' % (kind, searched))
    return out


def forbidden(rt, name, why):
    """admission.NewForbidden: the 403 Status of the object being written."""
    details = {"name": name} if name else {}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    if name:
        msg = '%s "%s" is forbidden: %s' % (rt.qualified_resource, name, why)
    else:
        msg = "%s is forbidden: %s" % (rt.qualified_resource, why)
    return APIError(403, "Forbidden", msg, details)


# What the Node,RBAC authorizer chain adds to a refusal: no reason, no error.
NO_REASON = ", <nil>"


class Admission:
    """The enabled plugins of one server."""

    def __init__(self, app, plugins):
        self.app = app
        self.plugins = tuple(plugins)
        self.owner_refs = OWNER_REFS in self.plugins

    def _authorize(self, req, user, a):
        ok = rbac.allowed(self.app.store, user, a)
        checks = req.admission_checks
        if checks is None:
            checks = req.admission_checks = []
        res = a.resource + ("/" + a.subresource if a.subresource else "")
        checks.append({"plugin": OWNER_REFS, "verb": a.verb, "group": a.group, "resource": res,
                       "namespace": a.namespace, "name": a.name, "allowed": ok})
        return ok

    def validate(self, ctx, new, old):
        """Runs the enabled validating plugins on a create (old None) or update of new by the
        request of ctx; raises the APIError of a refusal."""
        if not self.owner_refs or not self.app.rbac:
            return
        req = ctx.req
        user = getattr(req, "user", None) if req is not None else None
        if user is None or user.admin:
            return  # internal writes (emulated controllers) and the admin token
        rt = ctx.rt
        if (rt.group, rt.plural, ctx.sub) in WHITELIST:
            return
        if not changing_owner_references(new, old):
            return
        m = new.get("metadata") or {}
        name = m.get("name") or m.get("generateName") or ""
        ns = ctx.info.namespace if rt.namespaced else ""
        if old is not None:
            a = rbac.Attributes("delete", rt.group, rt.plural, ctx.sub, name, ns)
            if not self._authorize(req, user, a):
                raise forbidden(rt, name, "cannot set an ownerRef on a resource you can't "
                                "delete: " + NO_REASON)
        refs = new_blocking_refs(new, old)
        if not refs:
            return
        anything = rbac.Attributes("update", "*", "*", "finalizers", "*", "")
        if self._authorize(req, user, anything):
            return
        for ref in refs:
            try:
                mappings = rest_mappings(self.app.registry, ref.get("apiVersion") or "",
                                         ref.get("kind") or "")
            except NoMapping as e:
                raise forbidden(rt, name, "cannot set blockOwnerDeletion in this case because "
                                "cannot find RESTMapping for APIVersion %s Kind %s: %s"
                                % (ref.get("apiVersion", ""), ref.get("kind", ""), e)) from None
            for mt in mappings:
                a = rbac.Attributes("update", mt.group, mt.plural, "finalizers",
                                    ref.get("name") or "", ns if mt.namespaced else "")
                if not self._authorize(req, user, a):
                    raise forbidden(rt, name, "cannot set blockOwnerDeletion if an "
                                    "ownerReference refers to a resource you can't set "
                                    "finalizers on: " + NO_REASON)
