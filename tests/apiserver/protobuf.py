"""Decoding of application/vnd.kubernetes.protobuf request bodies for the kinds client-go's typed
clients write from kubectl generators and helm (Namespace, Secret, ConfigMap, ServiceAccount,
Lease): the 'k8s\\0' + runtime.Unknown envelope and the generated.proto field numbers of
k8s.io/api. Answers stay JSON, which those clients accept."""

import base64

from errors import bad_request
from util import now_micro, now_rfc3339

MAGIC = b"k8s\x00"


class ProtoError(Exception):
    pass


def _varint(buf, i):
    shift = 0
    out = 0
    while True:
        if i >= len(buf):
            raise ProtoError("truncated varint")
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        if not b & 0x80:
            return out, i
        shift += 7
        if shift > 70:
            raise ProtoError("varint too long")


def fields(buf):
    """Yield (field number, wire type, value) of one message."""
    i = 0
    n = len(buf)
    while i < n:
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v = int.from_bytes(buf[i:i + 8], "little")
            i += 8
        elif wt == 2:
            ln, i = _varint(buf, i)
            if i + ln > n:
                raise ProtoError("truncated field")
            v = buf[i:i + ln]
            i += ln
        elif wt == 5:
            v = int.from_bytes(buf[i:i + 4], "little")
            i += 4
        else:
            raise ProtoError("unsupported wire type %d" % wt)
        yield num, wt, v


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


TIME = {1: ("seconds", "int"), 2: ("nanos", "int")}
OWNER_REF = {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"),
             5: ("apiVersion", "str"), 6: ("controller", "bool"),
             7: ("blockOwnerDeletion", "bool")}
MANAGED = {1: ("manager", "str"), 2: ("operation", "str"), 3: ("apiVersion", "str"),
           4: ("time", "time"), 6: ("fieldsType", "str"), 7: ("fieldsV1", "fieldsv1"),
           8: ("subresource", "str")}
OBJECT_META = {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"),
               4: ("selfLink", "str"), 5: ("uid", "str"), 6: ("resourceVersion", "str"),
               7: ("generation", "int"), 8: ("creationTimestamp", "time"),
               9: ("deletionTimestamp", "time"), 10: ("deletionGracePeriodSeconds", "int"),
               11: ("labels", "map_ss"), 12: ("annotations", "map_ss"),
               13: ("ownerReferences", ("rep", OWNER_REF)), 14: ("finalizers", "rep_str"),
               17: ("managedFields", ("rep", MANAGED))}
OBJECT_REF = {1: ("kind", "str"), 2: ("namespace", "str"), 3: ("name", "str"), 4: ("uid", "str"),
              5: ("apiVersion", "str"), 6: ("resourceVersion", "str"), 7: ("fieldPath", "str")}
LOCAL_REF = {1: ("name", "str")}
CONDITION = {1: ("type", "str"), 2: ("status", "str"), 4: ("lastTransitionTime", "time"),
             5: ("reason", "str"), 6: ("message", "str")}

KINDS = {
    ("v1", "Namespace"): {1: ("metadata", OBJECT_META),
                          2: ("spec", {1: ("finalizers", "rep_str")}),
                          3: ("status", {1: ("phase", "str"),
                                         2: ("conditions", ("rep", CONDITION))})},
    ("v1", "Secret"): {1: ("metadata", OBJECT_META), 2: ("data", "map_sb"), 3: ("type", "str"),
                       4: ("stringData", "map_ss"), 5: ("immutable", "bool")},
    ("v1", "ConfigMap"): {1: ("metadata", OBJECT_META), 2: ("data", "map_ss"),
                          3: ("binaryData", "map_sb"), 4: ("immutable", "bool")},
    ("v1", "ServiceAccount"): {1: ("metadata", OBJECT_META),
                               2: ("secrets", ("rep", OBJECT_REF)),
                               3: ("imagePullSecrets", ("rep", LOCAL_REF)),
                               4: ("automountServiceAccountToken", "bool")},
    ("coordination.k8s.io/v1", "Lease"): {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("holderIdentity", "str"), 2: ("leaseDurationSeconds", "int"),
                     3: ("acquireTime", "microtime"), 4: ("renewTime", "microtime"),
                     5: ("leaseTransitions", "int"), 6: ("strategy", "str"),
                     7: ("preferredHolder", "str")})},
}
DELETE_OPTIONS = {1: ("gracePeriodSeconds", "int"),
                  2: ("preconditions", {1: ("uid", "str"), 2: ("resourceVersion", "str")}),
                  3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "str"),
                  5: ("dryRun", "rep_str")}


def _time(buf, micro=False):
    secs = nanos = 0
    for num, _, v in fields(buf):
        if num == 1:
            secs = _signed(v)
        elif num == 2:
            nanos = v
    if secs == 0 and nanos == 0 and not micro:
        return None
    return now_micro(secs + nanos / 1e9) if micro else now_rfc3339(secs)


def _map(buf, as_bytes):
    k = ""
    val = b"" if as_bytes else ""
    for num, _, v in fields(buf):
        if num == 1:
            k = v.decode("utf-8")
        elif num == 2:
            val = v if as_bytes else v.decode("utf-8")
    if as_bytes:
        val = base64.b64encode(val).decode()
    return k, val


def _fieldsv1(buf):
    import json

    for num, _, v in fields(buf):
        if num == 1:
            return json.loads(v.decode("utf-8") or "{}")
    return {}


def decode_message(buf, schema):
    out = {}
    for num, wt, v in fields(buf):
        spec = schema.get(num)
        if spec is None:
            continue
        name, typ = spec
        if typ == "str":
            out[name] = v.decode("utf-8")
        elif typ == "int":
            out[name] = _signed(v)
        elif typ == "bool":
            out[name] = bool(v)
        elif typ == "time":
            out[name] = _time(v)
        elif typ == "microtime":
            out[name] = _time(v, micro=True)
        elif typ == "rep_str":
            out.setdefault(name, []).append(v.decode("utf-8"))
        elif typ in ("map_ss", "map_sb"):
            k, val = _map(v, typ == "map_sb")
            out.setdefault(name, {})[k] = val
        elif typ == "fieldsv1":
            out[name] = _fieldsv1(v)
        elif isinstance(typ, tuple) and typ[0] == "rep":
            out.setdefault(name, []).append(decode_message(v, typ[1]))
        elif isinstance(typ, dict):
            out[name] = decode_message(v, typ)
    return _omit_empty(out)


def _omit_empty(d):
    for k in list(d):
        v = d[k]
        if v is None or v == "" or (isinstance(v, dict) and not v and k not in ("data",)):
            del d[k]
        elif k in ("generation",) and v == 0:
            del d[k]
    return d


def decode(body, expect_api_version=None, expect_kind=None):
    """JSON form of a protobuf-encoded object; raises 415-worthy ProtoError for other kinds."""
    if not body.startswith(MAGIC):
        raise bad_request("provided input is not a protobuf-encoded object")
    try:
        api_version = kind = ""
        raw = b""
        for num, _, v in fields(body[4:]):
            if num == 1:
                for n2, _, v2 in fields(v):
                    if n2 == 1:
                        api_version = v2.decode("utf-8")
                    elif n2 == 2:
                        kind = v2.decode("utf-8")
            elif num == 2:
                raw = v
        if not api_version and expect_api_version:
            api_version = expect_api_version
        if not kind and expect_kind:
            kind = expect_kind
        if kind == "DeleteOptions":
            return decode_message(raw, DELETE_OPTIONS)
        schema = KINDS.get((api_version, kind))
        if schema is None:
            raise ProtoError("no protobuf decoding for %s %s" % (api_version, kind))
        obj = {"apiVersion": api_version, "kind": kind}
        obj.update(decode_message(raw, schema))
        if kind == "Secret" and "data" in obj and not obj["data"]:
            del obj["data"]
        return obj
    except (UnicodeDecodeError, ValueError) as e:
        raise bad_request("unable to decode protobuf body: %s" % e) from None
