"""Structural OpenAPI v3 schemas of CustomResourceDefinitions: validation, defaulting, pruning.

Mirrors kube-apiserver 1.32 (apiextensions-apiserver + kube-openapi):
    validate(obj, schema, old=None) -> [cause]          OpenAPI value validation, embedded
        resources, x-kubernetes-list-type set/map uniqueness, x-kubernetes-validations (CEL),
        ratcheting of unchanged values on update.
    format_invalid_message(kind, name, causes) -> str   the Status message of a 422 Invalid.
    apply_defaults(obj, schema) -> obj                   structural defaulting (in place).
    prune(obj, schema) -> [path]                          drops unknown fields (in place).
    check_structural(schema, path) -> [cause]            CRD schema checks on create/update.

A cause is {"reason": <CauseType>, "field": <path>, "message": <ErrorBody>} worded like the real
server. Pure functions: no I/O, no module-level mutable state.
"""

import base64
import copy
import ipaddress
import json
import re

import cel

_MISSING = object()

OBJECT_META_FIELDS = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
                      "generation", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
                      "finalizers", "managedFields")

BLOCKING_MESSAGE = ("some validation rules were not checked because the object was invalid; "
                    "correct the existing errors to complete validation")


# --------------------------------------------------------------------------------------------
# field errors (k8s.io/apimachinery/pkg/util/validation/field)


class _Raw(str):
    """A value already rendered the way Go prints it (e.g. %#v of a map or struct)."""


def _gv(v):
    """Go's rendering of a bad value inside ErrorBody."""
    if isinstance(v, _Raw):
        return str(v)
    if v is None:
        return '"null"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return cel.go_float(v)
    if isinstance(v, str):
        return cel.go_quote(v)
    return _gosharp(v)


def _gosharp(v):
    """fmt's %#v of an unstructured JSON value."""
    if v is None:
        return "interface {}(nil)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return cel.go_float(v)
    if isinstance(v, str):
        return cel.go_quote(v)
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_gosharp(x) for x in v) + "}"
    if isinstance(v, dict):
        return "map[string]interface {}{" + ", ".join(
            "%s:%s" % (cel.go_quote(k), _gosharp(v[k])) for k in sorted(v)) + "}"
    return str(v)


def _err(reason, field, value=_MISSING, detail=""):
    head = {"FieldValueRequired": "Required value", "FieldValueInvalid": "Invalid value",
            "FieldValueTypeInvalid": "Invalid value", "FieldValueNotSupported": "Unsupported value",
            "FieldValueForbidden": "Forbidden", "FieldValueDuplicate": "Duplicate value",
            "FieldValueTooLong": "Too long", "FieldValueTooMany": "Too many",
            "FieldValueNotFound": "Not found", "InternalError": "Internal error"}[reason]
    if reason in ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong", "InternalError") \
            or value is _MISSING:
        body = head
    else:
        body = "%s: %s" % (head, _gv(value))
    if detail:
        body += ": " + detail
    return {"reason": reason, "field": field, "message": body}


def required(field, detail=""):
    return _err("FieldValueRequired", field, detail=detail)


def invalid(field, value, detail):
    return _err("FieldValueInvalid", field, value, detail)


def forbidden(field, detail):
    return _err("FieldValueForbidden", field, detail=detail)


def not_supported(field, value, values):
    return _err("FieldValueNotSupported", field, value,
                "supported values: " + ", ".join(cel.go_quote(x) for x in values) if values else "")


def too_long(field, max_len):
    if max_len >= 0:
        detail = "may not be more than %d %s" % (max_len, "byte" if max_len == 1 else "bytes")
    else:
        detail = "value is too long"
    return _err("FieldValueTooLong", field, detail=detail)


def too_many(field, actual, max_n):
    detail = "must have at most %d items" % max_n if max_n >= 0 else "has too many items"
    return _err("FieldValueTooMany", field, actual if actual >= 0 else _MISSING, detail)


def format_invalid_message(kind, name, causes):
    """`<Kind>[.<group>] "<name>" is invalid: ...` exactly as errors.NewInvalid words it."""
    head = "%s %s is invalid" % (kind, cel.go_quote(name))
    msgs = []
    for c in causes:
        f = c.get("field")
        m = "%s: %s" % (f, c.get("message", "")) if f is not None else c.get("message", "")
        if m not in msgs:
            msgs.append(m)
    if not msgs:
        return head
    if len(msgs) == 1:
        return head + ": " + msgs[0]
    return head + ": [" + ", ".join(msgs) + "]"


# --------------------------------------------------------------------------------------------
# paths


def _child(path, name):
    return name if not path else path + "." + name


def _index(path, i):
    return "%s[%d]" % (path, i)


def _key(path, k):
    return "%s[%s]" % (path, k)


# --------------------------------------------------------------------------------------------
# formats (kube-openapi strfmt.Default)


_UUID_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_DATETIME_TAIL = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$")
_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_MAC_RE = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{2}[:-]){7}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{2}[:-]){19}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$")
_DUR_LONG = re.compile(r"^(\s*\d+\s*(ns|us|µs|ms|s|m|h|d|w|nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?|sec|secs|min|mins|hr|hrs)\s*)+$")


def _is_date(s):
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})$", s)
    if not m:
        return False
    import datetime
    try:
        datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return True
    except ValueError:
        return False


def _is_datetime(s):
    if len(s) < 4:
        return False
    parts = s.lower().split("t")
    if len(parts) < 2 or not _is_date(parts[0]):
        return False
    m = _DATETIME_TAIL.match(parts[1])
    return bool(m) and m.group(1) <= "23" and m.group(2) <= "59" and m.group(3) <= "59"


def _is_duration(s):
    try:
        cel.parse_duration(s)
        return True
    except cel.EvalError:
        return bool(_DUR_LONG.match(s))


def _is_byte(s):
    try:
        base64.b64decode(s, validate=True)
        return True
    except Exception:
        return False


def _is_ipv4(s):
    try:
        ipaddress.IPv4Address(s)
        return True
    except ValueError:
        return False


def _is_ipv6(s):
    try:
        ipaddress.IPv6Address(s)
        return ":" in s
    except ValueError:
        return False


def _is_cidr(s):
    try:
        ipaddress.ip_network(s, strict=False)
        return "/" in s
    except ValueError:
        return False


def _is_uri(s):
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$", s)) or bool(re.match(r"^/[^\s]*$", s))


_FORMATS = {
    "datetime": _is_datetime, "date": _is_date, "duration": _is_duration, "byte": _is_byte,
    "uuid": lambda s: bool(_UUID_RE.match(s)),
    "uuid3": lambda s: bool(re.match(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$", s)),
    "uuid4": lambda s: bool(re.match(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", s)),
    "uuid5": lambda s: bool(re.match(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", s)),
    "email": lambda s: bool(_EMAIL_RE.match(s)), "hostname": lambda s: bool(_HOSTNAME_RE.match(s)),
    "ipv4": _is_ipv4, "ipv6": _is_ipv6, "cidr": _is_cidr, "mac": lambda s: bool(_MAC_RE.match(s)),
    "uri": _is_uri, "password": lambda s: True,
    "hexcolor": lambda s: bool(re.match(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", s)),
    "rgbcolor": lambda s: bool(re.match(r"^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$", s)),
    "bsonobjectid": lambda s: bool(re.match(r"^[0-9a-fA-F]{24}$", s)),
    "isbn": lambda s: bool(re.match(r"^(?:\d[\d-]{8,15}[\dXx])$", s)),
    "isbn10": lambda s: bool(re.match(r"^(?:\d[\d-]{8,11}[\dXx])$", s)),
    "isbn13": lambda s: bool(re.match(r"^(?:\d[\d-]{11,15}\d)$", s)),
    "creditcard": lambda s: bool(re.match(r"^\d{12,19}$", s.replace(" ", "").replace("-", ""))),
    "ssn": lambda s: bool(re.match(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$", s)),
}


def _format_ok(fmt, s):
    f = _FORMATS.get(fmt.replace("-", "").replace("_", "").replace(" ", "").lower())
    if f is None:
        return True
    return f(s)


def _known_format(fmt):
    return fmt.replace("-", "").replace("_", "").replace(" ", "").lower() in _FORMATS


# --------------------------------------------------------------------------------------------
# OpenAPI value validation (kube-openapi validate.SchemaValidator)


def _json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "object"


_dumps = json.JSONEncoder(separators=(",", ":")).encode


def deep_equal(a, b):
    """JSON equality: numbers of different types (1, 1.0, true) differ, map keys in any
    order. A value differs from itself when it holds NaN."""
    if a != b:
        return False  # (deep_equal implies ==)
    # Python says equal: the same JSON text settles it (equal texts hold the same values of
    # the same types); other cases (maps in another key order, ints and floats, NaN) are
    # compared one value at a time.
    if isinstance(a, (dict, list)):
        try:
            t = _dumps(a)
            if "NaN" not in t and t == _dumps(b):
                return True
        except (TypeError, ValueError):
            pass
    return _deep_equal(a, b)


def _deep_equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and len(a) == len(b) and all(k in b and _deep_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return type(a) is type(b) and a == b
    return a == b


class _Err:
    """A kube-openapi validation error before conversion to a field error."""
    __slots__ = ("code", "name", "value", "message", "values", "valid")

    def __init__(self, code, name, value, message, values=None, valid=None):
        self.code = code
        self.name = name
        self.value = value
        self.message = message
        self.values = values
        self.valid = valid


def _type_str(s):
    if s.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    t = s.get("type")
    return [t] if t else []


def _num_str(x, as_int):
    if as_int:
        return str(int(x))
    return cel.go_float(float(x))


class _Validator:
    def __init__(self):
        self.errs = []

    def add(self, code, name, value, message, values=None, valid=None):
        self.errs.append(_Err(code, name, value, message, values, valid))

    # returns number of errors added
    def node(self, v, s, path, old=_MISSING):
        if not isinstance(s, dict):
            return
        if old is not _MISSING and deep_equal(v, old):
            return  # ratcheting: an unchanged value is not re-validated
        start = len(self.errs)
        types = _type_str(s)
        name = path
        # type
        if v is None:
            if types and "null" not in types and not s.get("nullable"):
                self.add("type", name, "null", "%s in body must be of type %s: \"null\"" % (name, ",".join(types)))
            if "enum" in s:
                self._enum(v, s, name)
            return
        jt = _json_type(v)
        if types:
            ok = jt in types or (jt == "integer" and "number" in types) or \
                (jt == "number" and "integer" in types and float(v).is_integer())
            if not ok:
                self.add("type", name, jt, "%s in body must be of type %s: %s" % (name, ",".join(types), cel.go_quote(jt)))
        # allOf / anyOf / oneOf / not
        if any(k in s for k in ("allOf", "anyOf", "oneOf", "not")):
            self._junctors(v, s, name, old)
        # string
        if isinstance(v, str):
            n = len(v)
            if "maxLength" in s and n > s["maxLength"]:
                self.add("maxLength", name, v, "%s in body should be at most %d chars long" % (name, s["maxLength"]), valid=s["maxLength"])
            elif "minLength" in s and n < s["minLength"]:
                self.add("minLength", name, v, "%s in body should be at least %d chars long" % (name, s["minLength"]))
            elif s.get("pattern"):
                try:
                    rx = cel.translate_re2(s["pattern"])
                    if not rx.search(v):
                        self.add("pattern", name, v, "%s in body should match '%s'" % (name, s["pattern"]))
                except cel.RegexError as e:
                    self.add("pattern", name, v, "%s in body should match '%s, but pattern is invalid: %s'" % (
                        name, s["pattern"], "error parsing regexp: %s" % e))
            fmt = s.get("format")
            if fmt and _known_format(fmt) and not _format_ok(fmt, v):
                self.add("type", name, v, "%s in body must be of type %s: %s" % (name, fmt, cel.go_quote(v)))
        # number
        if jt in ("integer", "number"):
            self._number(v, s, name)
        # array
        if isinstance(v, list):
            items = s.get("items")
            if isinstance(items, dict):
                olds = _correlate_list(v, old, s)
                for i, x in enumerate(v):
                    self.node(x, items, "%s[%d]" % (name, i), olds[i])
            n = len(v)
            if "minItems" in s and n < s["minItems"]:
                self.add("minItems", name, n, "%s in body should have at least %d items" % (name, s["minItems"]))
            if "maxItems" in s and n > s["maxItems"]:
                self.add("maxItems", name, n, "%s in body should have at most %d items" % (name, s["maxItems"]), valid=s["maxItems"])
            if s.get("uniqueItems"):
                for i in range(n):
                    if any(deep_equal(v[i], v[j]) for j in range(i)):
                        self.add("unique", name, None, "%s in body shouldn't contain duplicates" % name)
                        break
        # enum
        if "enum" in s:
            self._enum(v, s, name)
        # object
        if isinstance(v, dict):
            self._object(v, s, name, old)
        return len(self.errs) - start

    def _enum(self, v, s, name):
        for e in s["enum"]:
            if deep_equal(v, e) or (isinstance(v, (int, float)) and not isinstance(v, bool) and
                                    isinstance(e, (int, float)) and not isinstance(e, bool) and v == e):
                return
        vals = []
        for e in s["enum"]:
            vals.append(e if isinstance(e, str) else json.dumps(e, separators=(",", ":")))
        self.add("enum", name, v, "%s in body should be one of %s" % (name, vals), values=vals)

    def _number(self, v, s, name):
        as_int = isinstance(v, int)
        if "multipleOf" in s:
            f = s["multipleOf"]
            if as_int and float(f).is_integer() and int(f) != 0:
                if v % int(f) != 0:
                    self.add("multipleOf", name, v, "%s in body should be a multiple of %s" % (name, _num_str(f, True)))
            elif f:
                q = v / f if f >= 1 else (1 / f) * v
                if not float(q).is_integer():
                    self.add("multipleOf", name, v, "%s in body should be a multiple of %s" % (name, cel.go_float(float(f))))
        if "minimum" in s:
            m = s["minimum"]
            lim = int(m) if as_int else m
            exc = bool(s.get("exclusiveMinimum"))
            if (not exc and v < lim) or (exc and v <= lim):
                self.add("minimum", name, v, "%s in body should be greater than %s%s" % (
                    name, "" if exc else "or equal to ", _num_str(m, as_int)))
        if "maximum" in s:
            m = s["maximum"]
            lim = int(m) if as_int else m
            exc = bool(s.get("exclusiveMaximum"))
            if (not exc and v > lim) or (exc and v >= lim):
                self.add("maximum", name, v, "%s in body should be less than %s%s" % (
                    name, "" if exc else "or equal to ", _num_str(m, as_int)))

    def _object(self, v, s, name, old):
        n = len(v)
        if "minProperties" in s and n < s["minProperties"]:
            self.add("minProperties", name, n, "%s in body should have at least %d properties" % (name, s["minProperties"]))
            return
        if "maxProperties" in s and n > s["maxProperties"]:
            self.add("maxProperties", name, n, "%s in body should have at most %d properties" % (name, s["maxProperties"]), valid=s["maxProperties"])
            return
        props = s.get("properties") or {}
        ap = s.get("additionalProperties")
        oldd = old if isinstance(old, dict) else {}
        if isinstance(ap, dict):
            for k, x in v.items():
                if k not in props:
                    self.node(x, ap, _child(name, k), oldd.get(k, _MISSING))
        elif ap is False:
            for k in v:
                if k not in props:
                    self.add("additional", name, k, "%s.%s in body is a forbidden property" % (name, k))
        for k in s.get("required") or ():
            if k not in v:
                self.add("required", _child(name, k), None, "%s in body is required" % _child(name, k))
        for k, ps in props.items():
            if k in v:
                self.node(v[k], ps, _child(name, k), oldd.get(k, _MISSING))

    def _sub(self, v, s, name, old):
        sv = _Validator()
        sv.node(v, _nested(s), name, old)
        return sv.errs

    def _junctors(self, v, s, name, old):
        keep = []
        if s.get("anyOf"):
            best = None
            ok = False
            for sub in s["anyOf"]:
                errs = self._sub(v, sub, name, old)
                if not errs:
                    ok = True
                    best = None
                    break
                if best is None or len(errs) < len(best):
                    best = errs
            if not ok:
                self.add("composite", "", None, "%s must validate at least one schema (anyOf)" % name)
                self.errs.extend(best or [])
        if s.get("oneOf"):
            valid = 0
            best = None
            for sub in s["oneOf"]:
                errs = self._sub(v, sub, name, old)
                if not errs:
                    valid += 1
                    best = None
                elif valid == 0 and (best is None or len(errs) < len(best)):
                    best = errs
            if valid != 1:
                extra = "Found none valid" if valid == 0 else "Found %d valid alternatives" % valid
                self.add("composite", "", None, "%s must validate one and only one schema (oneOf). %s" % (name, extra))
                self.errs.extend(best or [])
        if s.get("allOf"):
            valid = 0
            for sub in s["allOf"]:
                errs = self._sub(v, sub, name, old)
                if not errs:
                    valid += 1
                self.errs.extend(errs)
            if valid != len(s["allOf"]):
                self.add("composite", "", None, "%s must validate all the schemas (allOf)%s" % (
                    name, ". None validated" if valid == 0 else ""))
        if isinstance(s.get("not"), dict):
            if not self._sub(v, s["not"], name, old):
                self.add("composite", "", None, "%s must not validate the schema (not)" % name)
        return keep


def _nested(s):
    """A junctor branch is validated as a schema of its own; it inherits nothing."""
    return s


def _correlate_list(v, old, s):
    """Old values correlated to each item for ratcheting (list-type map by keys, set by value)."""
    n = len(v)
    if not isinstance(old, list):
        return [_MISSING] * n
    lt = s.get("x-kubernetes-list-type")
    if lt == "map":
        keys = s.get("x-kubernetes-list-map-keys") or []
        idx = {}
        for o in old:
            if isinstance(o, dict):
                idx.setdefault(json.dumps([o.get(k) for k in keys], sort_keys=True), o)
        return [idx.get(json.dumps([x.get(k) for k in keys], sort_keys=True), _MISSING) if isinstance(x, dict) else _MISSING for x in v]
    if lt == "set":
        return [next((o for o in old if deep_equal(o, x)), _MISSING) for x in v]
    return [_MISSING] * n


def _to_field_errors(errs):
    out = []
    for e in errs:
        path = e.name if e.name else "<nil>"
        if e.code == "required":
            out.append(required(path))
        elif e.code == "enum":
            out.append(not_supported(path, e.value, e.values))
        elif e.code == "maxLength":
            out.append(too_long(path, e.valid if e.valid is not None else -1))
        elif e.code == "maxItems":
            out.append(too_many(path, e.value, e.valid if e.valid is not None else -1))
        elif e.code == "maxProperties":
            out.append(too_many(path, e.value, e.valid if e.valid is not None else -1))
        elif e.code == "type":
            out.append(_err("FieldValueTypeInvalid", path, e.value if e.value is not None else "", e.message))
        else:
            out.append(invalid(path, e.value if e.value is not None else "", e.message))
    return out


# --------------------------------------------------------------------------------------------
# embedded resources and list types


_SUBTREE = {}  # (id(schema node), what) -> (node, any node below it has it); nodes never change


def _subtree_has(s, what):
    """Whether s or a schema node under it (properties, additionalProperties, items: what the
    walks below follow) has `what`: "rules" (x-kubernetes-validations), "embedded"
    (x-kubernetes-embedded-resource) or "listtype" (a set or map list type). A walk finds
    nothing to report under a node without it."""
    if not isinstance(s, dict):
        return False
    key = (id(s), what)
    hit = _SUBTREE.get(key)
    if hit is not None and hit[0] is s:
        return hit[1]
    if what == "rules":
        r = bool(s.get("x-kubernetes-validations"))
    elif what == "embedded":
        r = bool(s.get("x-kubernetes-embedded-resource"))
    else:
        r = s.get("x-kubernetes-list-type") in ("set", "map")
    if not r:
        props = s.get("properties")
        r = (isinstance(props, dict) and any(_subtree_has(p, what) for p in props.values())) or \
            _subtree_has(s.get("additionalProperties"), what) or _subtree_has(s.get("items"), what)
    if len(_SUBTREE) >= 100000:
        _SUBTREE.clear()
    _SUBTREE[key] = (s, r)
    return r


def _walk_embedded(v, s, path, out, root=True):
    if not isinstance(s, dict) or not _subtree_has(s, "embedded"):
        return
    if isinstance(v, dict):
        if s.get("x-kubernetes-embedded-resource") and not root:
            av = v.get("apiVersion", _MISSING)
            if av is _MISSING:
                out.append(required(_child(path, "apiVersion"), "must not be empty"))
            elif not isinstance(av, str):
                out.append(invalid(_child(path, "apiVersion"), av, "must be a string"))
            elif not av:
                out.append(required(_child(path, "apiVersion"), "must not be empty"))
            kd = v.get("kind", _MISSING)
            if kd is _MISSING:
                out.append(required(_child(path, "kind"), "must not be empty"))
            elif not isinstance(kd, str):
                out.append(invalid(_child(path, "kind"), kd, "must be a string"))
            elif not kd:
                out.append(required(_child(path, "kind"), "must not be empty"))
            md = v.get("metadata")
            if isinstance(md, dict) and isinstance(md.get("name"), str) and md["name"]:
                nm = md["name"]
                if not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", nm) or len(nm) > 253:
                    out.append(invalid(_child(_child(path, "metadata"), "name"), nm,
                                       "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                       "characters, '-' or '.', and must start and end with an alphanumeric "
                                       "character (e.g. 'example.com', regex used for validation is "
                                       "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"))
        props = s.get("properties") or {}
        ap = s.get("additionalProperties")
        for k, x in v.items():
            ps = props.get(k)
            if ps is not None:
                _walk_embedded(x, ps, _child(path, k), out, False)
            elif isinstance(ap, dict):
                _walk_embedded(x, ap, _child(path, k), out, False)
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        for i, x in enumerate(v):
            _walk_embedded(x, s["items"], _index(path, i), out, False)


def _walk_listtypes(v, s, path, out):
    if not isinstance(s, dict) or not _subtree_has(s, "listtype"):
        return
    if isinstance(v, list):
        lt = s.get("x-kubernetes-list-type")
        if lt == "set":
            for i, x in enumerate(v):
                if any(deep_equal(x, v[j]) for j in range(i)):
                    out.append(_err("FieldValueDuplicate", _index(path, i), x))
        elif lt == "map":
            keys = s.get("x-kubernetes-list-map-keys") or []
            seen = []
            for i, x in enumerate(v):
                if not isinstance(x, dict):
                    continue
                kv = {k: x[k] for k in keys if k in x}
                if any(deep_equal(kv, o) for o in seen):
                    out.append(_err("FieldValueDuplicate", _index(path, i), _Raw(_gosharp(kv))))
                else:
                    seen.append(kv)
        it = s.get("items")
        for i, x in enumerate(v):
            _walk_listtypes(x, it, _index(path, i), out)
    elif isinstance(v, dict):
        props = s.get("properties") or {}
        ap = s.get("additionalProperties")
        for k, x in v.items():
            ps = props.get(k)
            if ps is not None:
                _walk_listtypes(x, ps, _child(path, k), out)
            elif isinstance(ap, dict):
                _walk_listtypes(x, ap, _child(path, k), out)


# --------------------------------------------------------------------------------------------
# CEL rules


class _CelCache:
    """Compiled programs by (schema node, expression). An entry keeps its schema node and is
    used only for that very node, so a cache may outlive the schemas it has seen."""

    MAX = 20000

    def __init__(self):
        self.progs = {}

    def get(self, key, s, make):
        hit = self.progs.get(key)
        if hit is None or hit[0] is not s:
            try:
                p = make()
            except cel.CelError:
                p = None
            if len(self.progs) >= self.MAX:
                self.progs.clear()
            self.progs[key] = hit = (s, p)
        return hit[1]


# Requests are validated with this cache: compiling every rule of the CRD again for each
# request was most of the cost of writing a custom resource.
_SHARED_CEL = _CelCache()


def _rule_program(rule, s, root, cache):
    return cache.get((id(s), rule.get("rule"), root), s, lambda: cel.compile(
        rule.get("rule", ""), self_schema=s, old_self=True, root=root))


def _msg_program(expr, s, root, cache):
    return cache.get((id(s), "msg", expr, root), s, lambda: cel.compile(
        expr, self_schema=s, old_self=True, root=root, result="string"))


def _rule_text(rule):
    m = (rule.get("message") or "").strip()
    return m if m else (rule.get("rule") or "").strip()


def _rule_message(rule):
    m = (rule.get("message") or "").strip()
    return m if m else "failed rule: %s" % (rule.get("rule") or "").strip()


def _field_path_suffix(fp):
    """Normalise a rule's fieldPath (".a.b", ".a['x.y']", ".list[0]") to a path suffix."""
    out = ""
    i = 0
    fp = fp or ""
    while i < len(fp):
        c = fp[i]
        if c == ".":
            m = re.match(r"\.([A-Za-z_][A-Za-z0-9_-]*)", fp[i:])
            if not m:
                break
            out = _child(out, m.group(1)) if out else m.group(1)
            i += m.end()
        elif c == "[":
            m = re.match(r"\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*\"((?:[^\"\\]|\\.)*)\"\s*\]|\[(\d+)\]", fp[i:])
            if not m:
                break
            if m.group(3) is not None:
                out += "[%s]" % m.group(3)
            else:
                k = m.group(1) if m.group(1) is not None else m.group(2)
                out = _child(out, k) if out else k
            i += m.end()
        else:
            break
    return out


def _eval_rules(v, s, path, old, root, cache, out):
    rules = s.get("x-kubernetes-validations") or ()
    if not rules:
        return
    typ = s.get("type") or ("object" if isinstance(v, dict) else _json_type(v))
    if s.get("x-kubernetes-int-or-string"):
        typ = "integer" if isinstance(v, int) else "string"
    memo = {}
    cv = None
    for rule in rules:
        prog = _rule_program(rule, s, root, cache)
        if prog is None:
            continue
        if prog.uses_old_self:
            if old is _MISSING:
                continue
        elif old is not _MISSING and deep_equal(v, old):
            continue  # unchanged values are not re-checked (ratcheting)
        if cv is None:
            cv = cel.to_cel(v, s, memo)
        act = {"self": cv}
        if prog.uses_old_self:
            act["oldSelf"] = cel.to_cel(old, s, memo)
        fpath = path if path else "<nil>"
        try:
            res = prog.eval(act)
        except cel.EvalError as e:
            msg = str(e)
            if msg.startswith("no such overload"):
                out.append(invalid(fpath, typ, "'%s': call arguments did not match a supported operator, "
                                              "function or macro signature for rule: %s" % (msg, _rule_text(rule))))
            elif msg.startswith("operation cancelled: actual cost limit exceeded"):
                out.append(invalid(fpath, typ, "was invalid: rule: %s: call cost exceeds limit" % _rule_text(rule)))
            else:
                out.append(invalid(fpath, typ, "%s evaluating rule: %s" % (msg, _rule_text(rule))))
            continue
        if res is True:
            continue
        suffix = _field_path_suffix(rule.get("fieldPath"))
        epath = _child(path, suffix) if suffix else fpath
        detail = _rule_message(rule)
        if rule.get("messageExpression"):
            mp = _msg_program(rule["messageExpression"], s, root, cache)
            if mp is not None:
                try:
                    m = mp.eval(act)
                    if isinstance(m, str) and m.strip() and "\n" not in m:
                        detail = m.strip()
                except cel.EvalError:
                    pass
        reason = rule.get("reason")
        if reason == "FieldValueForbidden":
            out.append(forbidden(epath, detail))
        elif reason == "FieldValueRequired":
            out.append(required(epath, detail))
        elif reason == "FieldValueDuplicate":
            out.append(_err("FieldValueDuplicate", epath, typ))
        else:
            out.append(invalid(epath, typ, detail))


def _walk_cel(v, s, path, old, root, cache, out):
    if not isinstance(s, dict) or not _subtree_has(s, "rules"):
        return
    _eval_rules(v, s, path, old, root, cache, out)
    if isinstance(v, dict):
        props = s.get("properties") or {}
        ap = s.get("additionalProperties")
        oldd = old if isinstance(old, dict) else {}
        for k, x in v.items():
            ps = props.get(k)
            if ps is not None:
                _walk_cel(x, ps, _child(path, k), oldd.get(k, _MISSING), False, cache, out)
            elif isinstance(ap, dict):
                _walk_cel(x, ap, _key(path, k) if path else "[%s]" % k, oldd.get(k, _MISSING), False, cache, out)
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        olds = _correlate_list(v, old, s)
        for i, x in enumerate(v):
            _walk_cel(x, s["items"], _index(path, i), olds[i], False, cache, out)


def _has_rules(s, memo):
    if not isinstance(s, dict):
        return False
    k = id(s)
    if k in memo:
        return memo[k]
    memo[k] = False
    r = bool(s.get("x-kubernetes-validations")) or \
        any(_has_rules(p, memo) for p in (s.get("properties") or {}).values()) or \
        _has_rules(s.get("additionalProperties"), memo) or _has_rules(s.get("items"), memo)
    memo[k] = r
    return r


# --------------------------------------------------------------------------------------------
# public: validate


def validate(obj, schema, old=None, _cache=None):
    """Validate a custom resource against its version's openAPIV3Schema. `old` (the stored object
    on update) enables transition rules and ratcheting. Returns a list of causes."""
    if not isinstance(schema, dict):
        return []
    oldv = old if old is not None else _MISSING
    v = _Validator()
    v.node(obj, schema, "", oldv)
    errs = _to_field_errors(v.errs)
    _walk_embedded(obj, schema, "", errs, True)
    _walk_listtypes(obj, schema, "", errs)
    if _has_rules(schema, {}):
        if any(e["reason"] in ("FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong",
                               "FieldValueTooMany", "FieldValueTypeInvalid") for e in errs):
            errs.append(invalid("<nil>", None, BLOCKING_MESSAGE))
        else:
            _walk_cel(obj, schema, "", oldv, True, _cache or _SHARED_CEL, errs)
    return errs


# --------------------------------------------------------------------------------------------
# public: defaulting and pruning


def apply_defaults(obj, schema):
    """Structural defaulting in place: first nulls of non-nullable fields without a default are
    dropped, then `default`s are applied to absent (or null, non-nullable) fields, including in
    array items and map values, recursing into defaulted values."""
    _prune_nulls(obj, schema)
    _default(obj, schema)
    return obj


def _prune_nulls(x, s):
    if not isinstance(s, dict):
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        ap = s.get("additionalProperties")
        for k in list(x.keys()):
            ps = props.get(k)
            if ps is None and isinstance(ap, dict):
                ps = ap
            if ps is None:
                continue
            if x[k] is None:
                if "default" not in ps and not ps.get("nullable"):
                    del x[k]
            else:
                _prune_nulls(x[k], ps)
    elif isinstance(x, list) and isinstance(s.get("items"), dict):
        for y in x:
            _prune_nulls(y, s["items"])


def _default(x, s):
    if not isinstance(s, dict):
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        for k, ps in props.items():
            if not isinstance(ps, dict) or "default" not in ps:
                continue
            if k not in x or (x[k] is None and not ps.get("nullable")):
                x[k] = copy.deepcopy(ps["default"])
        ap = s.get("additionalProperties")
        for k in list(x.keys()):
            ps = props.get(k)
            if ps is not None:
                _default(x[k], ps)
            elif isinstance(ap, dict):
                if x[k] is None and not ap.get("nullable") and "default" in ap:
                    x[k] = copy.deepcopy(ap["default"])
                _default(x[k], ap)
    elif isinstance(x, list):
        it = s.get("items")
        if not isinstance(it, dict):
            return
        for i in range(len(x)):
            if x[i] is None and not it.get("nullable") and "default" in it:
                x[i] = copy.deepcopy(it["default"])
            _default(x[i], it)


def prune(obj, schema):
    """Drop fields not declared by the structural schema, in place; return their paths
    ("spec.foo", "spec.items[0].bar") in document order. At the root (and in embedded
    resources) apiVersion, kind and metadata are kept and metadata is reduced to ObjectMeta."""
    pruned = []
    if isinstance(obj, dict) and isinstance(schema, dict):
        _prune_resource(obj, schema, "", pruned)
    return pruned


def _prune_resource(x, s, path, pruned):
    md = x.get("metadata")
    if isinstance(md, dict):
        for k in list(md.keys()):
            if k not in OBJECT_META_FIELDS:
                pruned.append(_child(_child(path, "metadata"), k))
                del md[k]
    props = s.get("properties") or {}
    for k in list(x.keys()):
        if k in ("apiVersion", "kind", "metadata"):
            continue
        _prune_field(x, k, props.get(k), s, path, pruned)


def _prune_field(x, k, ps, s, path, pruned):
    if ps is None:
        ap = s.get("additionalProperties")
        if isinstance(ap, dict):
            ps = ap
        elif ap is True or s.get("x-kubernetes-preserve-unknown-fields"):
            return
        else:
            pruned.append(_child(path, k))
            del x[k]
            return
    _prune(x[k], ps, _child(path, k), pruned)


def _prune(x, s, path, pruned):
    if not isinstance(s, dict):
        return
    if isinstance(x, dict):
        if s.get("x-kubernetes-embedded-resource"):
            _prune_resource(x, s, path, pruned)
            return
        props = s.get("properties") or {}
        for k in list(x.keys()):
            _prune_field(x, k, props.get(k), s, path, pruned)
    elif isinstance(x, list):
        it = s.get("items")
        if isinstance(it, dict):
            for i, y in enumerate(x):
                _prune(y, it, _index(path, i), pruned)
        elif not s.get("x-kubernetes-preserve-unknown-fields"):
            for i, y in enumerate(x):
                if isinstance(y, dict):
                    for k in list(y.keys()):
                        pruned.append(_child(_index(path, i), k))
                        del y[k]


# --------------------------------------------------------------------------------------------
# public: CRD schema checks


_TYPES = ["array", "boolean", "integer", "number", "object", "string"]
_JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
_INT_OR_STRING_ANYOF = [{"type": "integer"}, {"type": "string"}]
_REASONS = ["FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"]


def _props_path(path, k):
    return "%s.properties[%s]" % (path, k)


def check_structural(schema, path="spec.versions[0].schema.openAPIV3Schema"):
    """Checks of a CRD version schema at CRD create/update: the structural-schema rules (sorted
    as kube sorts them), value-validation sanity (types, list types, patterns, uniqueItems,
    defaults) and compilation of every x-kubernetes-validations rule."""
    if not isinstance(schema, dict):
        return [required(path, "")]
    structural = []
    _structural(schema, "root", path, structural)
    _completeness(schema, schema, path, path, structural)
    structural.sort(key=lambda c: "%s: %s" % (c["field"], c["message"]))
    other = []
    _sanity(schema, path, other, root=True, correlatable=True, cache=_CelCache(), card=1)
    return structural + other


def _structural(s, lvl, path, out):
    if not isinstance(s, dict):
        return
    t = s.get("type", "")
    if t == "array" and "items" not in s:
        out.append(required(path + ".items", "must be specified"))
    if isinstance(s.get("items"), dict):
        _structural(s["items"], "item", path + ".items", out)
    for k, ps in (s.get("properties") or {}).items():
        _structural(ps, "field", _props_path(path, k), out)
    ap = s.get("additionalProperties")
    if ap is not None and ap is not False:
        if lvl == "root":
            out.append(forbidden(path + ".additionalProperties", "must not be used at the root"))
        if isinstance(ap, dict):
            _structural(ap, "field", path + ".additionalProperties", out)
    ios = bool(s.get("x-kubernetes-int-or-string"))
    if ios and s.get("x-kubernetes-preserve-unknown-fields"):
        out.append(invalid(path + ".x-kubernetes-preserve-unknown-fields", True,
                           "must be false if x-kubernetes-int-or-string is true"))
    if ios and s.get("x-kubernetes-embedded-resource"):
        out.append(invalid(path + ".x-kubernetes-embedded-resource", True,
                           "must be false if x-kubernetes-int-or-string is true"))
    skip_anyof = s.get("anyOf") == _INT_OR_STRING_ANYOF
    skip_first_allof_anyof = bool(s.get("allOf")) and isinstance(s["allOf"][0], dict) and \
        s["allOf"][0].get("anyOf") == _INT_OR_STRING_ANYOF
    _value_validation(s, skip_anyof, skip_first_allof_anyof, lvl, path, out)
    emb = bool(s.get("x-kubernetes-embedded-resource"))
    if emb and t != "object":
        if not t:
            out.append(required(path + ".type", "must be object if x-kubernetes-embedded-resource is true"))
        else:
            out.append(invalid(path + ".type", t, "must be object if x-kubernetes-embedded-resource is true"))
    elif not t and not ios and not s.get("x-kubernetes-preserve-unknown-fields"):
        out.append(required(path + ".type", {
            "root": "must not be empty at the root",
            "item": "must not be empty for specified array items",
            "field": "must not be empty for specified object fields"}[lvl]))
    if emb and ap is not None:
        out.append(forbidden(path + ".additionalProperties", "must not be used if x-kubernetes-embedded-resource is set"))
    if lvl == "root" and t and t != "object":
        out.append(invalid(path + ".type", t, "must be object at the root"))
    props = s.get("properties") or {}
    check_meta = lvl == "root" or emb
    if check_meta and "kind" in props and props["kind"].get("type") != "string":
        out.append(invalid(_props_path(path, "kind") + ".type", props["kind"].get("type", ""), "must be string"))
    if check_meta and "apiVersion" in props and props["apiVersion"].get("type") != "string":
        out.append(invalid(_props_path(path, "apiVersion") + ".type", props["apiVersion"].get("type", ""), "must be string"))
    if "metadata" in props:
        md = props["metadata"]
        mp = _props_path(path, "metadata")
        if check_meta and md.get("type") != "object":
            out.append(invalid(mp + ".type", md.get("type", ""), "must be object"))
        if lvl == "root":
            rest = {k: v for k, v in md.items() if k not in ("type", "default", "description")}
            mprops = rest.pop("properties", None) or {}
            extra = set(mprops) - {"name", "generateName"}
            if rest or extra:
                out.append(forbidden(mp, "must not specify anything other than name and generateName, "
                                         "but metadata is implicitly specified"))
    if emb and not s.get("x-kubernetes-preserve-unknown-fields") and not props:
        out.append(required(path + ".properties", "must not be empty if x-kubernetes-embedded-resource is "
                                                  "true without x-kubernetes-preserve-unknown-fields"))


def _completeness(v, s, spath, vpath, out):
    """Every property or items schema named inside allOf/anyOf/oneOf/not must also exist in the
    structural part of the schema (checked from the root, as kube does)."""
    if not isinstance(v, dict):
        return
    if not isinstance(s, dict):
        out.append(required(spath, "because it is defined in %s" % vpath))
        return
    if isinstance(v.get("not"), dict):
        _nested_completeness(v["not"], s, spath, vpath + ".not", out)
    for j in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(v.get(j) or ()):
            _nested_completeness(sub, s, spath, "%s.%s[%d]" % (vpath, j, i), out)


def _nested_completeness(v, s, spath, vpath, out):
    if not isinstance(v, dict):
        return
    if not isinstance(s, dict):
        out.append(required(spath, "because it is defined in %s" % vpath))
        return
    _completeness(v, s, spath, vpath, out)
    if isinstance(v.get("items"), dict):
        _nested_completeness(v["items"], s.get("items") if isinstance(s.get("items"), dict) else None,
                             spath + ".items", vpath + ".items", out)
    sprops = s.get("properties") or {}
    for k, vf in (v.get("properties") or {}).items():
        if k not in sprops:
            out.append(required(_props_path(spath, k), "because it is defined in %s" % _props_path(vpath, k)))
        else:
            _nested_completeness(vf, sprops[k], _props_path(spath, k), _props_path(vpath, k), out)


def _value_validation(s, skip_anyof, skip_first_allof_anyof, lvl, path, out):
    if not skip_anyof:
        for i, sub in enumerate(s.get("anyOf") or ()):
            _nested_vv(sub, False, lvl, "%s.anyOf[%d]" % (path, i), out)
    for i, sub in enumerate(s.get("allOf") or ()):
        _nested_vv(sub, skip_first_allof_anyof and i == 0, lvl, "%s.allOf[%d]" % (path, i), out)
    for i, sub in enumerate(s.get("oneOf") or ()):
        _nested_vv(sub, False, lvl, "%s.oneOf[%d]" % (path, i), out)
    if isinstance(s.get("not"), dict):
        _nested_vv(s["not"], False, lvl, path + ".not", out)
    if s.get("pattern"):
        try:
            cel.translate_re2(s["pattern"])
        except cel.RegexError as e:
            out.append(invalid(path + ".pattern", s["pattern"],
                               "must be a valid regular expression, but isn't: error parsing regexp: %s" % e))


def _nested_vv(v, skip_anyof, lvl, path, out):
    if not isinstance(v, dict):
        return
    _value_validation(v, skip_anyof, False, lvl, path, out)
    if isinstance(v.get("items"), dict):
        _nested_vv(v["items"], False, lvl, path + ".items", out)
    for k, ps in (v.get("properties") or {}).items():
        _nested_vv(ps, False, "field", _props_path(path, k), out)
    if v.get("type"):
        out.append(forbidden(path + ".type", "must be empty to be structural"))
    if "additionalProperties" in v:
        out.append(forbidden(path + ".additionalProperties", "must be undefined to be structural"))
    if "default" in v:
        out.append(forbidden(path + ".default", "must be undefined to be structural"))
    if v.get("title"):
        out.append(forbidden(path + ".title", "must be empty to be structural"))
    if v.get("description"):
        out.append(forbidden(path + ".description", "must be empty to be structural"))
    if v.get("nullable"):
        out.append(forbidden(path + ".nullable", "must be false to be structural"))
    if v.get("externalDocs") is not None:
        out.append(forbidden(path + ".externalDocs", "must be undefined to be structural"))
    if v.get("x-kubernetes-preserve-unknown-fields"):
        out.append(forbidden(path + ".x-kubernetes-preserve-unknown-fields", "must be false to be structural"))
    if v.get("x-kubernetes-embedded-resource"):
        out.append(forbidden(path + ".x-kubernetes-embedded-resource", "must be false to be structural"))
    if v.get("x-kubernetes-int-or-string"):
        out.append(forbidden(path + ".x-kubernetes-int-or-string", "must be false to be structural"))
    if v.get("x-kubernetes-list-map-keys"):
        out.append(forbidden(path + ".x-kubernetes-list-map-keys", "must be empty to be structural"))
    if "x-kubernetes-list-type" in v:
        out.append(forbidden(path + ".x-kubernetes-list-type", "must be undefined to be structural"))
    if "x-kubernetes-map-type" in v:
        out.append(forbidden(path + ".x-kubernetes-map-type", "must be undefined to be structural"))
    if v.get("x-kubernetes-validations"):
        out.append(forbidden(path + ".x-kubernetes-validations", "must be empty to be structural"))
    if "metadata" in (v.get("properties") or {}):
        out.append(forbidden(_props_path(path, "metadata"), "must not be specified in a nested context"))


def _rule_value(rule):
    """%#v of an apiextensions.ValidationRule (how kube prints the bad value)."""
    def s(k):
        return cel.go_quote(rule.get(k) or "")
    reason = "(*apiextensions.FieldValueErrorReason)(nil)" if rule.get("reason") is None else \
        "(*apiextensions.FieldValueErrorReason)(0xc000a1b2c0)"
    oos = "(*bool)(nil)" if rule.get("optionalOldSelf") is None else "(*bool)(0xc000a1b2c8)"
    return _Raw("apiextensions.ValidationRule{Rule:%s, Message:%s, MessageExpression:%s, Reason:%s, "
                "FieldPath:%s, OptionalOldSelf:%s}" % (s("rule"), s("message"), s("messageExpression"),
                                                       reason, s("fieldPath"), oos))


def _sanity(s, path, out, root, correlatable, cache, card=1):
    if not isinstance(s, dict):
        return
    t = s.get("type")
    if t is not None and t not in _TYPES:
        out.append(not_supported(path + ".type", t, _TYPES))
    if s.get("uniqueItems"):
        out.append(forbidden(path + ".uniqueItems",
                             "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
    ap = s.get("additionalProperties")
    if ap is not None and s.get("properties"):
        out.append(forbidden(path + ".additionalProperties", "additionalProperties and properties are mutual exclusive"))
    if ap is False:
        out.append(forbidden(path + ".additionalProperties", "additionalProperties cannot be set to false"))
    for k in ("$ref", "patternProperties", "definitions", "dependencies", "additionalItems", "id", "$schema"):
        if k in s:
            out.append(forbidden(path + "." + k, "%s is not supported" % k))
    lt = s.get("x-kubernetes-list-type")
    keys = s.get("x-kubernetes-list-map-keys")
    if lt is not None and t != "array":
        out.append(invalid(path + ".type", t or "", "must be array if x-kubernetes-list-type is specified"))
    if lt is not None and lt not in ("atomic", "set", "map"):
        out.append(not_supported(path + ".x-kubernetes-list-type", lt, ["atomic", "set", "map"]))
    items = s.get("items") if isinstance(s.get("items"), dict) else None
    if lt == "map":
        if not keys:
            out.append(required(path + ".x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type is map"))
        if items is not None:
            if items.get("type") != "object":
                out.append(invalid(path + ".items.type", items.get("type", ""),
                                   "must be object if parent array's x-kubernetes-list-type is map"))
            iprops = items.get("properties") or {}
            for k in keys or ():
                if k not in iprops:
                    out.append(invalid(path + ".x-kubernetes-list-map-keys", _Raw(_gostrs(keys)),
                                       "entries must all be names of item properties"))
                    break
                kp = iprops[k]
                if kp.get("type") not in ("string", "integer", "number", "boolean") and not kp.get("x-kubernetes-int-or-string"):
                    out.append(invalid(path + ".items.properties[%s].type" % k, kp.get("type", ""),
                                       "must be a scalar type if parent array's x-kubernetes-list-type is map"))
                elif k not in (items.get("required") or ()) and "default" not in kp:
                    out.append(required(path + ".items.properties[%s].default" % k,
                                        "this property is in x-kubernetes-list-map-keys, so it must have a "
                                        "default or be a required property"))
    elif keys:
        out.append(forbidden(path + ".x-kubernetes-list-map-keys", "must be empty if x-kubernetes-list-type is not map"))
    if lt == "set" and items is not None:
        if items.get("type") == "object" and items.get("x-kubernetes-map-type") != "atomic":
            out.append(invalid(path + ".items.x-kubernetes-map-type", items.get("x-kubernetes-map-type") or "",
                               "must be atomic as item of a list with x-kubernetes-list-type=set"))
        if items.get("type") == "array" and items.get("x-kubernetes-list-type") not in ("atomic", None):
            out.append(invalid(path + ".items.x-kubernetes-list-type", items.get("x-kubernetes-list-type"),
                               "must be atomic as item of a list with x-kubernetes-list-type=set"))
    mt = s.get("x-kubernetes-map-type")
    if mt is not None and mt not in ("granular", "atomic"):
        out.append(not_supported(path + ".x-kubernetes-map-type", mt, ["granular", "atomic"]))
    if "default" in s:
        _check_default(s, path, out, root)
    rules = s.get("x-kubernetes-validations")
    if rules:
        _check_rules(rules, s, path, out, root, correlatable, cache, card)
    props = s.get("properties") or {}
    for k, ps in props.items():
        _sanity(ps, _props_path(path, k), out, False, correlatable, cache, card)
    if isinstance(ap, dict):
        mp = s.get("maxProperties")
        _sanity(ap, path + ".additionalProperties", out, False, correlatable, cache,
                card * mp if card is not None and isinstance(mp, int) else None)
    if items is not None:
        mi = s.get("maxItems")
        _sanity(items, path + ".items", out, False, correlatable and lt in ("map", "set"), cache,
                card * mi if card is not None and isinstance(mi, int) else None)


def _gostrs(keys):
    return "[]string{" + ", ".join(cel.go_quote(k) for k in keys) + "}"


def _check_default(s, path, out, root):
    d = s["default"]
    dp = path + ".default"
    if root:
        out.append(forbidden(dp, "must not be set at the root"))
        return
    probe = copy.deepcopy(d)
    if isinstance(probe, dict):
        pr = []
        props = s.get("properties") or {}
        for k in list(probe.keys()):
            if k not in props and not isinstance(s.get("additionalProperties"), dict) and \
                    not s.get("x-kubernetes-preserve-unknown-fields") and not s.get("x-kubernetes-embedded-resource"):
                pr.append(k)
        if pr:
            out.append(invalid(dp, _Raw(_gosharp(d)), "must not have unknown fields, got: %s" % ", ".join(sorted(pr))))
            return
        apply_defaults(probe, s)
    v = _Validator()
    v.node(probe, s, dp)
    for e in _to_field_errors(v.errs):
        out.append(e)


STATIC_ESTIMATED_COST_LIMIT = 10000000


def _cost_message(cost_name, cost, limit):
    f = float(cost) / float(limit)
    if f > 100.0:
        factor = "more than 100x"
    elif f < 1.5:
        factor = "%fx" % f
    else:
        factor = "%.1fx" % f
    return ("%s exceeds budget by factor of %s (try simplifying the rule, or adding maxItems, "
            "maxProperties, and maxLength where arrays, maps, and strings are declared)" % (cost_name, factor))


def _check_rules(rules, s, path, out, root, correlatable, cache, card=1):
    for i, rule in enumerate(rules):
        rp = "%s.x-kubernetes-validations[%d]" % (path, i)
        if not isinstance(rule, dict):
            continue
        src = rule.get("rule")
        if not src or not str(src).strip():
            out.append(required(rp + ".rule", "rule is not specified"))
            continue
        msg = rule.get("message")
        if msg is not None:
            if not msg.strip():
                out.append(invalid(rp + ".message", msg, "message must be non-empty if specified"))
            elif len(msg) > 4096:
                out.append(too_long(rp + ".message", 4096))
            elif "\n" in msg:
                out.append(invalid(rp + ".message", msg, "message must not contain line breaks"))
        reason = rule.get("reason")
        if reason is not None and reason not in _REASONS:
            out.append(not_supported(rp + ".reason", reason, _REASONS))
        fp = rule.get("fieldPath")
        if fp:
            err = _check_field_path(fp, s)
            if err:
                out.append(invalid(rp + ".fieldPath", fp, err))
        try:
            prog = cel.compile(src, self_schema=s, old_self=True, root=root)
        except cel.ResultTypeError as e:
            out.append(invalid(rp + ".rule", _rule_value(rule), str(e)))
            continue
        except cel.CompileError as e:
            out.append(invalid(rp + ".rule", _rule_value(rule), "compilation failed: %s" % e))
            continue
        if prog.uses_old_self and not correlatable:
            out.append(invalid(rp + ".rule", _rule_value(rule),
                               "oldSelf cannot be used on the uncorrelatable portion of the schema within %s" % path))
        # Only clearly unbounded rules are refused: the estimate approximates cel-go's, so a rule
        # is rejected when it exceeds the per-rule limit by more than 100x.
        n = card if card is not None else (cel.MAX_REQUEST_BYTES - 2) // (
            cel.min_serialized_size(cel.schema_type(s)) + 1)
        total = cel.estimate_cost(prog) * n
        if total > 100 * STATIC_ESTIMATED_COST_LIMIT:
            out.append(forbidden(rp + ".rule", _cost_message("estimated rule cost", total, STATIC_ESTIMATED_COST_LIMIT)))
        me = rule.get("messageExpression")
        if me is not None:
            if not me.strip():
                out.append(required(rp + ".messageExpression", "messageExpression must be non-empty if specified"))
            else:
                try:
                    cel.compile(me, self_schema=s, old_self=True, root=root, result="string")
                except cel.ResultTypeError as e:
                    out.append(invalid(rp + ".messageExpression", _rule_value(rule), str(e)))
                except cel.CompileError as e:
                    out.append(invalid(rp + ".messageExpression", _rule_value(rule),
                                       "messageExpression compilation failed: %s" % e))


def _check_field_path(fp, s):
    if not fp.startswith(".") and not fp.startswith("["):
        return "fieldPath must start with a '.' or '['"  # approximate wording
    cur = s
    i = 0
    while i < len(fp) and isinstance(cur, dict):
        m = re.match(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[(\d+)\]", fp[i:])
        if not m:
            return "fieldPath must be a valid path"
        if m.group(3) is not None:
            if cur.get("type") != "array":
                return "fieldPath must be a valid path"
            cur = cur.get("items")
        else:
            name = m.group(1) if m.group(1) is not None else m.group(2)
            props = cur.get("properties") or {}
            if name in props:
                cur = props[name]
            elif isinstance(cur.get("additionalProperties"), dict):
                cur = cur["additionalProperties"]
            else:
                return "fieldPath must be a valid path: does not refer to a valid field"
        i += m.end()
    return None
