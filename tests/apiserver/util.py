"""Small helpers shared by the stand-in modules: JSON, time formats, copies, names."""

import json
import random
import time
import uuid

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_decoder = json.JSONDecoder()


def dumps(obj):
    """Compact JSON text."""
    return _encoder.encode(obj)


def dumpb(obj):
    """Compact JSON as UTF-8 bytes."""
    return _encoder.encode(obj).encode("utf-8")


_STORED = {}  # id(object) -> (object, dumpb(object)), see dumpb_stored
_STORED_MAX = 4096


def dumpb_stored(obj):
    """dumpb of an object that is never changed again (a stored object), kept for a while:
    the answer to a write, the watch event of it and the state file all send the same text."""
    hit = _STORED.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    b = _encoder.encode(obj).encode("utf-8")
    if len(_STORED) >= _STORED_MAX:
        for k in list(_STORED)[:_STORED_MAX // 4]:
            _STORED.pop(k, None)
    _STORED[id(obj)] = (obj, b)
    return b


def loads(text):
    return json.loads(text)


def clone(obj):
    """Deep copy of a JSON value (dict/list/scalars); faster than copy.deepcopy."""
    if isinstance(obj, dict):
        return {k: clone(v) if isinstance(v, (dict, list)) else v for k, v in obj.items()}
    if isinstance(obj, list):
        return [clone(v) if isinstance(v, (dict, list)) else v for v in obj]
    return obj


def now_rfc3339(t=None):
    """metav1.Time: RFC 3339, seconds precision, UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def now_micro(t=None):
    """metav1.MicroTime: 6 fractional digits."""
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


def parse_time(text):
    """Seconds since the epoch for an RFC 3339 timestamp (fractions allowed); None if invalid."""
    import calendar

    if not isinstance(text, str) or len(text) < 20:
        return None
    try:
        base = time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    frac = 0.0
    rest = text[19:]
    if rest.startswith("."):
        digits = ""
        i = 1
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        frac = float("0." + digits) if digits else 0.0
        rest = rest[i:]
    offset = 0
    if rest in ("Z", "z"):
        offset = 0
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
        try:
            offset = (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60) * (1 if rest[0] == "+" else -1)
        except ValueError:
            return None
    else:
        return None
    return calendar.timegm(base) + frac - offset


def new_uid():
    return str(uuid.uuid4())


_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_rng = random.SystemRandom()


def random_suffix(n=5):
    return "".join(_rng.choice(_NAME_CHARS) for _ in range(n))


def get_path(obj, path, default=None):
    """obj['a']['b'] for path ('a', 'b'); default when any step is missing."""
    cur = obj
    for p in path:
        if isinstance(cur, dict):
            if p not in cur:
                return default
            cur = cur[p]
        elif isinstance(cur, list) and isinstance(p, int):
            if p < 0 or p >= len(cur):
                return default
            cur = cur[p]
        else:
            return default
    return cur


def meta(obj):
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m


def truthy(value):
    return value in ("true", "1", "True", "TRUE")
