"""Watch streams (reference §5): chunked newline-delimited events, selector transitions,
bookmarks, timeouts and 410 Expired."""

import random
import threading
import time
from collections import deque

import util
from store import Expired

MAX_QUEUE = 20000  # a client that falls this far behind is dropped, like a full watch channel
POLL = 1.0  # seconds between checks for a closed peer / bookmark time
BOOKMARK_INTERVAL = 60.0


class Watcher:
    def __init__(self, bookmarks):
        self.cond = threading.Condition(threading.Lock())
        self.queue = deque()
        self.closed = False
        self.overflow = False
        self.bookmarks = bookmarks
        self.bookmark_now = False

    def push(self, ev):
        with self.cond:
            if len(self.queue) >= MAX_QUEUE:
                self.overflow = True
            else:
                self.queue.append(ev)
            self.cond.notify()

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify()

    def request_bookmark(self):
        with self.cond:
            self.bookmark_now = True
            self.cond.notify()


class Filter:
    """Namespace + label + field selector match for one watch or list."""

    def __init__(self, rt, namespace, labels, fields, field_value):
        self.rt = rt
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.field_value = field_value

    def __call__(self, obj):
        m = obj["metadata"]
        if self.namespace and m.get("namespace") != self.namespace:
            return False
        if not self.labels.empty() and not self.labels.matches(m.get("labels")):
            return False
        if not self.fields.empty() and not self.fields.matches(self.field_value(obj)):
            return False
        return True


def transition(ev, match):
    """(type, object) this watch should see for a store event, or None (cache_watcher rules)."""
    if ev.type == "ADDED":
        return ("ADDED", ev.obj) if match(ev.obj) else None
    if ev.type == "DELETED":
        return ("DELETED", ev.obj) if match(ev.obj) else None
    new = match(ev.obj)
    old = match(ev.old) if ev.old is not None else False
    if new and old:
        return ("MODIFIED", ev.obj)
    if new:
        return ("ADDED", ev.obj)
    if old:
        prev = dict(ev.old)
        prev["metadata"] = dict(ev.old["metadata"])
        prev["metadata"]["resourceVersion"] = ev.obj["metadata"]["resourceVersion"]
        return ("DELETED", prev)
    return None


class WatchStream:
    """Runs one watch on a connection until timeout, client close, error or server close."""

    def __init__(self, server, conn, rt, match, start_rv, timeout, bookmarks, send_initial,
                 present, table=None, cache_key=None):
        self.server = server
        self.store = server.store
        self.conn = conn
        self.rt = rt
        self.match = match
        self.start_rv = start_rv
        self.timeout = timeout
        self.watcher = Watcher(bookmarks)
        self.send_initial = send_initial
        self.present = present  # stored object -> JSON value sent (version conversion / Table row)
        self.table = table
        self.cache_key = cache_key  # events encoded once per version when presentation is plain
        self.sent_rv = 0
        self.events_sent = 0

    def _line(self, type_, obj):
        return util.dumpb({"type": type_, "object": obj}) + b"\n"

    def _bookmark(self, rv, extra_annotations=None):
        m = {"resourceVersion": str(rv)}
        if extra_annotations:
            m["annotations"] = extra_annotations
        obj = {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": m}
        return self._line("BOOKMARK", obj)

    def run(self):
        """Returns after the stream ended; the HTTP response is already complete."""
        conn = self.conn
        key = self.rt.storage_key
        try:
            snapshot, current = self.store.add_watcher(key, self.watcher, self.start_rv)
        except Expired as e:
            conn.start_chunked(200, "application/json")
            st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": str(e), "reason": "Expired", "code": 410}
            conn.send_chunk(self._line("ERROR", st))
            conn.end_chunked()
            return
        self.server.register_stream(self)
        try:
            conn.start_chunked(200, "application/json")
            self._stream(snapshot, current)
        except (OSError, ValueError):
            conn.broken = True
        finally:
            self.store.remove_watcher(key, self.watcher)
            self.server.unregister_stream(self)
        if not conn.broken:
            try:
                conn.end_chunked()
            except (OSError, ValueError):
                conn.broken = True

    def _stream(self, snapshot, current):
        conn = self.conn
        w = self.watcher
        deadline = time.monotonic() + self.timeout
        out = []
        if snapshot is not None:
            for obj in snapshot:
                if self.match(obj):
                    out.append(self._line("ADDED", self.present(obj)))
                    if len(out) >= 256:
                        conn.send_chunk(b"".join(out))
                        out = []
            self.sent_rv = current
        else:
            self.sent_rv = self.start_rv
        if self.send_initial:
            out.append(self._bookmark(current, {"k8s.io/initial-events-end": "true"}))
        if out:
            conn.send_chunk(b"".join(out))
            out = []
        next_bookmark = time.monotonic() + BOOKMARK_INTERVAL
        final_bookmark = deadline - 2.0 if self.timeout >= 4 else None
        admin = self.server.admin
        while True:
            with w.cond:
                while not w.queue and not w.closed and not w.overflow and not w.bookmark_now:
                    now = time.monotonic()
                    if now >= deadline:
                        break
                    wait = min(POLL, deadline - now)
                    if w.bookmarks:
                        nb = next_bookmark
                        if final_bookmark is not None:
                            nb = min(nb, final_bookmark)
                        if nb <= now:
                            break
                        wait = min(wait, nb - now)
                    w.cond.wait(wait)
                    if conn.peer_closed():
                        return
                events = list(w.queue)
                w.queue.clear()
                closed = w.closed
                overflow = w.overflow
                bm_now = w.bookmark_now
                w.bookmark_now = False
            if closed or overflow:
                return
            if admin.paused:
                admin.wait_unpaused()
            for ev in events:
                if ev.rv <= self.sent_rv:
                    continue
                t = transition(ev, self.match)
                self.sent_rv = ev.rv
                if t is None:
                    continue
                ck = self.cache_key
                if ck is not None and t[1] is ev.obj:
                    lines = ev.lines
                    if lines is None:
                        lines = ev.lines = {}
                    line = lines.get((t[0], ck))
                    if line is None:
                        p = self.present(t[1])
                        if p is t[1]:
                            # the stored object's text, as in the answer to the write:
                            # the same bytes as _line
                            line = b'{"type":"%s","object":%s}\n' % (
                                t[0].encode(), util.dumpb_stored(p))
                        else:
                            line = self._line(t[0], p)
                        lines[(t[0], ck)] = line
                    out.append(line)
                else:
                    out.append(self._line(t[0], self.present(t[1])))
                self.events_sent += 1
            if out:
                conn.send_chunk(b"".join(out))
                out = []
            now = time.monotonic()
            if now >= deadline:
                return
            if w.bookmarks and (bm_now or now >= next_bookmark or
                                (final_bookmark is not None and now >= final_bookmark)):
                if final_bookmark is not None and now >= final_bookmark:
                    final_bookmark = None
                next_bookmark = now + BOOKMARK_INTERVAL
                rv = self._bookmark_rv()
                if rv is not None:
                    conn.send_chunk(self._bookmark(rv))

    def _bookmark_rv(self):
        """The store RV if every event up to it reached this watcher, else the last sent RV."""
        with self.store.lock:
            with self.watcher.cond:
                if not self.watcher.queue:
                    self.sent_rv = max(self.sent_rv, self.store.rv)
        return self.sent_rv if self.sent_rv else None


def default_timeout():
    return random.uniform(1800, 3600)
