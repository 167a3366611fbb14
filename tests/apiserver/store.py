"""In-memory object store: one global resourceVersion counter, watch history, optional state file.

Committed objects are never mutated: writers build a new dict and commit it, so readers may hold
and serialize stored objects without copying.
"""

import bisect
import json
import os
import threading
import time
from collections import OrderedDict

import util

HISTORY_SECONDS = 75.0  # the real watch cache keeps about 75 s of events
HISTORY_MIN_EVENTS = 100
HISTORY_MAX_EVENTS = 500000
# Paged lists in progress (see PagedLists): how long the rest of a list is kept after its first
# page (kube-apiserver's etcd compaction interval), how many lists and how many objects in all.
PAGED_LIST_SECONDS = 300.0
PAGED_LIST_MAX = 64
PAGED_LIST_MAX_OBJECTS = 1000000


class Event:
    __slots__ = ("rv", "key", "type", "obj", "old", "time", "lines")

    def __init__(self, rv, key, type_, obj, old):
        self.rv = rv
        self.key = key
        self.type = type_
        self.obj = obj
        self.old = old
        self.time = time.monotonic()
        self.lines = None  # encoded watch lines shared by watchers: {(type, version): bytes}


class Expired(Exception):
    def __init__(self, requested, oldest):
        super().__init__("too old resource version: %d (%d)" % (requested, oldest))
        self.requested = requested
        self.oldest = oldest


class FutureRevision(Exception):
    """A read at a resourceVersion the store has not reached (etcd's ErrFutureRev)."""


class PagedLists:
    """The rest of each paged list in progress, so that its continue pages are served from the
    data as of its first page without copying or sorting the store again: the list's ordered
    objects (stored objects are never mutated, so holding them is a copy-on-write view of that
    resourceVersion) and the position the next page starts at, under the continue token just
    handed out and the request's list (resource, namespace, selectors). A page takes its entry
    out and puts it back under the next token; the last page drops it. Entries are also dropped
    when history is compacted past their resourceVersion, PAGED_LIST_SECONDS after their first
    page, and oldest first beyond PAGED_LIST_MAX lists or PAGED_LIST_MAX_OBJECTS objects. A
    token without an entry is still served, from the store's history (Store.list_at), for as
    long as that history reaches back to its resourceVersion: this only saves the work."""

    class Entry:
        __slots__ = ("items", "pos", "rv", "deadline")

        def __init__(self, items, pos, rv, deadline):
            self.items = items
            self.pos = pos
            self.rv = rv
            self.deadline = deadline

    def __init__(self):
        self.lock = threading.Lock()
        self.entries = OrderedDict()  # (token, list identity) -> Entry, oldest first
        self.objects = 0  # len(items) summed over the entries

    def put(self, token, ident, items, pos, rv, entry=None):
        """Keep items[pos:] of the list ident at rv under token (entry: the one it continues)."""
        now = time.monotonic()
        with self.lock:
            if entry is None:
                entry = self.Entry(items, pos, rv, now + PAGED_LIST_SECONDS)
            else:
                entry.pos = pos
            old = self.entries.pop((token, ident), None)
            if old is not None:
                self.objects -= len(old.items)
            self.entries[(token, ident)] = entry
            self.objects += len(items)
            self._sweep(now)

    def take(self, token, ident):
        """The entry kept under token for the list ident (removed), or None."""
        with self.lock:
            e = self.entries.pop((token, ident), None)
            if e is not None:
                self.objects -= len(e.items)
                if e.deadline < time.monotonic():
                    return None
            return e

    def compact(self, rv):
        """Drop the lists older than resourceVersion rv (history no longer reaches them)."""
        if not self.entries:
            return
        with self.lock:
            for k in [k for k, e in self.entries.items() if e.rv < rv]:
                self.objects -= len(self.entries.pop(k).items)

    def _sweep(self, now):
        ents = self.entries
        for k in [k for k, e in ents.items() if e.deadline < now]:
            self.objects -= len(ents.pop(k).items)
        while ents and (len(ents) > PAGED_LIST_MAX or self.objects > PAGED_LIST_MAX_OBJECTS):
            _, e = ents.popitem(last=False)
            self.objects -= len(e.items)


class Store:
    def __init__(self, state_path=None):
        self.lock = threading.RLock()
        self.rv = 1
        self.data = {}
        self.history = []
        self.history_rvs = []
        self.compacted = 0
        self.paged = PagedLists()
        self.watchers = {}
        self.listeners = []
        self.state_path = state_path
        self.dirty = False
        self.extra = {}
        self.save_lock = threading.Lock()
        self._encoded = {}  # id(stored object) -> (object, its JSON text), see _encode_state

    # ---- reads -------------------------------------------------------------------------
    def get(self, key, ns, name):
        bucket = self.data.get(key)
        if bucket is None:
            return None
        return bucket.get((ns or "", name))

    def list(self, key, ns=None):
        """Objects of a storage key (optionally one namespace), ordered by namespace then name."""
        bucket = self.data.get(key)
        if not bucket:
            return []
        if ns:
            items = [(k, v) for k, v in bucket.items() if k[0] == ns]
        else:
            items = list(bucket.items())
        items.sort(key=lambda kv: kv[0])
        return [v for _, v in items]

    def list_at(self, key, ns, rv):
        """list() as of resourceVersion rv, as etcd reads a revision: the current objects with
        the changes made after rv undone from the history. Raises Expired when history was
        compacted past rv, FutureRevision when rv is newer than the store."""
        with self.lock:
            if rv < self.compacted:
                oldest = self.history_rvs[0] if self.history_rvs else self.rv + 1
                raise Expired(rv, oldest)
            if rv > self.rv:
                raise FutureRevision(rv)
            i = bisect.bisect_right(self.history_rvs, rv)
            before = {}  # object key -> the object as of rv (None: absent then)
            for ev in self.history[i:]:
                if ev.key != key:
                    continue
                m = ev.obj["metadata"]
                k = (m.get("namespace", ""), m["name"])
                if k not in before and (not ns or k[0] == ns):
                    before[k] = ev.old if ev.type != "ADDED" else None
            if not before:
                return self.list(key, ns)
            bucket = self.data.get(key) or {}
            if ns:
                objs = {k: v for k, v in bucket.items() if k[0] == ns}
            else:
                objs = dict(bucket)
        for k, o in before.items():
            if o is None:
                objs.pop(k, None)
            else:
                objs[k] = o
        return [v for _, v in sorted(objs.items(), key=lambda kv: kv[0])]

    def count(self, key):
        return len(self.data.get(key) or ())

    # ---- writes (callers hold self.lock for read-modify-write) ------------------------------
    def _next(self):
        self.rv += 1
        return self.rv

    def create(self, key, obj):
        m = obj["metadata"]
        rv = self._next()
        m["resourceVersion"] = str(rv)
        self.data.setdefault(key, {})[(m.get("namespace", ""), m["name"])] = obj
        self._emit(Event(rv, key, "ADDED", obj, None))
        return obj

    def update(self, key, obj, old):
        m = obj["metadata"]
        rv = self._next()
        m["resourceVersion"] = str(rv)
        self.data.setdefault(key, {})[(m.get("namespace", ""), m["name"])] = obj
        self._emit(Event(rv, key, "MODIFIED", obj, old))
        return obj

    def delete(self, key, obj):
        """Remove obj; returns the final state carrying the deletion revision."""
        m = obj["metadata"]
        bucket = self.data.get(key) or {}
        bucket.pop((m.get("namespace", ""), m["name"]), None)
        rv = self._next()
        final = dict(obj)
        final["metadata"] = dict(m)
        final["metadata"]["resourceVersion"] = str(rv)
        self._emit(Event(rv, key, "DELETED", final, obj))
        return final

    def _emit(self, ev):
        self.dirty = True
        self.history.append(ev)
        self.history_rvs.append(ev.rv)
        self._trim()
        for w in self.watchers.get(ev.key, ()):
            w.push(ev)
        for fn in self.listeners:
            fn(ev)

    def _trim(self):
        h = self.history
        n = len(h)
        if n <= HISTORY_MIN_EVENTS:
            return
        cutoff = time.monotonic() - HISTORY_SECONDS
        drop = 0
        limit = n - HISTORY_MIN_EVENTS
        while drop < limit and (h[drop].time < cutoff or n - drop > HISTORY_MAX_EVENTS):
            drop += 1
            if drop >= 4096:
                break
        if drop:
            self.compacted = h[drop - 1].rv
            del h[:drop]
            del self.history_rvs[:drop]
            self.paged.compact(self.compacted)

    def expire_history(self):
        """Test hook: forget all history; watches from any older resourceVersion get 410."""
        with self.lock:
            self.compacted = self.rv
            self.history = []
            self.history_rvs = []
            self.paged.compact(self.compacted)

    # ---- watch registration ----------------------------------------------------------------
    def add_watcher(self, key, watcher, start_rv):
        """Register watcher. start_rv None: returns the current objects (synthetic ADDED);
        otherwise queues every retained event after start_rv. Raises Expired if too old."""
        with self.lock:
            if start_rv is None:
                snapshot = list((self.data.get(key) or {}).values())
                snapshot.sort(key=lambda o: (o["metadata"].get("namespace", ""),
                                             o["metadata"]["name"]))
                self.watchers.setdefault(key, set()).add(watcher)
                return snapshot, self.rv
            if start_rv < self.compacted:
                oldest = self.history_rvs[0] if self.history_rvs else self.rv + 1
                raise Expired(start_rv, oldest)
            i = bisect.bisect_right(self.history_rvs, start_rv)
            for ev in self.history[i:]:
                if ev.key == key:
                    watcher.push(ev)
            self.watchers.setdefault(key, set()).add(watcher)
            return None, self.rv

    def remove_watcher(self, key, watcher):
        with self.lock:
            s = self.watchers.get(key)
            if s is not None:
                s.discard(watcher)

    def all_watchers(self):
        with self.lock:
            out = []
            for s in self.watchers.values():
                out.extend(s)
            return out

    # ---- persistence -------------------------------------------------------------------------
    def snapshot(self):
        with self.lock:
            data = {k: list(v.values()) for k, v in self.data.items() if v}
            state = {"resourceVersion": self.rv, "objects": data, "extra": dict(self.extra)}
            self.dirty = False
        return state

    def save(self):
        if not self.state_path:
            return
        # One writer at a time: the background flusher, the admin flush and the final save on
        # shutdown share the temporary file, and two of them interleaving failed on os.replace.
        with self.save_lock:
            chunks = self._encode_state()
            tmp = self.state_path + ".tmp"
            with open(tmp, "wb", buffering=0) as f:
                fd = f.fileno()
                # the pieces as they are, without joining them first (a large state is tens
                # of megabytes)
                for i in range(0, len(chunks), 1024):
                    batch = chunks[i:i + 1024]
                    n = os.writev(fd, batch)
                    total = sum(len(c) for c in batch)
                    if n < total:  # a short write: the rest the ordinary way
                        rest = b"".join(batch)[n:]
                        while rest:
                            rest = rest[os.write(fd, rest):]
            os.replace(tmp, self.state_path)

    def _encode_state(self):
        """The text of json.dumps(self.snapshot(), separators=(",", ":"), ensure_ascii=False)
        as a list of pieces of UTF-8 bytes, made faster: stored objects are never mutated, so
        the text of each object is kept from the previous save (or taken from the answer or
        watch event that sent it) and only the others are encoded. Encoding holds the
        interpreter, and a large state took seconds, during which the server answered
        nothing. Caller holds save_lock."""
        with self.lock:
            buckets = [(k, list(v.values())) for k, v in self.data.items() if v]
            rv = self.rv
            extra = dict(self.extra)
            self.dirty = False
        old = self._encoded
        new = {}
        chunks = [b'{"resourceVersion":%s,"objects":{' % util.dumpb(rv)]
        for i, (key, objs) in enumerate(buckets):
            texts = []
            for o in objs:
                hit = old.get(id(o))
                if hit is not None and hit[0] is o:
                    t = hit[1]
                else:
                    try:
                        t = util.dumpb_stored(o)
                    except UnicodeEncodeError:  # a lone surrogate: escaped, loads the same
                        t = json.dumps(o, separators=(",", ":")).encode("ascii")
                new[id(o)] = (o, t)
                texts.append(t)
            chunks.append((b"," if i else b"") + util.dumpb(key) + b":[")
            for j, t in enumerate(texts):
                if j:
                    chunks.append(b",")
                chunks.append(t)
            chunks.append(b"]")
        self._encoded = new
        chunks.append(b'},"extra":%s}' % util.dumpb(extra))
        return chunks

    def load(self):
        """Load the state file if present; returns True when data was loaded."""
        if not self.state_path or not os.path.exists(self.state_path):
            return False
        with open(self.state_path, encoding="utf-8") as f:
            state = json.load(f)
        with self.lock:
            self.rv = int(state.get("resourceVersion", 1))
            self.data = {}
            for key, objs in (state.get("objects") or {}).items():
                bucket = self.data.setdefault(key, {})
                for o in objs:
                    m = o["metadata"]
                    bucket[(m.get("namespace", ""), m["name"])] = o
            self.extra = state.get("extra") or {}
            # history is not persisted: like a restarted real server, older RVs are expired
            self.compacted = self.rv
            self.dirty = False
        return True


class Flusher(threading.Thread):
    """Writes the state file in the background when the store changed (never on the hot path)."""

    def __init__(self, store, interval=0.5):
        super().__init__(name="state-flusher", daemon=True)
        self.store = store
        self.interval = interval
        self.stop_event = threading.Event()

    def run(self):
        wait = self.interval
        while not self.stop_event.wait(wait):
            wait = self.interval
            if self.store.dirty:
                t0 = time.monotonic()
                try:
                    self.store.save()
                except OSError as e:
                    print("state file write failed: %s" % e, flush=True)
                # A large state takes a while to encode, and encoding holds the interpreter:
                # spend at most about a fifth of the time writing it, so that serving requests
                # keeps the rest. A small state is still written every interval.
                wait = max(self.interval, 4 * (time.monotonic() - t0))

    def stop(self):
        self.stop_event.set()
