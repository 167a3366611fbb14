"""PATCH bodies: JSON Patch (RFC 6902), JSON Merge Patch (RFC 7386) and strategic merge patch
(reference §4.5), plus the list-type table shared with server-side apply."""

from errors import APIError, bad_request
from util import clone

JSON_PATCH_MAX_OPS = 10000

# ---- list types ----------------------------------------------------------------------------
# Built-in lists with patchStrategy merge (strategic merge patch) / listType map|set (apply).
_MAP_LISTS = {
    "containers": ["name"], "initContainers": ["name"], "ephemeralContainers": ["name"],
    "env": ["name"], "volumes": ["name"], "imagePullSecrets": ["name"],
    "resourceClaims": ["name"], "volumeMounts": ["mountPath"], "volumeDevices": ["devicePath"],
    "conditions": ["type"], "ownerReferences": ["uid"], "hostAliases": ["ip"],
    "topologySpreadConstraints": ["topologyKey", "whenUnsatisfiable"],
    "secrets": ["name"], "readinessGates": ["conditionType"],
}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def builtin_list_type(names):
    """('map', keys) | ('set', None) | ('atomic', None) for the list at field path names."""
    f = names[-1]
    parent = names[-2] if len(names) > 1 else ""
    if f == "ports":
        if parent in _CONTAINER_LISTS:
            return ("map", ["containerPort", "protocol"])
        if len(names) == 2 and names[0] == "spec":
            return ("map", ["port", "protocol"])
        return ("atomic", None)
    if f == "finalizers" and parent == "metadata":
        return ("set", None)
    if f == "conditions" and "status" not in names:
        return ("atomic", None)
    keys = _MAP_LISTS.get(f)
    if keys:
        if f == "secrets" and names != ("secrets",):
            return ("atomic", None)
        return ("map", keys)
    return ("atomic", None)


def smp_merge_key(names):
    """Strategic merge patch key for a list (patchMergeKey), or None for replace."""
    t, keys = builtin_list_type(names)
    if t == "set":
        return "$primitive"
    if t != "map":
        return None
    if names[-1] == "ports":
        return "containerPort" if len(names) > 1 and names[-2] in _CONTAINER_LISTS else "port"
    return keys[0]


class KindTyper:
    """List types and strategic-merge keys of a built-in kind from its patch metadata
    ({dotted path: {"strategy", "mergeKey", "listType", "listMapKeys"}}, list items adding no
    path segment); paths it does not know fall back to builtin_list_type."""

    def __init__(self, meta):
        self.meta = meta or {}
        self.cache = {}

    def __call__(self, names):
        r = self.cache.get(names)
        if r is None:
            e = self.meta.get(".".join(names))
            if e is None:
                r = builtin_list_type(names) if not self.meta else ("atomic", None)
            elif e.get("listType") == "map":
                r = ("map", list(e.get("listMapKeys") or []))
            elif e.get("listType") == "set":
                r = ("set", None)
            else:
                r = ("atomic", None)
            self.cache[names] = r
        return r

    def merge_key(self, names):
        e = self.meta.get(".".join(names))
        if e is None:
            return smp_merge_key(names) if not self.meta else None
        if "merge" not in (e.get("strategy") or "").split(","):
            return None
        return e.get("mergeKey") or "$primitive"


class SchemaListTyper:
    """List types of a CR from its structural schema (x-kubernetes-list-type)."""

    def __init__(self, schema):
        self.schema = schema or {}
        self.cache = {}

    def node(self, names):
        n = self.schema
        for name in names:
            if n.get("type") == "array" or "items" in n:
                n = n.get("items") or {}
            props = n.get("properties")
            if props and name in props:
                n = props[name]
            elif isinstance(n.get("additionalProperties"), dict):
                n = n["additionalProperties"]
            else:
                return {}
        return n

    def __call__(self, names):
        r = self.cache.get(names)
        if r is None:
            n = self.node(names)
            lt = n.get("x-kubernetes-list-type")
            if lt == "map":
                r = ("map", list(n.get("x-kubernetes-list-map-keys") or []))
            elif lt == "set":
                r = ("set", None)
            else:
                r = ("atomic", None)
            if names[:1] == ("metadata",):
                r = builtin_list_type(names)
            self.cache[names] = r
        return r


# ---- JSON merge patch ----------------------------------------------------------------------
def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return clone(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        elif isinstance(v, dict):
            result[k] = merge_patch(result.get(k), v)
        else:
            result[k] = clone(v)
    return result


# ---- JSON patch ------------------------------------------------------------------------------
def _rejected(detail):
    return APIError(422, "Invalid", "the server rejected our request due to an error in our "
                    "request", {"causes": [{"reason": "FieldValueInvalid", "message": detail,
                                            "field": "patch"}]} if detail else None)


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request('json patch: invalid path "%s"' % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts, path):
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise _rejected('doc is missing path: "%s": missing value' % path)
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                i = int(p)
            except ValueError:
                raise _rejected('doc is missing path: "%s"' % path)
            if i < 0 or i >= len(cur):
                raise _rejected('doc is missing path: "%s": missing value' % path)
            cur = cur[i]
        else:
            raise _rejected('doc is missing path: "%s"' % path)
    return cur


def _get(doc, path):
    return _walk(doc, _pointer(path), path)


def _add(doc, path, value, replace=False):
    parts = _pointer(path)
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _rejected('replace operation does not apply: doc is missing key: %s: missing '
                            'value' % path)
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            if replace:
                raise _rejected("replace operation does not apply: doc is missing path: %s" % path)
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError:
                raise _rejected("add operation does not apply: doc is missing path: %s" % path)
            if replace:
                if i < 0 or i >= len(parent):
                    raise _rejected("replace operation does not apply: doc is missing path: %s"
                                    % path)
                parent[i] = value
            else:
                if i < 0 or i > len(parent):
                    raise _rejected("add operation does not apply: doc is missing path: %s" % path)
                parent.insert(i, value)
    else:
        raise _rejected("add operation does not apply: doc is missing path: %s" % path)
    return doc


def _remove(doc, path):
    parts = _pointer(path)
    if not parts:
        raise _rejected("remove operation does not apply: doc is missing path: %s" % path)
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _rejected("remove operation does not apply: doc is missing path: \"%s\": "
                            "missing value" % path)
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            i = int(last)
        except ValueError:
            raise _rejected("remove operation does not apply: doc is missing path: %s" % path)
        if i < 0 or i >= len(parent):
            raise _rejected("remove operation does not apply: doc is missing path: \"%s\": "
                            "missing value" % path)
        return parent.pop(i)
    raise _rejected("remove operation does not apply: doc is missing path: %s" % path)


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    if len(ops) > JSON_PATCH_MAX_OPS:
        raise APIError(413, "RequestEntityTooLarge", "Request entity too large: The allowed "
                       "maximum operations in a JSON patch is %d, got %d"
                       % (JSON_PATCH_MAX_OPS, len(ops)))
    doc = clone(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise bad_request("json: cannot unmarshal into Go value of type jsonpatch.Operation")
        kind = op["op"]
        path = op.get("path")
        if not isinstance(path, str):
            raise _rejected("Unable to parse path")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise _rejected("Unexpected kind: unknown")
        if kind == "add":
            doc = _add(doc, path, clone(op["value"]))
        elif kind == "replace":
            doc = _add(doc, path, clone(op["value"]), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "move":
            frm = op.get("from")
            if not isinstance(frm, str):
                raise _rejected("move operation does not apply: missing from")
            val = _remove(doc, frm)
            doc = _add(doc, path, val)
        elif kind == "copy":
            frm = op.get("from")
            if not isinstance(frm, str):
                raise _rejected("copy operation does not apply: missing from")
            doc = _add(doc, path, clone(_get(doc, frm)))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise _rejected("testing value %s failed: test failed" % path)
        else:
            raise _rejected('Unexpected kind: %s' % kind)
    return doc


# ---- strategic merge patch ---------------------------------------------------------------
_DELETE = object()


def _strip_directives(v):
    if isinstance(v, dict):
        return {k: _strip_directives(x) for k, x in v.items()
                if not k.startswith("$")}
    if isinstance(v, list):
        return [_strip_directives(x) for x in v
                if not (isinstance(x, dict) and x.get("$patch") in ("delete", "replace")
                        and len(x) == 1)]
    return v


def strategic_merge(orig, patch, names=(), merge_key=None):
    """Apply a strategic merge patch to orig (not modified); returns the result. merge_key(names)
    gives a list's patchMergeKey ('$primitive' for merged scalar lists, None to replace)."""
    if not isinstance(patch, dict):
        raise bad_request("unable to find api field in struct for the json field")
    return _smp_map(orig if isinstance(orig, dict) else {}, patch, names,
                    merge_key or smp_merge_key)


def _smp_map(orig, patch, names, mk):
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    if directive == "delete":
        return _DELETE
    if directive not in (None, "merge"):
        raise bad_request('Unknown patch type: %s' % directive)
    result = dict(orig)
    orders = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            cur = result.get(f)
            if isinstance(cur, list) and isinstance(v, list):
                result[f] = [x for x in cur if x not in v]
            continue
        if v is None:
            result.pop(k, None)
            continue
        child = names + (k,)
        if isinstance(v, dict):
            merged = _smp_map(orig.get(k) if isinstance(orig.get(k), dict) else {}, v, child, mk)
            if merged is _DELETE:
                result.pop(k, None)
            else:
                result[k] = merged
        elif isinstance(v, list):
            key = mk(child)
            if key is None:
                result[k] = _strip_directives(v)
            else:
                result[k] = _smp_list(orig.get(k) if isinstance(orig.get(k), list) else [], v,
                                      key, child, mk)
        else:
            result[k] = v
    for f, order in orders.items():
        cur = result.get(f)
        if isinstance(cur, list) and isinstance(order, list):
            result[f] = _order(cur, order, mk(names + (f,)))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for k in list(result.keys()):
            if k not in retain and k not in patch:
                result.pop(k)
    return result


def _smp_list(orig, patch, key, names, mk):
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return _strip_directives([x for x in patch
                                  if not (isinstance(x, dict) and x.get("$patch") == "replace")])
    if key == "$primitive":
        out = list(orig)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    out = [clone(x) for x in orig]
    for item in patch:
        if not isinstance(item, dict):
            out.append(item)
            continue
        kv = item.get(key)
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == kv),
                   None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_strip_directives(item))
        else:
            merged = _smp_map(out[idx], item, names, mk)
            if merged is _DELETE:
                out.pop(idx)
            else:
                out[idx] = merged
    return out


def _order(items, order, key):
    def ident(x):
        if key and key != "$primitive" and isinstance(x, dict):
            return x.get(key)
        return x

    wanted = [ident(o) for o in order]
    pos = {}
    for i, w in enumerate(wanted):
        if isinstance(w, (str, int, float, bool)) or w is None:
            pos.setdefault(w, i)
    ranked = []
    for n, x in enumerate(items):
        i = ident(x)
        p = pos.get(i, len(wanted)) if isinstance(i, (str, int, float, bool)) or i is None \
            else len(wanted)
        ranked.append((p, n, x))
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [x for _, _, x in ranked]
