"""Workload simulation: a Deployment gets a ReplicaSet, the ReplicaSet gets Pods, Pods become
Running and Ready after --ready-delay, statuses follow; a template change rolls out a new
ReplicaSet. Also the per-namespace defaults (ServiceAccount "default", kube-root-ca.crt)."""

import hashlib
import json
import math

from controllers import SysCtx, Worker
from errors import APIError
from util import clone, now_rfc3339

NODE = "stand-in-node"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template):
    h = int.from_bytes(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()[:4],
                       "big")
    out = ""
    for _ in range(10):
        out += _SAFE[h % len(_SAFE)]
        h //= len(_SAFE)
        if h == 0:
            break
    return out


def _controller_of(obj):
    for r in obj["metadata"].get("ownerReferences") or ():
        if isinstance(r, dict) and r.get("controller"):
            return r
    return None


def _pod_ready(p):
    for c in (p.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def _percent(value, total, round_up):
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            pct = int(value[:-1])
        except ValueError:
            return 0
        v = pct * total / 100.0
        return int(math.ceil(v)) if round_up else int(math.floor(v))
    return 0


class Workloads:
    def __init__(self, app, ready_delay):
        self.app = app
        self.store = app.store
        self.ready_delay = ready_delay
        self.worker = Worker("workloads", self.process, app.admin)
        self.pod_seq = 0
        self.hashes = {}  # id(template) -> (template, its hash), see _template_hash
        # controller uid -> {(namespace, name)} of the ReplicaSets and Pods it controls, kept
        # up to date from the store's events, so that finding what a Deployment or ReplicaSet
        # owns does not scan every object of the kind.
        self.controlled = {"apps/replicasets": {}, "pods": {}}
        with self.store.lock:
            self.store.listeners.append(self.on_event)
            for key in ("apps/deployments", "apps/replicasets", "pods"):
                for obj in self.store.list(key):
                    self._index(key, obj, None, "ADDED")
                    self._route(key, obj, None, "MODIFIED")

    def start(self):
        self.worker.start()

    # ---- event routing (under the store lock) --------------------------------------------
    def on_event(self, ev):
        if ev.key in ("apps/deployments", "apps/replicasets", "pods", "namespaces"):
            self._index(ev.key, ev.obj, ev.old, ev.type)
            self._route(ev.key, ev.obj, ev.old, ev.type)

    def _index(self, key, obj, old, type_):
        idx = self.controlled.get(key)
        if idx is None:
            return
        for o in (old, obj):
            if o is None:
                continue
            owner = _controller_of(o)
            uid = owner.get("uid") if owner else None
            s = idx.get(uid)
            if s is not None:
                m = o["metadata"]
                s.discard((m.get("namespace", ""), m["name"]))
                if not s:
                    del idx[uid]
        if type_ != "DELETED":
            owner = _controller_of(obj)
            uid = owner.get("uid") if owner else None
            if uid:
                m = obj["metadata"]
                idx.setdefault(uid, set()).add((m.get("namespace", ""), m["name"]))

    def _route(self, key, obj, old, type_):
        m = obj["metadata"]
        ns = m.get("namespace", "")
        if key == "namespaces":
            if type_ == "ADDED":
                self.worker.add(("ns", m["name"]))
            return
        if key == "apps/deployments":
            if type_ != "DELETED":
                self.worker.add(("deploy", ns, m["name"]))
            return
        owner = _controller_of(obj)
        if key == "apps/replicasets":
            if type_ != "DELETED":
                self.worker.add(("rs", ns, m["name"]))
            if owner and owner.get("kind") == "Deployment":
                self.worker.add(("deploy", ns, owner.get("name")))
            return
        if key == "pods":
            if type_ == "DELETED":
                if owner and owner.get("kind") == "ReplicaSet":
                    self.worker.add(("rs", ns, owner.get("name")))
                return
            if m.get("deletionTimestamp"):
                grace = m.get("deletionGracePeriodSeconds") or 0
                self.worker.add_after(("pod-remove", ns, m["name"], m.get("uid")),
                                      min(float(grace), 0.5))
            elif (obj.get("status") or {}).get("phase") == "Pending" and type_ == "ADDED":
                self.worker.add_after(("pod-start", ns, m["name"], m.get("uid")),
                                      self.ready_delay)
            if owner and owner.get("kind") == "ReplicaSet":
                self.worker.add(("rs", ns, owner.get("name")))

    # ---- work ------------------------------------------------------------------------------
    def process(self, item):
        with self.store.lock:
            kind = item[0]
            if kind == "deploy":
                self._deployment(item[1], item[2])
            elif kind == "rs":
                self._replicaset(item[1], item[2])
            elif kind == "pod-start":
                self._pod_start(item[1], item[2], item[3])
            elif kind == "pod-remove":
                self._pod_remove(item[1], item[2], item[3])
            elif kind == "ns":
                self._namespace_defaults(item[1])

    def _rt(self, plural, group):
        return self.app.registry.lookup(group, "v1", plural)

    def _create(self, rt, ns, obj, manager):
        ctx = SysCtx(rt, ns, "", manager=manager)
        ctx.info.verb = "create"
        try:
            return self.app.api.do_create(ctx, obj)[1]
        except APIError:
            return None

    def _write(self, rt, new, old, manager, sub=""):
        m = old["metadata"]
        ctx = SysCtx(rt, m.get("namespace", ""), m["name"], manager=manager, sub=sub)
        try:
            return self.app.api.do_update(ctx, new, old, "update", check_rv=False)
        except APIError as e:
            print("workloads: %s %s: %s" % (rt.kind, m["name"], e.message), flush=True)
            return None

    def _namespace_defaults(self, ns):
        nso = self.store.get("namespaces", "", ns)
        if nso is None or nso["metadata"].get("deletionTimestamp"):
            return
        if self.store.get("serviceaccounts", ns, "default") is None:
            self._create(self._rt("serviceaccounts", ""), ns,
                         {"apiVersion": "v1", "kind": "ServiceAccount",
                          "metadata": {"name": "default", "namespace": ns}},
                         "kube-controller-manager")
        if self.store.get("configmaps", ns, "kube-root-ca.crt") is None:
            self._create(self._rt("configmaps", ""), ns,
                         {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "kube-root-ca.crt", "namespace": ns,
                                       "annotations": {"kubernetes.io/description":
                                                       "Contains a CA bundle that can be used "
                                                       "to verify the kube-apiserver when using "
                                                       "internal endpoints such as the internal "
                                                       "service IP or kubernetes.default.svc. No "
                                                       "other usage is guaranteed across "
                                                       "distributions of Kubernetes clusters."}},
                          "data": {"ca.crt": self.app.ca_pem}}, "kube-controller-manager")

    def _owned(self, key, ns, uid):
        """The objects of key in ns whose controller has uid, ordered by name."""
        out = []
        for ons, name in sorted(self.controlled[key].get(uid) or ()):
            o = self.store.get(key, ons, name) if ons == ns else None
            if o is not None and (_controller_of(o) or {}).get("uid") == uid:
                out.append(o)
        return out

    def _template_hash(self, template):
        """template_hash of a stored Deployment's template, kept per template object (stored
        objects are never mutated): a Deployment is synced again on every change of its
        ReplicaSets and Pods."""
        hit = self.hashes.get(id(template))
        if hit is not None and hit[0] is template:
            return hit[1]
        h = template_hash(template)
        if len(self.hashes) >= 4096:
            self.hashes.clear()
        self.hashes[id(template)] = (template, h)
        return h

    def _deployment(self, ns, name):
        d = self.store.get("apps/deployments", ns, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        rs_rt = self._rt("replicasets", "apps")
        spec = d.get("spec") or {}
        desired = spec.get("replicas", 1)
        stored_template = spec.get("template") or {}
        h = self._template_hash(stored_template)
        rss = self._owned("apps/replicasets", ns, d["metadata"]["uid"])
        new_rs = None
        for rs in rss:
            if (rs["metadata"].get("labels") or {}).get("pod-template-hash") == h:
                new_rs = rs
        revisions = [int((rs["metadata"].get("annotations") or {}).get(
            "deployment.kubernetes.io/revision", "0") or 0) for rs in rss]
        if new_rs is None:
            template = clone(stored_template)
            tm = template.setdefault("metadata", {})
            labels = dict(tm.get("labels") or {})
            labels["pod-template-hash"] = h
            tm["labels"] = labels
            sel = clone(spec.get("selector") or {})
            ml = dict(sel.get("matchLabels") or {})
            ml["pod-template-hash"] = h
            sel["matchLabels"] = ml
            surge = _percent((spec.get("strategy") or {}).get("rollingUpdate", {}).get(
                "maxSurge", "25%"), desired, True)
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": "%s-%s" % (name, h), "namespace": ns, "labels": labels,
                               "annotations": {
                                   "deployment.kubernetes.io/desired-replicas": str(desired),
                                   "deployment.kubernetes.io/max-replicas":
                                       str(desired + surge),
                                   "deployment.kubernetes.io/revision":
                                       str(max(revisions + [0]) + 1)},
                               "ownerReferences": [{
                                   "apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                   "uid": d["metadata"]["uid"], "controller": True,
                                   "blockOwnerDeletion": True}]},
                  "spec": {"replicas": desired, "selector": sel, "template": template}}
            if spec.get("minReadySeconds"):
                rs["spec"]["minReadySeconds"] = spec["minReadySeconds"]
            new_rs = self._create(rs_rt, ns, rs, "kube-controller-manager")
            if new_rs is None:
                return
            rss = rss + [new_rs]
        elif (new_rs.get("spec") or {}).get("replicas") != desired:
            upd = clone(new_rs)
            upd["spec"]["replicas"] = desired
            upd["metadata"].setdefault("annotations", {})[
                "deployment.kubernetes.io/desired-replicas"] = str(desired)
            new_rs = self._write(rs_rt, upd, new_rs, "kube-controller-manager") or new_rs
        new_status = new_rs.get("status") or {}
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        new_done = new_status.get("availableReplicas", 0) >= desired and \
            new_status.get("observedGeneration") == new_rs["metadata"].get("generation")
        for rs in rss:
            if rs["metadata"]["uid"] == new_rs["metadata"]["uid"]:
                continue
            if (recreate or new_done) and (rs.get("spec") or {}).get("replicas", 0) != 0:
                upd = clone(rs)
                upd["spec"]["replicas"] = 0
                self._write(rs_rt, upd, rs, "kube-controller-manager")
        self._deployment_status(d, new_rs, rss, desired)

    def _deployment_status(self, d, new_rs, rss, desired):
        d = self.store.get("apps/deployments", d["metadata"]["namespace"], d["metadata"]["name"])
        if d is None:
            return
        rss = [self.store.get("apps/replicasets", r["metadata"]["namespace"],
                              r["metadata"]["name"]) for r in rss]
        rss = [r for r in rss if r is not None]
        total = sum((r.get("status") or {}).get("replicas", 0) for r in rss)
        ready = sum((r.get("status") or {}).get("readyReplicas", 0) for r in rss)
        avail = sum((r.get("status") or {}).get("availableReplicas", 0) for r in rss)
        cur_new = self.store.get("apps/replicasets", new_rs["metadata"]["namespace"],
                                 new_rs["metadata"]["name"]) or new_rs
        updated = (cur_new.get("status") or {}).get("replicas", 0)
        spec = d.get("spec") or {}
        max_unavail = 0
        if (spec.get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            max_unavail = _percent((spec.get("strategy") or {}).get("rollingUpdate", {}).get(
                "maxUnavailable", "25%"), desired, False)
        old = d.get("status") or {}
        old_conds = {c.get("type"): c for c in old.get("conditions") or []}
        now = now_rfc3339()

        def cond(t, status, reason, message):
            prev = old_conds.get(t) or {}
            same = prev.get("status") == status
            c = {"type": t, "status": status,
                 "lastUpdateTime": prev.get("lastUpdateTime", now)
                 if same and prev.get("reason") == reason else now,
                 "lastTransitionTime": prev.get("lastTransitionTime", now) if same else now,
                 "reason": reason, "message": message}
            return c

        available_ok = avail >= desired - max_unavail
        conds = [cond("Available", "True" if available_ok else "False",
                      "MinimumReplicasAvailable" if available_ok else
                      "MinimumReplicasUnavailable",
                      "Deployment has minimum availability." if available_ok else
                      "Deployment does not have minimum availability.")]
        rs_name = cur_new["metadata"]["name"]
        complete = updated == desired and avail >= desired and total == desired
        if complete:
            conds.append(cond("Progressing", "True", "NewReplicaSetAvailable",
                              'ReplicaSet "%s" has successfully progressed.' % rs_name))
        else:
            conds.append(cond("Progressing", "True", "ReplicaSetUpdated",
                              'ReplicaSet "%s" is progressing.' % rs_name))
        conds.sort(key=lambda c: 0 if c["type"] == "Progressing" else 1)
        status = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": total,
                  "updatedReplicas": updated, "readyReplicas": ready,
                  "availableReplicas": avail, "conditions": conds}
        if desired - avail > 0 or total - avail > 0:
            status["unavailableReplicas"] = max(total - avail, desired - avail, 0)
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            if not status[k]:
                del status[k]
        if status == old:
            return
        new = dict(d)
        new["status"] = status
        self._write(self._rt("deployments", "apps"), new, d, "kube-controller-manager",
                    sub="status")

    def _replicaset(self, ns, name):
        rs = self.store.get("apps/replicasets", ns, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        pod_rt = self._rt("pods", "")
        spec = rs.get("spec") or {}
        desired = spec.get("replicas", 1)
        pods = self._owned("pods", ns, rs["metadata"]["uid"])
        active = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        if len(active) < desired:
            tmpl = spec.get("template") or {}
            for _ in range(desired - len(active)):
                tm = clone(tmpl.get("metadata") or {})
                pm = {"generateName": name + "-", "namespace": ns,
                      "labels": tm.get("labels") or {},
                      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                           "name": name, "uid": rs["metadata"]["uid"],
                                           "controller": True, "blockOwnerDeletion": True}]}
                if tm.get("annotations"):
                    pm["annotations"] = tm["annotations"]
                pod = {"apiVersion": "v1", "kind": "Pod", "metadata": pm,
                       "spec": clone(tmpl.get("spec") or {})}
                p = self._create(pod_rt, ns, pod, "kube-controller-manager")
                if p is not None:
                    active.append(p)
        elif len(active) > desired:
            victims = sorted(active, key=lambda p: (_pod_ready(p),
                                                    p["metadata"].get("creationTimestamp", "")),
                             reverse=False)
            victims = sorted(active, key=lambda p: (_pod_ready(p),
                                                    _neg(p["metadata"].get("creationTimestamp",
                                                                           ""))))
            for p in victims[:len(active) - desired]:
                ctx = SysCtx(pod_rt, ns, p["metadata"]["name"], manager="kube-controller-manager")
                try:
                    self.app.api.do_delete(ctx, p, {})
                except APIError:
                    pass
            active = [p for p in active if p not in victims[:len(active) - desired]]
        active = [self.store.get("pods", ns, p["metadata"]["name"]) for p in active]
        active = [p for p in active if p is not None and not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in active if _pod_ready(p))
        status = {"replicas": len(active), "fullyLabeledReplicas": len(active),
                  "readyReplicas": ready, "availableReplicas": ready,
                  "observedGeneration": rs["metadata"].get("generation", 1)}
        for k in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            if not status[k]:
                del status[k]
        if status == (rs.get("status") or {}):
            return
        cur = self.store.get("apps/replicasets", ns, name)
        new = dict(cur)
        new["status"] = status
        self._write(self._rt("replicasets", "apps"), new, cur, "kube-controller-manager",
                    sub="status")

    def _pod_start(self, ns, name, uid):
        p = self.store.get("pods", ns, name)
        if p is None or p["metadata"].get("uid") != uid or p["metadata"].get("deletionTimestamp"):
            return
        # A copy of the parts it changes (stored objects are shared, never changed): the
        # update pipeline sets metadata fields and defaults spec fields (already defaulted
        # at create, so nothing below spec changes).
        new = dict(p)
        new["metadata"] = dict(p["metadata"])
        spec = new["spec"] = dict(p.get("spec") or {})
        spec.setdefault("nodeName", NODE)
        now = now_rfc3339()
        self.pod_seq += 1
        ip = "10.244.%d.%d" % ((self.pod_seq // 250) % 250, self.pod_seq % 250 + 2)
        cstat = []
        for c in spec.get("containers") or []:
            cstat.append({"name": c.get("name"), "image": c.get("image"),
                          "imageID": "docker.io/library/%s@sha256:%s" % (
                              (c.get("image") or "").split(":")[0].split("/")[-1],
                              hashlib.sha256((c.get("image") or "").encode()).hexdigest()),
                          "containerID": "containerd://" + hashlib.sha256(
                              (uid + (c.get("name") or "")).encode()).hexdigest(),
                          "ready": True, "started": True, "restartCount": 0,
                          "state": {"running": {"startedAt": now}}, "lastState": {}})
        conds = [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
                 for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                           "PodScheduled")]
        qos = "BestEffort"
        new["status"] = {"phase": "Running", "conditions": conds, "hostIP": "10.0.0.10",
                         "hostIPs": [{"ip": "10.0.0.10"}], "podIP": ip, "podIPs": [{"ip": ip}],
                         "startTime": p["metadata"].get("creationTimestamp", now),
                         "containerStatuses": cstat, "qosClass": qos}
        old = p
        # the binding (spec.nodeName) and the kubelet's status write, done as one update
        ctx = SysCtx(self._rt("pods", ""), ns, name, manager="kubelet")
        try:
            self.app.api.do_update(ctx, new, old, "update", check_rv=False, raw=True)
        except APIError as e:
            print("workloads: pod %s: %s" % (name, e.message), flush=True)

    def _pod_remove(self, ns, name, uid):
        p = self.store.get("pods", ns, name)
        if p is None or p["metadata"].get("uid") != uid:
            return
        if p["metadata"].get("finalizers"):
            return
        self.store.delete("pods", p)


def _neg(ts):
    return "".join(chr(255 - ord(c)) for c in ts)
