"""Common Expression Language (CEL) for CRD x-kubernetes-validations rules.

A real, self-contained CEL implementation for the subset Kubernetes uses in CustomResourceDefinition
validation rules: a lexer, a recursive-descent parser with the CEL macros, a type checker that
knows the declared types of `self`/`oldSelf` from the OpenAPI schema, and an evaluator compiled to
Python closures with CEL's error-absorbing `&&`/`||`/`?:` semantics.

Public interface:
    compile(expr, self_schema=None, old_self=False, variables=None, result="bool") -> Program
        Raises CompileError (str() is formatted like cel-go: "ERROR: <input>:1:6: ...").
    Program.eval(activation) -> value; raises EvalError for runtime errors.
    evaluate(expr, **variables) -> value (dynamic typing, for tests and tools).
    to_cel(value, schema) -> the CEL value of a JSON value declared by an OpenAPI schema.
    translate_re2(pattern) -> compiled Python regular expression with RE2 semantics.
    go_quote(s), go_float(f): Go's %q and %v formatting (shared with schema.py).

Pure: no I/O and no module-level mutable state (caches are per Program).
"""

import base64
import datetime as _dt
import math
import re
from fractions import Fraction

INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1
UINT_MAX = (1 << 64) - 1
PER_CALL_LIMIT = 1000000  # Kubernetes' runtime per-call cost limit (approximated as work units)


# --------------------------------------------------------------------------------------------
# errors


class CelError(Exception):
    pass


class EvalError(CelError):
    """A CEL runtime error (no such key, no such overload, division by zero, ...)."""


class CompileError(CelError):
    """Parse or type-check failure. `issues` is a list of (offset, message)."""

    def __init__(self, source, issues):
        self.source = source
        self.issues = issues
        super().__init__(self._format())

    def _format(self):
        out = []
        lines = self.source.split("\n")
        for off, msg in self.issues:
            line, col = _line_col(self.source, off)
            text = lines[line - 1] if 0 < line <= len(lines) else ""
            out.append("ERROR: <input>:%d:%d: %s\n | %s\n | %s^" % (line, col + 1, msg, text, "." * col))
        return "\n".join(out)


def _line_col(src, off):
    off = max(0, min(off, len(src)))
    line = src.count("\n", 0, off) + 1
    start = src.rfind("\n", 0, off) + 1
    return line, off - start


# --------------------------------------------------------------------------------------------
# Go-compatible formatting helpers


def go_float(f):
    """fmt's %v / strconv.FormatFloat(f, 'g', -1, 64)."""
    if f != f:
        return "NaN"
    if f == math.inf:
        return "+Inf"
    if f == -math.inf:
        return "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    sign = "-" if f < 0 else ""
    r = repr(abs(f))
    if "e" in r:
        mant, exp = r.split("e")
        exp = int(exp)
    else:
        mant, exp = r, 0
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    digits = (ip + fp).lstrip("0")
    # decimal point position relative to the start of `digits`
    lead_zeros = len(ip + fp) - len((ip + fp).lstrip("0"))
    dp = len(ip) + exp - lead_zeros
    digits = digits.rstrip("0") or "0"
    x = dp - 1
    if x < -4 or x >= 6:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (sign, m, "-" if x < 0 else "+", abs(x))
    if dp <= 0:
        return sign + "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return sign + digits[:dp] + "." + digits[dp:]


def go_quote(s):
    """strconv.Quote."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\v":
            out.append("\\v")
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif o < 0x80:
            out.append("\\x%02x" % o)
        elif o <= 0xFFFF:
            out.append("\\u%04x" % o)
        else:
            out.append("\\U%08x" % o)
    out.append('"')
    return "".join(out)


# --------------------------------------------------------------------------------------------
# RE2 -> Python re


_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7F", "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_UNICLASS = {"L": "^\\W\\d_", "N": "\\d", "Nd": "\\d", "Lu": "A-Z", "Ll": "a-z", "Z": "\\s", "Zs": " "}


class RegexError(ValueError):
    pass


def translate_re2(pattern):
    """Compile an RE2 pattern (Go regexp syntax) to a Python regex with the same meaning for the
    constructs used in practice: `$`/`\\z` end-of-text, `\\Q...\\E`, POSIX classes, `\\pL`,
    ASCII-only `\\d \\w \\s \\b`, and rejection of constructs RE2 does not support
    (backreferences, lookaround)."""
    out = []
    i = 0
    n = len(pattern)
    multiline = False
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise RegexError("trailing backslash at end of expression")
            d = pattern[i + 1]
            if d == "Q":
                j = pattern.find("\\E", i + 2)
                lit = pattern[i + 2:] if j < 0 else pattern[i + 2:j]
                out.append("".join("\\" + ch if not ch.isalnum() else ch for ch in lit))
                i = n if j < 0 else j + 2
                continue
            if d == "z":
                out.append("\\Z")
                i += 2
                continue
            if d in "pP":
                if i + 2 < n and pattern[i + 2] == "{":
                    j = pattern.find("}", i + 3)
                    if j < 0:
                        raise RegexError("invalid character class range: `%s`" % pattern[i:])
                    name = pattern[i + 3:j]
                    end = j + 1
                else:
                    name = pattern[i + 2:i + 3]
                    end = i + 3
                cls = _UNICLASS.get(name)
                if cls is None:
                    raise RegexError("invalid character class range: `%s`" % pattern[i:end])
                neg = d == "P"
                if cls.startswith("^"):
                    body = cls[1:]
                    out.append(("[" if neg else "[^") + body + "]" if not in_class else body)
                else:
                    out.append(("[^" if neg else "[") + cls + "]" if not in_class else cls)
                i = end
                continue
            if d.isdigit() and d != "0" and not in_class:
                raise RegexError("invalid escape sequence: `\\%s`" % d)
            if d in "AbBdDsSwWfnrtv\\.+*?()|[]{}^$-x0123456789aP/":
                out.append(c + d)
                i += 2
                continue
            if not d.isalnum():
                out.append("\\" + d)
                i += 2
                continue
            raise RegexError("invalid escape sequence: `\\%s`" % d)
        if in_class:
            if c == "[" and pattern.startswith("[:", i):
                j = pattern.find(":]", i + 2)
                if j > 0:
                    name = pattern[i + 2:j]
                    neg = name.startswith("^")
                    cls = _POSIX.get(name.lstrip("^"))
                    if cls is None:
                        raise RegexError("invalid character class range: `%s`" % pattern[i:j + 2])
                    if neg:
                        raise RegexError("negated POSIX classes are not supported here")
                    out.append(cls)
                    i = j + 2
                    continue
            if c == "[":
                out.append("\\[")
                i += 1
                continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if c == "(" and pattern.startswith("(?", i):
            m = re.match(r"\(\?([imsU-]*)(:|\))", pattern[i:])
            if pattern.startswith("(?P<", i) or pattern.startswith("(?<", i):
                if pattern.startswith("(?<", i) and not pattern.startswith("(?<=", i) and not pattern.startswith("(?<!", i):
                    out.append("(?P<")
                    i += 3
                    continue
                out.append("(?P<")
                i += 4
                continue
            if m:
                flags = m.group(1)
                if "m" in flags.split("-")[0]:
                    multiline = True
                if "U" in flags:
                    raise RegexError("ungreedy flag is not supported here")
                if m.group(2) == ")" and i == 0:
                    out.append("(?%s)" % flags.replace("-", "") if "-" not in flags else "")
                else:
                    on, _, off = flags.partition("-")
                    out.append("(?%s%s%s:" % (on, "-" if off else "", off) if m.group(2) == ":" else "(?%s)" % on)
                    if m.group(2) == ")" and i != 0:
                        # Python only allows global flags at the start; scope them to the rest
                        out[-1] = "(?%s:" % on
                        rest = translate_re2(pattern[i + len(m.group(0)):]).pattern
                        out.append(rest + ")")
                        return _finish("".join(out), multiline)
                i += len(m.group(0))
                continue
            raise RegexError("invalid or unsupported Perl syntax: `%s`" % pattern[i:i + 3])
        if c == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        out.append(c)
        i += 1
    if in_class:
        raise RegexError("missing closing ]: `%s`" % pattern[pattern.rfind("["):])
    return _finish("".join(out), multiline)


def _finish(py, multiline):
    try:
        return re.compile(py, re.ASCII | (re.MULTILINE if multiline else 0))
    except re.error as e:
        msg = str(e)
        if "missing )" in msg:
            raise RegexError("missing closing ): `%s`" % py)
        if "unbalanced parenthesis" in msg:
            raise RegexError("unexpected ): `%s`" % py)
        if "nothing to repeat" in msg or "multiple repeat" in msg:
            raise RegexError("missing argument to repetition operator")
        raise RegexError(msg)


# --------------------------------------------------------------------------------------------
# values


class UInt(int):
    """CEL uint (kept distinct from int)."""

    def __repr__(self):
        return "%du" % int(self)


class Duration:
    __slots__ = ("nanos",)

    def __init__(self, nanos):
        if nanos < INT_MIN or nanos > INT_MAX:
            raise EvalError("duration out of range")
        self.nanos = nanos

    def __eq__(self, other):
        return isinstance(other, Duration) and other.nanos == self.nanos

    def __hash__(self):
        return hash(("dur", self.nanos))

    def __repr__(self):
        return "duration(%r)" % duration_string(self)


class Timestamp:
    __slots__ = ("nanos",)  # since the Unix epoch, UTC

    def __init__(self, nanos):
        self.nanos = nanos

    def __eq__(self, other):
        return isinstance(other, Timestamp) and other.nanos == self.nanos

    def __hash__(self):
        return hash(("ts", self.nanos))

    def __repr__(self):
        return "timestamp(%r)" % timestamp_string(self)


class CelType:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __eq__(self, other):
        return isinstance(other, CelType) and other.name == self.name

    def __hash__(self):
        return hash(("type", self.name))

    def __repr__(self):
        return self.name


class Quantity:
    """Kubernetes resource.Quantity (exact rational value)."""

    __slots__ = ("value", "text")

    def __init__(self, value, text):
        self.value = value
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Quantity) and other.value == self.value

    def __hash__(self):
        return hash(("q", self.value))

    def __repr__(self):
        return "quantity(%r)" % self.text


class URL:
    __slots__ = ("scheme", "host", "path", "query", "text")

    def __init__(self, text):
        m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#.*)?$", text)
        if not m:
            if text.startswith("/"):
                m2 = re.match(r"^([^?#]*)(?:\?([^#]*))?", text)
                self.scheme, self.host, self.path, self.query = "", "", m2.group(1), m2.group(2) or ""
                self.text = text
                return
            raise EvalError("URL parse error during conversion from string: parse %s: invalid URI for request" % go_quote(text))
        self.scheme = m.group(1)
        self.host = m.group(2) or ""
        self.path = m.group(3)
        self.query = m.group(4) or ""
        self.text = text

    def __eq__(self, other):
        return isinstance(other, URL) and other.text == self.text

    def __hash__(self):
        return hash(self.text)


TYPE_NAMES = ("int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type")


def type_name(v):
    t = type(v)
    if t is bool:
        return "bool"
    if t is UInt:
        return "uint"
    if t is int:
        return "int"
    if t is float:
        return "double"
    if t is str:
        return "string"
    if t is bytes:
        return "bytes"
    if v is None:
        return "null_type"
    if t is list or t is tuple:
        return "list"
    if t is dict:
        return "map"
    if t is Duration:
        return "google.protobuf.Duration"
    if t is Timestamp:
        return "google.protobuf.Timestamp"
    if t is CelType:
        return "type"
    if t is Quantity:
        return "kubernetes.Quantity"
    if t is URL:
        return "kubernetes.URL"
    return "dyn"


# --- durations and timestamps


_DUR_UNITS = {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 1000000, "s": 10 ** 9,
              "m": 60 * 10 ** 9, "h": 3600 * 10 ** 9}


def parse_duration(s):
    """Go time.ParseDuration."""
    orig = s
    if not s:
        raise EvalError("invalid duration %s" % go_quote(orig))
    neg = False
    if s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return Duration(0)
    if not s:
        raise EvalError("invalid duration %s" % go_quote(orig))
    total = Fraction(0)
    while s:
        m = re.match(r"(\d*)(?:\.(\d*))?", s)
        ip, fp = m.group(1), m.group(2)
        if not ip and not fp:
            raise EvalError("invalid duration %s" % go_quote(orig))
        s = s[m.end():]
        u = re.match(r"(ns|us|µs|μs|ms|s|m|h)", s)
        if not u:
            if not s:
                raise EvalError("missing unit in duration %s" % go_quote(orig))
            raise EvalError("unknown unit %s in duration %s" % (go_quote(re.match(r"[^\d.]*", s).group(0)), go_quote(orig)))
        s = s[u.end():]
        val = Fraction(int(ip or "0"))
        if fp:
            val += Fraction(int(fp), 10 ** len(fp))
        total += val * _DUR_UNITS[u.group(1)]
    nanos = int(total)
    if neg:
        nanos = -nanos
    if nanos < INT_MIN or nanos > INT_MAX:
        raise EvalError("invalid duration %s" % go_quote(orig))
    return Duration(nanos)


def duration_string(d):
    """Go time.Duration.String()."""
    n = d.nanos
    if n == 0:
        return "0s"
    neg = n < 0
    u = -n if neg else n
    if u < 10 ** 9:
        if u < 1000:
            s = "%dns" % u
        elif u < 10 ** 6:
            s = _frac(u, 3) + "µs"
        else:
            s = _frac(u, 6) + "ms"
    else:
        h, rem = divmod(u, 3600 * 10 ** 9)
        m, rem = divmod(rem, 60 * 10 ** 9)
        s = _frac(rem, 9) + "s"
        if h:
            s = "%dh%dm%s" % (h, m, s)
        elif m:
            s = "%dm%s" % (m, s)
    return ("-" if neg else "") + s


def _frac(v, prec):
    ip, fp = divmod(v, 10 ** prec)
    fs = ("%0*d" % (prec, fp)).rstrip("0")
    return "%d%s" % (ip, "." + fs if fs else "")


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$")


def parse_timestamp(s):
    m = _TS_RE.match(s)
    if not m:
        raise EvalError("timestamp(%s): parsing time %s as \"2006-01-02T15:04:05Z07:00\": cannot parse" % (go_quote(s), go_quote(s)))
    y, mo, d, h, mi, se = (int(m.group(k)) for k in range(1, 7))
    try:
        base = _dt.datetime(y, mo, d, h, mi, se, tzinfo=_dt.timezone.utc)
    except ValueError:
        raise EvalError("timestamp(%s): parsing time %s: day out of range" % (go_quote(s), go_quote(s)))
    frac = m.group(7) or ""
    nanos = int((frac + "000000000")[:9]) if frac else 0
    tz = m.group(8)
    off = 0
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        off = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    secs = int((base - _EPOCH).total_seconds()) - off
    return Timestamp(secs * 10 ** 9 + nanos)


def parse_date(s):
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})$", s)
    if not m:
        raise EvalError("invalid date %s" % go_quote(s))
    dd = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return Timestamp((dd - _dt.date(1970, 1, 1)).days * 86400 * 10 ** 9)


def timestamp_string(t):
    secs, nanos = divmod(t.nanos, 10 ** 9)
    d = _EPOCH + _dt.timedelta(seconds=secs)
    s = d.strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        s += "." + ("%09d" % nanos).rstrip("0")
    return s + "Z"


def _ts_datetime(t, tz=None):
    secs, nanos = divmod(t.nanos, 10 ** 9)
    d = _EPOCH + _dt.timedelta(seconds=secs)
    if tz:
        d = d.astimezone(_tzinfo(tz))
    return d, nanos


def _tzinfo(name):
    m = re.match(r"^([+-]?)(\d{1,2}):(\d{2})$", name)
    if m:
        off = _dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return _dt.timezone(-off if m.group(1) == "-" else off)
    if name == "UTC":
        return _dt.timezone.utc
    try:
        import zoneinfo
        return zoneinfo.ZoneInfo(name)
    except Exception:
        raise EvalError("unknown time zone %s" % name)


# --- quantities (k8s.io/apimachinery/pkg/api/resource)

_Q_SUFFIX = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
             "n": Fraction(1, 10 ** 9), "u": Fraction(1, 10 ** 6), "m": Fraction(1, 1000), "": 1,
             "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18}
_Q_RE = re.compile(r"^([+-]?)(\d*)(?:\.(\d*))?(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$")


def parse_quantity(s):
    m = _Q_RE.match(s or "")
    if not m or (not m.group(2) and not m.group(3)):
        raise EvalError("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    v = Fraction(int(m.group(2) or "0"))
    if m.group(3):
        v += Fraction(int(m.group(3)), 10 ** len(m.group(3)))
    if m.group(4):
        e = int(m.group(4)[1:])
        v *= Fraction(10) ** e
    else:
        v *= _Q_SUFFIX[m.group(5) or ""]
    if m.group(1) == "-":
        v = -v
    return Quantity(v, s)


# --------------------------------------------------------------------------------------------
# lexer


_RESERVED = {"as", "break", "const", "continue", "else", "for", "function", "if", "import", "let",
             "loop", "package", "namespace", "return", "var", "void", "while"}
_OPS2 = ("==", "!=", "<=", ">=", "&&", "||")
_OPS1 = "+-*/%<>!?:.,[](){}"


class Tok:
    __slots__ = ("kind", "val", "pos", "end")

    def __init__(self, kind, val, pos, end):
        self.kind = kind
        self.val = val
        self.pos = pos
        self.end = end

    def text(self, src):
        return src[self.pos:self.end]


_NUM_RE = re.compile(r"0[xX][0-9a-fA-F]+[uU]?|(?:\d+\.\d+(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)|\d+[uU]?")
_IDENT_RE = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")


def _lex(src):
    toks = []
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c in " \t\n\r\f":
            i += 1
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            m = _NUM_RE.match(src, i)
            t = m.group(0)
            if t[:2] in ("0x", "0X"):
                if t[-1] in "uU":
                    toks.append(Tok("uint", int(t[2:-1], 16), i, m.end()))
                else:
                    toks.append(Tok("int", int(t[2:], 16), i, m.end()))
            elif any(ch in t for ch in ".eE"):
                toks.append(Tok("float", float(t), i, m.end()))
            elif t[-1] in "uU":
                toks.append(Tok("uint", int(t[:-1]), i, m.end()))
            else:
                toks.append(Tok("int", int(t), i, m.end()))
            i = m.end()
            continue
        if c.isalpha() or c == "_":
            m = _IDENT_RE.match(src, i)
            word = m.group(0)
            j = m.end()
            if word.lower() in ("r", "b", "rb", "br") and j < n and src[j] in "'\"":
                tok, j = _lex_string(src, j, "r" in word.lower(), "b" in word.lower(), i)
                toks.append(tok)
                i = j
                continue
            if word in ("true", "false"):
                toks.append(Tok("lit", word == "true", i, j))
            elif word == "null":
                toks.append(Tok("lit", None, i, j))
            elif word == "in":
                toks.append(Tok("op", "in", i, j))
            else:
                toks.append(Tok("ident", word, i, j))
            i = j
            continue
        if c in "'\"":
            tok, i = _lex_string(src, i, False, False, i)
            toks.append(tok)
            continue
        two = src[i:i + 2]
        if two in _OPS2:
            toks.append(Tok("op", two, i, i + 2))
            i += 2
            continue
        if c in _OPS1:
            toks.append(Tok("op", c, i, i + 1))
            i += 1
            continue
        raise CompileError(src, [(i, "Syntax error: token recognition error at: '%s'" % c)])
    toks.append(Tok("eof", None, n, n))
    return toks


_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
        "'": "'", '"': '"', "`": "`", "?": "?"}


def _lex_string(src, i, raw, is_bytes, start):
    q = src[i]
    triple = src.startswith(q * 3, i)
    delim = q * 3 if triple else q
    j = i + len(delim)
    buf = []
    n = len(src)
    while True:
        if j >= n:
            raise CompileError(src, [(start, "Syntax error: token recognition error at: '%s'" % src[start:])])
        if src.startswith(delim, j):
            j += len(delim)
            break
        c = src[j]
        if c == "\n" and not triple:
            raise CompileError(src, [(start, "Syntax error: token recognition error at: '%s'" % src[start:j + 1])])
        if c == "\\" and not raw:
            if j + 1 >= n:
                raise CompileError(src, [(j, "Syntax error: token recognition error at: '\\'")])
            d = src[j + 1]
            if d in _ESC:
                buf.append(_ESC[d])
                j += 2
            elif d in "xX":
                buf.append(("b" if is_bytes else "c", int(src[j + 2:j + 4], 16)))
                j += 4
            elif d == "u" and not is_bytes:
                buf.append(chr(int(src[j + 2:j + 6], 16)))
                j += 6
            elif d == "U" and not is_bytes:
                buf.append(chr(int(src[j + 2:j + 10], 16)))
                j += 10
            elif d in "0123":
                buf.append(("b" if is_bytes else "c", int(src[j + 1:j + 4], 8)))
                j += 4
            else:
                raise CompileError(src, [(j, "Syntax error: token recognition error at: '%s'" % src[start:j + 2])])
            continue
        buf.append(c)
        j += 1
    if is_bytes:
        out = bytearray()
        for p in buf:
            if isinstance(p, tuple):
                out.append(p[1])
            else:
                out.extend(p.encode("utf-8"))
        return Tok("lit", bytes(out), start, j), j
    s = "".join(chr(p[1]) if isinstance(p, tuple) else p for p in buf)
    return Tok("lit", s, start, j), j


# --------------------------------------------------------------------------------------------
# parser


class Node:
    __slots__ = ("op", "pos", "args", "val", "typ", "ref")

    def __init__(self, op, pos, args=(), val=None):
        self.op = op
        self.pos = pos
        self.args = list(args)
        self.val = val
        self.typ = None
        self.ref = None

    def __repr__(self):
        return "Node(%s, %r, %r)" % (self.op, self.val, self.args)


_MACROS = {"all": 2, "exists": 2, "exists_one": 2, "filter": 2, "map": (2, 3)}
MAX_DEPTH = 250


class _Parser:
    def __init__(self, src):
        self.src = src
        self.toks = _lex(src)
        self.i = 0
        self.depth = 0

    def peek(self):
        return self.toks[self.i]

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def at(self, val):
        t = self.toks[self.i]
        return t.kind == "op" and t.val == val

    def fail(self, tok, expecting=None):
        if tok.kind == "eof":
            txt = "<EOF>"
        else:
            txt = tok.text(self.src)
        msg = "Syntax error: mismatched input '%s' expecting %s" % (txt, expecting) if expecting else \
            "Syntax error: extraneous input '%s'" % txt
        raise CompileError(self.src, [(tok.pos, msg)])

    def expect(self, val):
        t = self.next()
        if not (t.kind == "op" and t.val == val):
            self.fail(t, "'%s'" % val)
        return t

    def parse(self):
        if self.peek().kind == "eof":
            self.fail(self.peek(), "{'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}")
        e = self.expr()
        t = self.peek()
        if t.kind != "eof":
            raise CompileError(self.src, [(t.pos, "Syntax error: extraneous input '%s' expecting <EOF>" % t.text(self.src))])
        return e

    def expr(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CompileError(self.src, [(self.peek().pos, "expression recursion limit exceeded: %d" % MAX_DEPTH)])
        c = self.or_()
        if self.at("?"):
            q = self.next()
            a = self.or_()
            self.expect(":")
            b = self.expr()
            c = Node("cond", q.pos, [c, a, b])
        self.depth -= 1
        return c

    def or_(self):
        left = self.and_()
        while self.at("||"):
            t = self.next()
            left = Node("or", t.pos, [left, self.and_()])
        return left

    def and_(self):
        left = self.rel()
        while self.at("&&"):
            t = self.next()
            left = Node("and", t.pos, [left, self.rel()])
        return left

    def rel(self):
        left = self.add()
        while True:
            t = self.peek()
            if t.kind == "op" and t.val in ("<", "<=", ">", ">=", "==", "!=", "in"):
                self.next()
                left = Node(t.val, t.pos, [left, self.add()])
            else:
                return left

    def add(self):
        left = self.mul()
        while True:
            t = self.peek()
            if t.kind == "op" and t.val in ("+", "-"):
                self.next()
                left = Node(t.val, t.pos, [left, self.mul()])
            else:
                return left

    def mul(self):
        left = self.unary()
        while True:
            t = self.peek()
            if t.kind == "op" and t.val in ("*", "/", "%"):
                self.next()
                left = Node(t.val, t.pos, [left, self.unary()])
            else:
                return left

    def unary(self):
        t = self.peek()
        if self.at("!"):
            ops = []
            while self.at("!"):
                ops.append(self.next())
            e = self.member()
            for o in reversed(ops):
                e = Node("not", o.pos, [e])
            return e
        if self.at("-"):
            ops = []
            while self.at("-"):
                ops.append(self.next())
            nt = self.peek()
            if len(ops) % 2 == 1 and nt.kind in ("int", "float") and not (
                    self.toks[self.i + 1].kind == "op" and self.toks[self.i + 1].val in (".", "[")):
                # negative numeric literal
                self.next()
                v = -nt.val
                if nt.kind == "int" and v < INT_MIN:
                    raise CompileError(self.src, [(t.pos, "invalid int literal")])
                e = Node("lit", ops[-1].pos, val=v)
                for o in reversed(ops[:-1]):
                    e = Node("neg", o.pos, [e])
                return e
            e = self.member()
            for o in reversed(ops):
                e = Node("neg", o.pos, [e])
            return e
        return self.member()

    def member(self):
        e = self.primary()
        while True:
            t = self.peek()
            if t.kind == "op" and t.val == ".":
                self.next()
                nt = self.next()
                if nt.kind != "ident":
                    self.fail(nt, "IDENTIFIER")
                if self.at("("):
                    self.next()
                    args = self.args(")")
                    e = self.method(e, nt, args, t.pos)
                else:
                    e = Node("sel", t.pos, [e], nt.val)
            elif t.kind == "op" and t.val == "[":
                self.next()
                idx = self.expr()
                self.expect("]")
                e = Node("idx", t.pos, [e, idx])
            else:
                return e

    def method(self, target, name_tok, args, pos):
        name = name_tok.val
        spec = _MACROS.get(name)
        if spec is not None and (len(args) == spec or (isinstance(spec, tuple) and len(args) in spec)):
            if args[0].op != "id":
                raise CompileError(self.src, [(args[0].pos, "argument must be a simple name")])
            var = args[0].val
            if name == "map" and len(args) == 3:
                return Node("map3", pos, [target, args[1], args[2]], var)
            return Node(name, pos, [target, args[1]], var)
        return Node("mcall", pos, [target] + args, name)

    def args(self, close):
        out = []
        if self.at(close):
            self.next()
            return out
        while True:
            out.append(self.expr())
            if self.at(","):
                self.next()
                if self.at(close):
                    self.next()
                    return out
                continue
            self.expect(close)
            return out

    def primary(self):
        t = self.next()
        k = t.kind
        if k in ("int", "uint", "float", "lit"):
            if k == "int" and t.val > INT_MAX:
                raise CompileError(self.src, [(t.pos, "invalid int literal")])
            if k == "uint":
                if t.val > UINT_MAX:
                    raise CompileError(self.src, [(t.pos, "invalid uint literal")])
                return Node("lit", t.pos, val=UInt(t.val))
            return Node("lit", t.pos, val=t.val)
        if k == "ident" or (k == "op" and t.val == "." and self.peek().kind == "ident"):
            if k == "op":
                t = self.next()
            name = t.val
            if name in _RESERVED:
                raise CompileError(self.src, [(t.pos, "reserved identifier: %s" % name)])
            if self.at("("):
                self.next()
                args = self.args(")")
                if name == "has":
                    if len(args) != 1 or args[0].op != "sel":
                        raise CompileError(self.src, [(t.pos, "invalid argument to has() macro")])
                    return Node("has", t.pos, [args[0].args[0]], args[0].val)
                return Node("call", t.pos, args, name)
            # qualified names such as sets.contains(...)
            if self.at(".") and self.toks[self.i + 1].kind == "ident" and \
                    self.toks[self.i + 2].kind == "op" and self.toks[self.i + 2].val == "(" and \
                    name in ("sets", "strings", "math"):
                self.next()
                fn = self.next()
                self.next()
                args = self.args(")")
                return Node("call", t.pos, args, name + "." + fn.val)
            return Node("id", t.pos, val=name)
        if k == "op":
            if t.val == "(":
                e = self.expr()
                self.expect(")")
                return e
            if t.val == "[":
                items = self.args("]")
                return Node("list", t.pos, items)
            if t.val == "{":
                items = []
                if self.at("}"):
                    self.next()
                    return Node("mapl", t.pos, items)
                while True:
                    kk = self.expr()
                    self.expect(":")
                    vv = self.expr()
                    items += [kk, vv]
                    if self.at(","):
                        self.next()
                        if self.at("}"):
                            self.next()
                            break
                        continue
                    self.expect("}")
                    break
                return Node("mapl", t.pos, items)
        self.fail(t, "{'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}")


def parse(src):
    return _Parser(src).parse()


# --------------------------------------------------------------------------------------------
# types and the checker


class T:
    """A CEL type. kind: int uint double bool string bytes null dyn duration timestamp type
    list map object quantity url. For list: elem; map: key/val; object: schema."""

    __slots__ = ("kind", "elem", "key", "val", "schema", "root", "_fields")

    def __init__(self, kind, elem=None, key=None, val=None, schema=None, root=False):
        self.kind = kind
        self.elem = elem
        self.key = key
        self.val = val
        self.schema = schema
        self.root = root
        self._fields = None

    def __str__(self):
        k = self.kind
        if k == "list":
            return "list(%s)" % self.elem
        if k == "map":
            return "map(%s, %s)" % (self.key, self.val)
        if k == "duration":
            return "google.protobuf.Duration"
        if k == "timestamp":
            return "google.protobuf.Timestamp"
        if k == "null":
            return "null_type"
        if k == "quantity":
            return "kubernetes.Quantity"
        if k == "url":
            return "kubernetes.URL"
        return k

    def fields(self):
        if self._fields is None:
            f = {}
            s = self.schema or {}
            if self.root or s.get("x-kubernetes-embedded-resource"):
                f["apiVersion"] = STRING
                f["kind"] = STRING
                f["metadata"] = _META_T
            for name, ps in (s.get("properties") or {}).items():
                if self.root and name == "metadata":
                    continue
                f[name] = schema_type(ps)
            self._fields = f
        return self._fields


INT, UINT, DOUBLE, BOOL, STRING, BYTES = T("int"), T("uint"), T("double"), T("bool"), T("string"), T("bytes")
NULL, DYN, DURATION, TIMESTAMP, TYPE = T("null"), T("dyn"), T("duration"), T("timestamp"), T("type")
QUANTITY, URLT = T("quantity"), T("url")
_META_T = T("object", schema={"properties": {"name": {"type": "string"}, "generateName": {"type": "string"}}})
_PRIM = {"int": INT, "uint": UINT, "double": DOUBLE, "bool": BOOL, "string": STRING, "bytes": BYTES,
         "null": NULL, "dyn": DYN, "duration": DURATION, "timestamp": TIMESTAMP, "type": TYPE}


def ListT(e):
    return T("list", elem=e)


def MapT(k, v):
    return T("map", key=k, val=v)


def schema_type(s, root=False):
    """The CEL type Kubernetes declares for a structural schema node."""
    if not s:
        return DYN
    if s.get("x-kubernetes-int-or-string"):
        return DYN
    t = s.get("type")
    if t == "object":
        ap = s.get("additionalProperties")
        if isinstance(ap, dict) and not s.get("properties"):
            m = MapT(STRING, schema_type(ap))
            m.schema = s
            return m
        if s.get("properties") or s.get("x-kubernetes-embedded-resource") or root:
            return T("object", schema=s, root=root)
        if s.get("x-kubernetes-preserve-unknown-fields"):
            return DYN
        return T("object", schema=s)
    if t == "array":
        lt = ListT(schema_type(s.get("items")))
        lt.schema = s
        return lt
    if t == "string":
        f = s.get("format")
        if f == "byte":
            return T("bytes", schema=s)
        if f == "duration":
            return DURATION
        if f in ("date", "date-time"):
            return TIMESTAMP
        return T("string", schema=s) if (s.get("maxLength") is not None or s.get("enum")) else STRING
    if t == "integer":
        return INT
    if t == "number":
        return DOUBLE
    if t == "boolean":
        return BOOL
    return DYN


_ESCAPES = (("__underscores__", "__"), ("__dot__", "."), ("__dash__", "-"), ("__slash__", "/"))
_ESCAPED_KEYWORDS = {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
                     "function", "if", "import", "let", "loop", "package", "namespace", "return",
                     "var", "void", "while"}


def unescape_field(name):
    """Kubernetes' CEL property-name escaping (`__dash__`, `__dot__`, `__namespace__`, ...)."""
    if name.startswith("__") and name.endswith("__") and name[2:-2] in _ESCAPED_KEYWORDS:
        return name[2:-2]
    if "__" not in name:
        return name
    out = []
    i = 0
    while i < len(name):
        for esc, rep in _ESCAPES:
            if name.startswith(esc, i):
                out.append(rep)
                i += len(esc)
                break
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def _assignable(a, b):
    if a.kind == "dyn" or b.kind == "dyn":
        return True
    if a.kind != b.kind:
        return False
    if a.kind == "list":
        return _assignable(a.elem, b.elem)
    if a.kind == "map":
        return _assignable(a.key, b.key) and _assignable(a.val, b.val)
    return True


def _join(a, b):
    if a.kind == "dyn":
        return b if b.kind != "dyn" else a
    return a


_NUM = ("int", "uint", "double")

# operator overloads: name -> list of (arg kinds..., result kind); "L"=list, "M"=map, "A"=same as arg0
_ARITH = {
    "+": [("int", "int", "int"), ("uint", "uint", "uint"), ("double", "double", "double"),
          ("string", "string", "string"), ("bytes", "bytes", "bytes"), ("list", "list", "A"),
          ("timestamp", "duration", "timestamp"), ("duration", "timestamp", "timestamp"),
          ("duration", "duration", "duration")],
    "-": [("int", "int", "int"), ("uint", "uint", "uint"), ("double", "double", "double"),
          ("timestamp", "timestamp", "duration"), ("timestamp", "duration", "timestamp"),
          ("duration", "duration", "duration")],
    "*": [("int", "int", "int"), ("uint", "uint", "uint"), ("double", "double", "double")],
    "/": [("int", "int", "int"), ("uint", "uint", "uint"), ("double", "double", "double")],
    "%": [("int", "int", "int"), ("uint", "uint", "uint")],
}
_ORDERED = ("int", "uint", "double", "string", "bytes", "bool", "timestamp", "duration")

# member/global functions: name -> list of (receiver kind or None, (arg kinds), result kind)
_FUNCS = {
    "size": [(None, ("string",), "int"), (None, ("bytes",), "int"), (None, ("list",), "int"),
             (None, ("map",), "int"), ("string", (), "int"), ("bytes", (), "int"), ("list", (), "int"),
             ("map", (), "int")],
    "contains": [("string", ("string",), "bool")],
    "startsWith": [("string", ("string",), "bool")],
    "endsWith": [("string", ("string",), "bool")],
    "matches": [("string", ("string",), "bool"), (None, ("string", "string"), "bool")],
    "charAt": [("string", ("int",), "string")],
    "indexOf": [("string", ("string",), "int"), ("string", ("string", "int"), "int"), ("list", ("*",), "int")],
    "lastIndexOf": [("string", ("string",), "int"), ("string", ("string", "int"), "int"), ("list", ("*",), "int")],
    "lowerAscii": [("string", (), "string")],
    "upperAscii": [("string", (), "string")],
    "replace": [("string", ("string", "string"), "string"), ("string", ("string", "string", "int"), "string")],
    "split": [("string", ("string",), "list<string>"), ("string", ("string", "int"), "list<string>")],
    "substring": [("string", ("int",), "string"), ("string", ("int", "int"), "string")],
    "trim": [("string", (), "string")],
    "join": [("list", (), "string"), ("list", ("string",), "string")],
    "reverse": [("string", (), "string")],
    "find": [("string", ("string",), "string")],
    "findAll": [("string", ("string",), "list<string>"), ("string", ("string", "int"), "list<string>")],
    "isSorted": [("list", (), "bool")],
    "sum": [("list", (), "elem")],
    "min": [("list", (), "elem")],
    "max": [("list", (), "elem")],
    "int": [(None, ("*",), "int")],
    "uint": [(None, ("*",), "uint")],
    "double": [(None, ("*",), "double")],
    "string": [(None, ("*",), "string")],
    "bytes": [(None, ("*",), "bytes")],
    "bool": [(None, ("*",), "bool")],
    "dyn": [(None, ("*",), "dyn")],
    "type": [(None, ("*",), "type")],
    "duration": [(None, ("string",), "duration")],
    "timestamp": [(None, ("string",), "timestamp")],
    "getFullYear": [("timestamp", (), "int"), ("timestamp", ("string",), "int")],
    "getMonth": [("timestamp", (), "int"), ("timestamp", ("string",), "int")],
    "getDate": [("timestamp", (), "int"), ("timestamp", ("string",), "int")],
    "getDayOfMonth": [("timestamp", (), "int"), ("timestamp", ("string",), "int")],
    "getDayOfWeek": [("timestamp", (), "int"), ("timestamp", ("string",), "int")],
    "getDayOfYear": [("timestamp", (), "int"), ("timestamp", ("string",), "int")],
    "getHours": [("timestamp", (), "int"), ("timestamp", ("string",), "int"), ("duration", (), "int")],
    "getMinutes": [("timestamp", (), "int"), ("timestamp", ("string",), "int"), ("duration", (), "int")],
    "getSeconds": [("timestamp", (), "int"), ("timestamp", ("string",), "int"), ("duration", (), "int")],
    "getMilliseconds": [("timestamp", (), "int"), ("timestamp", ("string",), "int"), ("duration", (), "int")],
    "quantity": [(None, ("string",), "quantity")],
    "isQuantity": [(None, ("string",), "bool")],
    "isInteger": [("quantity", (), "bool")],
    "asInteger": [("quantity", (), "int")],
    "asApproximateFloat": [("quantity", (), "double")],
    "sign": [("quantity", (), "int")],
    "add": [("quantity", ("quantity",), "quantity"), ("quantity", ("int",), "quantity")],
    "sub": [("quantity", ("quantity",), "quantity"), ("quantity", ("int",), "quantity")],
    "isGreaterThan": [("quantity", ("quantity",), "bool")],
    "isLessThan": [("quantity", ("quantity",), "bool")],
    "compareTo": [("quantity", ("quantity",), "int")],
    "url": [(None, ("string",), "url")],
    "isURL": [(None, ("string",), "bool")],
    "getScheme": [("url", (), "string")],
    "getHost": [("url", (), "string")],
    "getHostname": [("url", (), "string")],
    "getPort": [("url", (), "string")],
    "getEscapedPath": [("url", (), "string")],
    "getQuery": [("url", (), "map<string,list<string>>")],
    "sets.contains": [(None, ("list", "list"), "bool")],
    "sets.equivalent": [(None, ("list", "list"), "bool")],
    "sets.intersects": [(None, ("list", "list"), "bool")],
    "strings.quote": [(None, ("string",), "string")],
    "math.greatest": [(None, ("*",), "dyn")],
    "math.least": [(None, ("*",), "dyn")],
}


class _Checker:
    def __init__(self, src, env):
        self.src = src
        self.env = env  # name -> T
        self.issues = []

    def err(self, node, msg):
        self.issues.append((node.pos, msg))
        return DYN

    def check(self, n, scope):
        t = self._check(n, scope)
        n.typ = t
        return t

    def _check(self, n, scope):
        op = n.op
        if op == "lit":
            v = n.val
            return _PRIM[{"null_type": "null", "google.protobuf.Duration": "duration",
                          "google.protobuf.Timestamp": "timestamp"}.get(type_name(v), type_name(v))] \
                if type_name(v) not in ("list", "map") else DYN
        if op == "id":
            if n.val in scope:
                return scope[n.val]
            if n.val in self.env:
                return self.env[n.val]
            if n.val in TYPE_NAMES or n.val == "dyn":
                return TYPE
            return self.err(n, "undeclared reference to '%s' (in container '')" % n.val)
        if op in ("sel", "has"):
            ot = self.check(n.args[0], scope)
            ft = self._field(n, ot, n.val)
            return BOOL if op == "has" else ft
        if op == "idx":
            ot = self.check(n.args[0], scope)
            it = self.check(n.args[1], scope)
            if ot.kind == "list":
                if it.kind not in ("int", "uint", "double", "dyn"):
                    return self.err(n, "found no matching overload for '_[_]' applied to '(%s, %s)'" % (ot, it))
                return ot.elem
            if ot.kind == "map":
                return ot.val
            if ot.kind == "dyn":
                return DYN
            return self.err(n, "found no matching overload for '_[_]' applied to '(%s, %s)'" % (ot, it))
        if op in ("and", "or"):
            a = self.check(n.args[0], scope)
            b = self.check(n.args[1], scope)
            for x in (a, b):
                if x.kind not in ("bool", "dyn"):
                    return self.err(n, "found no matching overload for '_%s_' applied to '(%s, %s)'" % (
                        "&&" if op == "and" else "||", a, b))
            return BOOL
        if op == "not":
            a = self.check(n.args[0], scope)
            if a.kind not in ("bool", "dyn"):
                return self.err(n, "found no matching overload for '!_' applied to '(%s)'" % a)
            return BOOL
        if op == "neg":
            a = self.check(n.args[0], scope)
            if a.kind not in ("int", "double", "dyn", "duration"):
                return self.err(n, "found no matching overload for '-_' applied to '(%s)'" % a)
            return a
        if op == "cond":
            c = self.check(n.args[0], scope)
            a = self.check(n.args[1], scope)
            b = self.check(n.args[2], scope)
            if c.kind not in ("bool", "dyn") or not _assignable(a, b):
                return self.err(n, "found no matching overload for '_?_:_' applied to '(%s, %s, %s)'" % (c, a, b))
            return _join(a, b)
        if op in ("==", "!="):
            a = self.check(n.args[0], scope)
            b = self.check(n.args[1], scope)
            if not _assignable(a, b) and not (a.kind == "null" and b.kind in ("object", "list", "map", "timestamp", "duration")) \
                    and not (b.kind == "null" and a.kind in ("object", "list", "map", "timestamp", "duration")):
                return self.err(n, "found no matching overload for '_%s_' applied to '(%s, %s)'" % (op, a, b))
            return BOOL
        if op in ("<", "<=", ">", ">="):
            a = self.check(n.args[0], scope)
            b = self.check(n.args[1], scope)
            ok = a.kind == "dyn" or b.kind == "dyn" or (a.kind in _NUM and b.kind in _NUM) or \
                (a.kind == b.kind and a.kind in _ORDERED)
            if not ok:
                return self.err(n, "found no matching overload for '_%s_' applied to '(%s, %s)'" % (op, a, b))
            return BOOL
        if op in _ARITH:
            a = self.check(n.args[0], scope)
            b = self.check(n.args[1], scope)
            if a.kind == "dyn" and b.kind == "dyn":
                return DYN
            for ov in _ARITH[op]:
                if (a.kind == ov[0] or a.kind == "dyn") and (b.kind == ov[1] or b.kind == "dyn"):
                    if ov[2] == "A":
                        if a.kind == "list" and b.kind == "list":
                            if not _assignable(a.elem, b.elem):
                                break
                            return ListT(_join(a.elem, b.elem))
                        return a if a.kind != "dyn" else b
                    if a.kind == "dyn" or b.kind == "dyn":
                        # several overloads may match a dyn operand
                        cands = {o[2] for o in _ARITH[op] if (a.kind in (o[0], "dyn")) and (b.kind in (o[1], "dyn"))}
                        if len(cands) != 1:
                            return DYN
                    return _PRIM[ov[2]]
            return self.err(n, "found no matching overload for '_%s_' applied to '(%s, %s)'" % (op, a, b))
        if op == "in":
            a = self.check(n.args[0], scope)
            b = self.check(n.args[1], scope)
            if b.kind == "list":
                if not _assignable(a, b.elem):
                    return self.err(n, "found no matching overload for '@in' applied to '(%s, %s)'" % (a, b))
            elif b.kind == "map":
                if not _assignable(a, b.key):
                    return self.err(n, "found no matching overload for '@in' applied to '(%s, %s)'" % (a, b))
            elif b.kind != "dyn":
                return self.err(n, "found no matching overload for '@in' applied to '(%s, %s)'" % (a, b))
            return BOOL
        if op == "list":
            et = None
            for a in n.args:
                t = self.check(a, scope)
                if et is None:
                    et = t
                elif not _assignable(et, t) or et.kind != t.kind:
                    et = DYN
            return ListT(et or DYN)
        if op == "mapl":
            kt = vt = None
            for i in range(0, len(n.args), 2):
                k = self.check(n.args[i], scope)
                v = self.check(n.args[i + 1], scope)
                if k.kind not in ("string", "int", "uint", "bool", "dyn"):
                    self.err(n.args[i], "unsupported map key type: %s" % k)
                kt = k if kt is None else (kt if kt.kind == k.kind else DYN)
                vt = v if vt is None else (vt if vt.kind == v.kind and _assignable(vt, v) else DYN)
            return MapT(kt or DYN, vt or DYN)
        if op in ("all", "exists", "exists_one", "filter", "map", "map3"):
            rt = self.check(n.args[0], scope)
            if rt.kind == "list":
                vt = rt.elem
            elif rt.kind == "map":
                vt = rt.key
            elif rt.kind == "dyn":
                vt = DYN
            else:
                return self.err(n, "expression of type '%s' cannot be range of a comprehension (must be list, map, or dynamic)" % rt)
            inner = dict(scope)
            inner[n.val] = vt
            bt = self.check(n.args[1], inner)
            if op != "map" and bt.kind not in ("bool", "dyn"):
                return self.err(n.args[1], "found no matching overload for '_&&_' applied to '(bool, %s)'" % bt)
            if op in ("all", "exists", "exists_one"):
                return BOOL
            if op == "filter":
                return ListT(vt)
            if op == "map":
                return ListT(bt)
            tt = self.check(n.args[2], inner)
            return ListT(tt)
        if op in ("call", "mcall"):
            return self._call(n, scope)
        return DYN

    def _field(self, n, ot, name):
        if ot.kind == "object":
            f = ot.fields()
            if name in f:
                return f[name]
            un = unescape_field(name)
            if un in f:
                n.ref = un
                return f[un]
            return self.err(n, "undefined field '%s'" % name)
        if ot.kind == "map":
            return ot.val
        if ot.kind == "dyn":
            return DYN
        return self.err(n, "type '%s' does not support field selection" % ot)

    def _call(self, n, scope):
        name = n.val
        member = n.op == "mcall"
        ats = [self.check(a, scope) for a in n.args]
        if name not in _FUNCS:
            return self.err(n, "undeclared reference to '%s' (in container '')" % name)
        recv = ats[0] if member else None
        args = ats[1:] if member else ats
        for r, params, res in _FUNCS[name]:
            if (r is None) != (not member):
                continue
            if member and not (recv.kind == "dyn" or recv.kind == r):
                continue
            if len(params) != len(args):
                continue
            ok = True
            for p, a in zip(params, args):
                if p != "*" and a.kind != "dyn" and a.kind != p:
                    ok = False
            if not ok:
                continue
            if name in ("sum", "min", "max") and recv is not None:
                return recv.elem if recv.kind == "list" else DYN
            if res == "list<string>":
                return ListT(STRING)
            if res == "map<string,list<string>>":
                return MapT(STRING, ListT(STRING))
            if name == "dyn":
                return DYN
            return _PRIM.get(res) or {"quantity": QUANTITY, "url": URLT}.get(res, DYN)
        if member:
            sig = "%s.(%s)" % (recv, ", ".join(str(a) for a in args))
        else:
            sig = "(%s)" % ", ".join(str(a) for a in args)
        return self.err(n, "found no matching overload for '%s' applied to '%s'" % (name, sig))


# --------------------------------------------------------------------------------------------
# evaluation helpers


def _isnum(v):
    t = type(v)
    return t is int or t is UInt or t is float


def cel_eq(a, b):
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if a is None or b is None:
        return a is None and b is None
    if _isnum(a):
        return _isnum(b) and a == b
    if ta is str or ta is bytes:
        return ta is tb and a == b
    if ta is list or ta is tuple:
        if tb is not list and tb is not tuple:
            return False
        if len(a) != len(b):
            return False
        return all(cel_eq(x, y) for x, y in zip(a, b))
    if ta is dict:
        if tb is not dict or len(a) != len(b):
            return False
        for k, v in a.items():
            if k not in b or not cel_eq(v, b[k]):
                return False
        return True
    return a == b


def cel_cmp(a, b, op):
    ta, tb = type(a), type(b)
    if ta is bool:
        if tb is not bool:
            raise EvalError("no such overload")
    elif _isnum(a):
        if not _isnum(b):
            raise EvalError("no such overload")
        if a != a or b != b:
            return None
    elif ta is str or ta is bytes:
        if tb is not ta:
            raise EvalError("no such overload")
    elif ta is Timestamp or ta is Duration:
        if tb is not ta:
            raise EvalError("no such overload")
        a, b = a.nanos, b.nanos
    else:
        raise EvalError("no such overload")
    if a < b:
        return -1
    if a > b:
        return 1
    return 0


def _chk_int(v):
    if v < INT_MIN or v > INT_MAX:
        raise EvalError("integer overflow")
    return v


def _chk_uint(v):
    if v < 0 or v > UINT_MAX:
        raise EvalError("unsigned integer overflow")
    return UInt(v)


def _add(a, b):
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _chk_int(a + b)
    if ta is UInt and tb is UInt:
        return _chk_uint(int(a) + int(b))
    if ta is float and tb is float:
        return a + b
    if (ta is str and tb is str) or (ta is bytes and tb is bytes):
        return a + b
    if ta is list and tb is list:
        return a + b
    if ta is Timestamp and tb is Duration:
        return Timestamp(a.nanos + b.nanos)
    if ta is Duration and tb is Timestamp:
        return Timestamp(a.nanos + b.nanos)
    if ta is Duration and tb is Duration:
        return Duration(_chk_int(a.nanos + b.nanos))
    raise EvalError("no such overload")


def _sub(a, b):
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _chk_int(a - b)
    if ta is UInt and tb is UInt:
        return _chk_uint(int(a) - int(b))
    if ta is float and tb is float:
        return a - b
    if ta is Timestamp and tb is Timestamp:
        return Duration(_chk_int(a.nanos - b.nanos))
    if ta is Timestamp and tb is Duration:
        return Timestamp(a.nanos - b.nanos)
    if ta is Duration and tb is Duration:
        return Duration(_chk_int(a.nanos - b.nanos))
    raise EvalError("no such overload")


def _mul(a, b):
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _chk_int(a * b)
    if ta is UInt and tb is UInt:
        return _chk_uint(int(a) * int(b))
    if ta is float and tb is float:
        return a * b
    raise EvalError("no such overload")


def _div(a, b):
    ta, tb = type(a), type(b)
    if (ta is int and tb is int) or (ta is UInt and tb is UInt):
        if b == 0:
            raise EvalError("division by zero")
        q = abs(int(a)) // abs(int(b))
        if (a < 0) != (b < 0):
            q = -q
        return _chk_int(q) if ta is int else UInt(q)
    if ta is float and tb is float:
        if b == 0:
            if a == 0 or a != a:
                return math.nan
            return math.copysign(math.inf, a) * math.copysign(1.0, b)
        return a / b
    raise EvalError("no such overload")


def _mod(a, b):
    ta, tb = type(a), type(b)
    if (ta is int and tb is int) or (ta is UInt and tb is UInt):
        if b == 0:
            raise EvalError("modulus by zero")
        r = abs(int(a)) % abs(int(b))
        if a < 0:
            r = -r
        return r if ta is int else UInt(r)
    raise EvalError("no such overload")


def _size(v):
    t = type(v)
    if t is str or t is bytes or t is list or t is dict or t is tuple:
        return len(v)
    raise EvalError("no such overload")


def _in(a, b):
    tb = type(b)
    if tb is list or tb is tuple:
        for x in b:
            if cel_eq(a, x):
                return True
        return False
    if tb is dict:
        if type(a) is str or type(a) is int or type(a) is UInt or type(a) is bool:
            if a in b and (type(a) is not bool or any(type(k) is bool for k in b)):
                return True
            return any(cel_eq(a, k) for k in b) if _isnum(a) else False
        if _isnum(a):
            return any(cel_eq(a, k) for k in b)
        return False
    raise EvalError("no such overload")


def _index(o, i):
    to = type(o)
    if to is list or to is tuple:
        ti = type(i)
        if ti is bool or not _isnum(i):
            raise EvalError("no such overload")
        if ti is float:
            if i != int(i):
                raise EvalError("unsupported index value %s in list" % go_float(i))
            i = int(i)
        if i < 0 or i >= len(o):
            raise EvalError("index out of bounds: %d" % i)
        return o[i]
    if to is dict:
        if type(i) in (str, int, UInt) and i in o and type(i) is not bool:
            return o[i]
        if type(i) is float and i == int(i) and int(i) in o:
            return o[int(i)]
        if type(i) is bool:
            for k, v in o.items():
                if type(k) is bool and k == i:
                    return v
        raise EvalError("no such key: %s" % _key_str(i))
    raise EvalError("no such overload")


def _key_str(k):
    if type(k) is str:
        return k
    if type(k) is bool:
        return "true" if k else "false"
    if type(k) is float:
        return go_float(k)
    return str(int(k)) if _isnum(k) else str(k)


def _select(o, name, alt):
    if type(o) is dict:
        if name in o:
            return o[name]
        if alt is not None and alt in o:
            return o[alt]
        raise EvalError("no such key: %s" % (alt or name))
    raise EvalError("no such overload")


def _has(o, name, alt):
    if type(o) is dict:
        if name in o:
            return True
        return alt is not None and alt in o
    raise EvalError("no such overload")


def to_string(v):
    t = type(v)
    if t is str:
        return v
    if t is bool:
        return "true" if v else "false"
    if t is int or t is UInt:
        return str(int(v))
    if t is float:
        return go_float(v)
    if t is bytes:
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            raise EvalError("invalid UTF-8 in bytes, cannot convert to string")
    if t is Timestamp:
        return timestamp_string(v)
    if t is Duration:
        return _fmt_seconds(v.nanos) + "s"
    if t is CelType:
        return v.name
    if t is Quantity:
        return v.text
    raise EvalError("type conversion error from '%s' to 'string'" % type_name(v))


def _fmt_seconds(n):
    neg = n < 0
    n = abs(n)
    ip, fp = divmod(n, 10 ** 9)
    fs = ("%09d" % fp).rstrip("0")
    return ("-" if neg else "") + str(ip) + ("." + fs if fs else "")


def to_int(v):
    t = type(v)
    if t is int:
        return v
    if t is UInt:
        return _chk_int(int(v))
    if t is float:
        if v != v or v in (math.inf, -math.inf) or v <= -9.223372036854775808e18 - 1 or v >= 9.223372036854775807e18:
            raise EvalError("integer overflow")
        return int(v)
    if t is str:
        if not re.match(r"^[+-]?\d+$", v):
            raise EvalError("strconv.ParseInt: parsing %s: invalid syntax" % go_quote(v))
        return _chk_int(int(v))
    if t is Timestamp:
        return v.nanos // 10 ** 9
    if t is Duration:
        return v.nanos
    if t is bool:
        raise EvalError("type conversion error from 'bool' to 'int'")
    raise EvalError("type conversion error from '%s' to 'int'" % type_name(v))


def to_uint(v):
    t = type(v)
    if t is UInt:
        return v
    if t is int:
        return _chk_uint(v)
    if t is float:
        if v != v or v < 0 or v >= 1.8446744073709552e19:
            raise EvalError("unsigned integer overflow")
        return UInt(int(v))
    if t is str:
        if not re.match(r"^\+?\d+$", v):
            raise EvalError("strconv.ParseUint: parsing %s: invalid syntax" % go_quote(v))
        return _chk_uint(int(v))
    raise EvalError("type conversion error from '%s' to 'uint'" % type_name(v))


def to_double(v):
    t = type(v)
    if t is float:
        return v
    if t is int or t is UInt:
        return float(v)
    if t is str:
        try:
            if not re.match(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|[Ii]nf(inity)?|NaN)$", v):
                raise ValueError
            return float(v)
        except ValueError:
            raise EvalError("strconv.ParseFloat: parsing %s: invalid syntax" % go_quote(v))
    raise EvalError("type conversion error from '%s' to 'double'" % type_name(v))


def to_bool(v):
    if type(v) is bool:
        return v
    if type(v) is str:
        if v in ("1", "t", "T", "TRUE", "true", "True"):
            return True
        if v in ("0", "f", "F", "FALSE", "false", "False"):
            return False
        raise EvalError("type conversion error from 'string' to 'bool'")
    raise EvalError("type conversion error from '%s' to 'bool'" % type_name(v))


def _need(v, *types):
    if type(v) not in types:
        raise EvalError("no such overload")
    return v


def _str_method(name, s, args):
    if name == "contains":
        return _need(args[0], str) in s
    if name == "startsWith":
        return s.startswith(_need(args[0], str))
    if name == "endsWith":
        return s.endswith(_need(args[0], str))
    if name == "matches":
        return _regex(_need(args[0], str)).search(s) is not None
    if name == "size":
        return len(s)
    if name == "charAt":
        i = _need(args[0], int)
        if i < 0 or i > len(s):
            raise EvalError("index out of range: %d" % i)
        return s[i:i + 1]
    if name == "indexOf":
        sub = _need(args[0], str)
        off = _need(args[1], int) if len(args) > 1 else 0
        if off < 0 or off > len(s):
            raise EvalError("index out of range: %d" % off)
        return s.find(sub, off)
    if name == "lastIndexOf":
        sub = _need(args[0], str)
        off = _need(args[1], int) if len(args) > 1 else len(s)
        if off < 0 or off > len(s):
            raise EvalError("index out of range: %d" % off)
        return s.rfind(sub, 0, off + len(sub))
    if name == "lowerAscii":
        return "".join(c.lower() if "A" <= c <= "Z" else c for c in s)
    if name == "upperAscii":
        return "".join(c.upper() if "a" <= c <= "z" else c for c in s)
    if name == "replace":
        old, new = _need(args[0], str), _need(args[1], str)
        n = _need(args[2], int) if len(args) > 2 else -1
        return s.replace(old, new, n if n >= 0 else -1)
    if name == "split":
        sep = _need(args[0], str)
        n = _need(args[1], int) if len(args) > 1 else -1
        if n == 0:
            return []
        if sep == "":
            parts = list(s)
            if n > 0 and len(parts) > n:
                parts = parts[:n - 1] + ["".join(parts[n - 1:])]
            return parts
        return s.split(sep, n - 1) if n > 0 else s.split(sep)
    if name == "substring":
        a = _need(args[0], int)
        b = _need(args[1], int) if len(args) > 1 else len(s)
        if a < 0 or a > len(s):
            raise EvalError("index out of range: %d" % a)
        if b < 0 or b > len(s):
            raise EvalError("index out of range: %d" % b)
        if b < a:
            raise EvalError("invalid substring range. start: %d, end: %d" % (a, b))
        return s[a:b]
    if name == "trim":
        return s.strip(" \t\n\r\v\f\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
    if name == "reverse":
        return s[::-1]
    if name == "find":
        m = _regex(_need(args[0], str)).search(s)
        return m.group(0) if m else ""
    if name == "findAll":
        n = _need(args[1], int) if len(args) > 1 else -1
        out = [m.group(0) for m in _regex(_need(args[0], str)).finditer(s)]
        return out if n < 0 else out[:n]
    raise EvalError("no such overload")


def _regex(p, _cache={}):
    r = _cache.get(p)
    if r is None:
        try:
            r = translate_re2(p)
        except RegexError as e:
            raise EvalError("error parsing regexp: %s" % e)
        if len(_cache) < 512:
            _cache[p] = r
    return r


def _list_method(name, lst, args):
    if name == "size":
        return len(lst)
    if name == "join":
        sep = _need(args[0], str) if args else ""
        for x in lst:
            if type(x) is not str:
                raise EvalError("join: list contains non-string value")
        return sep.join(lst)
    if name == "isSorted":
        for i in range(1, len(lst)):
            c = cel_cmp(lst[i - 1], lst[i], "<")
            if c is not None and c > 0:
                return False
        return True
    if name == "sum":
        if not lst:
            return 0
        acc = lst[0]
        for x in lst[1:]:
            acc = _add(acc, x)
        return acc
    if name in ("min", "max"):
        if not lst:
            raise EvalError("%s called on empty list" % name)
        best = lst[0]
        for x in lst[1:]:
            c = cel_cmp(x, best, "<")
            if c is not None and ((name == "min" and c < 0) or (name == "max" and c > 0)):
                best = x
        return best
    if name == "indexOf":
        for i, x in enumerate(lst):
            if cel_eq(x, args[0]):
                return i
        return -1
    if name == "lastIndexOf":
        for i in range(len(lst) - 1, -1, -1):
            if cel_eq(lst[i], args[0]):
                return i
        return -1
    raise EvalError("no such overload")


def _ts_method(name, t, args):
    d, nanos = _ts_datetime(t, args[0] if args else None)
    if name == "getFullYear":
        return d.year
    if name == "getMonth":
        return d.month - 1
    if name == "getDate":
        return d.day
    if name == "getDayOfMonth":
        return d.day - 1
    if name == "getDayOfWeek":
        return (d.weekday() + 1) % 7
    if name == "getDayOfYear":
        return d.timetuple().tm_yday - 1
    if name == "getHours":
        return d.hour
    if name == "getMinutes":
        return d.minute
    if name == "getSeconds":
        return d.second
    if name == "getMilliseconds":
        return nanos // 10 ** 6
    raise EvalError("no such overload")


def _dur_method(name, d):
    n = d.nanos
    q = lambda a, b: int(a / b) if abs(a) < 2 ** 52 else (abs(a) // b) * (1 if a >= 0 else -1)
    if name == "getHours":
        return q(n, 3600 * 10 ** 9)
    if name == "getMinutes":
        return q(n, 60 * 10 ** 9)
    if name == "getSeconds":
        return q(n, 10 ** 9)
    if name == "getMilliseconds":
        return q(n, 10 ** 6)
    raise EvalError("no such overload")


def _q_method(name, q, args):
    v = q.value
    if name == "isInteger":
        return v.denominator == 1 and INT_MIN <= v <= INT_MAX
    if name == "asInteger":
        if v.denominator != 1 or not (INT_MIN <= v <= INT_MAX):
            raise EvalError("cannot convert value to integer")
        return int(v)
    if name == "asApproximateFloat":
        return float(v)
    if name == "sign":
        return (v > 0) - (v < 0)
    if name in ("add", "sub"):
        o = args[0]
        ov = o.value if type(o) is Quantity else Fraction(_need(o, int))
        r = v + ov if name == "add" else v - ov
        return Quantity(r, _q_text(r))
    o = args[0]
    if type(o) is not Quantity:
        raise EvalError("no such overload")
    if name == "isGreaterThan":
        return v > o.value
    if name == "isLessThan":
        return v < o.value
    if name == "compareTo":
        return (v > o.value) - (v < o.value)
    raise EvalError("no such overload")


def _q_text(v):
    if v.denominator == 1:
        return str(v.numerator)
    for suf, mul in (("m", 1000), ("u", 10 ** 6), ("n", 10 ** 9)):
        x = v * mul
        if x.denominator == 1:
            return "%d%s" % (x.numerator, suf)
    return str(float(v))


def _url_method(name, u):
    if name == "getScheme":
        return u.scheme
    if name == "getHost":
        return u.host
    if name == "getHostname":
        h = u.host
        if h.startswith("["):
            return h[1:h.find("]")]
        return h.rsplit(":", 1)[0] if ":" in h else h
    if name == "getPort":
        h = u.host
        if h.startswith("["):
            rest = h[h.find("]") + 1:]
            return rest[1:] if rest.startswith(":") else ""
        return h.rsplit(":", 1)[1] if ":" in h else ""
    if name == "getEscapedPath":
        return u.path
    if name == "getQuery":
        out = {}
        if u.query:
            from urllib.parse import unquote_plus
            for part in u.query.split("&"):
                if not part:
                    continue
                k, _, v = part.partition("=")
                out.setdefault(unquote_plus(k), []).append(unquote_plus(v))
        return out
    raise EvalError("no such overload")


def _call_global(name, args):
    if name == "size":
        return _size(args[0])
    if name == "int":
        return to_int(args[0])
    if name == "uint":
        return to_uint(args[0])
    if name == "double":
        return to_double(args[0])
    if name == "string":
        return to_string(args[0])
    if name == "bool":
        return to_bool(args[0])
    if name == "bytes":
        v = args[0]
        if type(v) is bytes:
            return v
        if type(v) is str:
            return v.encode("utf-8")
        raise EvalError("type conversion error from '%s' to 'bytes'" % type_name(v))
    if name == "dyn":
        return args[0]
    if name == "type":
        return CelType(type_name(args[0]))
    if name == "duration":
        v = args[0]
        if type(v) is Duration:
            return v
        return parse_duration(_need(v, str))
    if name == "timestamp":
        v = args[0]
        if type(v) is Timestamp:
            return v
        if type(v) is int:
            return Timestamp(v * 10 ** 9)
        return parse_timestamp(_need(v, str))
    if name == "matches":
        return _regex(_need(args[1], str)).search(_need(args[0], str)) is not None
    if name == "quantity":
        return parse_quantity(_need(args[0], str))
    if name == "isQuantity":
        try:
            parse_quantity(_need(args[0], str))
            return True
        except EvalError:
            return False
    if name == "url":
        return URL(_need(args[0], str))
    if name == "isURL":
        try:
            u = URL(_need(args[0], str))
            return bool(u.scheme or u.path.startswith("/"))
        except EvalError:
            return False
    if name in ("sets.contains", "sets.equivalent", "sets.intersects"):
        a, b = _need(args[0], list), _need(args[1], list)
        if name == "sets.contains":
            return all(_in(x, a) for x in b)
        if name == "sets.intersects":
            return any(_in(x, a) for x in b)
        return all(_in(x, a) for x in b) and all(_in(x, b) for x in a)
    if name == "strings.quote":
        s = _need(args[0], str)
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + '"'
    if name in ("math.greatest", "math.least"):
        vals = args[0] if len(args) == 1 and type(args[0]) is list else args
        if not vals:
            raise EvalError("%s(): requires at least one argument" % name)
        best = vals[0]
        for x in vals[1:]:
            c = cel_cmp(x, best, "<")
            if c is not None and ((name == "math.greatest" and c > 0) or (name == "math.least" and c < 0)):
                best = x
        return best
    raise EvalError("no such overload")


def _call_member(name, target, args):
    t = type(target)
    if t is str:
        return _str_method(name, target, args)
    if t is list or t is tuple:
        return _list_method(name, list(target), args)
    if t is dict:
        if name == "size":
            return len(target)
    elif t is bytes:
        if name == "size":
            return len(target)
    elif t is Timestamp:
        return _ts_method(name, target, args)
    elif t is Duration:
        return _dur_method(name, target)
    elif t is Quantity:
        return _q_method(name, target, args)
    elif t is URL:
        return _url_method(name, target)
    raise EvalError("no such overload")


# --------------------------------------------------------------------------------------------
# closure compiler


class _Budget:
    __slots__ = ("left",)

    def __init__(self, n):
        self.left = n


def _charge(act, n):
    b = act["@budget"]
    b.left -= n
    if b.left < 0:
        raise EvalError("operation cancelled: actual cost limit exceeded")


def _compile(n):
    op = n.op
    a = n.args
    if op == "lit":
        v = n.val
        return lambda act: v
    if op == "id":
        name = n.val
        if name in TYPE_NAMES or name == "dyn":
            tv = CelType(name)

            def ident_or_type(act):
                v = act.get(name, act)
                return tv if v is act else v
            return ident_or_type

        def ident(act):
            try:
                return act[name]
            except KeyError:
                raise EvalError("no such attribute: %s" % name)
        return ident
    if op == "sel":
        f = _compile(a[0])
        name = n.val
        alt = n.ref if n.ref else (unescape_field(name) if "__" in name else None)
        return lambda act: _select(f(act), name, alt)
    if op == "has":
        f = _compile(a[0])
        name = n.val
        alt = n.ref if n.ref else (unescape_field(name) if "__" in name else None)
        return lambda act: _has(f(act), name, alt)
    if op == "idx":
        f, g = _compile(a[0]), _compile(a[1])
        return lambda act: _index(f(act), g(act))
    if op == "and":
        f, g = _compile(a[0]), _compile(a[1])

        def and_(act):
            try:
                l = f(act)
            except EvalError as e:
                l = e
            if l is False:
                return False
            try:
                r = g(act)
            except EvalError as e:
                r = e
            if r is False:
                return False
            if l is True and r is True:
                return True
            if isinstance(l, EvalError):
                raise l
            if isinstance(r, EvalError):
                raise r
            raise EvalError("no such overload")
        return and_
    if op == "or":
        f, g = _compile(a[0]), _compile(a[1])

        def or_(act):
            try:
                l = f(act)
            except EvalError as e:
                l = e
            if l is True:
                return True
            try:
                r = g(act)
            except EvalError as e:
                r = e
            if r is True:
                return True
            if l is False and r is False:
                return False
            if isinstance(l, EvalError):
                raise l
            if isinstance(r, EvalError):
                raise r
            raise EvalError("no such overload")
        return or_
    if op == "not":
        f = _compile(a[0])

        def not_(act):
            v = f(act)
            if type(v) is not bool:
                raise EvalError("no such overload")
            return not v
        return not_
    if op == "neg":
        f = _compile(a[0])

        def neg(act):
            v = f(act)
            t = type(v)
            if t is int:
                return _chk_int(-v)
            if t is float:
                return -v
            if t is Duration:
                return Duration(-v.nanos)
            raise EvalError("no such overload")
        return neg
    if op == "cond":
        c, x, y = _compile(a[0]), _compile(a[1]), _compile(a[2])

        def cond(act):
            v = c(act)
            if v is True:
                return x(act)
            if v is False:
                return y(act)
            raise EvalError("no such overload")
        return cond
    if op in ("==", "!="):
        f, g = _compile(a[0]), _compile(a[1])
        if op == "==":
            return lambda act: cel_eq(f(act), g(act))
        return lambda act: not cel_eq(f(act), g(act))
    if op in ("<", "<=", ">", ">="):
        f, g = _compile(a[0]), _compile(a[1])
        test = {"<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0}[op]

        def cmp(act):
            c = cel_cmp(f(act), g(act), op)
            return False if c is None else test(c)
        return cmp
    if op in ("+", "-", "*", "/", "%"):
        f, g = _compile(a[0]), _compile(a[1])
        fn = {"+": _add, "-": _sub, "*": _mul, "/": _div, "%": _mod}[op]
        return lambda act: fn(f(act), g(act))
    if op == "in":
        f, g = _compile(a[0]), _compile(a[1])
        return lambda act: _in(f(act), g(act))
    if op == "list":
        fs = [_compile(x) for x in a]
        return lambda act: [h(act) for h in fs]
    if op == "mapl":
        ks = [_compile(x) for x in a[0::2]]
        vs = [_compile(x) for x in a[1::2]]

        def mapl(act):
            out = {}
            for kf, vf in zip(ks, vs):
                k = kf(act)
                if type(k) not in (str, int, UInt, bool):
                    raise EvalError("unsupported key type")
                if k in out and type(k) is type(next(kk for kk in out if kk == k)):
                    raise EvalError("Failed with repeated key")
                out[k] = vf(act)
            return out
        return mapl
    if op in ("all", "exists", "exists_one", "filter", "map", "map3"):
        return _compile_macro(n)
    if op == "call":
        fs = [_compile(x) for x in a]
        name = n.val

        def call(act):
            args = [h(act) for h in fs]
            if name in ("matches", "sets.contains", "sets.equivalent", "sets.intersects"):
                _charge(act, 1 + sum(len(x) for x in args if type(x) in (str, list)) // 10)
            return _call_global(name, args)
        return call
    if op == "mcall":
        tf = _compile(a[0])
        fs = [_compile(x) for x in a[1:]]
        name = n.val

        def mcall(act):
            t = tf(act)
            args = [h(act) for h in fs]
            if type(t) is str and name in ("matches", "find", "findAll", "split", "replace", "contains", "indexOf"):
                _charge(act, 1 + len(t) // 10)
            return _call_member(name, t, args)
        return mcall
    raise EvalError("unsupported expression")


def _iter_range(v):
    t = type(v)
    if t is list or t is tuple:
        return v
    if t is dict:
        return list(v.keys())
    raise EvalError("expression of type '%s' cannot be range of a comprehension (must be list, map, or dynamic)" % type_name(v))


def _compile_macro(n):
    op = n.op
    var = n.val
    rf = _compile(n.args[0])
    pf = _compile(n.args[1])
    tf = _compile(n.args[2]) if op == "map3" else None

    def run(act):
        items = _iter_range(rf(act))
        _charge(act, len(items) + 1)
        had = var in act
        saved = act.get(var)
        try:
            if op in ("all", "exists"):
                # One element deciding (false for all, true for exists) wins over errors in
                # the others, as in CEL's commutative && and ||.
                decides = op == "exists"
                err = None
                for x in items:
                    act[var] = x
                    try:
                        v = pf(act)
                    except EvalError as e:
                        err = err or e
                        continue
                    if v is decides:
                        return decides
                    if v is not (not decides):
                        err = err or EvalError("no such overload")
                if err:
                    raise err
                return not decides
            if op == "exists_one":
                cnt = 0
                for x in items:
                    act[var] = x
                    v = pf(act)
                    if v is True:
                        cnt += 1
                    elif v is not False:
                        raise EvalError("no such overload")
                return cnt == 1
            if op == "filter":
                out = []
                for x in items:
                    act[var] = x
                    v = pf(act)
                    if v is True:
                        out.append(x)
                    elif v is not False:
                        raise EvalError("no such overload")
                return out
            if op == "map":
                out = []
                for x in items:
                    act[var] = x
                    out.append(pf(act))
                return out
            out = []
            for x in items:
                act[var] = x
                v = pf(act)
                if v is True:
                    out.append(tf(act))
                elif v is not False:
                    raise EvalError("no such overload")
            return out
        finally:
            if had:
                act[var] = saved
            else:
                act.pop(var, None)
    return run


# --------------------------------------------------------------------------------------------
# public API


class Program:
    """A compiled CEL expression."""

    def __init__(self, source, ast, out_type, fn, uses_old_self):
        self.source = source
        self.ast = ast
        self.type = out_type
        self._fn = fn
        self.uses_old_self = uses_old_self

    def eval(self, activation=None, budget=PER_CALL_LIMIT):
        act = dict(activation or {})
        act["@budget"] = _Budget(budget)
        try:
            return self._fn(act)
        except RecursionError:
            raise EvalError("operation cancelled: actual cost limit exceeded")


def _uses(n, name):
    if n.op == "id" and n.val == name:
        return True
    return any(_uses(x, name) for x in n.args)


def compile(expr, self_schema=None, old_self=False, variables=None, result="bool", root=False):
    """Parse and type-check `expr`.

    self_schema: the OpenAPI schema of the node the rule is attached to (None: no `self`).
    old_self:    declare `oldSelf` (transition rules) with the same type as `self`.
    variables:   extra declarations {name: T or schema dict}.
    result:      "bool" or "string" (messageExpression) or None (any).
    root:        the schema is the CRD root (self.apiVersion/kind/metadata.name available).
    """
    if not isinstance(expr, str):
        raise CompileError("", [(0, "expression must be a string")])
    try:
        return _compile_checked(expr, self_schema, old_self, variables, result, root)
    except RecursionError:
        raise CompileError(expr, [(0, "expression recursion limit exceeded: %d" % MAX_DEPTH)])


def _compile_checked(expr, self_schema, old_self, variables, result, root):
    ast = parse(expr)
    env = {}
    if self_schema is not None:
        st = schema_type(self_schema, root=root)
        env["self"] = st
        if old_self:
            env["oldSelf"] = st
    for k, v in (variables or {}).items():
        env[k] = v if isinstance(v, T) else schema_type(v)
    ck = _Checker(expr, env)
    t = ck.check(ast, {})
    if ck.issues:
        raise CompileError(expr, ck.issues)
    if result == "bool" and t.kind not in ("bool", "dyn"):
        raise ResultTypeError("cel expression must evaluate to a bool")
    if result == "string" and t.kind not in ("string", "dyn"):
        raise ResultTypeError("messageExpression must evaluate to a string")
    return Program(expr, ast, t, _compile(ast), _uses(ast, "oldSelf"))


class ResultTypeError(CelError):
    pass


def evaluate(expr, **variables):
    """Compile `expr` with every variable dynamically typed and evaluate it."""
    p = compile(expr, variables={k: DYN for k in variables}, result=None)
    return p.eval(variables)


_NEEDS_CONV = {}  # id(schema node) -> (node, _needs_conv): schema nodes are never changed


def _needs_conv(s, memo):
    if not isinstance(s, dict):
        return False
    k = id(s)
    if k in memo:
        return memo[k]
    hit = _NEEDS_CONV.get(k)
    if hit is not None and hit[0] is s:
        return hit[1]
    r = _needs_conv_walk(s, memo)
    if len(_NEEDS_CONV) >= 100000:
        _NEEDS_CONV.clear()
    _NEEDS_CONV[k] = (s, r)
    return r


def _needs_conv_walk(s, memo):
    k = id(s)
    memo[k] = False
    t = s.get("type")
    r = False
    if t == "number" or (t == "string" and s.get("format") in ("date", "date-time", "duration", "byte")):
        r = True
    elif t == "array":
        r = _needs_conv(s.get("items"), memo)
    elif t == "object":
        r = any(_needs_conv(p, memo) for p in (s.get("properties") or {}).values()) or \
            _needs_conv(s.get("additionalProperties"), memo)
    memo[k] = r
    return r


def to_cel(value, schema, memo=None):
    """Convert a JSON value to the CEL value Kubernetes binds for the schema (numbers declared
    `number` become doubles; `date`/`date-time` strings timestamps; `duration` durations; `byte`
    bytes). Values that do not parse are left as they are (validation reports them)."""
    if memo is None:
        memo = {}
    if value is None or not schema or not _needs_conv(schema, memo):
        return value
    if schema.get("x-kubernetes-int-or-string"):
        return value
    t = schema.get("type")
    tv = type(value)
    if t == "number":
        if tv is int:
            return float(value)
        return value
    if t == "string" and tv is str:
        f = schema.get("format")
        try:
            if f == "date-time":
                return parse_timestamp(value)
            if f == "date":
                return parse_date(value)
            if f == "duration":
                return parse_duration(value)
            if f == "byte":
                return base64.b64decode(value, validate=True)
        except Exception:
            return value
        return value
    if t == "array" and tv is list:
        it = schema.get("items")
        return [to_cel(x, it, memo) for x in value]
    if t == "object" and tv is dict:
        props = schema.get("properties") or {}
        ap = schema.get("additionalProperties")
        out = {}
        for k, v in value.items():
            ps = props.get(k)
            if ps is None and isinstance(ap, dict):
                ps = ap
            out[k] = to_cel(v, ps, memo) if ps else v
        return out
    return value


# --------------------------------------------------------------------------------------------
# static cost estimation (an approximation of cel-go's estimator with Kubernetes' size bounds)

MAX_REQUEST_BYTES = 3 * 1024 * 1024


def min_serialized_size(t):
    k = t.kind if t is not None else "dyn"
    return {"bool": 4, "int": 1, "uint": 1, "double": 1, "string": 2, "bytes": 2, "list": 2, "map": 2,
            "object": 2, "timestamp": 22, "duration": 4}.get(k, 1)


def max_elements(t):
    """Upper bound of the size of a value of type t (characters, items or entries)."""
    s = (t.schema or {}) if t is not None else {}
    k = t.kind if t is not None else "dyn"
    if k in ("string", "bytes"):
        if s.get("enum"):
            return max((len(x) for x in s["enum"] if isinstance(x, str)), default=0)
        return s["maxLength"] if isinstance(s.get("maxLength"), int) else MAX_REQUEST_BYTES - 2
    if k == "list":
        if isinstance(s.get("maxItems"), int):
            return s["maxItems"]
        return (MAX_REQUEST_BYTES - 2) // (min_serialized_size(t.elem) + 1)
    if k == "map":
        if isinstance(s.get("maxProperties"), int):
            return s["maxProperties"]
        return (MAX_REQUEST_BYTES - 2) // (min_serialized_size(t.val) + 4)
    return MAX_REQUEST_BYTES - 2


_LINEAR_STRING = {"contains", "startsWith", "endsWith", "split", "replace", "lowerAscii", "upperAscii",
                  "trim", "substring", "indexOf", "lastIndexOf", "charAt", "reverse"}
_REGEX = {"matches", "find", "findAll"}
_LIST_LINEAR = {"join", "isSorted", "sum", "min", "max", "indexOf", "lastIndexOf"}


def _node_size(n):
    if n.op == "lit":
        v = n.val
        return len(v) if isinstance(v, (str, bytes)) else 1
    if n.op == "list":
        return len(n.args)
    if n.op == "mapl":
        return len(n.args) // 2
    if n.op in ("filter", "map", "map3"):
        return _node_size(n.args[0])
    if n.op == "mcall" and n.val == "split":
        return _node_size(n.args[0])
    if n.op == "+" and n.typ is not None and n.typ.kind in ("string", "list", "bytes"):
        return _node_size(n.args[0]) + _node_size(n.args[1])
    if n.typ is not None and n.typ.kind in ("string", "bytes", "list", "map"):
        return max_elements(n.typ)
    return MAX_REQUEST_BYTES - 2


def estimate_cost(program):
    """Estimated worst-case cost of one evaluation."""
    return int(math.ceil(_cost(program.ast)))


def _cost(n):
    op = n.op
    a = n.args
    if op == "lit":
        return 0
    if op == "id":
        return 1
    if op in ("sel", "has"):
        return 1 + _cost(a[0])
    if op == "idx":
        return 1 + _cost(a[0]) + _cost(a[1])
    if op in ("and", "or"):
        return _cost(a[0]) + _cost(a[1])
    if op in ("not", "neg"):
        return 1 + _cost(a[0])
    if op == "cond":
        return _cost(a[0]) + max(_cost(a[1]), _cost(a[2]))
    if op in ("==", "!=", "<", "<=", ">", ">="):
        c = 1 + _cost(a[0]) + _cost(a[1])
        t = a[0].typ
        if t is not None and t.kind in ("string", "bytes"):
            c += 0.1 * min(_node_size(a[0]), _node_size(a[1]))
        elif t is not None and t.kind in ("list", "map"):
            c += min(_node_size(a[0]), _node_size(a[1]))
        return c
    if op in ("+", "-", "*", "/", "%"):
        c = 1 + _cost(a[0]) + _cost(a[1])
        t = n.typ
        if t is not None and t.kind in ("string", "bytes"):
            c += 0.1 * (_node_size(a[0]) + _node_size(a[1]))
        elif t is not None and t.kind == "list":
            c += _node_size(a[0]) + _node_size(a[1])
        return c
    if op == "in":
        c = 1 + _cost(a[0]) + _cost(a[1])
        if a[1].typ is not None and a[1].typ.kind == "list":
            c += _node_size(a[1])
        return c
    if op in ("list", "mapl"):
        return 10 + sum(_cost(x) for x in a)
    if op in ("all", "exists", "exists_one", "filter", "map", "map3"):
        size = _node_size(a[0])
        body = sum(_cost(x) for x in a[1:])
        return _cost(a[0]) + size * (body + 1)
    if op in ("call", "mcall"):
        c = 1 + sum(_cost(x) for x in a)
        name = n.val
        if op == "mcall":
            recv = a[0]
            rk = recv.typ.kind if recv.typ is not None else "dyn"
            if rk in ("string", "dyn") and name in _LINEAR_STRING:
                c += 0.1 * _node_size(recv)
            elif rk in ("string", "dyn") and name in _REGEX:
                c += 0.25 * _node_size(recv) * max(1, _node_size(a[1]) if len(a) > 1 else 1)
            elif rk in ("list", "dyn") and name in _LIST_LINEAR:
                c += _node_size(recv)
        else:
            if name == "matches" and len(a) == 2:
                c += 0.25 * _node_size(a[0]) * max(1, _node_size(a[1]))
            elif name.startswith("sets.") and len(a) == 2:
                c += _node_size(a[0]) * _node_size(a[1])
            elif name in ("string", "int", "double", "bytes", "duration", "timestamp", "quantity", "url",
                          "isQuantity", "isURL") and a:
                c += 0.1 * (_node_size(a[0]) if a[0].typ is not None and a[0].typ.kind == "string" else 1)
        return c
    return 1 + sum(_cost(x) for x in a)
