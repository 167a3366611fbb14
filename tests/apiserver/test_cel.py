"""Unit tests of the CEL implementation used for CRD x-kubernetes-validations rules."""

import json
import os
import time
import unittest

import cel
from cel import CompileError, Duration, EvalError, Timestamp, UInt, evaluate

HERE = os.path.dirname(os.path.abspath(__file__))


def ev(expr, **kw):
    return evaluate(expr, **kw)


class LiteralsAndArithmetic(unittest.TestCase):
    def test_literals(self):
        self.assertIs(ev("true"), True)
        self.assertIsNone(ev("null"))
        self.assertEqual(ev("0x1F"), 31)
        self.assertEqual(ev("7u"), UInt(7))
        self.assertIs(type(ev("7u")), UInt)
        self.assertEqual(ev("1.5e2"), 150.0)
        self.assertEqual(ev("'a\\tb'"), "a\tb")
        self.assertEqual(ev('"\\u00e9"'), "é")
        self.assertEqual(ev("r'a\\tb'"), "a\\tb")
        self.assertEqual(ev("b'ab'"), b"ab")
        self.assertEqual(ev('"""x\ny"""'), "x\ny")
        self.assertEqual(ev("-9223372036854775808"), -(1 << 63))

    def test_precedence(self):
        self.assertEqual(ev("1 + 2 * 3 - 4 / 2"), 5)
        self.assertEqual(ev("(1 + 2) * 3 % 4"), 1)
        self.assertIs(ev("1 < 2 && 2 < 3 || false"), True)
        self.assertEqual(ev("true ? 1 : 2"), 1)
        self.assertEqual(ev("false ? 1 : true ? 2 : 3"), 2)
        self.assertIs(ev("!true == false"), True)

    def test_integer_semantics(self):
        self.assertEqual(ev("-7 / 2"), -3)  # truncation, like Go
        self.assertEqual(ev("-7 % 2"), -1)
        with self.assertRaisesRegex(EvalError, "^division by zero$"):
            ev("1 / 0")
        with self.assertRaisesRegex(EvalError, "^modulus by zero$"):
            ev("1 % 0")
        with self.assertRaisesRegex(EvalError, "^integer overflow$"):
            ev("9223372036854775807 + 1")
        with self.assertRaisesRegex(EvalError, "^unsigned integer overflow$"):
            ev("1u - 2u")
        self.assertEqual(ev("2.0 / 0.0"), float("inf"))

    def test_mixed_types_rejected_at_compile_time(self):
        with self.assertRaises(CompileError) as cm:
            cel.compile("1 + 1.0", result=None)
        self.assertEqual(str(cm.exception),
                         "ERROR: <input>:1:3: found no matching overload for '_+_' applied to '(int, double)'\n"
                         " | 1 + 1.0\n"
                         " | ..^")
        with self.assertRaisesRegex(CompileError, r"found no matching overload for '_==_' applied to '\(int, string\)'"):
            cel.compile("1 == 'a'", result=None)

    def test_cross_type_numeric_comparisons(self):
        self.assertIs(ev("1 < 1.5"), True)
        self.assertIs(ev("2u > 1"), True)
        self.assertIs(ev("x == 1.0", x=1), True)  # heterogeneous equality at runtime
        self.assertIs(ev("x == 'a'", x=1), False)


class ErrorAbsorption(unittest.TestCase):
    def test_and_or_absorb_errors(self):
        self.assertIs(ev("false && (1 / 0 == 1)"), False)
        self.assertIs(ev("(1 / 0 == 1) && false"), False)
        self.assertIs(ev("(1 / 0 == 1) || true"), True)
        self.assertIs(ev("true || x.missing", x={}), True)
        with self.assertRaisesRegex(EvalError, "^division by zero$"):
            ev("(1 / 0 == 1) && true")
        with self.assertRaisesRegex(EvalError, "^no such key: missing$"):
            ev("x.missing || false", x={})

    def test_ternary_only_evaluates_the_chosen_branch(self):
        self.assertEqual(ev("x.size() > 0 ? x[0] : -1", x=[]), -1)

    def test_macros_absorb_errors_like_cel(self):
        self.assertIs(ev("[0, 1].all(i, 10 / i > 1 && false)"), False)
        self.assertIs(ev("[0, 1].exists(i, 10 / i == 10)"), True)
        with self.assertRaisesRegex(EvalError, "division by zero"):
            ev("[0, 1].all(i, 10 / i > 1)")


class Fields(unittest.TestCase):
    def test_selection_has_index_in(self):
        o = {"a": {"b": [1, 2, 3]}, "m": {"k.x": "v"}}
        self.assertEqual(ev("o.a.b[2]", o=o), 3)
        self.assertIs(ev("has(o.a.b)", o=o), True)
        self.assertIs(ev("has(o.a.c)", o=o), False)
        self.assertEqual(ev("o.m['k.x']", o=o), "v")
        self.assertIs(ev("'k.x' in o.m", o=o), True)
        self.assertIs(ev("2 in o.a.b", o=o), True)
        with self.assertRaisesRegex(EvalError, "^no such key: c$"):
            ev("o.a.c", o=o)
        with self.assertRaisesRegex(EvalError, "^index out of bounds: 3$"):
            ev("o.a.b[3]", o=o)

    def test_escaped_property_names(self):
        self.assertEqual(ev("o.x__dash__y + o.__namespace__", o={"x-y": "a", "namespace": "b"}), "ab")

    def test_has_requires_a_field_selection(self):
        with self.assertRaisesRegex(CompileError, "invalid argument to has\\(\\) macro"):
            cel.compile("has(x)", variables={"x": cel.DYN}, result=None)


class Macros(unittest.TestCase):
    def test_list_macros(self):
        xs = [3, 1, 2]
        self.assertIs(ev("xs.all(x, x > 0)", xs=xs), True)
        self.assertIs(ev("xs.exists(x, x == 2)", xs=xs), True)
        self.assertIs(ev("xs.exists_one(x, x > 1)", xs=xs), False)
        self.assertEqual(ev("xs.filter(x, x > 1)", xs=xs), [3, 2])
        self.assertEqual(ev("xs.map(x, x * 10)", xs=xs), [30, 10, 20])
        self.assertEqual(ev("xs.map(x, x > 1, x * 10)", xs=xs), [30, 20])
        self.assertEqual(ev("{'a': 1, 'b': 2}.map(k, k)"), ["a", "b"])

    def test_macro_variable_does_not_leak(self):
        self.assertEqual(ev("[1].all(x, x > 0) && x == 5", x=5), True)

    def test_nested_macros_are_fast(self):
        # 64 services x 16 calls, each call checked against every service name (65,536 steps)
        svcs = [{"name": "s%d" % i, "calls": [{"service": "s%d" % ((i + j) % 64)} for j in range(16)]}
                for i in range(64)]
        p = cel.compile("self.all(s, s.calls.all(c, self.exists(t, t.name == c.service)))",
                        self_schema={"type": "array", "items": {"type": "object", "properties": {
                            "name": {"type": "string"},
                            "calls": {"type": "array", "items": {"type": "object", "properties": {
                                "service": {"type": "string"}}}}}}})
        t0 = time.perf_counter()
        self.assertIs(p.eval({"self": svcs}), True)
        self.assertLess(time.perf_counter() - t0, 1.0)
        p2 = cel.compile("self.all(s, s.calls.all(c, c.service != ''))",
                         self_schema={"type": "array", "items": {"type": "object", "properties": {
                             "calls": {"type": "array", "items": {"type": "object", "properties": {
                                 "service": {"type": "string"}}}}}}})
        t0 = time.perf_counter()
        for _ in range(10):
            self.assertIs(p2.eval({"self": svcs}), True)
        self.assertLess((time.perf_counter() - t0) / 10, 0.02)

    def test_cost_limit(self):
        p = cel.compile("x.all(a, x.all(b, x.all(c, true)))", variables={"x": cel.DYN})
        with self.assertRaisesRegex(EvalError, "^operation cancelled: actual cost limit exceeded$"):
            p.eval({"x": list(range(200))})


class StringLibrary(unittest.TestCase):
    def test_standard_and_kubernetes_string_functions(self):
        self.assertIs(ev("'hello'.startsWith('he') && 'hello'.endsWith('lo') && 'hello'.contains('ell')"), True)
        self.assertEqual(ev("size('héllo')"), 5)
        self.assertEqual(ev("'héllo'.size()"), 5)
        self.assertEqual(ev("'AbC'.lowerAscii() + 'AbC'.upperAscii()"), "abcABC")
        self.assertEqual(ev("'a,b,,c'.split(',')"), ["a", "b", "", "c"])
        self.assertEqual(ev("'a,b,c'.split(',', 2)"), ["a", "b,c"])
        self.assertEqual(ev("['a', 'b'].join('-')"), "a-b")
        self.assertEqual(ev("['a', 'b'].join()"), "ab")
        self.assertEqual(ev("'hello'.substring(1, 3)"), "el")
        self.assertEqual(ev("'hello'.charAt(1)"), "e")
        self.assertEqual(ev("'hello'.indexOf('l')"), 2)
        self.assertEqual(ev("'hello'.lastIndexOf('l')"), 3)
        self.assertEqual(ev("'  x '.trim()"), "x")
        self.assertEqual(ev("'aaa'.replace('a', 'b', 2)"), "bba")
        with self.assertRaisesRegex(EvalError, "index out of range: 9"):
            ev("'abc'.substring(9)")

    def test_regex_matches_with_re2_semantics(self):
        self.assertIs(ev("'abc'.matches('^a.c$')"), True)
        self.assertIs(ev("'xabcx'.matches('abc')"), True)  # unanchored search
        self.assertIs(ev("'abc\\n'.matches('^abc$')"), False)  # RE2 $ is end of text
        self.assertIs(ev("'٣'.matches('^\\\\d$')"), False)  # \d is ASCII-only in RE2
        self.assertIs(ev("'ab'.matches('^[[:alpha:]]+$')"), True)
        self.assertEqual(ev("'a1b22'.findAll('[0-9]+')"), ["1", "22"])
        self.assertEqual(ev("'a1b22'.find('[0-9]+')"), "1")
        with self.assertRaisesRegex(EvalError, "error parsing regexp"):
            ev("'a'.matches('(')")

    def test_translate_re2_rejects_backreferences(self):
        with self.assertRaises(cel.RegexError):
            cel.translate_re2("(a)\\1")


class ListLibraryAndConversions(unittest.TestCase):
    def test_lists_library(self):
        self.assertIs(ev("[1, 2, 2].isSorted()"), True)
        self.assertIs(ev("['b', 'a'].isSorted()"), False)
        self.assertEqual(ev("[1, 2, 3].sum()"), 6)
        self.assertEqual(ev("[3, 1, 2].min()"), 1)
        self.assertEqual(ev("[3, 1, 2].max()"), 3)
        self.assertEqual(ev("[1, 2, 1].lastIndexOf(1)"), 2)
        self.assertEqual(ev("[1, 2] + [3]"), [1, 2, 3])
        with self.assertRaisesRegex(EvalError, "^min called on empty list$"):
            ev("x.min()", x=[])

    def test_sets_library(self):
        self.assertIs(ev("sets.contains([1, 2, 3], [3, 1])"), True)
        self.assertIs(ev("sets.equivalent([1, 2], [2, 1, 1])"), True)
        self.assertIs(ev("sets.intersects([1], [2])"), False)

    def test_conversions_and_type(self):
        self.assertEqual(ev("int('42') + int(2.9)"), 44)
        self.assertEqual(ev("string(1.5) + string(10) + string(true)"), "1.510true")
        self.assertEqual(ev("string(1000000.0)"), "1e+06")
        self.assertEqual(ev("double(3)"), 3.0)
        self.assertEqual(ev("uint(3)"), UInt(3))
        self.assertIs(ev("type(1) == int && type('a') == string && type([]) == list"), True)
        self.assertIs(ev("type(x) == map", x={}), True)
        self.assertIs(ev("bool('true')"), True)
        with self.assertRaisesRegex(EvalError, "invalid syntax"):
            ev("int('x')")

    def test_durations_timestamps_quantities_urls(self):
        self.assertIs(ev("duration('1h30m') == duration('90m')"), True)
        self.assertEqual(ev("duration('1h30m').getMinutes()"), 90)
        self.assertEqual(ev("string(duration('1.5s'))"), "1.5s")
        self.assertEqual(cel.duration_string(Duration(5400 * 10 ** 9)), "1h30m0s")
        t = ev("timestamp('2024-02-29T23:59:59Z') + duration('1s')")
        self.assertEqual(cel.timestamp_string(t), "2024-03-01T00:00:00Z")
        self.assertEqual(ev("timestamp('2024-02-29T10:00:00Z').getDayOfWeek()"), 4)
        self.assertEqual(ev("timestamp('2024-02-29T10:00:00Z').getMonth()"), 1)
        self.assertIs(ev("timestamp('2024-01-01T00:00:00Z') < timestamp('2024-01-01T00:00:01Z')"), True)
        self.assertIs(ev("quantity('1Gi').isGreaterThan(quantity('1G'))"), True)
        self.assertIs(ev("quantity('500m').isInteger()"), False)
        self.assertEqual(ev("quantity('2k').asInteger()"), 2000)
        self.assertIs(ev("isQuantity('1Xi')"), False)
        self.assertEqual(ev("url('https://example.com:8443/a?x=1').getPort()"), "8443")
        self.assertEqual(ev("url('https://example.com/a?x=1&x=2').getQuery()"), {"x": ["1", "2"]})
        self.assertIs(ev("isURL('not a url')"), False)
        with self.assertRaisesRegex(EvalError, 'unknown unit "x" in duration "1x"'):
            ev("duration('1x')")


class TypeChecking(unittest.TestCase):
    SCHEMA = {"type": "object", "properties": {
        "replicas": {"type": "integer"},
        "name": {"type": "string"},
        "when": {"type": "string", "format": "date-time"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "x-y": {"type": "string"}}}

    def test_undefined_field(self):
        with self.assertRaises(CompileError) as cm:
            cel.compile("self.replica > 1", self_schema=self.SCHEMA)
        self.assertEqual(str(cm.exception),
                         "ERROR: <input>:1:5: undefined field 'replica'\n | self.replica > 1\n | ....^")

    def test_operand_types_from_schema(self):
        with self.assertRaisesRegex(CompileError, r"found no matching overload for '_>_' applied to '\(string, int\)'"):
            cel.compile("self.name > 1", self_schema=self.SCHEMA)
        with self.assertRaisesRegex(CompileError, r"found no matching overload for 'startsWith' applied to 'int.\(string\)'"):
            cel.compile("self.replicas.startsWith('a')", self_schema=self.SCHEMA)
        cel.compile("self.labels.all(k, self.labels[k].size() < 64)", self_schema=self.SCHEMA)
        cel.compile("self.x__dash__y == ''", self_schema=self.SCHEMA)

    def test_undeclared_reference_and_result_type(self):
        with self.assertRaisesRegex(CompileError, r"undeclared reference to 'foo' \(in container ''\)"):
            cel.compile("foo == 1", self_schema=self.SCHEMA)
        with self.assertRaisesRegex(CompileError, r"undeclared reference to 'frobnicate'"):
            cel.compile("self.name.frobnicate()", self_schema=self.SCHEMA)
        with self.assertRaisesRegex(cel.ResultTypeError, "^cel expression must evaluate to a bool$"):
            cel.compile("self.replicas + 1", self_schema=self.SCHEMA)

    def test_syntax_errors(self):
        with self.assertRaises(CompileError) as cm:
            cel.compile("self.replicas >", self_schema=self.SCHEMA)
        msg = str(cm.exception)
        self.assertTrue(msg.startswith("ERROR: <input>:1:16: Syntax error: mismatched input '<EOF>' expecting"), msg)
        with self.assertRaisesRegex(CompileError, "token recognition error at: '#'"):
            cel.compile("self.replicas # 1", self_schema=self.SCHEMA)
        with self.assertRaisesRegex(CompileError, "Syntax error: extraneous input '2' expecting <EOF>"):
            cel.compile("1 2", result=None)

    def test_formats_become_timestamps(self):
        p = cel.compile("self.when < timestamp('2030-01-01T00:00:00Z')", self_schema=self.SCHEMA)
        v = cel.to_cel({"when": "2024-05-01T10:00:00Z"}, self.SCHEMA)
        self.assertIsInstance(v["when"], Timestamp)
        self.assertIs(p.eval({"self": v}), True)

    def test_transition_rules_see_old_self(self):
        p = cel.compile("self.replicas >= oldSelf.replicas", self_schema=self.SCHEMA, old_self=True)
        self.assertTrue(p.uses_old_self)
        self.assertIs(p.eval({"self": {"replicas": 2}, "oldSelf": {"replicas": 3}}), False)

    def test_root_schema_exposes_metadata_name(self):
        p = cel.compile("self.metadata.name.size() <= 40 && self.kind == 'Widget'",
                        self_schema={"type": "object", "properties": {"spec": {"type": "object"}}}, root=True)
        self.assertIs(p.eval({"self": {"kind": "Widget", "metadata": {"name": "w"}}}), True)
        with self.assertRaisesRegex(CompileError, "undefined field 'labels'"):
            cel.compile("self.metadata.labels.size() > 0", self_schema={"type": "object"}, root=True)

    def test_widgets_crd_rules_compile(self):
        with open(os.path.join(HERE, "testdata", "widgets-crd.json")) as f:
            crd = json.load(f)
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        n = 0

        def walk(s):
            nonlocal n
            for r in s.get("x-kubernetes-validations") or ():
                cel.compile(r["rule"], self_schema=s, old_self=True)
                n += 1
            for p in (s.get("properties") or {}).values():
                walk(p)
            if isinstance(s.get("items"), dict):
                walk(s["items"])
        walk(schema)
        self.assertEqual(n, 6)


class GoFormatting(unittest.TestCase):
    def test_go_float(self):
        cases = {1.0: "1", 1.5: "1.5", 1e6: "1e+06", 123456.0: "123456", 1234567.0: "1.234567e+06",
                 0.0001: "0.0001", 0.00001: "1e-05", -2.5: "-2.5", 1e21: "1e+21"}
        for f, s in cases.items():
            self.assertEqual(cel.go_float(f), s, f)

    def test_go_quote(self):
        self.assertEqual(cel.go_quote('a"b\\c\n\x01é'), '"a\\"b\\\\c\\n\\x01é"')


if __name__ == "__main__":
    unittest.main()
