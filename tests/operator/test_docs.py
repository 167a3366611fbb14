"""docs/operator.md stays in step with the operator, both ways: its flag table lists exactly the
flags of --help (with the same defaults); its metrics tables exactly the families a running
operator serves (with the same types and labels); its conditions table exactly the condition,
status and reason combinations the reconcile writes (every OP_REASON_* among them); its events
table exactly the events the operator records (with their types); and exactly the health checks
each endpoint serves, the status fields written, the columns of `kubectl get topo` and the RBAC
rules of the chart."""

import os
import re
import subprocess
import unittest

from harness import EXAMPLES, REPO, OperatorTest, binary, scaled

DOC = os.path.join(REPO, "docs", "operator.md")
README = os.path.join(REPO, "README.md")
OPERATOR_SRC = os.path.join(REPO, "operator")
STATUS_H = os.path.join(OPERATOR_SRC, "op_status.h")
STATUS_C = os.path.join(OPERATOR_SRC, "op_status.c")
RECONCILE_C = os.path.join(OPERATOR_SRC, "op_reconcile.c")
HELPERS = os.path.join(REPO, "helm", "ho11y-operator", "templates", "_helpers.tpl")

CODE = re.compile(r"`([^`]+)`")
FAMILY = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def strip_c_comments(src):
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", src, flags=re.S))


# ---- the doc ----------------------------------------------------------------------------------

def doc_tables():
    """Every table of the doc as (header cells, rows of cells); rule rows left out."""
    tables, current = [], None
    for line in read(DOC).splitlines():
        if not line.startswith("|"):
            current = None
            continue
        cells = [c.strip() for c in line.strip()[1:-1].split("|")]
        if current is None:
            current = (cells, [])
            tables.append(current)
        elif not re.fullmatch(r"\|(-+\|)+", line.strip()):
            current[1].append(cells)
    return tables


def table(first):
    """The rows of every table whose header starts with the cell first, as dicts by header."""
    rows = []
    for head, body in doc_tables():
        if head[0] != first:
            continue
        for cells in body:
            if len(cells) != len(head):
                raise AssertionError("docs/operator.md: a row of the %r table has %d cells, its "
                                     "header %d (a stray '|'?): %r" % (first, len(cells),
                                                                       len(head), cells))
            rows.append(dict(zip(head, cells)))
    if not rows:
        raise AssertionError("docs/operator.md has no table whose header starts with %r" % first)
    return rows


def code(cell):
    """The backquoted words of a cell."""
    return CODE.findall(cell)


def first_code(row, column):
    names = code(row[column])
    if not names:
        raise AssertionError("docs/operator.md: no `name` in the %s cell of %r" % (column, row))
    return names[0]


def doc_flags():
    """{flag name: Default cell} of the flag table."""
    out = {}
    for row in table("Flag"):
        m = re.fullmatch(r"`--([a-z][a-z0-9-]*)`", row["Flag"])
        if not m:
            raise AssertionError("docs/operator.md: flag cell %r is not `--name`" % row["Flag"])
        out[m.group(1)] = row["Default"]
    return out


def doc_families():
    """{family: (type, set of label names)} of the metrics tables."""
    out = {}
    for row in table("Family"):
        name = first_code(row, "Family")
        out[name] = (row["Type"], set(code(row["Labels"])))
    return out


# ---- the sources and the binary ---------------------------------------------------------------

def run_operator(*args):
    return subprocess.run([binary("HO11Y_OPERATOR"), *args], capture_output=True, text=True,
                          timeout=scaled(30), env={"PATH": os.environ.get("PATH", "/usr/bin")})


def help_flags(text):
    """{flag name: its help line} from --help ("  --name [VALUE]", then the help indented)."""
    lines = text.splitlines()
    out = {}
    for i, line in enumerate(lines):
        m = re.fullmatch(r"  --([a-z][a-z0-9-]*)( VALUE)?", line)
        if m:
            out[m.group(1)] = lines[i + 1].strip() if i + 1 < len(lines) else ""
    return out


def op_reasons():
    """{OP_REASON_* macro: value} from op_status.h."""
    return dict(re.findall(r'#define\s+(OP_REASON_[A-Z_]+)\s+"([A-Za-z]+)"', read(STATUS_H)))


def code_conditions():
    """(condition, status, reason) of every condition op_reconcile.c builds."""
    reasons = op_reasons()
    src = strip_c_comments(read(RECONCILE_C))
    out = set()
    for field, status, macro in re.findall(
            r"\b(reconciled|ready)\s*=\s*(?:\(struct op_condition\)\s*)?\{\s*([01])\s*,\s*"
            r"(OP_REASON_[A-Z_]+)", src):
        out.add((field.capitalize(), "True" if status == "1" else "False", reasons[macro]))
    return out


def code_condition_types():
    return set(re.findall(r'add_condition\(\s*conds\s*,\s*"([A-Za-z]+)"', read(STATUS_C)))


# A call that records an event: the reconcile's event() helper or op_events_record itself.
EVENT_CALL = re.compile(r"(?<![\w.>])(event|op_events_record)\s*\(([^;]*?)\)\s*[;|=!]", re.S)
EVENT_ARGS = re.compile(r'"(Normal|Warning)"\s*,\s*(OP_REASON_[A-Z_]+|"[A-Za-z]+")\s*,')


def code_events():
    """{reason: type} of every event the operator's sources record. A call whose type and reason
    are not literals must be the event() helper forwarding its own arguments."""
    reasons = op_reasons()
    out = {}
    for name in sorted(os.listdir(OPERATOR_SRC)):
        if not name.endswith(".c") or name == "op_events.c":
            continue
        src = strip_c_comments(read(os.path.join(OPERATOR_SRC, name)))
        for fn, args in EVENT_CALL.findall(src):
            if fn == "event" and args.startswith("struct "):
                continue  # the helper's definition
            m = EVENT_ARGS.search(args)
            if m:
                reason = m.group(2)
                reason = reasons[reason] if reason.startswith("OP_REASON_") else reason.strip('"')
                out[reason] = m.group(1)
            elif not re.search(r"\btype\s*,\s*reason\s*,\s*message\s*$", args):
                raise AssertionError("operator/%s: an event whose type and reason this test "
                                     "cannot read: %s(%s)" % (name, fn, " ".join(args.split())))
    return out


def chart_rules():
    """(API group, resource, verb) of every rule the chart's helpers give the operator."""
    text = read(HELPERS)
    out = set()
    for block in ("ho11y-operator.rules", "ho11y-operator.leaseRules"):
        m = re.search(r'define "%s" -\}\}(.*?)\{\{-? end' % re.escape(block), text, re.S)
        if not m:
            raise AssertionError("no define %r in %s" % (block, HELPERS))
        for rule in re.split(r"^- ", m.group(1), flags=re.M)[1:]:
            def field(key):
                f = re.search(r"\b%s: \[([^\]]*)\]" % key, rule)
                return re.findall(r'"([^"]*)"', f.group(1)) if f else []
            for g in field("apiGroups"):
                for r in field("resources"):
                    for v in field("verbs"):
                        out.add((g, r, v))
    return out


def doc_rules():
    out = set()
    for row in table("API group"):
        group = first_code(row, "API group")
        group = "" if group == '""' else group
        for r in code(row["Resources"]):
            for v in code(row["Verbs"]):
                out.add((group, r, v))
    return out


def exposed_families(text):
    """{family: (type, set of label names or None when it has no sample)} of a /metrics body;
    le is left out."""
    types = dict(re.findall(r"^# TYPE (%s) (\w+)$" % FAMILY.pattern, text, re.M))
    labels = {name: None for name in types}
    for line in text.splitlines():
        m = re.match(r"(%s)(?:\{([^}]*)\})? " % FAMILY.pattern, line)
        if not m or line.startswith("#"):
            continue
        name = m.group(1)
        if name not in types:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if types.get(base) not in ("histogram", "summary"):
                raise AssertionError("/metrics: sample %r of no family" % line)
            name = base
        keys = {k for k in re.findall(r'(\w+)="', m.group(2) or "") if k != "le"}
        labels[name] = (labels[name] or set()) | keys
    return {name: (types[name], labels[name]) for name in types}


def status_paths(value, prefix="status"):
    """Every field path of a status: status.a, status.a.b, status.list[].c."""
    out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(prefix + "." + k)
            out |= status_paths(v, prefix + "." + k)
    elif isinstance(value, list):
        for item in value:
            out |= status_paths(item, prefix + "[]")
    return out


# ---- the checks -------------------------------------------------------------------------------

class Sources(unittest.TestCase):
    """The doc against the binary's --help, the sources and the chart."""

    def test_extraction_is_sane(self):
        # A pattern that silently matched nothing would let every check below pass.
        self.assertGreaterEqual(len(help_flags(run_operator("--help").stdout)), 20)
        self.assertLessEqual({"Reconciled", "InvalidSpec", "NameConflict", "ApiError", "Ready",
                              "Progressing"}, set(op_reasons().values()))
        self.assertIn(("Reconciled", "True", "Reconciled"), code_conditions())
        self.assertIn(("Ready", "False", "Progressing"), code_conditions())
        self.assertEqual(code_condition_types(), {"Reconciled", "Ready"})
        events = code_events()
        self.assertEqual(events.get("Reconciled"), "Normal")
        self.assertEqual(events.get("ApiError"), "Warning")
        self.assertGreaterEqual(len(events), 5)
        self.assertIn(("apps", "deployments", "create"), chart_rules())
        self.assertIn(("coordination.k8s.io", "leases", "update"), chart_rules())

    def test_flags_match_help(self):
        r = run_operator("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        in_help, in_doc = help_flags(r.stdout), doc_flags()
        self.assertEqual(sorted(set(in_help) - set(in_doc)), [],
                         "flags of --help missing from the flag table of docs/operator.md")
        self.assertEqual(sorted(set(in_doc) - set(in_help)), [],
                         "flags in docs/operator.md that --help does not print")

    def test_defaults_match_help(self):
        r = run_operator("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        version = r.stdout.split()[-1]
        doc, checked = doc_flags(), 0
        for flag, text in help_flags(run_operator("--help").stdout).items():
            m = re.search(r"\(default ([^)]+)\)$", text)  # not "(default: <prose>)"
            if not m or flag not in doc:
                continue
            checked += 1
            with self.subTest(flag=flag):
                self.assertIn("`%s`" % m.group(1), doc[flag].replace("<version>", version),
                              "default of --%s in docs/operator.md" % flag)
        self.assertGreaterEqual(checked, 10)

    def test_environment_named_by_help_is_documented(self):
        text = read(DOC)
        names = set(re.findall(r"\bHO11Y_[A-Z_]*[A-Z]\b", run_operator("--help").stdout))
        self.assertIn("HO11Y_SERVICEACCOUNT_DIR", names)
        self.assertEqual(sorted(n for n in names if n not in text), [])
        self.assertIn("HO11Y_<FLAG>", text)

    def test_conditions_match_the_reconcile(self):
        doc = set()
        for row in table("Condition"):
            doc.add((first_code(row, "Condition"), first_code(row, "Status"),
                     first_code(row, "Reason")))
        code_side = code_conditions()
        self.assertEqual(sorted(code_side - doc), [],
                         "conditions written by operator/op_reconcile.c, not in docs/operator.md")
        self.assertEqual(sorted(doc - code_side), [],
                         "conditions in docs/operator.md that operator/op_reconcile.c never writes")
        self.assertEqual({c for c, _, _ in doc}, code_condition_types())

    def test_every_reason_is_documented(self):
        documented = {first_code(row, "Reason") for row in table("Condition")}
        missing = sorted(set(op_reasons().values()) - documented)
        self.assertEqual(missing, [], "OP_REASON_* of op_status.h not in the conditions table")

    def test_events_match_the_sources(self):
        doc = {first_code(row, "Event"): row["Type"] for row in table("Event")}
        sent = code_events()
        self.assertEqual({r: t for r, t in sent.items() if doc.get(r) != t}, {},
                         "events the operator records, missing from docs/operator.md or with "
                         "another type there")
        self.assertEqual(sorted(set(doc) - set(sent)), [],
                         "events in docs/operator.md the operator never records")

    def test_rbac_matches_the_chart(self):
        chart, doc = chart_rules(), doc_rules()
        self.assertEqual(sorted(chart - doc), [], "chart rules missing from docs/operator.md")
        self.assertEqual(sorted(doc - chart), [], "rules in docs/operator.md the chart lacks")

    def test_readme_links_the_doc(self):
        self.assertTrue("[docs/operator.md](docs/operator.md)" in read(README),
                        "README.md does not link docs/operator.md")


class Running(OperatorTest):
    """The doc against an operator that has reconciled the sample Topology."""

    def test_running_operator_matches_the_doc(self):
        op = self.start_operator()
        self.kubectl.apply(read(os.path.join(EXAMPLES, "xray-sample.yaml")))
        self.kubectl.run("wait", "--for=condition=Ready", "topology/xray-sample", "-n",
                         "example-app", "--timeout=%ds" % int(scaled(60)))

        with self.subTest("metrics"):
            exposed, doc = exposed_families(op.metrics()), doc_families()
            for family in ("controller_runtime_reconcile_total", "workqueue_depth",
                           "rest_client_request_duration_seconds", "ho11y_operator_topologies",
                           "leader_election_master_status", "process_start_time_seconds"):
                self.assertIn(family, exposed)
            self.assertEqual(sorted(set(exposed) - set(doc)), [],
                             "families on /metrics missing from docs/operator.md")
            self.assertEqual(sorted(set(doc) - set(exposed)), [],
                             "families in docs/operator.md that /metrics does not serve")
            types = {f: (t, doc[f][0]) for f, (t, _) in exposed.items() if t != doc[f][0]}
            self.assertEqual(types, {}, "type served, type in docs/operator.md")
            labels = {f: (sorted(l), sorted(doc[f][1])) for f, (_, l) in exposed.items()
                      if l is not None and l != doc[f][1]}
            self.assertEqual(labels, {}, "labels served, labels in docs/operator.md")

        with self.subTest("health checks"):
            doc = {}
            for row in table("Check"):
                for endpoint in code(row["Endpoints"]):
                    doc.setdefault(endpoint, set()).add(first_code(row, "Check"))
            self.assertEqual(set(doc), {"/healthz", "/livez", "/readyz"})
            for endpoint in sorted(doc):
                status, body = op.http(op.health_port, endpoint + "?verbose")
                self.assertEqual(status, 200, body)
                served = set(re.findall(r"^\[\+\](\S+) ok$", body, re.M))
                self.assertIn("ping", served)
                self.assertEqual(served, doc[endpoint], "checks of %s?verbose" % endpoint)

        with self.subTest("status fields"):
            status = self.topology("example-app", "xray-sample")["status"]
            written = status_paths(status)
            doc = {first_code(row, "Field") for row in table("Field")}
            self.assertEqual(sorted(written - doc), [],
                             "status fields written, missing from docs/operator.md")
            self.assertEqual(sorted(doc - written), [],
                             "status fields in docs/operator.md the operator did not write")

        with self.subTest("kubectl get columns"):
            header = self.kubectl.run("get", "topo", "-n", "example-app").stdout.splitlines()[0]
            doc = [first_code(row, "Column") for row in table("Column")]
            self.assertEqual(header.split(), doc)
        self.stop_operator(op)


if __name__ == "__main__":
    unittest.main()
