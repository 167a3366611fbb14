"""RBAC authorization of service-account requests against stored Roles, ClusterRoles and their
bindings (verbs, apiGroups, resources, subresources, resourceNames, nonResourceURLs), with the
real 403 message; plus the default cluster roles a fresh cluster has."""

from errors import APIError

RBAC = "rbac.authorization.k8s.io/"


class Attributes:
    __slots__ = ("verb", "group", "resource", "subresource", "name", "namespace", "path",
                 "resource_request")

    def __init__(self, verb, group="", resource="", subresource="", name="", namespace="",
                 path="", resource_request=True):
        self.verb = verb
        self.group = group
        self.resource = resource
        self.subresource = subresource
        self.name = name
        self.namespace = namespace
        self.path = path
        self.resource_request = resource_request


def _subject_matches(s, user):
    kind = s.get("kind")
    if kind == "User":
        return s.get("name") == user.name
    if kind == "Group":
        return s.get("name") in user.groups
    if kind == "ServiceAccount":
        return user.sa is not None and (s.get("namespace", ""), s.get("name")) == user.sa
    return False


def _rule_allows(rule, a):
    verbs = rule.get("verbs") or []
    if "*" not in verbs and a.verb not in verbs:
        return False
    if not a.resource_request:
        for u in rule.get("nonResourceURLs") or []:
            if u == "*" or u == a.path or (u.endswith("*") and a.path.startswith(u[:-1])):
                return True
        return False
    groups = rule.get("apiGroups")
    if groups is None or ("*" not in groups and a.group not in groups):
        return False
    combined = a.resource + ("/" + a.subresource if a.subresource else "")
    ok = False
    for r in rule.get("resources") or []:
        if r == "*" or r == combined:
            ok = True
            break
        if a.subresource and r == "*/" + a.subresource:
            ok = True
            break
    if not ok:
        return False
    names = rule.get("resourceNames") or []
    if names and a.name not in names:
        return False
    return True


def _cluster_role_rules(store, name):
    role = store.get(RBAC + "clusterroles", "", name)
    if role is None:
        return []
    rules = list(role.get("rules") or [])
    agg = role.get("aggregationRule")
    if agg:
        from labelsel import from_label_selector

        sels = [from_label_selector(s) for s in agg.get("clusterRoleSelectors") or []]
        for other in store.list(RBAC + "clusterroles"):
            labels = other["metadata"].get("labels") or {}
            if other is not role and any(s.matches(labels) for s in sels):
                rules += other.get("rules") or []
    return rules


def allowed(store, user, a):
    for b in store.list(RBAC + "clusterrolebindings"):
        if any(_subject_matches(s, user) for s in b.get("subjects") or []):
            ref = b.get("roleRef") or {}
            if ref.get("kind") == "ClusterRole":
                if any(_rule_allows(r, a) for r in _cluster_role_rules(store, ref.get("name"))):
                    return True
    if a.namespace and a.resource_request:
        for b in store.list(RBAC + "rolebindings", a.namespace):
            if not any(_subject_matches(s, user) for s in b.get("subjects") or []):
                continue
            ref = b.get("roleRef") or {}
            if ref.get("kind") == "ClusterRole":
                rules = _cluster_role_rules(store, ref.get("name"))
            else:
                role = store.get(RBAC + "roles", a.namespace, ref.get("name"))
                rules = (role or {}).get("rules") or []
            if any(_rule_allows(r, a) for r in rules):
                return True
    return False


def forbidden(user, a, qualified_resource):
    if not a.resource_request:
        return APIError(403, "Forbidden", 'forbidden: User "%s" cannot %s path "%s"'
                        % (user.name, a.verb, a.path), {})
    res = a.resource + ("/" + a.subresource if a.subresource else "")
    if a.namespace:
        why = 'User "%s" cannot %s resource "%s" in API group "%s" in the namespace "%s"' % (
            user.name, a.verb, res, a.group, a.namespace)
    else:
        why = 'User "%s" cannot %s resource "%s" in API group "%s" at the cluster scope' % (
            user.name, a.verb, res, a.group)
    if a.name:
        msg = '%s "%s" is forbidden: %s' % (qualified_resource, a.name, why)
    else:
        msg = "%s is forbidden: %s" % (qualified_resource, why)
    details = {}
    if a.name:
        details["name"] = a.name
    if a.group:
        details["group"] = a.group
    details["kind"] = a.resource
    return APIError(403, "Forbidden", msg, details)


def default_objects():
    """ClusterRoles and bindings every cluster starts with (bootstrap policy subset)."""
    labels = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    ann = {"rbac.authorization.kubernetes.io/autoupdate": "true"}

    def role(name, rules, extra_labels=None):
        lb = dict(labels)
        lb.update(extra_labels or {})
        return ("clusterroles", {"apiVersion": "rbac.authorization.k8s.io/v1",
                                 "kind": "ClusterRole",
                                 "metadata": {"name": name, "labels": lb, "annotations": ann},
                                 "rules": rules})

    def binding(name, role_name, groups):
        return ("clusterrolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": dict(labels), "annotations": ann},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": role_name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}
                         for g in groups]})

    read = ["get", "list", "watch"]
    write = ["create", "delete", "deletecollection", "patch", "update"]
    common = ["configmaps", "endpoints", "persistentvolumeclaims", "pods", "replicationcontrollers",
              "services", "serviceaccounts", "secrets", "events"]
    return [
        role("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                               {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        role("system:discovery", [{"nonResourceURLs": [
            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
            "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        role("system:public-info-viewer", [{"nonResourceURLs": [
            "/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        role("view", [{"apiGroups": [""], "resources": common + ["namespaces"], "verbs": read},
                      {"apiGroups": ["apps"], "resources": ["deployments", "replicasets",
                                                            "deployments/scale",
                                                            "replicasets/scale"], "verbs": read},
                      {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": read}]),
        role("edit", [{"apiGroups": [""], "resources": common, "verbs": read + write},
                      {"apiGroups": [""], "resources": ["namespaces"], "verbs": read},
                      {"apiGroups": ["apps"], "resources": ["deployments", "replicasets",
                                                            "deployments/scale",
                                                            "replicasets/scale"],
                       "verbs": read + write},
                      {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                       "verbs": read + write}]),
        role("admin", [{"apiGroups": ["", "apps", "coordination.k8s.io", "events.k8s.io"],
                        "resources": ["*"], "verbs": read + write},
                       {"apiGroups": ["rbac.authorization.k8s.io"],
                        "resources": ["roles", "rolebindings"], "verbs": read + write}]),
        binding("cluster-admin", "cluster-admin", ["system:masters"]),
        binding("system:discovery", "system:discovery", ["system:authenticated"]),
        binding("system:public-info-viewer", "system:public-info-viewer",
                ["system:authenticated", "system:unauthenticated"]),
    ]
