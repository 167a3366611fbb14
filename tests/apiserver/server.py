"""The stand-in's request pipeline: authentication, RBAC, test hooks, routing of non-resource
paths (version, health, discovery, OpenAPI, admin) and resource requests, request log."""

import gc
import hashlib
import ipaddress
import json
import os
import ssl
import sys
import threading
import time
import traceback

import admin as adminmod
import admission as admissionmod
import api as apimod
import auth
import crd as crdmod
import discovery
import errors
import rbac
import util
from collector import Collector
from controllers import SysCtx
from errors import APIError
from httpconn import TLSServer
from resources import Registry
from store import Flusher, Store
from workload import Workloads

try:
    import openapi as openapi_mod
except ImportError:  # pragma: no cover
    openapi_mod = None

CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"
NOT_FOUND = b"404 page not found\n"
VERSION = {"major": "1", "minor": "32", "emulationMajor": None, "gitVersion": "v1.32.0",
           "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53", "gitTreeState": "clean",
           "buildDate": "2024-12-11T17:59:15Z", "goVersion": "go1.23.3", "compiler": "gc",
           "platform": "linux/amd64"}
del VERSION["emulationMajor"]
HEALTH = ("/healthz", "/livez", "/readyz")


class Info:
    """Request attributes (apiserver requestinfo)."""

    __slots__ = ("verb", "group", "version", "resource", "subresource", "namespace", "name",
                 "rt", "path")

    def __init__(self):
        self.verb = ""
        self.group = ""
        self.version = ""
        self.resource = ""
        self.subresource = ""
        self.namespace = ""
        self.name = ""
        self.rt = None
        self.path = ""


def parse_resource_path(method, path, query):
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return None
    info = Info()
    info.path = path
    if parts[0] == "api":
        if len(parts) < 3:
            return None
        info.version = parts[1]
        rest = parts[2:]
    else:
        if len(parts) < 4:
            return None
        info.group = parts[1]
        info.version = parts[2]
        rest = parts[3:]
    watch_path = False
    if rest and rest[0] == "watch":
        watch_path = True
        rest = rest[1:]
        if not rest:
            return None
    if rest[0] == "namespaces" and len(rest) > 1:
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            info.namespace = rest[1]
            rest = rest[2:]
    info.resource = rest[0]
    if len(rest) > 1:
        info.name = rest[1]
    if len(rest) > 2:
        info.subresource = rest[2]
    if len(rest) > 3:
        return None
    watch = watch_path or util.truthy(query.get("watch", ""))
    if method in ("GET", "HEAD"):
        if watch:
            info.verb = "watch"
        else:
            info.verb = "get" if info.name else "list"
    elif method == "POST":
        info.verb = "create"
    elif method == "PUT":
        info.verb = "update"
    elif method == "PATCH":
        info.verb = "patch"
    elif method == "DELETE":
        info.verb = "delete" if info.name else "deletecollection"
    else:
        info.verb = method.lower()
    return info


class App:
    def __init__(self, state_dir, rbac_enabled=False, ready_delay=1.0, admission_plugins=()):
        self.state_dir = state_dir
        self.rbac = rbac_enabled
        self.admission = admissionmod.Admission(self, admission_plugins)
        self.port = 0
        self.store = Store(os.path.join(state_dir, "state.json"))
        loaded = self.store.load()
        self.registry = Registry()
        self.admin = adminmod.Admin(os.path.join(state_dir, "requests.log"))
        self.auth = auth.Authenticator(state_dir, self.store)
        self.api = apimod.ResourceAPI(self)
        self.disc = discovery.Cache(self.registry)
        self.streams = set()
        self.streams_lock = threading.Lock()
        self.openapi_cache = (None, None)
        self.builtin_openapi = None
        self.ip_lock = threading.Lock()
        # The clusterIPs and nodePorts of the stored Services, counted, kept up to date from
        # the store's events (under its lock), so that allocating one does not scan every
        # Service.
        self.svc_ips = {}
        self.svc_node_ports = {}
        with self.store.lock:
            for svc in self.store.list("services"):
                self._count_service(svc, 1)
            self.store.listeners.append(self._on_service_event)
        ca_path = os.path.join(state_dir, "ca.crt")
        with open(ca_path) as f:
            self.ca_pem = f.read()
        self.refresh_crds()
        self.collector = Collector(self)
        self.workloads = Workloads(self, ready_delay)
        if not loaded:
            self.seed()

    # ---- startup -------------------------------------------------------------------------------
    def seed(self):
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self._sys_create("namespaces", "", "", {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": ns}})
        self._sys_create("services", "", "default", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443,
                                                          "protocol": "TCP",
                                                          "targetPort": 6443}]}})
        for plural, obj in rbac.default_objects():
            self._sys_create(plural, "rbac.authorization.k8s.io", "", obj)

    def _sys_create(self, plural, group, ns, obj):
        rt = self.registry.lookup(group, "v1", plural)
        ctx = SysCtx(rt, ns, "", manager="kube-apiserver")
        ctx.info.verb = "create"
        self.api.do_create(ctx, obj)

    def start_controllers(self):
        self.collector.start()
        self.workloads.start()

    # ---- hooks from the resource API --------------------------------------------------------
    def admit_create(self, rt, obj):
        if rt.plural == "services" and not rt.group:
            self._allocate_service(obj)

    def _on_service_event(self, ev):
        if ev.key != "services":
            return
        if ev.old is not None:
            self._count_service(ev.old, -1)
        if ev.type != "DELETED":
            self._count_service(ev.obj, 1)

    def _count_service(self, svc, d):
        spec = svc.get("spec") or {}
        _count(self.svc_ips, spec.get("clusterIP"), d)
        for p in spec.get("ports") or []:
            if isinstance(p, dict) and p.get("nodePort"):
                _count(self.svc_node_ports, p["nodePort"], d)

    def _allocate_service(self, obj):
        spec = obj.setdefault("spec", {})
        if spec.get("type") == "ExternalName":
            return
        ip = spec.get("clusterIP")
        if ip == "None":
            spec["clusterIPs"] = ["None"]
        else:
            used = self.svc_ips
            ports = self.svc_node_ports
            if ip:
                try:
                    ipaddress.IPv4Address(ip)
                except ValueError:
                    raise errors.invalid("Service", obj["metadata"].get("name", ""), [
                        errors.cause("FieldValueInvalid", "spec.clusterIPs[0]",
                                     "Invalid value: %s: must be a valid IP address, (e.g. "
                                     "10.9.8.7 or 2001:db8::ffff)" % json.dumps(ip))]) from None
                if ip in used:
                    raise errors.invalid("Service", obj["metadata"].get("name", ""), [
                        errors.cause("FieldValueInvalid", "spec.clusterIPs",
                                     'Invalid value: []string{"%s"}: failed to allocate IP %s: '
                                     "provided IP is already allocated" % (ip, ip))])
            else:
                base = int(ipaddress.IPv4Address("10.96.0.0"))
                n = self.store.extra.get("nextIP", 10)
                for _ in range(1 << 20):
                    cand = str(ipaddress.IPv4Address(base + n))
                    n += 1
                    if n >= (1 << 20) - 1:
                        n = 10
                    if cand not in used:
                        ip = cand
                        break
                self.store.extra["nextIP"] = n
                spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
            if spec.get("type") in ("NodePort", "LoadBalancer"):
                nxt = self.store.extra.get("nextNodePort", 30000)
                taken = set()
                for p in spec.get("ports") or []:
                    if not p.get("nodePort"):
                        while nxt in ports or nxt in taken:
                            nxt = 30000 + (nxt - 29999) % 2768
                        p["nodePort"] = nxt
                        taken.add(nxt)
                self.store.extra["nextNodePort"] = nxt
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")

    def after_write(self, rt, new, old):
        if rt.storage_key != CRD_KEY:
            return
        if new is not None:
            others = self.store.list(CRD_KEY)
            cur = new
            upd = util.clone(cur)
            crdmod.set_status(upd, crdmod.name_conflict(upd, others))
            if upd.get("status") != cur.get("status"):
                self.store.update(CRD_KEY, upd, cur)
        self.refresh_crds()

    def refresh_crds(self):
        with self.store.lock:
            crds = self.store.list(CRD_KEY)
            self.registry.set_crd_types(crdmod.resource_types(crds))

    # ---- watch stream registry ----------------------------------------------------------------
    def register_stream(self, s):
        with self.streams_lock:
            self.streams.add(s)

    def unregister_stream(self, s):
        with self.streams_lock:
            self.streams.discard(s)

    def close_watches(self):
        with self.streams_lock:
            streams = list(self.streams)
        for s in streams:
            s.watcher.close()
        return len(streams)

    def bookmark_watches(self):
        with self.streams_lock:
            streams = list(self.streams)
        n = 0
        for s in streams:
            if s.watcher.bookmarks:
                s.watcher.request_bookmark()
                n += 1
        return n

    # ---- OpenAPI ------------------------------------------------------------------------------
    def openapi_docs(self):
        gen, docs = self.openapi_cache
        if gen == self.registry.generation and docs is not None:
            return docs
        if openapi_mod is None:
            raise APIError(500, "InternalError", "Internal error occurred: openapi module missing")
        if self.builtin_openapi is None:
            self.builtin_openapi = {}
            for key, doc in openapi_mod.builtin_documents().items():
                g, _, v = key.rpartition("/")
                self.builtin_openapi[openapi_mod.document_path(g, v)] = util.dumpb(doc)
        docs = dict(self.builtin_openapi)
        crds = self.store.list(CRD_KEY)
        gvs = {}
        for rt in self.registry.crd_types:
            gvs.setdefault((rt.group, rt.version), [])
        for (g, v) in gvs:
            members = [c for c in crds if (c.get("spec") or {}).get("group") == g and
                       crdmod.established(c) and
                       any(x.get("name") == v and x.get("served")
                           for x in (c["spec"].get("versions") or []))]
            path = openapi_mod.document_path(g, v)
            docs[path] = util.dumpb(openapi_mod.crd_document(g, v, members))
        out = {p: (b, hashlib.sha512(b).hexdigest().upper()[:128]) for p, b in docs.items()}
        self.openapi_cache = (self.registry.generation, out)
        return out

    # ---- request handling ----------------------------------------------------------------------
    def serve(self, req, conn, started):
        note = {"user": None, "verb": req.method.lower(), "resource": ""}
        try:
            resp = self.handle(req, conn, note)
        except APIError as e:
            resp = apimod.json_response(e.code, e.status())
            resp.headers.extend(e.headers.items())
        except Exception as e:  # keep serving everyone else
            traceback.print_exc(file=sys.stderr)
            resp = apimod.json_response(500, {"kind": "Status", "apiVersion": "v1",
                                              "metadata": {}, "status": "Failure",
                                              "message": "Internal error occurred: %r" % e,
                                              "reason": "InternalError", "code": 500})
        # Logged before the answer is sent: a client that has its answer and then asks for the
        # log (the flush hook, on any connection) finds the request in it.
        user = note["user"]
        self.admin.log(user.name if user is not None else "", note["verb"],
                       req.target.split("?")[0], resp.code, time.monotonic() - started,
                       note["resource"], req.admission_checks)
        if not resp.streamed:
            if conn.chunked:
                conn.broken = True
            else:
                body = resp.body if req.method != "HEAD" else b""
                conn.send(resp.code, body, resp.ctype, resp.headers)

    def handle(self, req, conn, note):
        path = req.path
        if req.too_large:
            raise errors.too_large("limit is %d" % (3 * 1024 * 1024))
        if path in HEALTH or path.startswith(tuple(h + "/" for h in HEALTH)):
            return apimod.Response(200, b"ok", "text/plain; charset=utf-8")
        user = self.auth.authenticate(req.headers.get("authorization"))
        if user is None:
            raise errors.unauthorized()
        note["user"] = user
        req.user = user
        if path.startswith("/_admin/"):
            if not user.admin:
                raise errors.forbidden('forbidden: User "%s" cannot %s path "%s"'
                                       % (user.name, req.method.lower(), path), {})
            return self.handle_admin(req)
        if self.admin.paused:
            self.admin.wait_unpaused()
        info = parse_resource_path(req.method, path, req.query)
        if info is None:
            verb = req.method.lower()
            if self.rbac and not user.admin:
                a = rbac.Attributes(verb, path=path, resource_request=False)
                if not rbac.allowed(self.store, user, a):
                    raise rbac.forbidden(user, a, "")
            latency, fault = self.admin.pick(verb, "", path)
            self._apply_fault(latency, fault, "", "")
            return self.non_resource(req, path)
        rt = self.registry.lookup(info.group, info.version, info.resource)
        resource = info.resource + ("/" + info.subresource if info.subresource else "")
        note["verb"] = info.verb
        note["resource"] = resource
        if rt is None:
            return _not_found()
        info.rt = rt
        if self.rbac and not user.admin:
            a = rbac.Attributes(info.verb, info.group, info.resource, info.subresource,
                                info.name, info.namespace if rt.namespaced else "", path)
            if rt.plural == "namespaces" and not rt.group and info.name:
                a.namespace = info.name
            if not rbac.allowed(self.store, user, a):
                raise rbac.forbidden(user, a, rt.qualified_resource)
        latency, fault = self.admin.pick(info.verb, resource, path)
        self._apply_fault(latency, fault, rt.qualified_resource, info.name)
        return self.resource(req, info, conn)

    def _apply_fault(self, latency, fault, qr, name):
        if latency > 0:
            time.sleep(latency)
        if fault is not None:
            raise adminmod.fault_error(fault, qr, name)

    def resource(self, req, info, conn):
        rt = info.rt
        if rt.namespaced and not info.namespace and info.name:
            return _not_found()
        if not rt.namespaced and info.namespace:
            return _not_found()
        if info.subresource and info.subresource not in rt.subresources:
            return _not_found()
        if info.verb not in rt.verbs and info.verb not in ("get", "list", "watch"):
            if not (info.subresource and info.verb in ("update", "patch")):
                raise errors.method_not_allowed()
        v = info.verb
        if info.subresource:
            if v == "get":
                return self.api.get(req, info)
            if v == "update":
                if info.subresource == "finalize" or info.subresource in ("status", "scale"):
                    return self.api.update(req, info)
            if v == "patch" and info.subresource in ("status", "scale"):
                return self.api.patch(req, info)
            raise errors.method_not_allowed()
        if rt.namespaced and not info.namespace and v not in ("list", "watch"):
            raise errors.method_not_allowed()
        if v == "get":
            return self.api.get(req, info)
        if v == "list":
            return self.api.list(req, info)
        if v == "watch":
            return self.api.watch(req, info, conn)
        if v == "create":
            return self.api.create(req, info)
        if v == "update":
            return self.api.update(req, info)
        if v == "patch":
            return self.api.patch(req, info)
        if v == "delete":
            return self.api.delete(req, info)
        if v == "deletecollection":
            return self.api.deletecollection(req, info)
        raise errors.method_not_allowed()

    def non_resource(self, req, path):
        if req.method not in ("GET", "HEAD"):
            if path in ("/api", "/apis", "/version") or path.startswith(("/api/", "/apis/",
                                                                          "/openapi")):
                raise errors.method_not_allowed()
            return _not_found()
        p = path.rstrip("/") or "/"
        accept = req.headers.get("accept", "")
        if p == "/version":
            return apimod.json_response(200, VERSION)
        if p == "/api":
            media = discovery.aggregated_wanted(accept)
            if media:
                body = self.disc.get(("agg-core", media),
                                     lambda: discovery.aggregated(self.registry, True, media))
                return apimod.Response(200, body, media)
            return apimod.Response(200, self.disc.get("api", lambda: discovery.api_versions(
                self.port)))
        if p == "/apis":
            media = discovery.aggregated_wanted(accept)
            if media:
                body = self.disc.get(("agg-apis", media),
                                     lambda: discovery.aggregated(self.registry, False, media))
                return apimod.Response(200, body, media)
            return apimod.Response(200, self.disc.get("apis", lambda: discovery.group_list(
                self.registry)))
        parts = [x for x in p.split("/") if x]
        if parts[0] == "api" and len(parts) == 2:
            body = self.disc.get(("rl", "", parts[1]),
                                 lambda: discovery.resource_list(self.registry, "", parts[1]))
            return apimod.Response(200, body) if body else _not_found()
        if parts[0] == "apis" and len(parts) == 2:
            body = self.disc.get(("g", parts[1]), lambda: discovery.group(self.registry, parts[1]))
            return apimod.Response(200, body) if body else _not_found()
        if parts[0] == "apis" and len(parts) == 3:
            body = self.disc.get(("rl", parts[1], parts[2]),
                                 lambda: discovery.resource_list(self.registry, parts[1],
                                                                 parts[2]))
            return apimod.Response(200, body) if body else _not_found()
        if p == "/openapi/v3":
            docs = self.openapi_docs()
            index = {"paths": {k[len("/openapi/v3/"):]: {"serverRelativeURL": "%s?hash=%s"
                                                          % (k, h)}
                               for k, (_, h) in sorted(docs.items())}}
            return apimod.json_response(200, index)
        if p.startswith("/openapi/v3/"):
            docs = self.openapi_docs()
            d = docs.get(p)
            if d is None:
                return _not_found()
            return apimod.Response(200, d[0], "application/json",
                                   [("Etag", '"%s"' % d[1]), ("Vary", "Accept")])
        return _not_found()

    # ---- admin endpoint ---------------------------------------------------------------------
    def handle_admin(self, req):
        action = req.path[len("/_admin/"):].strip("/")
        m = req.method
        body = {}
        if req.body:
            try:
                body = json.loads(req.body)
            except ValueError as e:
                raise errors.bad_request("admin: invalid JSON: %s" % e) from None
            if not isinstance(body, dict):
                raise errors.bad_request("admin: body must be a JSON object")
        if action == "status" and m == "GET":
            st = self.admin.status()
            with self.streams_lock:
                st["watches"] = len(self.streams)
            st["resourceVersion"] = str(self.store.rv)
            st["compactedResourceVersion"] = str(self.store.compacted)
            st["objects"] = sum(len(b) for b in self.store.data.values())
            return apimod.json_response(200, st)
        if action == "faults" and m == "POST":
            try:
                r = self.admin.add_rule(body)
            except (ValueError, TypeError) as e:
                raise errors.bad_request("admin: invalid fault rule: %s" % e) from None
            return apimod.json_response(201, r.describe())
        if action == "faults" and m == "DELETE":
            self.admin.clear_rules()
            return apimod.json_response(200, {"cleared": True})
        if m != "POST":
            raise errors.method_not_allowed()
        if action == "close-watches":
            return apimod.json_response(200, {"closed": self.close_watches()})
        if action == "expire-history":
            self.store.expire_history()
            return apimod.json_response(200, {"compactedResourceVersion": str(self.store.rv)})
        if action == "pause":
            self.admin.pause()
            return apimod.json_response(200, {"paused": True})
        if action == "resume":
            self.admin.resume()
            return apimod.json_response(200, {"paused": False})
        if action == "bookmark":
            return apimod.json_response(200, {"bookmarked": self.bookmark_watches()})
        if action == "reset-log":
            self.admin.reset_log()
            return apimod.json_response(200, {"reset": True})
        if action == "flush":
            self.admin.flush_log()
            self.store.save()
            return apimod.json_response(200, {"flushed": True})
        return _not_found()


def _count(counts, key, d):
    """Adds d to counts[key]; a key whose count falls to zero is removed. Only strings and
    numbers are counted (allocation compares candidates of those types only)."""
    if not isinstance(key, (str, int, float)):
        return
    n = counts.get(key, 0) + d
    if n > 0:
        counts[key] = n
    else:
        counts.pop(key, None)


def _not_found():
    return apimod.Response(404, NOT_FOUND, "text/plain; charset=utf-8")


def make_ssl_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class CycleCollector(threading.Thread):
    """Keeps Python's cyclic garbage collector off the long-lived objects. Stored objects are
    never mutated and hold no reference cycles, but each full collection traversed all of them
    (with a large state, most of the heap) again and again, a fifth of the server's CPU time
    in the Deployment workload. Every second it collects what was allocated since the last
    pass and freezes the survivors (gc.freeze: later collections skip them; they are still
    freed as usual when no longer referenced). Cycles formed among frozen objects are found
    by an ordinary full collection every ten minutes."""

    INTERVAL = 1.0
    FULL_INTERVAL = 600.0

    def __init__(self):
        super().__init__(name="cycle-collector", daemon=True)
        self.stop_event = threading.Event()

    def run(self):
        last_full = time.monotonic()
        while not self.stop_event.wait(self.INTERVAL):
            if time.monotonic() - last_full >= self.FULL_INTERVAL:
                gc.unfreeze()
                last_full = time.monotonic()
            gc.collect()
            gc.freeze()


def run(state_dir, port, rbac_enabled, ready_delay, stop_event, admission_plugins=()):
    """Start serving; returns (server, app, flusher) once the socket listens."""
    os.makedirs(state_dir, exist_ok=True)
    ca, crt, key = auth.ensure_certs(state_dir)
    app = App(state_dir, rbac_enabled, ready_delay, admission_plugins)
    gc.collect()
    gc.freeze()  # the loaded state, OpenAPI documents, modules: there for the whole run
    CycleCollector().start()
    ctx = make_ssl_context(crt, key)
    srv = TLSServer(("127.0.0.1", port), ctx, app)
    app.port = srv.server_address[1]
    with open(os.path.join(state_dir, "port"), "w") as f:
        f.write(str(app.port))
    url = "https://127.0.0.1:%d" % app.port
    auth.write_kubeconfig(state_dir, url, ca, app.auth.admin)
    app.start_controllers()
    flusher = Flusher(app.store)
    flusher.start()
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                         name="accept", daemon=True)
    t.start()
    return srv, app, flusher, url
