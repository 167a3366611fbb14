"""Field ownership: managedFields bookkeeping for every write and server-side apply (reference
§3.8, §4.6). A field set is a set of paths; a path is a tuple of elements ('f', name),
('k', '{"name":"c"}') for an item of a map-list, ('v', '"x"') for an item of a set-list."""

import json

from errors import APIError
from util import clone, now_rfc3339

_SKIP_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
              "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink",
              "generateName"}


# The same text as json.dumps(..., sort_keys=True, separators=(",", ":")) and
# json.dumps(..., separators=(",", ":")), without building an encoder per call.
_sorted_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _key_of(item, keys):
    return _sorted_dumps({k: item.get(k) for k in keys if k in item})


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


def _walk(v, path, names, typer, out):
    if isinstance(v, dict):
        if not v:
            out.add(path)
            return
        for k, x in v.items():
            if isinstance(x, (dict, list)):
                _walk(x, path + (("f", k),), names + (k,), typer, out)
            else:
                out.add(path + (("f", k),))  # a scalar: the path itself (inlined: hot)
        return
    if isinstance(v, list):
        t, keys = typer(names)
        if t == "map" and all(isinstance(i, dict) for i in v):
            for item in v:
                p = path + (("k", _key_of(item, keys)),)
                out.add(p)
                for k, x in item.items():
                    if isinstance(x, (dict, list)):
                        _walk(x, p + (("f", k),), names + (k,), typer, out)
                    else:
                        out.add(p + (("f", k),))
            return
        if t == "set" and all(not isinstance(i, (dict, list)) for i in v):
            for item in v:
                out.add(path + (("v", _dumps(item)),))
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


# Tries made by to_trie, with the field set from_trie gives back for each: stored objects are
# never changed, so the managedFields of the stored object a write starts from are usually
# tries made here by an earlier write, and neither parsing them again nor encoding an
# unchanged set again is needed. id(trie) -> (trie, fields); bounded, oldest dropped first.
_TRIES = {}
_TRIES_MAX = 16384


# Tries by field set: objects made from the same template have the same field names and list
# keys, so the same trie (shared: tries are never changed in place) serves them all.
_BY_FIELDS = {}
_BY_FIELDS_MAX = 4096


def to_trie(paths):
    key = frozenset(paths)
    hit = _BY_FIELDS.get(key)
    if hit is not None:
        root, fields = hit
        known = _TRIES.get(id(root))
        if known is None or known[0] is not root:
            _remember(root, fields)
        return root
    root = _build_trie(paths)
    if len(_BY_FIELDS) >= _BY_FIELDS_MAX:
        for k in list(_BY_FIELDS)[:_BY_FIELDS_MAX // 4]:
            del _BY_FIELDS[k]
    _BY_FIELDS[key] = (root, _TRIES[id(root)][1])
    return root


def _build_trie(paths):
    root = {}
    prefix = _PREFIX
    # In sorted order a path shares a prefix with the one before, whose nodes are at hand:
    # only the elements after the common prefix are looked up or added. Paths the trie does
    # not give back (from_trie): the empty path, and a path (other than a map-list item) that
    # is a prefix of another, which comes right before a path extending it.
    nodes = [root]
    prev = ()
    dropped = None
    for p in sorted(paths):
        m = len(p)
        if not m:
            dropped = [p]
            continue
        lp = len(prev)
        n = 0
        while n < lp and n < m and p[n] == prev[n]:
            n += 1
        if n == lp and lp and m > n and prev[-1][0] != "k":
            if dropped is None:
                dropped = []
            dropped.append(prev)
        del nodes[n + 1:]
        node = nodes[n]
        for e in p[n:]:
            node = node.setdefault(prefix[e[0]] + e[1], {})  # _elem_key, inlined: hot
            nodes.append(node)
        if p[-1][0] == "k":
            node["."] = {}
        prev = p
    fields = paths if isinstance(paths, (set, frozenset)) else set(paths)
    if dropped:
        fields = set(fields).difference(dropped)
    _remember(root, fields)
    return root


def _remember(trie, fields):
    if len(_TRIES) >= _TRIES_MAX:
        for k in list(_TRIES)[:_TRIES_MAX // 4]:
            del _TRIES[k]
    _TRIES[id(trie)] = (trie, fields)


def parse_trie(trie):
    """(from_trie(trie), trie if it was made by to_trie else None); the set is shared, so
    callers do not change it."""
    hit = _TRIES.get(id(trie))
    if hit is not None and hit[0] is trie:
        return hit[1], trie
    return from_trie(trie), None


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
                 "changed", "trie")

    def __init__(self, manager, operation, api_version, time_, subresource, fields, trie=None):
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.time = time_
        self.subresource = subresource
        self.fields = fields  # never changed in place (it may be shared): replaced
        self.changed = False
        # (fields as parsed, the trie made by to_trie they were parsed from), or None
        self.trie = trie

    def ident(self):
        return (self.manager, self.operation, self.subresource)


def parse_managed(obj):
    out = []
    for e in (obj.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(e, dict):
            continue
        fv = e.get("fieldsV1") or {}
        fields, trie = parse_trie(fv)
        ent = Entry(e.get("manager", ""), e.get("operation", "Update"), e.get("apiVersion", ""),
                    e.get("time"), e.get("subresource", ""), fields)
        if trie is not None:
            ent.trie = (fields, trie)
        out.append(ent)
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
        d["fieldsV1"] = _trie_of(e)
        if e.subresource:
            d["subresource"] = e.subresource
        out.append(d)
    return out


def _trie_of(e):
    """to_trie(e.fields), from the trie e.fields was parsed from when there is one."""
    t = e.trie
    if t is None:
        return to_trie(e.fields)
    parsed, trie = t
    if e.fields is parsed:
        return trie  # to_trie(from_trie(t)) == t for a trie t made by to_trie
    if len(e.fields) < len(parsed) and len(parsed) - len(e.fields) <= 16 and \
            e.fields.issubset(parsed):
        return _trie_without(trie, parsed - e.fields, e.fields)
    return to_trie(e.fields)


def _trie_without(trie, gone, fields):
    """to_trie(fields) for fields = from_trie(trie) less the paths in gone, made from trie:
    the nodes on the way to a removed path are copied (trie is shared), the path's node
    removed, then every node left empty by it (no other path of fields goes through it, and
    none ends there: a map-list item's node keeps its "." and fields holds no other path that
    is a prefix of another). The other keys keep their order, which is to_trie's."""
    prefix = _PREFIX
    root = dict(trie)
    copied = {id(root)}
    for p in gone:
        chain = [root]
        node = root
        for e in p:
            k = prefix[e[0]] + e[1]
            child = node[k]
            if id(child) not in copied:
                child = dict(child)
                copied.add(id(child))
                node[k] = child
            chain.append(child)
            node = child
        if p[-1][0] == "k":
            del node["."]
        for i in range(len(p) - 1, -1, -1):
            if chain[i + 1]:
                break
            e = p[i]
            del chain[i][prefix[e[0]] + e[1]]
    _remember(root, fields)
    return root


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
            explicit_empty = True
        else:
            return  # the client replaced managedFields explicitly: keep what it sent
    else:
        explicit_empty = False
    include_status = True
    if old is not None:
        changed, removed = _changes(old, new, typer)
    else:
        changed = fieldset(new, typer, include_status)
        removed = set()
    if not changed and not removed and old is not None:
        meta["managedFields"] = (old.get("metadata") or {}).get("managedFields") or []
        if not meta["managedFields"]:
            meta.pop("managedFields")
        return
    entries = parse_managed(old) if old is not None and not explicit_empty else []
    for e in entries:
        # (a set is replaced only when it loses paths: an unchanged one keeps its trie)
        before = len(e.fields)
        if removed and not e.fields.isdisjoint(removed):
            e.fields = e.fields - removed
        if not (e.manager == manager and e.operation == "Update" and
                e.subresource == subresource) and not e.fields.isdisjoint(changed):
            e.fields = e.fields - changed
        if len(e.fields) != before:
            e.changed = True
    mine = _find(entries, manager, "Update", subresource)
    if mine is None:
        mine = Entry(manager, "Update", api_version, None, subresource, set())
        entries.append(mine)
    if not changed.issubset(mine.fields):
        mine.fields = mine.fields | changed
    mine.api_version = api_version
    mine.time = now_rfc3339()
    encoded = encode_managed(entries)
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)


def _same_json(a, b):
    """a == b with the same JSON text: equal values of one type (1, 1.0 and true are equal
    in Python but not the same field value here) and keys in the same order. Not for NaN,
    which is never equal to itself."""
    if a is b:
        t = _dumps(a)
    else:
        if a != b:
            return False
        t = _dumps(a)
        if t != _dumps(b):
            return False
    return "NaN" not in t


def _changes(old, new, typer):
    """(changed, removed) for a write of new over old: the paths of new's field set whose
    value differs from old's at that path (or that old lacks), and the paths of old's field
    set that new lacks; status included. The same sets as comparing the two objects' whole
    field sets path by path, found without walking the parts the two have in common: the
    field set is a union over map keys, so a key with the very same value on both sides adds
    the same paths and values to both and can be left out, and a key present on one side
    only adds paths to that side only."""
    changed = set()
    removed = set()
    for k, nv in new.items():
        if k in ("apiVersion", "kind"):
            continue
        if k == "metadata" and isinstance(nv, dict):
            ov = old.get("metadata")
            if not isinstance(ov, dict):
                # (metadata walked as a value on one side, by fields on the other)
                if "metadata" in old:
                    _walk(ov, (("f", k),), (k,), typer, removed)
                for mk, mv in nv.items():
                    if mk not in _SKIP_META:
                        _walk(mv, (("f", "metadata"), ("f", mk)), ("metadata", mk), typer,
                              changed)
                continue
            for mk, mv in nv.items():
                if mk in _SKIP_META:
                    continue
                p = (("f", "metadata"), ("f", mk))
                if mk in ov:
                    x = ov[mk]
                    if x is not mv and not _same_json(x, mv):
                        _diff(x, mv, p, ("metadata", mk), typer, changed, removed)
                else:
                    _walk(mv, p, ("metadata", mk), typer, changed)
            for mk, x in ov.items():
                if mk not in _SKIP_META and mk not in nv:
                    _walk(x, (("f", "metadata"), ("f", mk)), ("metadata", mk), typer, removed)
            continue
        p = (("f", k),)
        if k in old:
            ov = old[k]
            if k == "metadata" and isinstance(ov, dict):
                _walk(nv, p, (k,), typer, changed)
                for mk, x in ov.items():
                    if mk not in _SKIP_META:
                        _walk(x, (("f", "metadata"), ("f", mk)), ("metadata", mk), typer,
                              removed)
            elif ov is not nv and not _same_json(ov, nv):
                _diff(ov, nv, p, (k,), typer, changed, removed)
        else:
            _walk(nv, p, (k,), typer, changed)
    for k, ov in old.items():
        if k in ("apiVersion", "kind") or k in new:
            continue
        if k == "metadata" and isinstance(ov, dict):
            for mk, x in ov.items():
                if mk not in _SKIP_META:
                    _walk(x, (("f", "metadata"), ("f", mk)), ("metadata", mk), typer, removed)
            continue
        _walk(ov, (("f", k),), (k,), typer, removed)
    return changed, removed


def _diff(ov, nv, path, names, typer, changed, removed):
    """_changes for the values at path (reached through map keys only) in old and new."""
    if isinstance(ov, dict) and isinstance(nv, dict) and ov and nv:
        for k, v in nv.items():
            p = path + (("f", k),)
            if k in ov:
                x = ov[k]
                if not _same_json(x, v):
                    _diff(x, v, p, names + (k,), typer, changed, removed)
            else:
                _walk(v, p, names + (k,), typer, changed)
        for k, x in ov.items():
            if k not in nv:
                _walk(x, path + (("f", k),), names + (k,), typer, removed)
        return
    # Anything else (lists, scalars, empty maps, a change of type): compare the field sets of
    # the two values, paths relative to here.
    new_set = set()
    _walk(nv, path, names, typer, new_set)
    old_set = set()
    _walk(ov, path, names, typer, old_set)
    n = len(path)
    for p in new_set:
        if p not in old_set or get_at(ov, p[n:]) != get_at(nv, p[n:]):
            changed.add(p)
    removed |= old_set - new_set


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
    if removed:
        # merged shares the parts the configuration leaves out with live, a stored object
        # (never changed in place): removing fields from them changed the stored object
        # without a new resourceVersion or watch event
        merged = clone(merged)
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
