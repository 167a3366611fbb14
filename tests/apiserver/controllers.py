"""Plumbing shared by the emulated controllers: a context for internal writes and a worker
thread with a de-duplicating queue and timers."""

import heapq
import threading
import time


class Info:
    __slots__ = ("rt", "namespace", "name", "subresource", "verb")

    def __init__(self, rt, namespace, name, subresource="", verb="update"):
        self.rt = rt
        self.namespace = namespace
        self.name = name
        self.subresource = subresource
        self.verb = verb


class SysCtx:
    """What api.ResourceAPI needs to know about a write made by a controller."""

    def __init__(self, rt, namespace="", name="", manager="kube-controller-manager", sub=""):
        self.rt = rt
        self.info = Info(rt, namespace, name, sub)
        self.sub = sub
        self.dry = False
        self.manager = manager
        self.validation = "Ignore"
        self.warnings = []
        self.req = None


class Worker(threading.Thread):
    """Processes keys from a set-backed queue; keys may also be scheduled for later."""

    def __init__(self, name, fn, admin):
        super().__init__(name=name, daemon=True)
        self.fn = fn
        self.admin = admin
        self.cond = threading.Condition()
        self.pending = []
        self.pending_set = set()
        self.timers = []
        self.seq = 0
        self.stopped = False
        self.busy = False

    def add(self, key):
        with self.cond:
            if key not in self.pending_set:
                self.pending_set.add(key)
                self.pending.append(key)
                self.cond.notify()

    def add_after(self, key, delay):
        with self.cond:
            self.seq += 1
            heapq.heappush(self.timers, (time.monotonic() + delay, self.seq, key))
            self.cond.notify()

    def idle(self):
        with self.cond:
            return not self.pending and not self.busy

    def stop(self):
        with self.cond:
            self.stopped = True
            self.cond.notify()

    def run(self):
        while True:
            with self.cond:
                while True:
                    if self.stopped:
                        return
                    now = time.monotonic()
                    while self.timers and self.timers[0][0] <= now:
                        _, _, key = heapq.heappop(self.timers)
                        if key not in self.pending_set:
                            self.pending_set.add(key)
                            self.pending.append(key)
                    if self.pending:
                        break
                    wait = self.timers[0][0] - now if self.timers else None
                    self.cond.wait(wait)
                batch = self.pending
                self.pending = []
                self.pending_set = set()
                self.busy = True
            if self.admin.paused:
                self.admin.wait_unpaused()
            for key in batch:
                try:
                    self.fn(key)
                except Exception as e:  # a controller bug must not stop the server
                    print("controller %s: %s: %r" % (self.name, key, e), flush=True)
            with self.cond:
                self.busy = False
