"""A YAML reader for request bodies (application/yaml, apply patches): block mappings and
sequences, flow collections, quoted and block scalars, comments. JSON is read as JSON."""

import json
import re


class YAMLError(Exception):
    pass


_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")


def _scalar(text):
    t = text.strip()
    if t in ("", "~", "null", "Null", "NULL"):
        return None
    if t in ("true", "True", "TRUE"):
        return True
    if t in ("false", "False", "FALSE"):
        return False
    if _INT.match(t):
        return int(t)
    if t.startswith(("0x", "0X")):
        try:
            return int(t, 16)
        except ValueError:
            return t
    if _FLOAT.match(t) and any(c.isdigit() for c in t):
        return float(t)
    if t in (".inf", ".Inf", "+.inf"):
        return float("inf")
    if t in ("-.inf", "-.Inf"):
        return float("-inf")
    if t in (".nan", ".NaN"):
        return float("nan")
    return t


def _strip_comment(line):
    """Remove a trailing comment outside quotes."""
    out = []
    q = None
    i = 0
    while i < len(line):
        c = line[i]
        if q:
            out.append(c)
            if c == "\\" and q == '"' and i + 1 < len(line):
                out.append(line[i + 1])
                i += 2
                continue
            if c == q:
                if q == "'" and i + 1 < len(line) and line[i + 1] == "'":
                    out.append("'")
                    i += 2
                    continue
                q = None
        else:
            if c == "#" and (i == 0 or line[i - 1] in " \t"):
                break
            if c in "\"'" and (i == 0 or line[i - 1] in " \t:[{,-"):
                q = c
            out.append(c)
        i += 1
    return "".join(out).rstrip()


def _quoted(text, i):
    """Parse a quoted scalar at text[i]; returns (value, next index)."""
    q = text[i]
    j = i + 1
    out = []
    while j < len(text):
        c = text[j]
        if q == "'":
            if c == "'":
                if j + 1 < len(text) and text[j + 1] == "'":
                    out.append("'")
                    j += 2
                    continue
                return "".join(out), j + 1
            out.append(c)
            j += 1
        else:
            if c == "\\":
                if j + 1 >= len(text):
                    raise YAMLError("found unknown escape character")
                e = text[j + 1]
                simple = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "/": "/", "r": "\r",
                          "0": "\0", "b": "\b", "f": "\f", " ": " "}
                if e in simple:
                    out.append(simple[e])
                    j += 2
                elif e in "xuU":
                    n = {"x": 2, "u": 4, "U": 8}[e]
                    try:
                        out.append(chr(int(text[j + 2:j + 2 + n], 16)))
                    except ValueError:
                        raise YAMLError("found unknown escape character") from None
                    j += 2 + n
                else:
                    raise YAMLError("found unknown escape character")
                continue
            if c == '"':
                return "".join(out), j + 1
            out.append(c)
            j += 1
    raise YAMLError("found unexpected end of stream while scanning a quoted scalar")


class _Flow:
    def __init__(self, text):
        self.t = text
        self.i = 0

    def ws(self):
        while self.i < len(self.t) and self.t[self.i] in " \t\r\n":
            self.i += 1

    def value(self):
        self.ws()
        if self.i >= len(self.t):
            raise YAMLError("did not find expected node content")
        c = self.t[self.i]
        if c == "{":
            self.i += 1
            out = {}
            while True:
                self.ws()
                if self.i < len(self.t) and self.t[self.i] == "}":
                    self.i += 1
                    return out
                k = self.value()
                self.ws()
                if self.i >= len(self.t) or self.t[self.i] != ":":
                    raise YAMLError("did not find expected ',' or '}'")
                self.i += 1
                v = self.value()
                if not isinstance(k, (str, int, float, bool)) and k is not None:
                    raise YAMLError("invalid map key")
                out[k if isinstance(k, str) else json.dumps(k)] = v
                self.ws()
                if self.i < len(self.t) and self.t[self.i] == ",":
                    self.i += 1
                    continue
                if self.i < len(self.t) and self.t[self.i] == "}":
                    self.i += 1
                    return out
                raise YAMLError("did not find expected ',' or '}'")
        if c == "[":
            self.i += 1
            out = []
            while True:
                self.ws()
                if self.i < len(self.t) and self.t[self.i] == "]":
                    self.i += 1
                    return out
                out.append(self.value())
                self.ws()
                if self.i < len(self.t) and self.t[self.i] == ",":
                    self.i += 1
                    continue
                if self.i < len(self.t) and self.t[self.i] == "]":
                    self.i += 1
                    return out
                raise YAMLError("did not find expected ',' or ']'")
        if c in "\"'":
            v, self.i = _quoted(self.t, self.i)
            return v
        j = self.i
        while j < len(self.t) and self.t[j] not in ",]}" and not (
                self.t[j] == ":" and (j + 1 >= len(self.t) or self.t[j + 1] in " ,]}")):
            j += 1
        raw = self.t[self.i:j]
        self.i = j
        return _scalar(raw)


def _flow(text):
    f = _Flow(text)
    v = f.value()
    f.ws()
    if f.i != len(f.t):
        raise YAMLError("did not find expected <document start>")
    return v


class _Block:
    def __init__(self, lines):
        self.lines = lines  # list of (indent, text, raw_line)
        self.i = 0

    def peek(self):
        return self.lines[self.i] if self.i < len(self.lines) else None

    def node(self, indent):
        ln = self.peek()
        if ln is None or ln[0] < indent:
            return None
        ind, text, _ = ln
        if text.startswith("- ") or text == "-":
            return self.seq(ind)
        return self.map(ind)

    def seq(self, indent):
        out = []
        while True:
            ln = self.peek()
            if ln is None or ln[0] != indent or not (ln[1].startswith("- ") or ln[1] == "-"):
                if ln is not None and ln[0] > indent:
                    raise YAMLError("line %d: did not find expected '-' indicator" % (self.i + 1))
                return out
            rest = ln[1][1:].lstrip(" ")
            self.i += 1
            if rest == "":
                out.append(self.node(indent + 1))
                continue
            sub_indent = indent + (len(ln[1]) - len(rest))
            if _is_map_entry(rest) and not rest.startswith(("{", "[", '"', "'")) or \
                    (rest[0] in "\"'" and _is_map_entry(rest)):
                self.lines.insert(self.i, (sub_indent, rest, rest))
                out.append(self.map(sub_indent))
            elif rest.startswith("- "):
                self.lines.insert(self.i, (sub_indent, rest, rest))
                out.append(self.seq(sub_indent))
            else:
                out.append(self.inline(rest, indent))

    def map(self, indent):
        out = {}
        while True:
            ln = self.peek()
            if ln is None or ln[0] < indent:
                return out
            if ln[0] > indent:
                raise YAMLError("line %d: mapping values are not allowed in this context"
                                % (self.i + 1))
            text = ln[1]
            if text.startswith("- ") or text == "-":
                return out
            key, rest = _split_key(text, self.i + 1)
            self.i += 1
            if key in out:
                raise YAMLError('line %d: mapping key "%s" already defined' % (self.i, key))
            if rest == "":
                nxt = self.peek()
                if nxt is not None and (nxt[0] > indent or (
                        nxt[0] == indent and (nxt[1].startswith("- ") or nxt[1] == "-"))):
                    out[key] = self.node(nxt[0])
                else:
                    out[key] = None
            else:
                out[key] = self.inline(rest, indent)

    def inline(self, rest, indent):
        if rest[0] in "|>":
            return self.block_scalar(rest, indent)
        if rest[0] in "{[":
            text = rest
            # flow collections may continue on following more-indented lines
            while True:
                try:
                    return _flow(text)
                except YAMLError:
                    nxt = self.peek()
                    if nxt is None or nxt[0] <= indent:
                        raise
                    text += " " + nxt[1]
                    self.i += 1
        if rest[0] in "\"'":
            v, j = _quoted(rest, 0)
            if rest[j:].strip():
                raise YAMLError("did not find expected key")
            return v
        if rest.startswith(("&", "*", "!")):
            raise YAMLError("anchors, aliases and tags are not supported")
        text = rest
        while True:
            nxt = self.peek()
            if nxt is None or nxt[0] <= indent or _is_map_entry(nxt[1]) or \
                    nxt[1].startswith("- "):
                break
            text += " " + nxt[1]
            self.i += 1
        return _scalar(text)

    def block_scalar(self, header, indent):
        style = header[0]
        chomp = "clip"
        if "-" in header:
            chomp = "strip"
        elif "+" in header:
            chomp = "keep"
        body = []
        block_indent = None
        while self.i < len(self.lines):
            ind, text, raw = self.lines[self.i]
            if raw.strip() == "":
                body.append("")
                self.i += 1
                continue
            ind = len(raw) - len(raw.lstrip(" "))
            if ind <= indent:
                break
            if block_indent is None:
                block_indent = ind
            if ind < block_indent:
                break
            body.append(raw[block_indent:] if len(raw) >= block_indent else "")
            self.i += 1
        while body and body[-1] == "" and chomp != "keep":
            body.pop()
        if style == "|":
            s = "\n".join(body)
        else:
            s = ""
            for n, b in enumerate(body):
                if n and b and body[n - 1] and not b.startswith(" "):
                    s += " "
                elif n:
                    s += "\n"
                s += b
        if chomp != "strip" and body:
            s += "\n"
        return s


def _is_map_entry(text):
    if text.startswith(("{", "[")):
        return False
    if text[:1] in "\"'":
        try:
            _, j = _quoted(text, 0)
        except YAMLError:
            return False
        return text[j:j + 1] == ":" and (len(text) == j + 1 or text[j + 1] == " ")
    m = re.match(r"[^#:]*?:( |$)", text)
    return m is not None


def _split_key(text, lineno):
    if text[0] in "\"'":
        key, j = _quoted(text, 0)
        if text[j:j + 1] != ":":
            raise YAMLError("line %d: could not find expected ':'" % lineno)
        return key, text[j + 1:].strip()
    m = re.match(r"(.*?):( |$)", text)
    if not m:
        raise YAMLError("line %d: could not find expected ':'" % lineno)
    key = m.group(1).strip()
    if not key:
        raise YAMLError("line %d: did not find expected key" % lineno)
    return key, text[m.end():].strip()


def load(text):
    """Parse the first YAML document of text."""
    s = text.lstrip()
    if s.startswith(("{", "[")):
        try:
            return json.loads(s)
        except ValueError:
            pass
    lines = []
    started = False
    for raw in text.splitlines():
        if "\t" in raw[:len(raw) - len(raw.lstrip())]:
            raise YAMLError("found character that cannot start any token")
        if raw.strip() == "---" or raw.startswith("--- "):
            if started:
                break
            started = True
            rest = raw[3:].strip()
            if rest:
                lines.append((0, rest, rest))
            continue
        if raw.strip() == "...":
            break
        stripped = _strip_comment(raw)
        if not stripped.strip():
            lines.append((0, "", raw.rstrip("\n")))
            continue
        started = True
        ind = len(stripped) - len(stripped.lstrip(" "))
        lines.append((ind, stripped.strip(), raw.rstrip("\n")))
    # blank lines only matter inside block scalars
    b = _Block(lines)
    b.lines = _drop_blank_outside_blocks(lines)
    while b.peek() is not None and b.peek()[1] == "":
        b.i += 1
    if b.peek() is None:
        return None
    first = b.peek()
    if len(b.lines) - b.i == 1 and not _is_map_entry(first[1]) and not first[1].startswith("- "):
        b.i += 1
        t = first[1]
        if t[0] in "{[":
            return _flow(t)
        if t[0] in "\"'":
            v, _ = _quoted(t, 0)
            return v
        return _scalar(t)
    v = b.node(first[0])
    while b.peek() is not None and b.peek()[1] == "":
        b.i += 1
    if b.peek() is not None:
        raise YAMLError("line %d: did not find expected <document start>" % (b.i + 1))
    return v


def _drop_blank_outside_blocks(lines):
    out = []
    in_block = None
    for ln in lines:
        ind, text, raw = ln
        if text == "":
            if in_block is not None:
                out.append(ln)
            continue
        if in_block is not None and ind <= in_block:
            in_block = None
            while out and out[-1][1] == "":
                out.pop()
        out.append(ln)
        if re.search(r"(:|^-)\s+[|>][-+0-9]*$", text) or text in ("|", ">", "|-", ">-"):
            in_block = ind
    while out and out[-1][1] == "":
        out.pop()
    return out
