"""Garbage collector, namespace controller and CRD cleanup (reference §3.6, §7.1, §8), emulating
what kube-controller-manager and apiextensions do after deletions."""

import crd as crdmod
from controllers import SysCtx, Worker
from errors import APIError
from util import clone

CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"


class Collector:
    def __init__(self, app):
        self.app = app
        self.store = app.store
        self.by_uid = {}  # uid -> (key, ns, name)
        self.deps = {}  # owner uid -> set((key, ns, name))
        self.worker = Worker("garbage-collector", self.process, app.admin)
        with self.store.lock:
            for key, bucket in self.store.data.items():
                for obj in bucket.values():
                    self._index(key, obj, None)
            self.store.listeners.append(self.on_event)
            self._initial_scan()

    def start(self):
        self.worker.start()

    def _initial_scan(self):
        for key, bucket in self.store.data.items():
            for obj in bucket.values():
                self._enqueue_for(key, obj, "MODIFIED")

    # ---- indexing (called under the store lock for every event) -------------------------
    def _index(self, key, obj, old):
        m = obj["metadata"]
        loc = (key, m.get("namespace", ""), m["name"])
        if old is not None:
            for r in old["metadata"].get("ownerReferences") or ():
                s = self.deps.get(r.get("uid"))
                if s is not None:
                    s.discard(loc)
        uid = m.get("uid")
        if uid:
            self.by_uid[uid] = loc
        for r in m.get("ownerReferences") or ():
            u = r.get("uid") if isinstance(r, dict) else None
            if u:
                self.deps.setdefault(u, set()).add(loc)

    def on_event(self, ev):
        obj = ev.obj
        m = obj["metadata"]
        if ev.type == "DELETED":
            loc = (ev.key, m.get("namespace", ""), m["name"])
            uid = m.get("uid")
            if self.by_uid.get(uid) == loc:
                del self.by_uid[uid]
            for r in m.get("ownerReferences") or ():
                u = r.get("uid") if isinstance(r, dict) else None
                s = self.deps.get(u)
                if s is not None:
                    s.discard(loc)
                    if not s:
                        del self.deps[u]
                if u in self.by_uid:
                    self.worker.add(("finalize", u))
            if uid in self.deps:
                self.worker.add(("owner-gone", uid))
            ns = m.get("namespace")
            if ns:
                nso = self.store.get("namespaces", "", ns)
                if nso is not None and nso["metadata"].get("deletionTimestamp"):
                    self.worker.add(("namespace", ns))
            if ev.key != CRD_KEY and "/" in ev.key:
                self.worker.add(("crd-check", ev.key))
            return
        self._index(ev.key, obj, ev.old)
        self._enqueue_for(ev.key, obj, ev.type)

    def _enqueue_for(self, key, obj, type_):
        m = obj["metadata"]
        refs = m.get("ownerReferences")
        if refs:
            for r in refs:
                if isinstance(r, dict) and r.get("uid") not in self.by_uid:
                    self.worker.add(("dependent", key, m.get("namespace", ""), m["name"]))
                    break
        if m.get("deletionTimestamp"):
            fins = m.get("finalizers") or ()
            if "orphan" in fins or "foregroundDeletion" in fins:
                self.worker.add(("finalize", m.get("uid")))
            if key == "namespaces":
                self.worker.add(("namespace", m["name"]))
            if key == CRD_KEY and crdmod.CLEANUP_FINALIZER in fins:
                self.worker.add(("crd", m["name"]))

    # ---- work ------------------------------------------------------------------------------
    def process(self, item):
        kind = item[0]
        with self.store.lock:
            if kind == "owner-gone":
                self._owner_gone(item[1])
            elif kind == "dependent":
                self._dependent(item[1], item[2], item[3])
            elif kind == "finalize":
                self._finalize(item[1])
            elif kind == "namespace":
                self._namespace(item[1])
            elif kind == "crd":
                self._crd(item[1])
            elif kind == "crd-check":
                self._crd_check(item[1])

    def _rt(self, key):
        return self.app.registry.by_storage(key)

    def _delete(self, key, obj, policy):
        rt = self._rt(key)
        if rt is None:
            return
        m = obj["metadata"]
        ctx = SysCtx(rt, m.get("namespace", ""), m["name"], manager="garbage-collector")
        try:
            self.app.api.do_delete(ctx, obj, {"propagationPolicy": policy,
                                              "preconditions": {"uid": m.get("uid")}})
        except APIError:
            pass

    def _update(self, key, new, old, manager="garbage-collector"):
        rt = self._rt(key)
        if rt is None:
            return
        m = old["metadata"]
        ctx = SysCtx(rt, m.get("namespace", ""), m["name"], manager=manager)
        try:
            self.app.api.do_update(ctx, new, old, "update", check_rv=False)
        except APIError as e:
            print("garbage collector: update of %s failed: %s" % (m["name"], e.message),
                  flush=True)

    def _live_owner(self, ref):
        return ref.get("uid") in self.by_uid

    def _dependent(self, key, ns, name):
        obj = self.store.get(key, ns, name)
        if obj is None:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        live = [r for r in refs if isinstance(r, dict) and self._live_owner(r)]
        if len(live) == len(refs):
            return
        if not live:
            if not obj["metadata"].get("deletionTimestamp"):
                self._delete(key, obj, "Background")
            return
        new = clone(obj)
        new["metadata"]["ownerReferences"] = live
        self._update(key, new, obj)

    def _owner_gone(self, uid):
        for loc in list(self.deps.get(uid, ())):
            self._dependent(*loc)

    def _finalize(self, uid):
        loc = self.by_uid.get(uid)
        if loc is None:
            return
        obj = self.store.get(*loc)
        if obj is None or not obj["metadata"].get("deletionTimestamp"):
            return
        fins = obj["metadata"].get("finalizers") or []
        deps = [self.store.get(*d) for d in list(self.deps.get(uid, ()))]
        deps = [d for d in deps if d is not None]
        if "orphan" in fins:
            for d in deps:
                new = clone(d)
                refs = [r for r in new["metadata"].get("ownerReferences") or []
                        if r.get("uid") != uid]
                if refs:
                    new["metadata"]["ownerReferences"] = refs
                else:
                    new["metadata"].pop("ownerReferences", None)
                self._update(self.by_uid[d["metadata"]["uid"]][0], new, d)
            self._remove_finalizer(loc[0], uid, "orphan")
            return
        if "foregroundDeletion" in fins:
            blocking = []
            for d in deps:
                dkey = self.by_uid.get(d["metadata"].get("uid"), (None,))[0]
                if dkey is None:
                    continue
                if not d["metadata"].get("deletionTimestamp"):
                    self._delete(dkey, d, "Foreground")
                d2 = self.store.get(*self.by_uid[d["metadata"]["uid"]]) \
                    if d["metadata"].get("uid") in self.by_uid else None
                if d2 is not None and any(r.get("uid") == uid and r.get("blockOwnerDeletion")
                                          for r in d2["metadata"].get("ownerReferences") or []):
                    blocking.append(d2)
            if not blocking:
                self._remove_finalizer(loc[0], uid, "foregroundDeletion")

    def _remove_finalizer(self, key, uid, fin):
        loc = self.by_uid.get(uid)
        if loc is None:
            return
        obj = self.store.get(*loc)
        if obj is None:
            return
        new = clone(obj)
        fins = [f for f in new["metadata"].get("finalizers") or [] if f != fin]
        if fins:
            new["metadata"]["finalizers"] = fins
        else:
            new["metadata"].pop("finalizers", None)
        self._update(key, new, obj)

    def _namespace(self, name):
        nso = self.store.get("namespaces", "", name)
        if nso is None or not nso["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        for key, bucket in list(self.store.data.items()):
            if key == "namespaces":
                continue
            for (ns, _), obj in list(bucket.items()):
                if ns != name:
                    continue
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    self._delete(key, obj, "Background")
                elif key == "pods" and not obj["metadata"].get("finalizers"):
                    pass
        for key, bucket in self.store.data.items():
            if key != "namespaces" and any(k[0] == name for k in bucket):
                return
        cur = self.store.get("namespaces", "", name)
        if cur is None:
            return
        new = clone(cur)
        spec = new.get("spec") or {}
        spec.pop("finalizers", None)
        new["spec"] = spec
        if cur["metadata"].get("finalizers"):
            if spec != cur.get("spec"):
                self.store.update("namespaces", new, cur)
            return
        self.store.delete("namespaces", new)

    def _crd(self, name):
        crd = self.store.get(CRD_KEY, "", name)
        if crd is None or not crd["metadata"].get("deletionTimestamp"):
            return
        spec = crd["spec"]
        key = spec["group"] + "/" + spec["names"]["plural"]
        left = False
        for obj in list(self.store.list(key)):
            left = True
            if not obj["metadata"].get("deletionTimestamp"):
                self._delete(key, obj, "Background")
        if left and self.store.count(key):
            return
        new = clone(crd)
        fins = [f for f in new["metadata"].get("finalizers") or []
                if f != crdmod.CLEANUP_FINALIZER]
        if fins:
            new["metadata"]["finalizers"] = fins
            self._update(CRD_KEY, new, crd, manager="apiextensions")
        else:
            new["metadata"].pop("finalizers", None)
            self.store.delete(CRD_KEY, new)
            self.app.refresh_crds()

    def _crd_check(self, key):
        group, _, plural = key.partition("/")
        crd = self.store.get(CRD_KEY, "", plural + "." + group)
        if crd is not None and crd["metadata"].get("deletionTimestamp"):
            self._crd(crd["metadata"]["name"])
