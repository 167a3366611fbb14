"""Label and field selectors (reference §3.7)."""

from errors import bad_request


class Requirement:
    __slots__ = ("key", "op", "values")

    def __init__(self, key, op, values):
        self.key = key
        self.op = op
        self.values = values

    def matches(self, labels):
        has = self.key in labels
        val = labels.get(self.key)
        op = self.op
        if op in ("=", "==", "in"):
            return has and val in self.values
        if op in ("!=", "notin"):
            return (not has) or val not in self.values
        if op == "exists":
            return has
        if op == "!":
            return not has
        if op in (">", "<"):
            if not has:
                return False
            try:
                lv = int(val)
            except (TypeError, ValueError):
                return False
            return lv > self.values[0] if op == ">" else lv < self.values[0]
        return False


class LabelSelector:
    def __init__(self, reqs):
        self.reqs = reqs

    def empty(self):
        return not self.reqs

    def matches(self, labels):
        if not self.reqs:
            return True
        labels = labels or {}
        for r in self.reqs:
            if not r.matches(labels):
                return False
        return True


EVERYTHING = LabelSelector([])


def _lex(text):
    toks = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "(),":
            toks.append(c)
            i += 1
            continue
        if text.startswith("==", i) or text.startswith("!=", i):
            toks.append(text[i:i + 2])
            i += 2
            continue
        if c in "=!<>":
            toks.append(c)
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in "(),=!<>":
            j += 1
        toks.append(text[i:j])
        i = j
    return toks


def _valid_key(k):
    import re

    return bool(re.fullmatch(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", k)) \
        and len(k.split("/")[-1]) <= 63


def parse_labels(text):
    """Parse a label selector string; raises 400 BadRequest on errors."""
    if text is None or text.strip() == "":
        return EVERYTHING
    toks = _lex(text)
    reqs = []
    i = 0
    ops = ("=", "==", "!=", "in", "notin", ">", "<")

    def fail(msg):
        raise bad_request("unable to parse requirement: " + msg)

    while i < len(toks):
        neg = False
        if toks[i] == "!":
            neg = True
            i += 1
        if i >= len(toks) or toks[i] in ops + ("(", ")", ","):
            fail("found '%s', expected: identifier" % (toks[i] if i < len(toks) else ""))
        key = toks[i]
        if not _valid_key(key):
            fail('<nil>: Invalid value: "%s": name part must consist of alphanumeric characters, '
                 "'-', '_' or '.', and must start and end with an alphanumeric character" % key)
        i += 1
        if neg:
            reqs.append(Requirement(key, "!", ()))
        elif i >= len(toks) or toks[i] == ",":
            reqs.append(Requirement(key, "exists", ()))
        else:
            op = toks[i]
            i += 1
            if op in ("=", "==", "!="):
                val = ""
                if i < len(toks) and toks[i] not in (",", "(", ")"):
                    val = toks[i]
                    i += 1
                reqs.append(Requirement(key, op, (val,)))
            elif op in ("in", "notin"):
                if i >= len(toks) or toks[i] != "(":
                    fail("found '%s', expected: '('" % (toks[i] if i < len(toks) else ""))
                i += 1
                vals = []
                while True:
                    if i >= len(toks):
                        fail("found '', expected: ',', ')' or identifier")
                    if toks[i] == ")":
                        i += 1
                        break
                    if toks[i] == ",":
                        if not vals:
                            vals.append("")
                        i += 1
                        if i < len(toks) and toks[i] in (",", ")"):
                            vals.append("")
                        continue
                    vals.append(toks[i])
                    i += 1
                reqs.append(Requirement(key, op, tuple(vals)))
            elif op in (">", "<"):
                if i >= len(toks):
                    fail("found '', expected: integer")
                try:
                    num = int(toks[i])
                except ValueError:
                    fail("for 'Gt', 'Lt' operators, the value must be an integer")
                i += 1
                reqs.append(Requirement(key, op, (num,)))
            else:
                fail("found '%s', expected: in, notin, =, ==, !=, gt, lt" % op)
        if i < len(toks):
            if toks[i] != ",":
                fail("found '%s', expected: ',' or 'end of string'" % toks[i])
            i += 1
            if i >= len(toks):
                fail("found '', expected: identifier")
    return LabelSelector(reqs)


def from_label_selector(sel):
    """Structured metav1.LabelSelector -> LabelSelector. None selects nothing (as in Go's Nothing)."""
    if sel is None:
        return None
    reqs = []
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        reqs.append(Requirement(k, "=", (v,)))
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        vals = tuple(e.get("values") or ())
        if op == "In":
            reqs.append(Requirement(e.get("key"), "in", vals))
        elif op == "NotIn":
            reqs.append(Requirement(e.get("key"), "notin", vals))
        elif op == "Exists":
            reqs.append(Requirement(e.get("key"), "exists", ()))
        elif op == "DoesNotExist":
            reqs.append(Requirement(e.get("key"), "!", ()))
    return LabelSelector(reqs)


def selector_string(sel):
    """metav1.FormatLabelSelector-like text for a structured selector."""
    parts = []
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        parts.append("%s=%s" % (k, v))
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        vals = ",".join(e.get("values") or [])
        if op == "In":
            parts.append("%s in (%s)" % (e.get("key"), vals))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (e.get("key"), vals))
        elif op == "Exists":
            parts.append(e.get("key"))
        elif op == "DoesNotExist":
            parts.append("!" + e.get("key"))
    return ",".join(parts)


class FieldSelector:
    def __init__(self, terms):
        self.terms = terms  # list of (field, op, value)

    def empty(self):
        return not self.terms

    def matches(self, fields):
        for f, op, v in self.terms:
            have = fields.get(f, "")
            if op == "!=":
                if have == v:
                    return False
            elif have != v:
                return False
        return True

    def name_value(self):
        for f, op, v in self.terms:
            if f == "metadata.name" and op in ("=", "=="):
                return v
        return None


def _split_unescaped(text, sep):
    parts = []
    cur = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(v):
    out = []
    i = 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            if v[i + 1] not in ",=\\":
                raise bad_request("invalid field selector: invalid escape sequence: \\" + v[i + 1])
            out.append(v[i + 1])
            i += 2
            continue
        if v[i] in ",=":
            raise bad_request("invalid field selector: unescaped %s" % v[i])
        out.append(v[i])
        i += 1
    return "".join(out)


def parse_fields(text):
    if text is None or text.strip() == "":
        return FieldSelector([])
    terms = []
    for part in _split_unescaped(text, ","):
        if part == "":
            continue
        op = None
        for candidate in ("!=", "==", "="):
            idx = _find_unescaped(part, candidate)
            if idx >= 0:
                op = candidate
                field, value = part[:idx], part[idx + len(candidate):]
                break
        if op is None:
            raise bad_request("invalid selector: '%s'; can't understand '%s'" % (text, part))
        terms.append((field.strip(), op, _unescape(value)))
    return FieldSelector(terms)


def _find_unescaped(text, needle):
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(needle, i):
            return i
        i += 1
    return -1
