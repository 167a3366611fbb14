"""Server-side printing: meta.k8s.io/v1 Table responses as kube-apiserver 1.32 builds them.

    to_table(resource, objects, crd_version=None, include_object="Metadata", now=None) -> Table
        resource: plural resource name ("pods", "deployments", ... or a CR plural);
        crd_version: the CRD's version dict for custom resources (its additionalPrinterColumns,
            or NAME + AGE when it defines none);
        include_object: None/"None", "Metadata" (PartialObjectMetadata) or "Object";
        now: epoch seconds or datetime used for ages (default: the current time).
    human_duration(seconds) -> "5m12s"-style text (duration.HumanDuration).
    JSONPath(expr).find(obj) -> list of results (Kubernetes' JSONPath subset).

Built-in printers follow pkg/printers/internalversion (the server prints with Wide=true, so
priority>0 columns are always present); custom resources follow apiextensions-apiserver's
tableconvertor. Pure: no I/O, no global mutable state.
"""

import datetime as _dt
import json
import re
import time as _time

NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although "
             "some resources may allow a client to request the generation of an appropriate name "
             "automatically. Name is primarily intended for creation idempotence and configuration "
             "definition. Cannot be updated. More info: "
             "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was "
            "created. It is not guaranteed to be set in happens-before order across separate "
            "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
            "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
            "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


# --------------------------------------------------------------------------------------------
# time helpers


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration (seconds may be fractional)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return "%dm" % minutes if sec == 0 else "%dm%ds" % (minutes, sec)
    if minutes < 180:
        return "%dm" % minutes
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return "%dh" % hours if m == 0 else "%dh%dm" % (hours, m)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        h = hours % 24
        return "%dd" % (hours // 24) if h == 0 else "%dd%dh" % (hours // 24, h)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return "%dy" % (hours // 24 // 365) if dy == 0 else "%dy%dd" % (hours // 24 // 365, dy)
    return "%dy" % (hours // 24 // 365)


_TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_time(text):
    """RFC 3339 -> epoch seconds (float), or None."""
    if not isinstance(text, str):
        return None
    m = _TS_RE.match(text)
    if not m:
        return None
    try:
        d = _dt.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)),
                         int(m.group(5)), int(m.group(6)), tzinfo=_dt.timezone.utc)
    except ValueError:
        return None
    t = d.timestamp() + (float(m.group(7)) if m.group(7) else 0.0)
    tz = m.group(8)
    if tz not in ("Z", "z"):
        off = int(tz[1:3]) * 3600 + int(tz[4:6]) * 60
        t -= off if tz[0] == "+" else -off
    return t


def _now(now):
    if now is None:
        return _time.time()
    if isinstance(now, _dt.datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=_dt.timezone.utc)
        return now.timestamp()
    return float(now)


def _since(ts, now):
    t = parse_time(ts)
    if t is None:
        return "<unknown>"
    return human_duration(now - t)


def _rfc3339(ts):
    t = parse_time(ts)
    if t is None:
        return "0001-01-01T00:00:00Z"
    return _dt.datetime.fromtimestamp(int(t), _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# JSONPath (k8s.io/client-go/util/jsonpath subset)


class JSONPathError(ValueError):
    pass


class JSONPath:
    """Parses `{.a.b[0].c}`, `.a[*].b`, `..name`, `.a['x.y']`, `[1:3]`, and filters
    `[?(@.type=="Ready")]` (==, !=, <, <=, >, >=, existence `[?(@.x)]`)."""

    def __init__(self, expr):
        e = expr.strip()
        if e.startswith("{") and e.endswith("}"):
            e = e[1:-1].strip()
        if e.startswith("$"):
            e = e[1:]
        self.steps = self._parse(e)

    def _parse(self, e):
        steps = []
        i = 0
        n = len(e)
        while i < n:
            c = e[i]
            if e.startswith("..", i):
                i += 2
                m = re.match(r"[A-Za-z0-9_\-$/]+", e[i:])
                if m:
                    steps.append(("recurse", m.group(0)))
                    i += m.end()
                else:
                    steps.append(("recurse", None))
                continue
            if c == ".":
                i += 1
                if i < n and e[i] == "*":
                    steps.append(("all",))
                    i += 1
                    continue
                m = re.match(r"[^.\[\]]+", e[i:])
                if not m:
                    continue
                steps.append(("field", m.group(0)))
                i += m.end()
                continue
            if c == "[":
                j = self._close(e, i)
                inner = e[i + 1:j].strip()
                i = j + 1
                if inner == "*":
                    steps.append(("all",))
                elif inner.startswith("?(") and inner.endswith(")"):
                    steps.append(("filter", self._parse_filter(inner[2:-1].strip())))
                elif inner[:1] in ("'", '"'):
                    steps.append(("field", inner[1:-1]))
                elif ":" in inner:
                    parts = inner.split(":")
                    vals = [int(p) if p.strip() else None for p in parts]
                    while len(vals) < 3:
                        vals.append(None)
                    steps.append(("slice", vals[0], vals[1], vals[2]))
                elif re.match(r"^-?\d+$", inner):
                    steps.append(("index", int(inner)))
                elif "," in inner:
                    steps.append(("union", [x.strip().strip("'\"") for x in inner.split(",")]))
                else:
                    steps.append(("field", inner))
                continue
            if c.isspace():
                i += 1
                continue
            m = re.match(r"[^.\[\]]+", e[i:])
            steps.append(("field", m.group(0)))
            i += m.end()
        return steps

    @staticmethod
    def _close(e, i):
        depth = 0
        q = None
        for j in range(i, len(e)):
            ch = e[j]
            if q:
                if ch == q:
                    q = None
                continue
            if ch in "'\"":
                q = ch
            elif ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
                if depth == 0:
                    return j
        raise JSONPathError("unclosed array expect ]")

    def _parse_filter(self, f):
        m = re.match(r"^(@[^\s=!<>]*)\s*(==|!=|<=|>=|<|>|=~)?\s*(.*)$", f)
        if not m:
            raise JSONPathError("unrecognized filter %r" % f)
        left = m.group(1)
        op = m.group(2)
        right = m.group(3).strip()
        lsteps = self._parse(left[1:]) if len(left) > 1 else []
        if op is None:
            return (lsteps, None, None)
        if right[:1] in ("'", '"'):
            rv = ("lit", right[1:-1])
        elif right.startswith("@"):
            rv = ("path", self._parse(right[1:]))
        else:
            try:
                rv = ("lit", json.loads(right))
            except ValueError:
                rv = ("lit", right)
        return (lsteps, op, rv)

    def find(self, obj):
        cur = [obj]
        for st in self.steps:
            cur = self._step(cur, st)
        return cur

    def _step(self, cur, st):
        out = []
        kind = st[0]
        for v in cur:
            if kind == "field":
                if isinstance(v, dict) and st[1] in v:
                    out.append(v[st[1]])
            elif kind == "all":
                if isinstance(v, list):
                    out.extend(v)
                elif isinstance(v, dict):
                    out.extend(v[k] for k in sorted(v))
            elif kind == "index":
                if isinstance(v, list):
                    i = st[1] + len(v) if st[1] < 0 else st[1]
                    if 0 <= i < len(v):
                        out.append(v[i])
            elif kind == "slice":
                if isinstance(v, list):
                    out.extend(v[slice(st[1], st[2], st[3])])
            elif kind == "union":
                if isinstance(v, dict):
                    out.extend(v[k] for k in st[1] if k in v)
            elif kind == "filter":
                items = v if isinstance(v, list) else (list(v.values()) if isinstance(v, dict) else [])
                for x in items:
                    if self._match(x, st[1]):
                        out.append(x)
            elif kind == "recurse":
                self._recurse(v, st[1], out)
        return out

    def _recurse(self, v, name, out):
        if name is None:
            out.append(v)
        if isinstance(v, dict):
            if name is not None and name in v:
                out.append(v[name])
            for k in sorted(v):
                self._recurse(v[k], name, out)
        elif isinstance(v, list):
            for x in v:
                self._recurse(x, name, out)

    def _match(self, x, flt):
        lsteps, op, rv = flt
        lres = JSONPath._eval_steps(self, x, lsteps)
        if op is None:
            return bool(lres)
        if not lres:
            return False
        if rv[0] == "lit":
            right = rv[1]
        else:
            rr = JSONPath._eval_steps(self, x, rv[1])
            if not rr:
                return False
            right = rr[0]
        left = lres[0]
        try:
            if op == "==":
                return _loose_eq(left, right)
            if op == "!=":
                return not _loose_eq(left, right)
            if op == "=~":
                return isinstance(left, str) and re.search(str(right), left) is not None
            ln, rn = _num(left), _num(right)
            if ln is None or rn is None:
                return False
            return {"<": ln < rn, "<=": ln <= rn, ">": ln > rn, ">=": ln >= rn}[op]
        except TypeError:
            return False

    def _eval_steps(self, x, steps):
        cur = [x]
        for st in steps:
            cur = self._step(cur, st)
        return cur


def _num(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _loose_eq(a, b):
    if isinstance(a, (int, float)) and not isinstance(a, bool) and isinstance(b, str):
        try:
            return float(b) == a
        except ValueError:
            return False
    if isinstance(b, (int, float)) and not isinstance(b, bool) and isinstance(a, str):
        try:
            return float(a) == b
        except ValueError:
            return False
    return a == b


def go_print(v):
    """fmt.Fprint of an unstructured JSON value (what JSONPath printing shows)."""
    if isinstance(v, str):
        return v
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        try:
            import cel
            return cel.go_float(v)
        except ImportError:  # pragma: no cover
            return repr(v)
    if isinstance(v, list):
        return "[" + " ".join(go_print(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join("%s:%s" % (k, go_print(v[k])) for k in sorted(v)) + "]"
    return str(v)


# --------------------------------------------------------------------------------------------
# column definitions


def _col(name, typ="string", desc="", fmt="", priority=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


NAME_COL = _col("Name", "string", NAME_DESC, "name")
AGE_COL = _col("Age", "string", AGE_DESC)
CREATED_COL = _col("Created At", "date", AGE_DESC)


def _cols(*spec):
    return [NAME_COL] + [_col(*s) if isinstance(s, tuple) else s for s in spec]


COLUMNS = {
    "pods": _cols(
        ("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        ("Status", "string", "The aggregate status of the containers in this pod."),
        ("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
        AGE_COL,
        ("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", "", 1),
        ("Node", "string", "NodeName indicates in which node this pod is scheduled.", "", 1),
        ("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.", "", 1),
        ("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness.", "", 1)),
    "deployments": _cols(
        ("Ready", "string", "Number of the pod with ready state"),
        ("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
        ("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
        AGE_COL,
        ("Containers", "string", "Names of each container in the template.", "", 1),
        ("Images", "string", "Images referenced by each container in the template.", "", 1),
        ("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", "", 1)),
    "replicasets": _cols(
        ("Desired", "integer", "Replicas is the number of desired replicas."),
        ("Current", "integer", "Replicas is the most recently observed number of replicas."),
        ("Ready", "integer", "The number of ready replicas for this replica set."),
        AGE_COL,
        ("Containers", "string", "Names of each container in the template.", "", 1),
        ("Images", "string", "Images referenced by each container in the template.", "", 1),
        ("Selector", "string", "Selector is a label query over pods that should match the replica count.", "", 1)),
    "services": _cols(
        ("Type", "string", "type determines how the Service is exposed."),
        ("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly."),
        ("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
        ("Port(s)", "string", "The list of ports that are exposed by this service."),
        AGE_COL,
        ("Selector", "string", "Route service traffic to pods with label keys and values matching this selector.", "", 1)),
    "configmaps": _cols(("Data", "string", "Data contains the configuration data."), AGE_COL),
    "secrets": _cols(("Type", "string", "Used to facilitate programmatic handling of secret data."),
                     ("Data", "string", "Data contains the secret data."), AGE_COL),
    "serviceaccounts": _cols(("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."), AGE_COL),
    "namespaces": _cols(("Status", "string", "The status of the namespace"), AGE_COL),
    "leases": _cols(("Holder", "string", "holderIdentity contains the identity of the holder of a current lease."), AGE_COL),
    "roles": _cols(("Created At", "string", AGE_DESC)),
    "clusterroles": _cols(("Created At", "string", AGE_DESC)),
    "rolebindings": _cols(
        ("Role", "string", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace."),
        AGE_COL,
        ("Users", "string", "Users in the roleBinding", "", 1),
        ("Groups", "string", "Groups in the roleBinding", "", 1),
        ("ServiceAccounts", "string", "ServiceAccounts in the roleBinding", "", 1)),
    "clusterrolebindings": _cols(
        ("Role", "string", "RoleRef can only reference a ClusterRole in the global namespace."),
        AGE_COL,
        ("Users", "string", "Users in the clusterRoleBinding", "", 1),
        ("Groups", "string", "Groups in the clusterRoleBinding", "", 1),
        ("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding", "", 1)),
    "events": [
        _col("Last Seen", "string", "Time when this Event was last seen"),
        _col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future."),
        _col("Reason", "string", "This should be a short, machine understandable string that gives the reason for this event being generated."),
        _col("Object", "string", "The object that this event is about."),
        _col("Subobject", "string", "The subobject that this event is about.", "", 1),
        _col("Source", "string", "The component reporting this event. Should be a short machine understandable string.", "", 1),
        _col("Message", "string", "A human-readable description of the status of this operation."),
        _col("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", "", 1),
        _col("Count", "string", "The number of times this event has occurred.", "", 1),
        _col("Name", "string", NAME_DESC, "name", 1),
    ],
}


# --------------------------------------------------------------------------------------------
# row printers


def _md(o):
    m = o.get("metadata") if isinstance(o, dict) else None
    return m if isinstance(m, dict) else {}


def _g(o, *path, default=None):
    for p in path:
        if not isinstance(o, dict) or p not in o:
            return default
        o = o[p]
    return o


def _labels_str(sel):
    if not sel:
        return "<none>"
    return ",".join("%s=%s" % (k, sel[k]) for k in sorted(sel))


def _selector_str(ls):
    """metav1.LabelSelectorAsSelector(...).String()."""
    if not isinstance(ls, dict):
        return "<none>"
    reqs = []
    for k, v in (ls.get("matchLabels") or {}).items():
        reqs.append((k, "%s=%s" % (k, v)))
    for e in ls.get("matchExpressions") or ():
        k = e.get("key", "")
        op = e.get("operator")
        vals = sorted(e.get("values") or [])
        if op == "In":
            reqs.append((k, "%s in (%s)" % (k, ",".join(vals))))
        elif op == "NotIn":
            reqs.append((k, "%s notin (%s)" % (k, ",".join(vals))))
        elif op == "Exists":
            reqs.append((k, k))
        elif op == "DoesNotExist":
            reqs.append((k, "!" + k))
    if not reqs:
        return "<none>"
    reqs.sort(key=lambda r: r[0])
    return ",".join(r[1] for r in reqs)


def _containers(spec):
    cs = (spec or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _pod_row(o, now):
    spec = o.get("spec") or {}
    st = o.get("status") or {}
    md = _md(o)
    restarts = 0
    last_restart = None
    total = len(spec.get("containers") or [])
    ready = 0
    reason = st.get("phase") or ""
    if st.get("reason"):
        reason = st["reason"]
    initializing = False
    inits = spec.get("initContainers") or []
    for i, c in enumerate(st.get("initContainerStatuses") or ()):
        restarts += int(c.get("restartCount") or 0)
        ft = _g(c, "lastState", "terminated", "finishedAt")
        if ft and (last_restart is None or (parse_time(ft) or 0) > (parse_time(last_restart) or 0)):
            last_restart = ft
        term = _g(c, "state", "terminated")
        waiting = _g(c, "state", "waiting")
        if term and term.get("exitCode") == 0:
            continue
        restartable = i < len(inits) and inits[i].get("restartPolicy") == "Always"
        if restartable and c.get("started"):
            continue
        if term:
            if term.get("reason"):
                reason = "Init:" + term["reason"]
            elif term.get("signal"):
                reason = "Init:Signal:%d" % term["signal"]
            else:
                reason = "Init:ExitCode:%d" % term.get("exitCode", 0)
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = "Init:%d/%d" % (i, len(inits))
        initializing = True
        break
    if not initializing or (reason == "Running" or reason == st.get("phase")):
        restarts = 0
        last_restart = None
        has_running = False
        for c in reversed(st.get("containerStatuses") or []):
            restarts += int(c.get("restartCount") or 0)
            ft = _g(c, "lastState", "terminated", "finishedAt")
            if ft and (last_restart is None or (parse_time(ft) or 0) > (parse_time(last_restart) or 0)):
                last_restart = ft
            waiting = _g(c, "state", "waiting")
            term = _g(c, "state", "terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term and not term.get("reason"):
                if term.get("signal"):
                    reason = "Signal:%d" % term["signal"]
                else:
                    reason = "ExitCode:%d" % term.get("exitCode", 0)
            elif c.get("ready") and _g(c, "state", "running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            conds = {x.get("type"): x.get("status") for x in st.get("conditions") or ()}
            reason = "Running" if conds.get("Ready") == "True" else "NotReady"
    if md.get("deletionTimestamp"):
        reason = "Unknown" if st.get("reason") == "NodeLost" else "Terminating"
    restarts_s = str(restarts)
    if restarts and last_restart:
        restarts_s = "%d (%s ago)" % (restarts, _since(last_restart, now))
    node = spec.get("nodeName") or "<none>"
    ips = st.get("podIPs") or []
    ip = ips[0].get("ip") if ips and ips[0].get("ip") else (st.get("podIP") or "<none>")
    nominated = st.get("nominatedNodeName") or "<none>"
    gates = spec.get("readinessGates") or []
    if gates:
        conds = {x.get("type"): x.get("status") for x in st.get("conditions") or ()}
        trues = sum(1 for gt in gates if conds.get(gt.get("conditionType")) == "True")
        gates_s = "%d/%d" % (trues, len(gates))
    else:
        gates_s = "<none>"
    row = {"cells": [md.get("name", ""), "%d/%d" % (ready, total), reason, restarts_s,
                     _since(md.get("creationTimestamp"), now), ip, node, nominated, gates_s]}
    if st.get("phase") == "Succeeded":
        row["conditions"] = [{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]
    elif st.get("phase") == "Failed":
        row["conditions"] = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return row


def _deployment_row(o, now):
    spec = o.get("spec") or {}
    st = o.get("status") or {}
    desired = spec.get("replicas", 1) if spec.get("replicas") is not None else 1
    names, images = _containers(_g(spec, "template", "spec"))
    return {"cells": [_md(o).get("name", ""), "%d/%d" % (st.get("readyReplicas") or 0, desired),
                      int(st.get("updatedReplicas") or 0), int(st.get("availableReplicas") or 0),
                      _since(_md(o).get("creationTimestamp"), now), names, images,
                      _selector_str(spec.get("selector"))]}


def _replicaset_row(o, now):
    spec = o.get("spec") or {}
    st = o.get("status") or {}
    desired = spec.get("replicas", 1) if spec.get("replicas") is not None else 1
    names, images = _containers(_g(spec, "template", "spec"))
    return {"cells": [_md(o).get("name", ""), int(desired), int(st.get("replicas") or 0),
                      int(st.get("readyReplicas") or 0), _since(_md(o).get("creationTimestamp"), now),
                      names, images, _selector_str(spec.get("selector"))]}


def _service_external_ip(spec, st):
    t = spec.get("type") or "ClusterIP"
    ext = spec.get("externalIPs") or []
    if t == "ClusterIP":
        return ",".join(ext) if ext else "<none>"
    if t == "NodePort":
        return ",".join(ext) if ext else "<none>"
    if t == "LoadBalancer":
        ing = _g(st, "loadBalancer", "ingress") or []
        ips = [i.get("ip") or i.get("hostname") for i in ing if i.get("ip") or i.get("hostname")]
        allips = ips + ext
        if allips:
            return ",".join(allips)
        return "<pending>"
    if t == "ExternalName":
        return spec.get("externalName") or "<none>"
    return "<unknown>"


def _ports_str(ports):
    out = []
    for p in ports or ():
        proto = p.get("protocol") or "TCP"
        if p.get("nodePort"):
            out.append("%d:%d/%s" % (p.get("port", 0), p["nodePort"], proto))
        else:
            out.append("%d/%s" % (p.get("port", 0), proto))
    return ",".join(out) if out else "<none>"


def _service_row(o, now):
    spec = o.get("spec") or {}
    st = o.get("status") or {}
    ips = spec.get("clusterIPs") or []
    internal = ips[0] if ips else (spec.get("clusterIP") or "<none>")
    return {"cells": [_md(o).get("name", ""), spec.get("type") or "ClusterIP", internal,
                      _service_external_ip(spec, st), _ports_str(spec.get("ports")),
                      _since(_md(o).get("creationTimestamp"), now), _labels_str(spec.get("selector"))]}


def _configmap_row(o, now):
    return {"cells": [_md(o).get("name", ""), len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                      _since(_md(o).get("creationTimestamp"), now)]}


def _secret_row(o, now):
    return {"cells": [_md(o).get("name", ""), o.get("type") or "Opaque", len(o.get("data") or {}),
                      _since(_md(o).get("creationTimestamp"), now)]}


def _serviceaccount_row(o, now):
    return {"cells": [_md(o).get("name", ""), len(o.get("secrets") or []),
                      _since(_md(o).get("creationTimestamp"), now)]}


def _namespace_row(o, now):
    return {"cells": [_md(o).get("name", ""), _g(o, "status", "phase", default="") or "",
                      _since(_md(o).get("creationTimestamp"), now)]}


def _lease_row(o, now):
    return {"cells": [_md(o).get("name", ""), _g(o, "spec", "holderIdentity", default="") or "",
                      _since(_md(o).get("creationTimestamp"), now)]}


def _role_row(o, now):
    return {"cells": [_md(o).get("name", ""), _rfc3339(_md(o).get("creationTimestamp"))]}


def _binding_row(o, now):
    rr = o.get("roleRef") or {}
    users, groups, sas = [], [], []
    for s in o.get("subjects") or ():
        k = s.get("kind")
        if k == "User":
            users.append(s.get("name", ""))
        elif k == "Group":
            groups.append(s.get("name", ""))
        elif k == "ServiceAccount":
            sas.append("%s/%s" % (s.get("namespace", ""), s.get("name", "")))
    return {"cells": [_md(o).get("name", ""), "%s/%s" % (rr.get("kind", ""), rr.get("name", "")),
                      _since(_md(o).get("creationTimestamp"), now), ", ".join(users),
                      ", ".join(groups), ", ".join(sas)]}


def _event_source(src, controller, instance):
    comp = (src or {}).get("component") or ""
    host = (src or {}).get("host") or ""
    if not comp and not host:
        comp, host = controller or "", instance or ""
    if host:
        return "%s, %s" % (comp, host)
    return comp


def _event_row(o, now):
    if o.get("apiVersion") == "events.k8s.io/v1" or ("regarding" in o or "note" in o):
        ev = {"firstTimestamp": o.get("deprecatedFirstTimestamp"), "lastTimestamp": o.get("deprecatedLastTimestamp"),
              "eventTime": o.get("eventTime"), "series": o.get("series"), "count": o.get("deprecatedCount"),
              "involvedObject": o.get("regarding") or {}, "type": o.get("type"), "reason": o.get("reason"),
              "message": o.get("note"), "source": o.get("deprecatedSource"),
              "reportingComponent": o.get("reportingController"), "reportingInstance": o.get("reportingInstance")}
    else:
        ev = o
    first = _since(ev.get("firstTimestamp"), now) if ev.get("firstTimestamp") else _since(ev.get("eventTime"), now)
    last = _since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 0
    if ev.get("series"):
        last = _since(ev["series"].get("lastObservedTime"), now)
        count = ev["series"].get("count") or 0
    elif count == 0:
        count = 1
    io = ev.get("involvedObject") or {}
    kind = (io.get("kind") or "").lower()
    target = "%s/%s" % (kind, io["name"]) if io.get("name") else kind
    return {"cells": [last, ev.get("type") or "", ev.get("reason") or "", target, io.get("fieldPath") or "",
                      _event_source(ev.get("source"), ev.get("reportingComponent"), ev.get("reportingInstance")),
                      (ev.get("message") or "").strip(), first, int(count), _md(o).get("name", "")]}


def _default_row(o, now):
    return {"cells": [_md(o).get("name", ""), _rfc3339(_md(o).get("creationTimestamp"))]}


PRINTERS = {
    "pods": _pod_row, "deployments": _deployment_row, "replicasets": _replicaset_row,
    "services": _service_row, "configmaps": _configmap_row, "secrets": _secret_row,
    "serviceaccounts": _serviceaccount_row, "namespaces": _namespace_row, "leases": _lease_row,
    "roles": _role_row, "clusterroles": _role_row, "rolebindings": _binding_row,
    "clusterrolebindings": _binding_row, "events": _event_row,
}


# --------------------------------------------------------------------------------------------
# custom resources


def crd_columns(crd_version):
    """The CRD version's printer columns (AGE from creationTimestamp when none are defined)."""
    cols = (crd_version or {}).get("additionalPrinterColumns")
    if not cols:
        cols = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    return cols


def _cr_cell(typ, value, now):
    if value is None:
        return None
    if typ == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        return None
    if typ == "number":
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return float(value)
        return None
    if typ == "boolean":
        return value if isinstance(value, bool) else None
    if typ == "string":
        return value if isinstance(value, str) else None
    if typ == "date":
        if isinstance(value, str):
            t = parse_time(value)
            if t is None:
                return "<invalid>"
            return human_duration(now - t)
        return None
    return None


def _cr_row(o, cols, paths, now):
    cells = [_md(o).get("name", "")]
    for col, jp in zip(cols, paths):
        try:
            res = jp.find(o)
        except Exception:
            res = []
        if not res:
            cells.append(None)
            continue
        v = res[0]
        if col.get("type") == "string":
            cells.append(None if v is None else go_print(v))
        else:
            cells.append(_cr_cell(col.get("type"), v, now))
    return {"cells": cells}


# --------------------------------------------------------------------------------------------
# public


def _partial(o):
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": json.loads(json.dumps(_md(o)))}


def to_table(resource, objects, crd_version=None, include_object="Metadata", now=None):
    now = _now(now)
    objects = list(objects or ())
    if crd_version is not None:
        cols = crd_columns(crd_version)
        defs = [dict(NAME_COL)]
        paths = []
        for c in cols:
            paths.append(JSONPath("{%s}" % c.get("jsonPath", "")))
            defs.append({"name": c.get("name", ""), "type": c.get("type", "string"), "format": c.get("format", ""),
                         "description": c.get("description") or
                         "Custom resource definition column (in JSONPath format): %s" % c.get("jsonPath", ""),
                         "priority": int(c.get("priority") or 0)})
        rows = [_cr_row(o, cols, paths, now) for o in objects]
    elif resource in PRINTERS:
        defs = [dict(c) for c in COLUMNS[resource]]
        rows = [PRINTERS[resource](o, now) for o in objects]
    else:
        defs = [dict(NAME_COL), dict(CREATED_COL)]
        rows = [_default_row(o, now) for o in objects]
    inc = "None" if include_object is None else (include_object or "Metadata")
    if inc not in ("None", "Metadata", "Object"):
        raise ValueError('unrecognized includeObject value: "%s"' % include_object)
    for r, o in zip(rows, objects):
        if inc == "Object":
            r["object"] = o
        elif inc == "Metadata":
            r["object"] = _partial(o)
    table = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
             "columnDefinitions": defs, "rows": rows}
    if len(objects) == 1 and _md(objects[0]).get("resourceVersion"):
        table["metadata"]["resourceVersion"] = _md(objects[0])["resourceVersion"]
    return table
