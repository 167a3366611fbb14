"""Unit tests of CRD structural schemas: validation messages, defaulting, pruning, CRD checks."""

import copy
import json
import os
import unittest

import schema

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "testdata", "widgets-crd.json")) as _f:
    CRD = json.load(_f)
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
BLOCKED = {"reason": "FieldValueInvalid", "field": "<nil>",
           "message": 'Invalid value: "null": ' + schema.BLOCKING_MESSAGE}


def widget(spec, name="w1", **extra):
    o = {"apiVersion": "example.com/v1", "kind": "Widget",
         "metadata": {"name": name, "namespace": "default"}, "spec": spec}
    o.update(extra)
    return o


def admitted(obj):
    """What the server does before validation: prune, then default."""
    o = copy.deepcopy(obj)
    schema.prune(o, SCHEMA)
    schema.apply_defaults(o, SCHEMA)
    return o


def causes(obj, old=None):
    return schema.validate(admitted(obj), SCHEMA, admitted(old) if old is not None else None)


def cause(reason, field, message):
    return {"reason": reason, "field": field, "message": message}


class OpenAPIValidation(unittest.TestCase):
    def test_valid_widget(self):
        w = widget({"services": [{"name": "frontend", "calls": [{"service": "back"}, {"url": "https://x.y/"}],
                                  "env": [{"name": "A", "value": "1"}], "podLabels": {"a": "b"},
                                  "failure": {"rate": 10, "codes": [500, 503]}, "targetPort": "http",
                                  "latency": {"fixed": "10ms"}, "weight": 0.5},
                                 {"name": "back", "targetPort": 8080}],
                    "owner": "ops@example.com", "load": {"target": "frontend", "rate": 2.5},
                    "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}},
                   status={"conditions": [{"type": "Ready", "status": "True",
                                           "lastTransitionTime": "2024-01-02T03:04:05Z"}]})
        self.assertEqual(causes(w), [])

    def test_integer_bounds_and_types(self):
        got = causes(widget({"services": [{"name": "a", "replicas": 2000}]}))
        self.assertEqual(got, [cause("FieldValueInvalid", "spec.services[0].replicas",
                                     "Invalid value: 2000: spec.services[0].replicas in body should be less than or equal to 1000")])
        got = causes(widget({"services": [{"name": "a", "replicas": -1}]}))
        self.assertEqual(got[0]["message"],
                         "Invalid value: -1: spec.services[0].replicas in body should be greater than or equal to 0")
        got = causes(widget({"services": [{"name": "a", "port": "80"}]}))
        self.assertEqual(got[0], cause("FieldValueTypeInvalid", "spec.services[0].port",
                                       'Invalid value: "string": spec.services[0].port in body must be of type integer: "string"'))
        got = causes(widget({"services": [{"name": "a", "port": 80.5}]}))
        self.assertEqual(got[0]["message"],
                         'Invalid value: "number": spec.services[0].port in body must be of type integer: "number"')
        self.assertEqual(causes(widget({"services": [{"name": "a", "port": 80.0}]})), [])

    def test_number_exclusive_maximum(self):
        got = causes(widget({"services": [{"name": "a", "weight": 1}]}))
        self.assertEqual(got[0]["message"], "Invalid value: 1: spec.services[0].weight in body should be less than 1")
        got = causes(widget({"services": [{"name": "a", "weight": 1.5}]}))
        self.assertEqual(got[0]["message"], "Invalid value: 1.5: spec.services[0].weight in body should be less than 1")

    def test_required_enum_and_strings(self):
        got = causes(widget({"imagePullPolicy": "Sometimes", "services": [{"replicas": 1}]}))
        self.assertEqual(got[:2], [
            cause("FieldValueNotSupported", "spec.imagePullPolicy",
                  'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"'),
            cause("FieldValueRequired", "spec.services[0].name", "Required value")])
        got = causes(widget({}))
        self.assertEqual(got, [cause("FieldValueRequired", "spec.services", "Required value"), BLOCKED])
        got = causes(widget({"services": [{"name": "Front_End"}]}))
        self.assertEqual(got, [cause("FieldValueInvalid", "spec.services[0].name",
                                     'Invalid value: "Front_End": spec.services[0].name in body should match \'^[a-z]([-a-z0-9]*[a-z0-9])?$\'')])
        got = causes(widget({"services": [{"name": "a" * 51}]}))
        self.assertEqual(got, [cause("FieldValueTooLong", "spec.services[0].name",
                                     "Too long: may not be more than 50 bytes"), BLOCKED])

    def test_metadata_name_from_schema(self):
        got = causes(widget({"services": [{"name": "a"}]}, name="n" * 41))
        self.assertEqual(got[0], cause("FieldValueTooLong", "metadata.name", "Too long: may not be more than 40 bytes"))

    def test_arrays_and_maps(self):
        got = causes(widget({"services": []}))
        self.assertEqual(got[0], cause("FieldValueInvalid", "spec.services",
                                       "Invalid value: 0: spec.services in body should have at least 1 items"))
        many = [{"name": "s%d" % i} for i in range(65)]
        got = causes(widget({"services": many}))
        self.assertEqual(got[0], cause("FieldValueTooMany", "spec.services", "Too many: 65: must have at most 64 items"))
        labels = {"k%d" % i: "v" for i in range(17)}
        got = causes(widget({"services": [{"name": "a", "podLabels": labels}]}))
        self.assertEqual(got[0], cause("FieldValueTooMany", "spec.services[0].podLabels",
                                       "Too many: 17: must have at most 16 items"))
        got = causes(widget({"services": [{"name": "a", "podLabels": {"k": "v" * 64}}]}))
        self.assertEqual(got[0], cause("FieldValueTooLong", "spec.services[0].podLabels.k",
                                       "Too long: may not be more than 63 bytes"))

    def test_list_type_uniqueness(self):
        got = causes(widget({"services": [{"name": "a"}, {"name": "a"}]}))
        self.assertEqual(got[0], cause("FieldValueDuplicate", "spec.services[1]",
                                       'Duplicate value: map[string]interface {}{"name":"a"}'))
        got = causes(widget({"services": [{"name": "a", "failure": {"codes": [500, 501, 500]}}]}))
        self.assertEqual(got, [cause("FieldValueDuplicate", "spec.services[0].failure.codes[2]", "Duplicate value: 500")])

    def test_int_or_string_nullable_and_formats(self):
        self.assertEqual(causes(widget({"services": [{"name": "a", "targetPort": "http"}]})), [])
        got = causes(widget({"services": [{"name": "a", "targetPort": True}]}))
        self.assertEqual(got[0]["message"],
                         'Invalid value: "boolean": spec.services[0].targetPort in body must be of type integer,string: "boolean"')
        got = causes(widget({"services": [{"name": "a"}], "owner": "nobody"}))
        self.assertEqual(got, [cause("FieldValueTypeInvalid", "spec.owner",
                                     'Invalid value: "nobody": spec.owner in body must be of type email: "nobody"'), BLOCKED])
        w = widget({"services": [{"name": "a"}]},
                   status={"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "yesterday"}]})
        self.assertEqual(causes(w)[0]["message"],
                         'Invalid value: "yesterday": status.conditions[0].lastTransitionTime in body must be of type date-time: "yesterday"')
        w = widget({"services": [{"name": "a", "latency": {"jitter": "soon"}}]})
        self.assertEqual(causes(w)[0]["message"],
                         'Invalid value: "soon": spec.services[0].latency.jitter in body must be of type duration: "soon"')
        s = {"type": "object", "properties": {"a": {"type": "string", "nullable": True}, "b": {"type": "string"}}}
        self.assertEqual(schema.validate({"a": None}, s), [])
        self.assertEqual(schema.validate({"b": None}, s),
                         [cause("FieldValueTypeInvalid", "b", 'Invalid value: "null": b in body must be of type string: "null"')])

    def test_embedded_resource_needs_kind(self):
        got = causes(widget({"services": [{"name": "a"}], "template": {"apiVersion": "v1", "metadata": {"name": "x"}}}))
        self.assertEqual(got, [cause("FieldValueRequired", "spec.template.kind", "Required value: must not be empty"), BLOCKED])

    def test_junctors(self):
        s = {"type": "object", "properties": {"x": {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 1}]}}}
        self.assertEqual(schema.validate({"x": 11}, s), [])
        got = schema.validate({"x": 5}, s)
        self.assertEqual(got[0], cause("FieldValueInvalid", "<nil>",
                                       'Invalid value: "": x must validate at least one schema (anyOf)'))
        self.assertEqual(len(got), 2)


class CELValidation(unittest.TestCase):
    def test_message_field_path_and_reason(self):
        w = widget({"services": [{"name": "a", "calls": [{"service": "a"}]}]})
        got = causes(w)
        self.assertEqual(got, [cause("FieldValueForbidden", "spec.services[0].calls", "Forbidden: a service may not call itself")])

    def test_message_expression(self):
        got = causes(widget({"services": [{"name": "a"}], "load": {"target": "b"}}))
        self.assertEqual(got, [cause("FieldValueInvalid", "spec.load.target",
                                     'Invalid value: "object": load target b is not a service of this Widget')])

    def test_rule_on_object_and_array_items(self):
        got = causes(widget({"services": [{"name": "a", "calls": [{"service": "b", "url": "http://x"}]},
                                          {"name": "b"}]}))
        self.assertEqual(got, [cause("FieldValueInvalid", "spec.services[0].calls[0]",
                                     'Invalid value: "object": a call names exactly one of service, url, dummy')])
        got = causes(widget({"services": [{"name": "a", "calls": [{"service": "zz"}]}]}))
        self.assertEqual(got, [cause("FieldValueInvalid", "spec",
                                     'Invalid value: "object": calls name services of this Widget')])
        got = causes(widget({"services": [{"name": "a"}], "collector": {"mode": "External"}}))
        self.assertEqual(got, [cause("FieldValueInvalid", "spec.collector.external",
                                     'Invalid value: "object": External mode needs a host')])

    def test_default_message_root_rules_and_runtime_errors(self):
        s = {"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"a": {"type": "integer"}, "m": {"type": "object", "additionalProperties": {"type": "integer"}}},
                     "x-kubernetes-validations": [{"rule": "self.a > 1"}, {"rule": "self.m['k'] > 0"}]}},
            "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('w')", "message": "name must start with w"}]}
        got = schema.validate({"metadata": {"name": "x"}, "spec": {"a": 1, "m": {}}}, s)
        self.assertEqual(got, [
            cause("FieldValueInvalid", "<nil>", 'Invalid value: "object": name must start with w'),
            cause("FieldValueInvalid", "spec", 'Invalid value: "object": failed rule: self.a > 1'),
            cause("FieldValueInvalid", "spec", 'Invalid value: "object": no such key: k evaluating rule: self.m[\'k\'] > 0')])

    def test_required_and_duplicate_reasons(self):
        s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "a": {"type": "string"}, "l": {"type": "array", "items": {"type": "string"},
                                          "x-kubernetes-validations": [{"rule": "self.size() == 0", "reason": "FieldValueDuplicate"}]}},
            "x-kubernetes-validations": [{"rule": "has(self.a)", "message": "a is needed", "reason": "FieldValueRequired", "fieldPath": ".a"}]}}}
        got = schema.validate({"spec": {"l": ["x"]}}, s)
        self.assertEqual(got, [cause("FieldValueRequired", "spec.a", "Required value: a is needed"),
                               cause("FieldValueDuplicate", "spec.l", 'Duplicate value: "array"')])

    def test_transition_rule_and_ratcheting(self):
        old = widget({"services": [{"name": "a"}], "tier": "gold"})
        new = widget({"services": [{"name": "a"}], "tier": "silver"})
        self.assertEqual(causes(new), [])  # no old object: the transition rule does not run
        self.assertEqual(causes(new, old), [cause("FieldValueInvalid", "spec.tier", 'Invalid value: "string": tier is immutable')])
        # an invalid value stored before is accepted while unchanged, refused once changed
        bad_old = widget({"services": [{"name": "a", "replicas": 5000}]})
        upd = widget({"services": [{"name": "a", "replicas": 5000}], "paused": True})
        self.assertEqual(schema.validate(admitted(upd), SCHEMA, admitted(bad_old)), [])
        upd2 = widget({"services": [{"name": "a", "replicas": 5001}]})
        self.assertEqual(schema.validate(admitted(upd2), SCHEMA, admitted(bad_old))[0]["field"], "spec.services[0].replicas")

    def test_large_widget_validates_quickly(self):
        import time
        svcs = [{"name": "s%d" % i, "calls": [{"service": "s%d" % ((i + j + 1) % 64)} for j in range(16)]} for i in range(64)]
        w = admitted(widget({"services": svcs}))
        t0 = time.perf_counter()
        self.assertEqual(schema.validate(w, SCHEMA), [])
        self.assertLess(time.perf_counter() - t0, 2.0)


class InvalidMessage(unittest.TestCase):
    def test_single_multiple_and_duplicate_causes(self):
        c1 = cause("FieldValueRequired", "spec.a", "Required value")
        c2 = cause("FieldValueInvalid", "spec.b", "Invalid value: 3: spec.b in body should be less than or equal to 2")
        self.assertEqual(schema.format_invalid_message("Widget.example.com", "w1", [c1]),
                         'Widget.example.com "w1" is invalid: spec.a: Required value')
        self.assertEqual(schema.format_invalid_message("Widget.example.com", "w1", [c1, c2, c1]),
                         'Widget.example.com "w1" is invalid: [spec.a: Required value, spec.b: Invalid value: 3: '
                         'spec.b in body should be less than or equal to 2]')
        self.assertEqual(schema.format_invalid_message("Widget.example.com", "w1", [c1, c1]),
                         'Widget.example.com "w1" is invalid: spec.a: Required value')
        self.assertEqual(schema.format_invalid_message("Widget.example.com", "w1", []),
                         'Widget.example.com "w1" is invalid')


class Defaulting(unittest.TestCase):
    def test_defaults(self):
        o = widget({"services": [{"name": "a", "latency": {}}, {"name": "b", "port": 8080}]})
        schema.apply_defaults(o, SCHEMA)
        spec = o["spec"]
        self.assertEqual(spec["image"], "")
        self.assertEqual(spec["imagePullPolicy"], "IfNotPresent")
        # a defaulted object receives its own nested defaults
        self.assertEqual(spec["collector"], {"mode": "Managed", "replicas": 1})
        # defaults inside array items, without creating absent parents
        self.assertEqual(spec["services"][0], {"name": "a", "latency": {"fixed": "0s"}, "replicas": 1, "port": 80})
        self.assertEqual(spec["services"][1], {"name": "b", "port": 8080, "replicas": 1})
        self.assertNotIn("load", spec)

    def test_nulls(self):
        o = widget({"services": [{"name": "a", "replicas": None, "targetPort": None}], "image": None, "owner": None})
        schema.apply_defaults(o, SCHEMA)
        self.assertEqual(o["spec"]["services"][0], {"name": "a", "replicas": 1, "port": 80})
        self.assertEqual(o["spec"]["image"], "")
        self.assertNotIn("owner", o["spec"])

    def test_map_values_and_items(self):
        s = {"type": "object", "properties": {
            "m": {"type": "object", "additionalProperties": {"type": "object", "properties": {"x": {"type": "integer", "default": 7}}}},
            "l": {"type": "array", "items": {"type": "string", "default": "d"}}}}
        o = {"m": {"a": {}, "b": {"x": 1}}, "l": ["a", None]}
        self.assertIs(schema.apply_defaults(o, s), o)
        self.assertEqual(o, {"m": {"a": {"x": 7}, "b": {"x": 1}}, "l": ["a", "d"]})


class Pruning(unittest.TestCase):
    def test_prune_unknown_fields(self):
        o = widget({"services": [{"name": "a", "bogus": 1, "resources": {"limits": {"cpu": "1"}}, "calls": [{"service": "b", "x": 1}]}],
                    "extra": {"deep": True},
                    "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "junk": 1}, "data": {"k": "v"}}},
                   status={"readyServices": "1/1", "other": 1}, topLevel=1)
        o["metadata"]["bogusMeta"] = 1
        pruned = schema.prune(o, SCHEMA)
        self.assertEqual(pruned, ["metadata.bogusMeta", "spec.services[0].bogus", "spec.services[0].calls[0].x",
                                  "spec.extra", "spec.template.metadata.junk", "status.other", "topLevel"])
        self.assertEqual(o["spec"]["services"][0], {"name": "a", "resources": {"limits": {"cpu": "1"}}, "calls": [{"service": "b"}]})
        self.assertEqual(o["spec"]["template"], {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}})
        self.assertEqual(o["apiVersion"], "example.com/v1")
        self.assertEqual(o["metadata"], {"name": "w1", "namespace": "default"})

    def test_preserve_unknown_root(self):
        s = CRD["spec"]["versions"][1]["schema"]["openAPIV3Schema"]
        o = {"apiVersion": "example.com/v1beta1", "kind": "Widget", "metadata": {"name": "a"}, "spec": {"anything": [1]}}
        self.assertEqual(schema.prune(o, s), [])
        self.assertEqual(o["spec"], {"anything": [1]})


class CRDSchemaChecks(unittest.TestCase):
    P = "spec.versions[0].schema.openAPIV3Schema"

    def test_widgets_schema_is_accepted(self):
        self.assertEqual(schema.check_structural(SCHEMA), [])
        self.assertEqual(schema.check_structural(CRD["spec"]["versions"][1]["schema"]["openAPIV3Schema"],
                                                 "spec.versions[1].schema.openAPIV3Schema"), [])

    def test_non_structural(self):
        s = {"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}},
                                              "list": {"type": "array"},
                                              "x": {"type": "string", "anyOf": [{"type": "string", "description": "d"}]}},
             "additionalProperties": {"type": "string"}}
        got = schema.check_structural(s)
        P = self.P
        self.assertEqual(got[:5], [
            cause("FieldValueForbidden", P + ".additionalProperties", "Forbidden: must not be used at the root"),
            cause("FieldValueRequired", P + ".properties[list].items", "Required value: must be specified"),
            cause("FieldValueRequired", P + ".properties[spec].type", "Required value: must not be empty for specified object fields"),
            cause("FieldValueForbidden", P + ".properties[x].anyOf[0].description", "Forbidden: must be empty to be structural"),
            cause("FieldValueForbidden", P + ".properties[x].anyOf[0].type", "Forbidden: must be empty to be structural")])
        self.assertIn(cause("FieldValueForbidden", P + ".additionalProperties",
                            "Forbidden: additionalProperties and properties are mutual exclusive"), got)

    def test_completeness(self):
        s = {"type": "object", "properties": {"a": {"type": "string"}},
             "oneOf": [{"required": ["a"]}, {"properties": {"b": {"minLength": 1}}}]}
        self.assertEqual(schema.check_structural(s), [
            cause("FieldValueRequired", self.P + ".properties[b]",
                  "Required value: because it is defined in " + self.P + ".oneOf[1].properties[b]")])

    def test_root_type_and_metadata(self):
        got = schema.check_structural({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
            "labels": {"type": "object"}}}}})
        self.assertEqual(got, [cause("FieldValueForbidden", self.P + ".properties[metadata]",
                                     "Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified")])
        got = schema.check_structural({})
        self.assertEqual(got, [cause("FieldValueRequired", self.P + ".type", "Required value: must not be empty at the root")])

    def test_cel_rule_compile_errors(self):
        s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {"type": "integer"}},
                                                       "x-kubernetes-validations": [{"rule": "self.b > 1"}, {"rule": "self.a"}]}}}
        got = schema.check_structural(s)
        rv = ('apiextensions.ValidationRule{Rule:"self.b > 1", Message:"", MessageExpression:"", '
              'Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:"", OptionalOldSelf:(*bool)(nil)}')
        self.assertEqual(got[0], cause("FieldValueInvalid", self.P + ".properties[spec].x-kubernetes-validations[0].rule",
                                       "Invalid value: " + rv + ": compilation failed: ERROR: <input>:1:5: undefined field 'b'\n"
                                       " | self.b > 1\n | ....^"))
        self.assertEqual(got[1]["field"], self.P + ".properties[spec].x-kubernetes-validations[1].rule")
        self.assertTrue(got[1]["message"].endswith(": cel expression must evaluate to a bool"), got[1]["message"])
        self.assertEqual(len(got), 2)

    def test_rule_fields(self):
        s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {"type": "integer"}},
                                                       "x-kubernetes-validations": [
                                                           {"rule": "true", "reason": "Bogus", "message": "two\nlines"},
                                                           {"rule": ""}]}}}
        got = schema.check_structural(s)
        base = self.P + ".properties[spec].x-kubernetes-validations"
        self.assertEqual(got, [
            cause("FieldValueInvalid", base + "[0].message", 'Invalid value: "two\\nlines": message must not contain line breaks'),
            cause("FieldValueNotSupported", base + "[0].reason",
                  'Unsupported value: "Bogus": supported values: "FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"'),
            cause("FieldValueRequired", base + "[1].rule", "Required value: rule is not specified")])

    def test_list_types_and_defaults(self):
        s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "l": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "m": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
                  "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "n": {"type": "integer", "maximum": 3, "default": 5},
            "u": {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
            "p": {"type": "string", "pattern": "(a"}}}}}
        got = schema.check_structural(s)
        sp = self.P + ".properties[spec].properties"
        self.assertEqual(got, [
            cause("FieldValueInvalid", sp + "[p].pattern",
                  'Invalid value: "(a": must be a valid regular expression, but isn\'t: error parsing regexp: missing closing ): `(a`'),
            cause("FieldValueRequired", sp + "[l].x-kubernetes-list-map-keys", "Required value: must not be empty if x-kubernetes-list-type is map"),
            cause("FieldValueRequired", sp + "[m].items.properties[k].default",
                  "Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"),
            cause("FieldValueInvalid", sp + "[n].default", "Invalid value: 5: " + sp + "[n].default in body should be less than or equal to 3"),
            cause("FieldValueForbidden", sp + "[u].uniqueItems",
                  "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic")])

    def test_transition_rule_on_uncorrelatable_items(self):
        s = {"type": "object", "properties": {"l": {"type": "array", "maxItems": 10, "items": {
            "type": "string", "maxLength": 10, "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}}}
        got = schema.check_structural(s)
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0]["message"].endswith(
            "oldSelf cannot be used on the uncorrelatable portion of the schema within " + self.P + ".properties[l].items"),
            got[0]["message"])


if __name__ == "__main__":
    unittest.main()


class RuleCost(unittest.TestCase):
    P = "spec.versions[0].schema.openAPIV3Schema"
    MSG = ("Forbidden: estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, "
           "or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)")

    def test_unbounded_rules_are_refused(self):
        s = {"type": "object", "properties": {
            "l": {"type": "array", "items": {"type": "string"},
                  "x-kubernetes-validations": [{"rule": "self.all(x, x.startsWith('a'))"}]},
            "m": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "string"}},
                                             "x-kubernetes-validations": [{"rule": "self.n.startsWith('a')"}]}}}}
        self.assertEqual(schema.check_structural(s), [
            cause("FieldValueForbidden", self.P + ".properties[l].x-kubernetes-validations[0].rule", self.MSG),
            cause("FieldValueForbidden", self.P + ".properties[m].items.x-kubernetes-validations[0].rule", self.MSG)])

    def test_bounded_or_cheap_rules_are_accepted(self):
        s = {"type": "object", "properties": {
            "l": {"type": "array", "maxItems": 64, "items": {"type": "string", "maxLength": 63},
                  "x-kubernetes-validations": [{"rule": "self.all(x, x.startsWith('a'))"}]},
            "u": {"type": "array", "items": {"type": "string"},
                  "x-kubernetes-validations": [{"rule": "self.size() <= 10"}, {"rule": "self.all(x, x != '')"}]},
            "n": {"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('a')"}]}}}
        self.assertEqual(schema.check_structural(s), [])
