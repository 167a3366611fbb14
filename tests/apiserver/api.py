"""Resource verbs (reference §4): create, get, list, update, patch, delete, deletecollection,
watch, and the status / scale / finalize subresources."""

import base64
import json
import re
import time

import crd as crdmod
import errors
import kinds
import patch as patchmod
import protobuf
import ssa
import util
import watch as watchmod
import yamlish
from errors import APIError, bad_request, cause
from labelsel import parse_fields, parse_labels, selector_string
from store import Expired, FutureRevision
from util import clone

try:
    import schema as schema_mod
except ImportError:  # pragma: no cover
    schema_mod = None
try:
    import table as table_mod
except ImportError:  # pragma: no cover
    table_mod = None
try:
    import openapi as openapi_mod
except ImportError:  # pragma: no cover
    openapi_mod = None

PROTOBUF = "application/vnd.kubernetes.protobuf"
BODY_TYPES = ("application/json", "application/yaml", PROTOBUF)
BODY_TYPES_MSG = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"


class Response:
    __slots__ = ("code", "body", "ctype", "headers", "streamed")

    def __init__(self, code, body=b"", ctype="application/json", headers=None):
        self.code = code
        self.body = body
        self.ctype = ctype
        self.headers = headers or []
        self.streamed = False


def json_response(code, obj, warnings=None):
    headers = [("Warning", '299 - "%s"' % w.replace('"', '\\"')) for w in (warnings or [])]
    return Response(code, util.dumpb(obj), "application/json", headers)


def stored_response(code, presented, stored, warnings=None):
    """json_response for the presentation of an object just written: when it is the object
    itself (no version conversion), its text is kept for the watch events and the state
    file."""
    if presented is not stored:
        return json_response(code, presented, warnings)
    headers = [("Warning", '299 - "%s"' % w.replace('"', '\\"')) for w in (warnings or [])]
    return Response(code, util.dumpb_stored(stored), "application/json", headers)


class Ctx:
    """Per-request options."""

    def __init__(self, req, info):
        q = req.query
        self.req = req
        self.info = info
        self.rt = info.rt
        self.sub = info.subresource or ""
        self.dry = "dryRun" in q and q.get("dryRun") != ""
        if self.dry and q.get("dryRun") != "All":
            raise errors.invalid("DryRun", "", [kinds.unsupported("dryRun", q.get("dryRun"), ["All"])])
        ua = req.headers.get("user-agent", "")
        self.manager = q.get("fieldManager") or ua.split("/")[0] or "unknown"
        fv = q.get("fieldValidation", "")
        if fv not in ("", "Ignore", "Warn", "Strict"):
            raise bad_request('fieldValidation: Invalid value: "%s": fieldValidation must be one '
                              'of "Ignore", "Warn", or "Strict"' % fv)
        self.validation = fv or "Warn"
        self.warnings = []


def table_wanted(accept):
    return accept and "as=Table" in accept


class ResourceAPI:
    def __init__(self, app):
        self.app = app
        self.store = app.store

    # ---- presentation -------------------------------------------------------------------------
    def present(self, rt, obj):
        """Stored object -> what the endpoint serves (version, events.k8s.io view)."""
        if rt.storage_key == "events" and rt.group == "events.k8s.io":
            return kinds.event_to_v1(obj)
        if obj.get("apiVersion") != rt.api_version:
            obj = dict(obj)
            obj["apiVersion"] = rt.api_version
        if rt.crd is not None and rt.schema() and schema_mod is not None:
            return obj
        return obj

    def to_storage(self, rt, obj):
        if rt.storage_key == "events" and rt.group == "events.k8s.io":
            return kinds.event_from_v1(obj)
        if rt.crd is not None and rt.storage_version != rt.version:
            obj["apiVersion"] = rt.group + "/" + rt.storage_version
        return obj

    # ---- body decoding ------------------------------------------------------------------------
    def decode(self, req, rt=None, allowed=BODY_TYPES):
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "":
            ctype = "application/json"
        if ctype not in allowed:
            raise errors.unsupported_media(BODY_TYPES_MSG)
        if ctype == PROTOBUF:
            if rt is None or rt.crd is not None:
                raise errors.unsupported_media(["application/json", "application/yaml"])
            try:
                return protobuf.decode(req.body, rt.api_version, rt.kind)
            except protobuf.ProtoError:
                raise errors.unsupported_media(BODY_TYPES_MSG) from None
        return decode_bytes(req.body, ctype)

    def check_kind(self, rt, obj, body_text=None):
        if not isinstance(obj, dict):
            raise bad_request("couldn't get version/kind; json parse error: json: cannot "
                              "unmarshal %s into Go value of type struct { APIVersion string "
                              "\"json:\\\"apiVersion,omitempty\\\"\"; Kind string "
                              "\"json:\\\"kind,omitempty\\\"\" }" % _json_kind(obj))
        kind = obj.get("kind")
        av = obj.get("apiVersion")
        if rt.crd is not None:
            if not kind:
                raise bad_request("Object 'Kind' is missing in '%s'" % util.dumps(obj)[:1024])
            if not av:
                raise bad_request("Object 'apiVersion' is missing in '%s'" % util.dumps(obj)[:1024])
        else:
            obj.setdefault("kind", rt.kind)
            obj.setdefault("apiVersion", rt.api_version)
            kind = obj["kind"]
            av = obj["apiVersion"]
        if av != rt.api_version:
            raise bad_request("the API version in the data (%s) does not match the expected API "
                              "version (%s)" % (av, rt.api_version))
        if kind != rt.kind:
            if rt.crd is not None:
                raise errors.invalid_for(rt, (obj.get("metadata") or {}).get("name", ""),
                                         [kinds.inv("kind", kind, "must be " + rt.kind)])
            raise bad_request("the object provided is unrecognized (must be of type %s): "
                              "object kind %s does not match %s" % (rt.kind, kind, rt.kind))
        if not isinstance(obj.get("metadata", {}), dict):
            raise bad_request("%s in version \"%s\" cannot be handled as a %s: json: cannot "
                              "unmarshal %s into Go struct field Object.metadata of type "
                              "v1.ObjectMeta" % (rt.kind, rt.version, rt.kind,
                                                 _json_kind(obj.get("metadata"))))
        obj.setdefault("metadata", {})

    # ---- CR schema handling -------------------------------------------------------------------
    def cr_admit(self, ctx, obj, old, name, on_patch=False):
        """Prune, default and validate a CR against its version's schema."""
        rt = ctx.rt
        sch = rt.schema()
        if sch is None or schema_mod is None:
            return
        self._report_unknown(ctx, schema_mod.prune(obj, sch), name, on_patch)
        schema_mod.apply_defaults(obj, sch)

    def _report_unknown(self, ctx, pruned, name, on_patch):
        """fieldValidation for dropped unknown fields: Strict fails, Warn warns, Ignore not."""
        if not pruned:
            return
        rt = ctx.rt
        if ctx.validation == "Strict":
            msg = ", ".join('unknown field "%s"' % p for p in pruned)
            if on_patch:
                raise errors.invalid_for(rt, name, [cause(
                    "FieldValueInvalid", "patch", "Invalid value: \"...\": strict decoding "
                    "error: " + msg)])
            raise bad_request('%s in version "%s" cannot be handled as a %s: strict decoding '
                              "error: %s" % (rt.kind, rt.version, rt.kind, msg))
        if ctx.validation == "Warn":
            ctx.warnings += ['unknown field "%s"' % p for p in pruned]

    def builtin_admit(self, ctx, obj, name, on_patch=False):
        """Unknown fields of a built-in object sent by a client are dropped and reported (as
        decoding into the Go types does)."""
        rt = ctx.rt
        if ctx.req is None or rt.crd is not None or rt.storage_key == "events" or \
                schema_mod is None:
            return
        sch = self.builtin_schema(rt)
        if sch is not None:
            self._report_unknown(ctx, schema_mod.prune(obj, sch), name, on_patch)

    def cr_validate(self, ctx, obj, old):
        rt = ctx.rt
        sch = rt.schema()
        if sch is None or schema_mod is None:
            return []
        return schema_mod.validate(obj, sch, old)

    def typer(self, rt):
        t = getattr(rt, "_typer", None)
        if t is None:
            if rt.crd is not None:
                t = patchmod.SchemaListTyper(rt.schema())
            else:
                meta = None
                if openapi_mod is not None:
                    try:
                        meta = openapi_mod.patch_meta(rt.group, rt.version, rt.kind)
                    except (KeyError, ValueError):
                        meta = None
                t = patchmod.KindTyper(meta)
            rt._typer = t
        return t

    def builtin_schema(self, rt):
        """Structural schema of a built-in kind (for unknown-field detection), or None."""
        s = getattr(rt, "_schema", False)
        if s is False:
            s = None
            if openapi_mod is not None and rt.crd is None:
                try:
                    s = openapi_mod.builtin_schema(rt.group, rt.version, rt.kind)
                except (KeyError, ValueError):
                    s = None
            rt._schema = s
        return s

    # ---- get -------------------------------------------------------------------------------
    def get(self, req, info):
        rt = info.rt
        self._wait_rv(req.query.get("resourceVersion"))
        obj = self.store.get(rt.storage_key, info.namespace, info.name)
        if obj is None:
            raise errors.not_found(rt, info.name)
        sub = info.subresource or ""
        if sub == "scale":
            return json_response(200, self.scale_of(rt, obj))
        out = self.present(rt, obj)
        if table_wanted(req.headers.get("accept")) and table_mod is not None:
            return json_response(200, self.table(rt, [out], req.query, self.store.rv))
        return json_response(200, out)

    def _wait_rv(self, rv):
        if not rv or rv == "0":
            return
        try:
            want = int(rv)
        except ValueError:
            raise bad_request('invalid resource version "%s"' % rv) from None
        end = time.monotonic() + 3
        while want > self.store.rv:
            if time.monotonic() > end:
                raise APIError(504, "Timeout", "Too large resource version: %d, current: %d"
                               % (want, self.store.rv),
                               {"causes": [{"reason": "ResourceVersionTooLarge",
                                            "message": "Too large resource version"}],
                                "retryAfterSeconds": 1})
            time.sleep(0.05)

    def table(self, rt, objs, query, rv, first=True):
        include = query.get("includeObject") or "Metadata"
        t = table_mod.to_table(rt.plural, objs, crd_version=rt.crd_version,
                               include_object=include, now=time.time())
        t.setdefault("metadata", {})
        if rv is not None:
            t["metadata"]["resourceVersion"] = str(rv)
        if not first:
            t["columnDefinitions"] = None
        return t

    # ---- list ------------------------------------------------------------------------------
    def selectors(self, rt, query, name=None):
        labels = parse_labels(query.get("labelSelector"))
        fields = parse_fields(query.get("fieldSelector"))
        known = set(rt.field_fields) | {"metadata.name"}
        if rt.namespaced:
            known.add("metadata.namespace")
        for f, _, _ in fields.terms:
            if f not in known:
                if rt.crd is not None:
                    raise bad_request("field label not supported: " + f)
                raise bad_request('"%s" is not a known field selector: only "metadata.name", '
                                  '"metadata.namespace"' % f)
        if name:
            fv = fields.name_value()
            if fv is not None and fv != name:
                raise bad_request("fieldSelector metadata.name doesn't match requested name")
            fields.terms.append(("metadata.name", "=", name))
        return labels, fields

    def list(self, req, info):
        rt = info.rt
        q = req.query
        labels, fields = self.selectors(rt, q)
        rv = q.get("resourceVersion")
        rvm = q.get("resourceVersionMatch")
        cont = q.get("continue")
        if "sendInitialEvents" in q:
            raise errors.invalid("ListOptions.meta.k8s.io", "", [kinds.forbid(
                "sendInitialEvents", "sendInitialEvents is forbidden for list")],
                "meta.k8s.io", "ListOptions")
        if rvm:
            if not rv:
                raise errors.invalid("ListOptions.meta.k8s.io", "", [kinds.forbid(
                    "resourceVersionMatch", "resourceVersionMatch is forbidden unless "
                    "resourceVersion is provided")], "meta.k8s.io", "ListOptions")
            if cont:
                raise errors.invalid("ListOptions.meta.k8s.io", "", [kinds.forbid(
                    "resourceVersionMatch", "resourceVersionMatch is forbidden when continue is "
                    "provided")], "meta.k8s.io", "ListOptions")
            if rvm == "Exact" and rv == "0":
                raise errors.invalid("ListOptions.meta.k8s.io", "", [kinds.forbid(
                    "resourceVersionMatch", 'resourceVersionMatch "exact" is forbidden for '
                    'resourceVersion "0"')], "meta.k8s.io", "ListOptions")
            if rvm not in ("Exact", "NotOlderThan"):
                raise errors.invalid("ListOptions.meta.k8s.io", "", [kinds.unsupported(
                    "resourceVersionMatch", rvm, ["Exact", "NotOlderThan"])], "meta.k8s.io",
                    "ListOptions")
        if cont and rv and rv != "0":
            raise bad_request("specifying resource version is not allowed when using continue")
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise bad_request('strconv.ParseInt: parsing "%s": invalid syntax' % q.get("limit")) \
                from None
        self._wait_rv(rv)
        selective = not labels.empty() or not fields.empty()
        match = watchmod.Filter(rt, info.namespace, labels, fields,
                                lambda o: kinds.field_values(rt, o))
        # The list a continue token is kept for: a token is served for any list, as by
        # kube-apiserver, but a kept rest of a list only for the list it was made for.
        ident = (rt.storage_key, rt.api_version, rt.plural, info.namespace or "",
                 q.get("labelSelector") or "", q.get("fieldSelector") or "")
        entry = None
        if cont:
            items, pos, list_rv, entry = self._continued(rt, info, cont, ident, match, selective)
        else:
            with self.store.lock:
                items = self.store.list(rt.storage_key, info.namespace)
                list_rv = self.store.rv
            if selective:
                items = [o for o in items if match(o)]
            pos = 0
        meta = {"resourceVersion": str(list_rv)}
        if limit > 0 and len(items) - pos > limit and not (rv == "0" and not cont):
            # Every page of a paged list is the list as of its first page (etcd serves the
            # continuation at the token's revision); the rest is kept for the next page.
            end = pos + limit
            page = items[pos:end]
            token = self._encode_continue(list_rv, self._start_key(rt, info, page[-1]))
            meta["continue"] = token
            if not selective:
                meta["remainingItemCount"] = len(items) - end
            self.store.paged.put(token, ident, items, end, list_rv, entry)
        else:
            page = items[pos:] if pos else items
        objs = [self.present(rt, o) for o in page]
        if table_wanted(req.headers.get("accept")) and table_mod is not None:
            t = self.table(rt, objs, q, None)
            t["metadata"] = meta
            return json_response(200, t)
        return json_response(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                                   "metadata": meta, "items": objs})

    def _continued(self, rt, info, cont, ident, match, selective):
        """(objects in list order, index of the next page's first, the list's resourceVersion,
        the kept entry or None) for a continue token, as kube-apiserver's etcd storage serves
        it: the list as of the token's resourceVersion from the token's key on, or 410 once
        that resourceVersion is compacted (here: once watch history no longer reaches it)."""
        start, token_rv = self._decode_continue(rt, info, cont)
        if token_rv < 0:
            # a token for "the rest at the latest revision" (resourceVersion -1, what
            # kube-apiserver offers with its 410 for an expired token): today's data
            with self.store.lock:
                items = self.store.list(rt.storage_key, info.namespace)
                list_rv = self.store.rv
            items = [o for o in items if _okey(o) >= start and (not selective or match(o))]
            return items, 0, list_rv, None
        if token_rv < self.store.compacted:
            raise APIError(410, "Expired", CONTINUE_EXPIRED)
        entry = self.store.paged.take(cont, ident)
        if entry is not None:
            return entry.items, entry.pos, entry.rv, entry
        # Not kept (another list's token, a repeated page, or dropped for the memory bounds):
        # the list at that resourceVersion from the store's history.
        try:
            items = self.store.list_at(rt.storage_key, info.namespace, token_rv)
        except Expired:
            raise APIError(410, "Expired", CONTINUE_EXPIRED) from None
        except FutureRevision:
            raise APIError(500, "", "etcdserver: mvcc: required revision is a future "
                                    "revision") from None
        items = [o for o in items if _okey(o) >= start and (not selective or match(o))]
        return items, 0, token_rv, None

    @staticmethod
    def _start_key(rt, info, obj):
        """The token's start: the key after obj relative to the list's key prefix, as etcd
        storage encodes it (<name> in one namespace or for cluster-scoped resources,
        <namespace>/<name> for a list across namespaces), followed by a NUL."""
        m = obj["metadata"]
        if rt.namespaced and not info.namespace:
            return m.get("namespace", "") + "/" + m["name"] + "\u0000"
        return m["name"] + "\u0000"

    def _encode_continue(self, rv, start):
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start},
                         separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _decode_continue(self, rt, info, token):
        """(object key the list continues from, the token's resourceVersion): the checks of
        kube-apiserver's storage.DecodeContinue, each refusal a 400. The start key is taken
        relative to this list (a token carries no resource, namespace or selector)."""
        start, rv = decode_continue(token)
        if rt.namespaced and not info.namespace:
            ns, _, name = start.partition("/")
            return (ns, name), rv
        return (info.namespace or "", start), rv

    # ---- watch -----------------------------------------------------------------------------
    def watch(self, req, info, conn):
        rt = info.rt
        q = req.query
        labels, fields = self.selectors(rt, q, info.name)
        rv = q.get("resourceVersion", "")
        rvm = q.get("resourceVersionMatch")
        send_initial = util.truthy(q.get("sendInitialEvents", ""))
        if "sendInitialEvents" in q:
            if rvm != "NotOlderThan":
                raise errors.invalid("ListOptions.meta.k8s.io", "", [kinds.forbid(
                    "resourceVersionMatch", "sendInitialEvents requires setting "
                    "resourceVersionMatch to NotOlderThan")], "meta.k8s.io", "ListOptions")
        elif rvm:
            raise errors.invalid("ListOptions.meta.k8s.io", "", [kinds.forbid(
                "resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless "
                "sendInitialEvents is provided")], "meta.k8s.io", "ListOptions")
        if send_initial or rv in ("", "0"):
            start = None
        else:
            try:
                start = int(rv)
            except ValueError:
                raise bad_request('invalid resource version "%s"' % rv) from None
        ts = q.get("timeoutSeconds")
        if ts:
            try:
                timeout = float(int(ts))
            except ValueError:
                raise bad_request('strconv.ParseInt: parsing "%s": invalid syntax' % ts) from None
        else:
            timeout = watchmod.default_timeout()
        bookmarks = util.truthy(q.get("allowWatchBookmarks", ""))
        match = watchmod.Filter(rt, info.namespace, labels, fields,
                                lambda o: kinds.field_values(rt, o))
        if table_wanted(req.headers.get("accept")) and table_mod is not None:
            state = {"first": True}

            def present(o):
                t = self.table(rt, [self.present(rt, o)], q, None, state["first"])
                t["metadata"] = {"resourceVersion": o["metadata"].get("resourceVersion", "")}
                state["first"] = False
                return t
        else:
            def present(o):
                return self.present(rt, o)
        plain = not (table_wanted(req.headers.get("accept")) and table_mod is not None)
        stream = watchmod.WatchStream(self.app, conn, rt, match, start, timeout, bookmarks,
                                      send_initial, present,
                                      cache_key=(rt.api_version, rt.group) if plain else None)
        stream.run()
        r = Response(200)
        r.streamed = True
        return r

    # ---- create ----------------------------------------------------------------------------
    def create(self, req, info, body=None):
        ctx = Ctx(req, info)
        rt = ctx.rt
        if info.name and info.verb == "create":
            raise errors.method_not_allowed()
        obj = body if body is not None else self.decode(req, rt)
        self.check_kind(rt, obj)
        obj = self.to_storage(rt, obj)
        code, out = self.do_create(ctx, obj)
        return stored_response(code, self.present(rt, out), out, ctx.warnings)

    def _namespace_admission(self, rt, ns, name):
        if not rt.namespaced:
            return
        nso = self.store.get("namespaces", "", ns)
        if nso is None:
            raise errors.namespace_not_found(ns)
        if nso["metadata"].get("deletionTimestamp"):
            raise APIError(403, "Forbidden", '%s "%s" is forbidden: unable to create new content '
                           "in namespace %s because it is being terminated"
                           % (rt.qualified_resource, name, ns),
                           {"name": name, "group": rt.group, "kind": rt.plural,
                            "causes": [{"reason": "NamespaceTerminating",
                                        "message": "namespace %s is being terminated" % ns,
                                        "field": "metadata.namespace"}]}
                           if rt.group else
                           {"name": name, "kind": rt.plural,
                            "causes": [{"reason": "NamespaceTerminating",
                                        "message": "namespace %s is being terminated" % ns,
                                        "field": "metadata.namespace"}]})

    def do_create(self, ctx, obj, managed_ready=False):
        """Create obj (storage form) under ctx; returns (201, stored object)."""
        rt = ctx.rt
        info = ctx.info
        m = obj["metadata"]
        ns = info.namespace
        if rt.namespaced:
            bns = m.get("namespace")
            if bns and bns != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            m["namespace"] = ns
        else:
            m.pop("namespace", None)
        if info.name and m.get("name") and m["name"] != info.name:
            raise bad_request("the name of the object (%s) does not match the name on the URL "
                              "(%s)" % (m["name"], info.name))
        if info.name and not m.get("name"):
            m["name"] = info.name
        if m.get("resourceVersion"):
            raise APIError(500, "", "resourceVersion should not be set on objects to be created")
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation", "selfLink"):
            m.pop(f, None)
        if not managed_ready:
            m.pop("managedFields", None)
        if rt.status_subresource and rt.crd is not None:
            obj.pop("status", None)
        kinds.prepare_create(rt, obj)
        if rt.crd is not None:
            self.cr_admit(ctx, obj, None, m.get("name", ""))
        else:
            self.builtin_admit(ctx, obj, m.get("name", ""))
            if rt.plural == "customresourcedefinitions":
                crdmod.apply_defaults(obj)
        kinds.default(rt, obj)
        if rt.storage_key == "events":
            kinds.event_core_defaults(obj)
        with self.store.lock:
            self._namespace_admission(rt, ns, m.get("name") or m.get("generateName", ""))
            if not m.get("name") and m.get("generateName"):
                base = m["generateName"][:58]
                for _ in range(8):
                    cand = base + util.random_suffix()
                    if self.store.get(rt.storage_key, ns, cand) is None:
                        break
                m["name"] = cand
            if rt.plural == "namespaces" and not rt.group and m.get("name"):
                kinds.set_namespace_label(obj)
            name = m.get("name", "")
            causes = kinds.validate_meta(rt, obj)
            causes += kinds.validate(rt, obj)
            if rt.crd is not None:
                causes += self.cr_validate(ctx, obj, None)
            elif rt.plural == "customresourcedefinitions":
                causes += crdmod.validate(obj)
            if causes:
                raise errors.invalid_for(rt, name, causes)
            self.app.admission.validate(ctx, obj, None)
            existing = self.store.get(rt.storage_key, ns, name)
            if existing is not None:
                raise errors.already_exists(
                    rt, name, bool(existing["metadata"].get("deletionTimestamp")))
            m["uid"] = util.new_uid()
            m["creationTimestamp"] = util.now_rfc3339()
            if rt.generation:
                m["generation"] = 1
            self.app.admit_create(rt, obj)
            if not managed_ready:
                ssa.track_update(None, obj, ctx.manager, rt.api_version, self.typer(rt),
                                 ctx.sub)
            if ctx.dry:
                return 201, obj
            stored = self.store.create(rt.storage_key, obj)
            self.app.after_write(rt, stored, None)
        return 201, stored

    # ---- update ------------------------------------------------------------------------------
    def update(self, req, info):
        ctx = Ctx(req, info)
        rt = ctx.rt
        body = self.decode(req, rt)
        if ctx.sub == "scale":
            return self.update_scale(ctx, body, None)
        self.check_kind(rt, body)
        self._check_name_ns(rt, info, body)
        body = self.to_storage(rt, body)
        with self.store.lock:
            old = self.store.get(rt.storage_key, info.namespace, info.name)
            if old is None:
                if rt.create_on_update and not ctx.sub:
                    code, out = self.do_create(ctx, body)
                    return stored_response(code, self.present(rt, out), out, ctx.warnings)
                raise errors.not_found(rt, info.name)
            out = self.do_update(ctx, body, old, "update")
        return stored_response(200, self.present(rt, out), out, ctx.warnings)

    def _check_name_ns(self, rt, info, body):
        m = body["metadata"]
        if m.get("name", "") != info.name:
            raise bad_request("the name of the object (%s) does not match the name on the URL "
                              "(%s)" % (m.get("name", ""), info.name))
        if rt.namespaced:
            if m.get("namespace") and m["namespace"] != info.namespace:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            m["namespace"] = info.namespace
        else:
            m.pop("namespace", None)

    def do_update(self, ctx, new, old, op, managed_ready=False, check_rv=True, raw=False):
        """The shared update pipeline for PUT, PATCH and apply. Caller holds the store lock.
        raw: an internal write that sets spec and status together (scheduler + kubelet)."""
        rt = ctx.rt
        sub = ctx.sub
        m = new.setdefault("metadata", {})
        om = old["metadata"]
        name = om["name"]
        rvb = m.get("resourceVersion")
        if check_rv:
            if not rvb:
                if not rt.unconditional_update and op == "update":
                    raise errors.invalid(rt.qualified_resource, name, [cause(
                        "FieldValueInvalid", "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update")], rt.group,
                        rt.plural)
            elif rvb != om.get("resourceVersion"):
                raise errors.stale(rt, name)
        if m.get("uid") and m["uid"] != om.get("uid"):
            raise errors.invalid_for(rt, name, [kinds.immutable("metadata.uid", m["uid"])])
        if sub == "status":
            body = new
            new = dict(old)
            new["metadata"] = dict(om)
            if "managedFields" in body["metadata"]:
                new["metadata"]["managedFields"] = body["metadata"]["managedFields"]
            if "status" in body:
                new["status"] = body["status"]
            else:
                new.pop("status", None)
            m = new["metadata"]
        elif sub == "finalize":
            body = new
            new = dict(old)
            new["metadata"] = dict(om)
            spec = dict(old.get("spec") or {})
            spec["finalizers"] = (body.get("spec") or {}).get("finalizers") or []
            if not spec["finalizers"]:
                spec.pop("finalizers")
            new["spec"] = spec
            m = new["metadata"]
        elif rt.status_subresource and not raw:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation", "name", "namespace"):
            if f in om:
                m[f] = om[f]
            else:
                m.pop(f, None)
        m["resourceVersion"] = om.get("resourceVersion")
        if rt.plural == "namespaces" and not rt.group:
            kinds.set_namespace_label(new)
            if sub != "finalize":
                new["spec"] = old.get("spec") if "spec" in old else new.get("spec")
                if new.get("spec") is None:
                    new.pop("spec", None)
        if rt.crd is None and not raw:
            self.builtin_admit(ctx, new, name, on_patch=(op == "patch"))
        if rt.crd is not None and sub != "status":
            self.cr_admit(ctx, new, old, name, on_patch=(op == "patch"))
        elif rt.crd is not None:
            if schema_mod is not None and rt.schema():
                schema_mod.prune(new, rt.schema())
                schema_mod.apply_defaults(new, rt.schema())
        elif rt.plural == "customresourcedefinitions":
            crdmod.apply_defaults(new)
        if not (sub == "status" and "spec" in old and new.get("spec") is old["spec"]):
            # (built-in defaults are set in spec only, and a status write keeps the stored
            # spec, defaulted when it was written: nothing to do)
            kinds.default(rt, new)
        if rt.storage_key == "events":
            kinds.event_core_defaults(new)
        if rt.generation and "generation" in om:
            if _spec_changed(rt, old, new):
                m["generation"] = om["generation"] + 1
        causes = []
        if om.get("deletionTimestamp"):
            added = [f for f in (m.get("finalizers") or []) if f not in (om.get("finalizers") or [])]
            if added:
                causes.append(kinds.forbid("metadata.finalizers", "no new finalizers can be added "
                                           "if the object is being deleted, found new finalizers "
                                           "[]string{%s}" % ", ".join('"%s"' % f for f in added)))
        causes += kinds.validate_meta(rt, new, old)
        causes += kinds.validate(rt, new, old)
        if rt.crd is not None:
            causes += self.cr_validate(ctx, new, old)
        elif rt.plural == "customresourcedefinitions":
            causes += crdmod.validate(new, old)
        if causes:
            raise errors.invalid_for(rt, name, causes)
        self.app.admission.validate(ctx, new, old)
        if not managed_ready:
            ssa.track_update(old, new, ctx.manager, rt.api_version, self.typer(rt), sub)
        if not m.get("managedFields"):
            m.pop("managedFields", None)
        if _same(new, old):
            return old
        if ctx.dry:
            return new
        if om.get("deletionTimestamp") and not m.get("finalizers") and \
                not (rt.plural == "pods" and not rt.group) and \
                not (rt.plural == "namespaces" and not rt.group):
            final = self.store.delete(rt.storage_key, new)
            self.app.after_write(rt, None, old)
            out = dict(new)
            out["metadata"] = dict(new["metadata"])
            out["metadata"]["resourceVersion"] = final["metadata"]["resourceVersion"]
            return out
        stored = self.store.update(rt.storage_key, new, old)
        self.app.after_write(rt, stored, old)
        return stored

    # ---- patch ---------------------------------------------------------------------------
    def patch(self, req, info):
        ctx = Ctx(req, info)
        rt = ctx.rt
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        types = rt.patch_types() if ctx.sub != "scale" else patchmod_scale_types()
        if ctype not in types:
            raise errors.unsupported_media(types)
        force = req.query.get("force")
        if ctype != "application/apply-patch+yaml" and force is not None:
            raise errors.invalid("PatchOptions.meta.k8s.io", "", [kinds.forbid(
                "force", "may not be specified for non-apply patch")], "meta.k8s.io",
                "PatchOptions")
        if ctype == "application/apply-patch+yaml":
            return self.apply(ctx, req, util.truthy(force or ""))
        try:
            p = util.loads(req.body.decode("utf-8") if req.body else "null")
        except (ValueError, UnicodeDecodeError) as e:
            raise bad_request("error decoding patch: %s" % e) from None
        if ctype == "application/json-patch+json":
            if not isinstance(p, list):
                raise bad_request("json: cannot unmarshal %s into Go value of type "
                                  "jsonpatch.Patch" % _json_kind(p))
        elif not isinstance(p, dict):
            raise bad_request("json: cannot unmarshal %s into Go value of type "
                              "map[string]interface {}" % _json_kind(p))
        if ctx.sub == "scale":
            return self.update_scale(ctx, p, ctype)
        with self.store.lock:
            old = self.store.get(rt.storage_key, info.namespace, info.name)
            if old is None:
                raise errors.not_found(rt, info.name)
            cur = self.present(rt, old)
            if ctype == "application/json-patch+json":
                new = patchmod.json_patch(cur, p)
            elif ctype == "application/merge-patch+json":
                new = patchmod.merge_patch(cur, p)
            else:
                new = patchmod.strategic_merge(cur, p, merge_key=self.typer(rt).merge_key)
            if not isinstance(new, dict) or not isinstance(new.get("metadata", {}), dict):
                raise bad_request("the patch produced an object that is not a valid %s" % rt.kind)
            new = clone(new)
            if new.get("apiVersion") != rt.api_version or new.get("kind") != rt.kind:
                raise bad_request("the API version in the data (%s) does not match the expected "
                                  "API version (%s)" % (new.get("apiVersion"), rt.api_version))
            nm = new.setdefault("metadata", {})
            if nm.get("name") != info.name:
                raise bad_request("the name of the object (%s) does not match the name on the "
                                  "URL (%s)" % (nm.get("name", ""), info.name))
            new = self.to_storage(rt, new)
            out = self.do_update(ctx, new, old, "patch")
        return stored_response(200, self.present(rt, out), out, ctx.warnings)

    def apply(self, ctx, req, force):
        rt = ctx.rt
        info = ctx.info
        if not ctx.req.query.get("fieldManager"):
            raise errors.invalid("PatchOptions.meta.k8s.io", "", [kinds.req(
                "fieldManager", "is required for apply patch")], "meta.k8s.io", "PatchOptions")
        applied = decode_bytes(req.body, "application/yaml")
        if not isinstance(applied, dict):
            raise bad_request("error decoding YAML: the body is not an object")
        if applied.get("apiVersion") != rt.api_version:
            raise bad_request("Incorrect version specified in apply patch. Specified patch "
                              "version: %s, expected: %s" % (applied.get("apiVersion", ""),
                                                             rt.api_version))
        if applied.get("kind") != rt.kind:
            raise bad_request("Incorrect kind specified in apply patch. Specified patch kind: %s,"
                              " expected: %s" % (applied.get("kind", ""), rt.kind))
        am = applied.get("metadata")
        if not isinstance(am, dict):
            raise bad_request("metadata.name: Required value: name is required")
        if am.get("managedFields") is not None:
            raise bad_request("metadata.managedFields must be nil")
        if am.get("name", info.name) != info.name:
            raise bad_request("the name of the object (%s) does not match the name on the URL "
                              "(%s)" % (am.get("name"), info.name))
        if rt.namespaced and am.get("namespace") and am["namespace"] != info.namespace:
            raise bad_request("the namespace of the provided object does not match the namespace "
                              "sent on the request")
        sch = rt.schema() if rt.crd is not None else (
            self.builtin_schema(rt) if rt.storage_key != "events" else None)
        if sch and schema_mod is not None:
            probe = clone(applied)
            pruned = schema_mod.prune(probe, sch)
            if pruned and ctx.validation == "Strict":
                raise bad_request("error strict decoding YAML: " + ", ".join(
                    'unknown field "%s"' % p for p in pruned))
            if pruned and ctx.validation == "Warn":
                ctx.warnings += ['unknown field "%s"' % p for p in pruned]
            applied = probe
        typer = self.typer(rt)
        excl = rt.status_subresource and not ctx.sub
        with self.store.lock:
            old = self.store.get(rt.storage_key, info.namespace, info.name)
            live = self.present(rt, old) if old is not None else None
            merged = ssa.apply(live, applied, ctx.manager, rt.api_version, force, typer,
                               ctx.sub, excl)
            merged["metadata"]["name"] = info.name
            if old is None:
                if ctx.sub:
                    raise errors.not_found(rt, info.name)
                merged.setdefault("apiVersion", rt.api_version)
                merged.setdefault("kind", rt.kind)
                merged = self.to_storage(rt, merged)
                code, out = self.do_create(ctx, merged, managed_ready=True)
                return stored_response(code, self.present(rt, out), out, ctx.warnings)
            merged = self.to_storage(rt, merged)
            out = self.do_update(ctx, merged, old, "apply", managed_ready=True)
        return stored_response(200, self.present(rt, out), out, ctx.warnings)

    # ---- scale --------------------------------------------------------------------------------
    def _scale_paths(self, rt):
        if rt.crd is not None:
            sc = (rt.crd_version.get("subresources") or {}).get("scale") or {}
            return (tuple(sc.get("specReplicasPath", ".spec.replicas")[1:].split(".")),
                    tuple(sc.get("statusReplicasPath", ".status.replicas")[1:].split(".")),
                    sc.get("labelSelectorPath"))
        return (("spec", "replicas"), ("status", "replicas"), None)

    def scale_of(self, rt, obj):
        sp, stp, lsp = self._scale_paths(rt)
        m = obj["metadata"]
        replicas = util.get_path(obj, sp)
        if rt.crd is None:
            sel = selector_string((obj.get("spec") or {}).get("selector") or {})
        else:
            sel = util.get_path(obj, tuple(lsp[1:].split("."))) if lsp else ""
        status = {"replicas": util.get_path(obj, stp) or 0}
        if sel:
            status["selector"] = sel
        meta = {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                  "creationTimestamp") if k in m}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta,
                "spec": {"replicas": replicas} if replicas is not None else {}, "status": status}

    def update_scale(self, ctx, body, ctype):
        rt = ctx.rt
        info = ctx.info
        with self.store.lock:
            old = self.store.get(rt.storage_key, info.namespace, info.name)
            if old is None:
                raise errors.not_found(rt, info.name)
            cur = self.scale_of(rt, old)
            if ctype is None:
                new_scale = body
                rv = (body.get("metadata") or {}).get("resourceVersion")
                if rv and rv != old["metadata"]["resourceVersion"]:
                    raise errors.stale(rt, info.name)
            elif ctype == "application/json-patch+json":
                new_scale = patchmod.json_patch(cur, body)
            else:
                new_scale = patchmod.merge_patch(cur, body)
            replicas = (new_scale.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise errors.invalid("Scale.autoscaling", info.name, [kinds.inv(
                    "spec.replicas", replicas, "must be greater than or equal to 0")],
                    "autoscaling", "Scale")
            new = clone(old)
            sp = self._scale_paths(rt)[0]
            node = new
            for p in sp[:-1]:
                node = node.setdefault(p, {})
            node[sp[-1]] = replicas
            sctx = Ctx(ctx.req, info)
            sctx.sub = ""
            out = self.do_update(sctx, new, old, "patch", check_rv=False)
        return json_response(200, self.scale_of(rt, out))

    # ---- delete ------------------------------------------------------------------------------
    def delete_options(self, req):
        opts = {}
        if req.body and req.body.strip():
            ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype == PROTOBUF:
                try:
                    opts = protobuf.decode(req.body, "v1", "DeleteOptions")
                except protobuf.ProtoError:
                    raise errors.unsupported_media(BODY_TYPES_MSG) from None
            else:
                opts = decode_bytes(req.body, "application/json")
            if not isinstance(opts, dict):
                raise bad_request("the body of the request was in an unknown format")
        q = req.query
        if "gracePeriodSeconds" in q and "gracePeriodSeconds" not in opts:
            try:
                opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
            except ValueError:
                raise bad_request("invalid gracePeriodSeconds") from None
        if "propagationPolicy" in q and "propagationPolicy" not in opts:
            opts["propagationPolicy"] = q["propagationPolicy"]
        if "orphanDependents" in q and "orphanDependents" not in opts:
            opts["orphanDependents"] = util.truthy(q["orphanDependents"])
        pp = opts.get("propagationPolicy")
        if pp is not None and pp not in ("Orphan", "Background", "Foreground"):
            raise errors.invalid("DeleteOptions.meta.k8s.io", "", [kinds.unsupported(
                "propagationPolicy", pp, ["Background", "Foreground", "Orphan"])], "meta.k8s.io",
                "DeleteOptions")
        if pp is not None and opts.get("orphanDependents") is not None:
            raise errors.invalid("DeleteOptions.meta.k8s.io", "", [kinds.inv(
                "propagationPolicy", pp, "orphanDependents and deletionPropagation cannot be "
                "both set")], "meta.k8s.io", "DeleteOptions")
        return opts

    def delete(self, req, info):
        ctx = Ctx(req, info)
        rt = ctx.rt
        opts = self.delete_options(req)
        with self.store.lock:
            obj = self.store.get(rt.storage_key, info.namespace, info.name)
            if obj is None:
                raise errors.not_found(rt, info.name)
            code, out = self.do_delete(ctx, obj, opts)
        if out is None:
            m = obj["metadata"]
            details = {"name": m["name"]}
            if rt.group:
                details["group"] = rt.group
            details["kind"] = rt.plural
            details["uid"] = m.get("uid")
            return json_response(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                       "status": "Success", "details": details})
        return json_response(code, self.present(rt, out))

    def do_delete(self, ctx, obj, opts):
        """Returns (code, object) when the object stays (finalizers) or is returned, or
        (200, None) for an immediate removal answered with Status Success."""
        rt = ctx.rt
        m = obj["metadata"]
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != m.get("uid"):
            raise APIError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the UID in '
                           "the precondition (%s) does not match the UID in record (%s). The "
                           "object might have been deleted and then recreated"
                           % (rt.qualified_kind, m["name"], pre["uid"], m.get("uid")),
                           {"name": m["name"], "group": rt.group, "kind": rt.kind}
                           if rt.group else {"name": m["name"], "kind": rt.kind})
        if pre.get("resourceVersion") and pre["resourceVersion"] != m.get("resourceVersion"):
            raise APIError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the '
                           "ResourceVersion in the precondition (%s) does not match the "
                           "ResourceVersion in record (%s). The object might have been modified"
                           % (rt.qualified_kind, m["name"], pre["resourceVersion"],
                              m.get("resourceVersion")),
                           {"name": m["name"], "group": rt.group, "kind": rt.kind}
                           if rt.group else {"name": m["name"], "kind": rt.kind})
        is_pod = rt.plural == "pods" and not rt.group
        is_ns = rt.plural == "namespaces" and not rt.group
        is_crd = rt.plural == "customresourcedefinitions"
        if m.get("deletionTimestamp"):
            if is_pod and opts.get("gracePeriodSeconds") == 0:
                if ctx.dry:
                    return 200, obj
                final = self.store.delete(rt.storage_key, obj)
                self.app.after_write(rt, None, obj)
                return 200, final
            return 200, obj
        pp = opts.get("propagationPolicy")
        if pp is None and opts.get("orphanDependents") is not None:
            pp = "Orphan" if opts["orphanDependents"] else "Background"
        fins = list(m.get("finalizers") or [])
        if pp == "Orphan" and "orphan" not in fins:
            fins.append("orphan")
        elif pp == "Foreground" and "foregroundDeletion" not in fins:
            fins.append("foregroundDeletion")
        if pp in ("Orphan", "Foreground"):
            other = "foregroundDeletion" if pp == "Orphan" else "orphan"
            if other in fins:
                fins.remove(other)
        if is_crd and crdmod.CLEANUP_FINALIZER not in fins:
            fins.append(crdmod.CLEANUP_FINALIZER)
        grace = 0
        if is_pod:
            g = opts.get("gracePeriodSeconds")
            grace = g if isinstance(g, int) else int((obj.get("spec") or {}).get(
                "terminationGracePeriodSeconds", 30))
            if not (obj.get("spec") or {}).get("nodeName") or \
                    (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                grace = 0
        if fins or grace > 0 or is_ns:
            new = dict(obj)
            new["metadata"] = nm = dict(m)
            nm["deletionTimestamp"] = util.now_rfc3339(time.time() + grace)
            nm["deletionGracePeriodSeconds"] = grace
            if fins:
                nm["finalizers"] = fins
            if rt.generation and nm.get("generation"):
                nm["generation"] = nm["generation"] + 1
            if is_ns:
                new["status"] = dict(obj.get("status") or {})
                new["status"]["phase"] = "Terminating"
            if is_crd:
                crdmod.set_status(new, None)
            if ctx.dry:
                return 200, new
            stored = self.store.update(rt.storage_key, new, obj)
            self.app.after_write(rt, stored, obj)
            code = 202 if opts.get("orphanDependents") is False else 200
            return code, stored
        if ctx.dry:
            return 200, (obj if rt.return_deleted else None)
        final = self.store.delete(rt.storage_key, obj)
        self.app.after_write(rt, None, obj)
        if rt.return_deleted:
            return 200, final
        return 200, None

    def deletecollection(self, req, info):
        ctx = Ctx(req, info)
        rt = ctx.rt
        opts = self.delete_options(req)
        labels, fields = self.selectors(rt, req.query)
        match = watchmod.Filter(rt, info.namespace, labels, fields,
                                lambda o: kinds.field_values(rt, o))
        out = []
        with self.store.lock:
            for obj in self.store.list(rt.storage_key, info.namespace):
                if not match(obj):
                    continue
                code, res = self.do_delete(ctx, obj, opts)
                out.append(self.present(rt, res if res is not None else obj))
            rv = self.store.rv
        return json_response(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                                   "metadata": {"resourceVersion": str(rv)}, "items": out})


def patchmod_scale_types():
    return ["application/json-patch+json", "application/merge-patch+json",
            "application/strategic-merge-patch+json", "application/apply-patch+yaml"]


CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.")


def decode_continue(token):
    """(start key, resourceVersion) of a continue token, refused as kube-apiserver's
    storage.DecodeContinue refuses one (400 "invalid continue token: ...")."""
    def invalid(why):
        return bad_request("invalid continue token: continue key is not valid" + why)

    if not _B64URL.fullmatch(token) or len(token) % 4 == 1:
        bad = next((i for i, ch in enumerate(token) if not _B64URL.fullmatch(ch)), None)
        raise invalid(": illegal base64 data at input byte %d"
                      % (bad if bad is not None else len(token) - 1))
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    try:
        d = json.loads(raw)
    except ValueError:
        text = raw.decode("latin-1").lstrip(" \t\r\n")
        raise invalid(": unexpected end of JSON input" if not text else
                      ": invalid character %s looking for beginning of value"
                      % _go_quote_char(text[0])) from None
    if not isinstance(d, dict):
        raise invalid(": json: cannot unmarshal %s into Go value of type storage.continueToken"
                      % _json_kind(d))
    v, rv, start = d.get("v"), d.get("rv"), d.get("start")
    for name, value, ok in (("v", v, isinstance(v, str)),
                            ("rv", rv, isinstance(rv, int) and not isinstance(rv, bool)),
                            ("start", start, isinstance(start, str))):
        if value is not None and not ok:
            raise invalid(": json: cannot unmarshal %s into Go struct field continueToken.%s "
                          "of type %s" % (_json_kind(value), name,
                                          "int64" if name == "rv" else "string"))
    if v != "meta.k8s.io/v1":
        raise invalid(": server does not recognize this encoded version " + (v or ""))
    if not rv:
        raise invalid(": incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not start:
        raise invalid(": encoded start key empty (version meta.k8s.io/v1)")
    # a start key may not climb out of the list's key prefix (path.Clean must not change it)
    key = start if start.startswith("/") else "/" + start
    if _clean_rooted(key) != key:
        raise invalid(": " + start)
    return key[1:], rv


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _clean_rooted(p):
    """Go's path.Clean of a path starting with "/"."""
    out = []
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    return "/" + "/".join(out)


def _go_quote_char(ch):
    """A character as Go's %q-ish quoting in encoding/json syntax errors ('x')."""
    return "'" + (ch if ch.isprintable() else "\\x%02x" % ord(ch)) + "'"


def _okey(o):
    m = o["metadata"]
    return (m.get("namespace", ""), m["name"])


def _json_kind(v):
    if isinstance(v, list):
        return "array"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if v is None:
        return "null"
    return "object"


def decode_bytes(body, ctype):
    """Decode a request body (JSON, or YAML for application/yaml and apply patches)."""
    try:
        text = body.decode("utf-8") if body else ""
    except UnicodeDecodeError:
        raise bad_request("couldn't get version/kind; json parse error: invalid UTF-8 in request "
                          "body") from None
    if ctype == "application/json":
        if not text.strip():
            raise bad_request("couldn't get version/kind; json parse error: unexpected end of "
                              "JSON input")
        try:
            return util.loads(text)
        except ValueError as e:
            raise bad_request("couldn't get version/kind; json parse error: %s" % e) from None
    try:
        return yamlish.load(text)
    except yamlish.YAMLError as e:
        raise bad_request("error converting YAML to JSON: yaml: %s" % e) from None


def _without_meta(o, drop_status):
    return {k: v for k, v in o.items() if k != "metadata" and not (drop_status and k == "status")}


def _spec_changed(rt, old, new):
    drop = rt.status_subresource
    if _without_meta(old, drop) != _without_meta(new, drop):
        return True
    if rt.plural == "deployments" and rt.group == "apps":
        return (old["metadata"].get("annotations") or {}) != \
            (new["metadata"].get("annotations") or {})
    return False


def _same(new, old):
    """True when the write would not change the stored object (no-op rule, §3.3)."""
    if new.keys() != old.keys():
        return False
    for k, v in new.items():
        if k == "metadata":
            continue
        if old[k] != v:
            return False
    nm = new["metadata"]
    om = old["metadata"]
    keys = set(nm) | set(om)
    for k in keys:
        if k == "managedFields":
            continue
        if nm.get(k) != om.get(k):
            return False
    return True
