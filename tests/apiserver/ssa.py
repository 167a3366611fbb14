"""Field ownership: managedFields bookkeeping for every write and server-side apply (reference
§3.8, §4.6). A field set is a set of paths; a path is a tuple of elements ('f', name),
('k', '{"name":"c"}') for an item of a map-list, ('v', '"x"') for an item of a set-list."""

import json

from errors import APIError
from util import clone, now_rfc3339

_SKIP_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
              "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink",
              "generateName"}


def _key_of(item, keys):
    return json.dumps({k: item.get(k) for k in keys if k in item}, sort_keys=True,
                      separators=(",", ":"))


def fieldset(obj, typer, include_status=True, skip=(), skip_meta=()):
    """The field paths of obj; top-level fields in skip and metadata fields in skip_meta are
    left out."""
    out = set()
    for k, v in obj.items():
        if k in ("apiVersion", "kind") or k in skip:
            continue
        if k == "status" and not include_status:
            continue
        if k == "metadata" and isinstance(v, dict):
            for mk, mv in v.items():
                if mk in _SKIP_META or mk in skip_meta:
                    continue
                _walk(mv, (("f", "metadata"), ("f", mk)), ("metadata", mk), typer, out)
            continue
        _walk(v, (("f", k),), (k,), typer, out)
    return out


def _shared(old, new):
    """Top-level fields and metadata fields that new shares with old (the very same object, as
    after a status write that copies the rest): their paths and values are the same in both, so
    none of them can be changed or removed, and both field sets may leave them out."""
    top = {k for k, v in new.items() if k != "metadata" and k in old and old[k] is v}
    om, nm = old.get("metadata"), new.get("metadata")
    meta = set()
    if isinstance(om, dict) and isinstance(nm, dict):
        meta = {k for k, v in nm.items() if k in om and om[k] is v}
    return top, meta


def _walk(v, path, names, typer, out):
    if isinstance(v, dict):
        if not v:
            out.add(path)
            return
        for k, x in v.items():
            _walk(x, path + (("f", k),), names + (k,), typer, out)
        return
    if isinstance(v, list):
        t, keys = typer(names)
        if t == "map" and all(isinstance(i, dict) for i in v):
            for item in v:
                p = path + (("k", _key_of(item, keys)),)
                out.add(p)
                for k, x in item.items():
                    _walk(x, p + (("f", k),), names + (k,), typer, out)
            return
        if t == "set" and all(not isinstance(i, (dict, list)) for i in v):
            for item in v:
                out.add(path + (("v", json.dumps(item, separators=(",", ":"))),))
            return
        out.add(path)
        return
    out.add(path)


_MISSING = object()
_KEY_VALUES = {}


def _key_value(val):
    """json.loads of a map-list item key (k:...), kept: the same keys are looked up again and
    again. The value returned is shared, so callers only read it."""
    want = _KEY_VALUES.get(val)
    if want is None:
        want = json.loads(val)
        if len(_KEY_VALUES) >= 50000:
            _KEY_VALUES.clear()
        _KEY_VALUES[val] = want
    return want


def get_at(obj, path):
    cur = obj
    for kind, val in path:
        if kind == "f":
            if not isinstance(cur, dict) or val not in cur:
                return _MISSING
            cur = cur[val]
        elif kind == "k":
            if not isinstance(cur, list):
                return _MISSING
            want = _key_value(val)
            for item in cur:
                if isinstance(item, dict) and all(item.get(a) == b for a, b in want.items()):
                    cur = item
                    break
            else:
                return _MISSING
        else:
            if not isinstance(cur, list):
                return _MISSING
            want = json.loads(val)
            if want not in cur:
                return _MISSING
            cur = want
    return cur


def remove_at(obj, path):
    """Remove the field/item at path from obj (in place); missing paths are ignored."""
    if not path:
        return
    parent = get_at(obj, path[:-1])
    if parent is _MISSING:
        return
    kind, val = path[-1]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(val, None)
    elif kind == "k" and isinstance(parent, list):
        want = json.loads(val)
        for i, item in enumerate(parent):
            if isinstance(item, dict) and all(item.get(a) == b for a, b in want.items()):
                parent.pop(i)
                break
    elif kind == "v" and isinstance(parent, list):
        want = json.loads(val)
        if want in parent:
            parent.remove(want)


def path_string(path):
    """Conflict field text like '.spec.containers[name="app"].image'."""
    out = []
    for kind, val in path:
        if kind == "f":
            out.append("." + val)
        elif kind == "k":
            d = json.loads(val)
            out.append("[" + ",".join("%s=%s" % (k, json.dumps(x)) for k, x in d.items()) + "]")
        else:
            out.append("[=%s]" % val)
    return "".join(out)


# ---- managedFields (de)serialization --------------------------------------------------------
_PREFIX = {"f": "f:", "k": "k:", "v": "v:"}


def _elem_key(e):
    return _PREFIX[e[0]] + e[1]


def to_trie(paths):
    root = {}
    prefix = _PREFIX
    for p in sorted(paths):
        node = root
        for e in p:
            node = node.setdefault(prefix[e[0]] + e[1], {})  # _elem_key, inlined: hot
        if p and p[-1][0] == "k":
            node["."] = {}
    return root


def from_trie(node, prefix=()):
    out = set()
    for key, child in (node or {}).items():
        if key == ".":
            if prefix:
                out.add(prefix)
            continue
        if len(key) < 2 or key[1] != ":":
            continue
        e = (key[0], key[2:])
        p = prefix + (e,)
        if not child:
            out.add(p)
        else:
            out |= from_trie(child, p)
    return out


class Entry:
    __slots__ = ("manager", "operation", "api_version", "time", "subresource", "fields",
                 "changed")

    def __init__(self, manager, operation, api_version, time_, subresource, fields):
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.time = time_
        self.subresource = subresource
        self.fields = fields
        self.changed = False

    def ident(self):
        return (self.manager, self.operation, self.subresource)


def parse_managed(obj):
    out = []
    for e in (obj.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(e, dict):
            continue
        out.append(Entry(e.get("manager", ""), e.get("operation", "Update"),
                         e.get("apiVersion", ""), e.get("time"), e.get("subresource", ""),
                         from_trie(e.get("fieldsV1") or {})))
    return out


def encode_managed(entries):
    out = []
    for e in entries:
        if not e.fields:
            continue
        d = {"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version}
        if e.time:
            d["time"] = e.time
        d["fieldsType"] = "FieldsV1"
        d["fieldsV1"] = to_trie(e.fields)
        if e.subresource:
            d["subresource"] = e.subresource
        out.append(d)
    return out


def _find(entries, manager, operation, subresource):
    for e in entries:
        if e.manager == manager and e.operation == operation and e.subresource == subresource:
            return e
    return None


def track_update(old, new, manager, api_version, typer, subresource=""):
    """Record a non-apply write of new (in place: sets new.metadata.managedFields)."""
    meta = new.setdefault("metadata", {})
    if old is not None and "managedFields" in meta and \
            meta["managedFields"] != (old.get("metadata") or {}).get("managedFields"):
        if meta["managedFields"] == []:
            entries = []
        else:
            return  # the client replaced managedFields explicitly: keep what it sent
    else:
        entries = parse_managed(old) if old is not None else []
    include_status = True
    if old is not None:
        top, meta_shared = _shared(old, new)
        new_set = fieldset(new, typer, include_status, top, meta_shared)
        old_set = fieldset(old, typer, include_status, top, meta_shared)
        changed = set()
        for p in new_set:
            if p not in old_set or get_at(old, p) != get_at(new, p):
                changed.add(p)
        removed = old_set - new_set
    else:
        changed = fieldset(new, typer, include_status)
        removed = set()
    if not changed and not removed and old is not None:
        meta["managedFields"] = (old.get("metadata") or {}).get("managedFields") or []
        if not meta["managedFields"]:
            meta.pop("managedFields")
        return
    for e in entries:
        before = len(e.fields)
        e.fields = e.fields - removed
        if not (e.manager == manager and e.operation == "Update" and
                e.subresource == subresource):
            e.fields = e.fields - changed
        if len(e.fields) != before:
            e.changed = True
    mine = _find(entries, manager, "Update", subresource)
    if mine is None:
        mine = Entry(manager, "Update", api_version, None, subresource, set())
        entries.append(mine)
    mine.fields = mine.fields | changed
    mine.api_version = api_version
    mine.time = now_rfc3339()
    encoded = encode_managed(entries)
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)


def merge_applied(live, applied, typer, names=()):
    """Merge the applied configuration into live (maps by key, map-lists by key, sets by
    union, atomic lists and scalars replaced); returns a new value."""
    if isinstance(applied, dict) and isinstance(live, dict):
        out = dict(live)
        for k, v in applied.items():
            out[k] = merge_applied(live.get(k), v, typer, names + (k,)) if k in live else clone(v)
        return out
    if isinstance(applied, list) and isinstance(live, list) and names:
        t, keys = typer(names)
        if t == "map" and all(isinstance(i, dict) for i in applied + live):
            out = [clone(i) for i in live]
            for item in applied:
                k = _key_of(item, keys)
                for i, cur in enumerate(out):
                    if _key_of(cur, keys) == k:
                        out[i] = merge_applied(cur, item, typer, names)
                        break
                else:
                    out.append(clone(item))
            return out
        if t == "set":
            out = list(live)
            for item in applied:
                if item not in out:
                    out.append(clone(item))
            return out
    return clone(applied)


def apply(live, applied, manager, api_version, force, typer, subresource="", exclude_status=False):
    """Server-side apply of applied onto live (None when creating). Returns the merged object
    with managedFields set; raises 409 on conflicts unless force."""
    body = {k: v for k, v in applied.items() if not (exclude_status and k == "status")}
    a_set = fieldset(body, typer, True)
    entries = parse_managed(live) if live is not None else []
    conflicts = []
    if live is not None:
        for e in entries:
            if e.manager == manager and e.operation == "Apply" and e.subresource == subresource:
                continue
            if e.subresource != subresource:
                continue
            for p in sorted(a_set & e.fields):
                lv = get_at(live, p)
                av = get_at(body, p)
                if p[-1][0] == "k":
                    continue
                if lv is not _MISSING and lv != av:
                    conflicts.append((e, p))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for e, p in conflicts:
        e.fields = e.fields - {p}
    mine = _find(entries, manager, "Apply", subresource)
    prev = mine.fields if mine is not None else set()
    base = live if live is not None else {}
    merged = merge_applied({k: v for k, v in base.items()}, body, typer)
    removed = prev - a_set
    others = [e for e in entries if e is not mine]
    for p in sorted(removed, key=len, reverse=True):
        owned = any(p in e.fields or any(q[:len(p)] == p for q in e.fields) for e in others)
        if not owned:
            remove_at(merged, p)
    _drop_empty_parents(merged, removed)
    if mine is None:
        mine = Entry(manager, "Apply", api_version, None, subresource, set())
        entries.append(mine)
    mine.fields = set(a_set)
    mine.api_version = api_version
    mine.time = now_rfc3339()
    meta = merged.setdefault("metadata", {})
    meta["managedFields"] = encode_managed(entries)
    if not meta["managedFields"]:
        meta.pop("managedFields")
    return merged


def _drop_empty_parents(obj, removed):
    """After removing fields, drop maps that became empty because of it (labels: {} etc.)."""
    for p in removed:
        for n in range(len(p) - 1, 0, -1):
            parent = get_at(obj, p[:n])
            if isinstance(parent, dict) and not parent and p[n - 1][0] == "f":
                remove_at(obj, p[:n])
            else:
                break


def _manager_text(e):
    """printManager of apimachinery conflict.go."""
    text = '"%s"' % e.manager
    if e.subresource:
        text += ' with subresource "%s"' % e.subresource
    if e.operation == "Update":
        text += " using %s" % e.api_version
        if e.time:
            text += " at %s" % e.time
    return text


def _conflict_error(conflicts):
    by = {}
    order = []
    for e, p in conflicts:
        if e.manager not in by:
            order.append(e)
        by.setdefault(e.manager, []).append(p)
    causes = [{"reason": "FieldManagerConflict", "message": "conflict with " + _manager_text(e),
               "field": path_string(p)} for e, p in conflicts]
    n = len(conflicts)
    if n == 1:
        e, p = conflicts[0]
        message = "Apply failed with 1 conflict: conflict with %s: %s" % (_manager_text(e),
                                                                         path_string(p))
    else:
        parts = []
        for e in order:
            paths = by[e.manager]
            if len(paths) == 1:
                parts.append("conflict with %s: %s" % (_manager_text(e), path_string(paths[0])))
            else:
                parts.append("conflicts with %s:\n%s" % (
                    _manager_text(e), "\n".join("- " + path_string(p) for p in paths)))
        message = "Apply failed with %d conflicts: %s" % (n, "\n".join(parts))
    return APIError(409, "Conflict", message, {"causes": causes})
