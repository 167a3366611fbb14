"""Test hooks: fault injection (status codes with a probability, latency), pause/resume, closing
watches, expiring watch history; and the request log (JSON lines) with its summary."""

import json
import random
import re
import threading
import time

import util
from errors import APIError

FAULT_CODES = {409, 429, 500, 503}


class Rule:
    def __init__(self, spec, rid):
        self.id = rid
        self.code = spec.get("code")
        if self.code is not None:
            self.code = int(self.code)
            if self.code not in FAULT_CODES:
                raise ValueError("code must be one of 409, 429, 500, 503")
        self.latency = float(spec.get("latency") or 0)
        if self.code is None and self.latency <= 0:
            raise ValueError("a rule needs a code or a latency")
        self.verb = spec.get("verb") or ""
        self.resource = spec.get("resource") or ""
        self.path = spec.get("path") or ""
        self.path_re = re.compile(self.path) if self.path else None
        self.probability = float(spec.get("probability", 1.0))
        if not 0 <= self.probability <= 1:
            raise ValueError("probability must be between 0 and 1")
        c = spec.get("count")
        self.count = int(c) if c is not None else None
        self.retry_after = int(spec.get("retryAfter", 1))
        self.hits = 0

    def matches(self, verb, resource, path):
        if self.verb and self.verb != verb:
            return False
        if self.resource and self.resource != resource and \
                self.resource != resource.split("/")[0]:
            return False
        if self.path_re is not None and not self.path_re.search(path):
            return False
        return True

    def describe(self):
        return {"id": self.id, "code": self.code, "latency": self.latency, "verb": self.verb,
                "resource": self.resource, "path": self.path, "probability": self.probability,
                "count": self.count, "retryAfter": self.retry_after, "hits": self.hits}


def fault_error(rule, qualified_resource, name):
    code = rule.code
    headers = {}
    if code == 409:
        return APIError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object '
                        "has been modified; please apply your changes to the latest version and "
                        "try again" % (qualified_resource or "resource", name or ""),
                        {"name": name, "kind": qualified_resource.split(".")[0]}
                        if name else None)
    if code == 429:
        headers["Retry-After"] = str(rule.retry_after)
        return APIError(429, "TooManyRequests", "Too many requests, please try again later.",
                        {"retryAfterSeconds": rule.retry_after}, headers)
    if code == 503:
        headers["Retry-After"] = str(rule.retry_after)
        return APIError(503, "ServiceUnavailable", "The server is currently unable to handle the "
                        "request", {"retryAfterSeconds": rule.retry_after}, headers)
    return APIError(500, "InternalError", "Internal error occurred: injected fault",
                    {"causes": [{"message": "injected fault"}]})


class Admin:
    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.rules = []
        self.next_id = 1
        self.paused = False
        self.unpaused = threading.Event()
        self.unpaused.set()
        self.rng = random.Random()
        self.log_path = log_path
        self.log_buf = []
        self.log_lock = threading.Lock()
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self.flusher = threading.Thread(target=self._flush_loop, name="log-flusher", daemon=True)
        self.flusher.start()

    # ---- faults ------------------------------------------------------------------------------
    def add_rule(self, spec):
        with self.lock:
            r = Rule(spec, self.next_id)
            self.next_id += 1
            self.rules.append(r)
            return r

    def clear_rules(self):
        with self.lock:
            self.rules = []

    def pick(self, verb, resource, path):
        """(latency seconds, rule producing an error or None) for a request."""
        if not self.rules:
            return 0.0, None
        latency = 0.0
        fault = None
        with self.lock:
            for r in list(self.rules):
                if not r.matches(verb, resource, path):
                    continue
                if r.probability < 1 and self.rng.random() >= r.probability:
                    continue
                if r.count is not None:
                    if r.count <= 0:
                        continue
                    r.count -= 1
                r.hits += 1
                latency += r.latency
                if r.code is not None and fault is None:
                    fault = r
            self.rules = [r for r in self.rules if r.count is None or r.count > 0]
        return latency, fault

    # ---- pause -------------------------------------------------------------------------------
    def pause(self):
        self.paused = True
        self.unpaused.clear()

    def resume(self):
        self.paused = False
        self.unpaused.set()

    def wait_unpaused(self):
        while self.paused:
            self.unpaused.wait(1.0)

    # ---- request log --------------------------------------------------------------------------
    def log(self, user, verb, path, code, duration, resource="", admission=None):
        if self.log_file is None:
            return
        line = '{"time":"%s","user":%s,"verb":"%s","resource":%s,"path":%s,"code":%d,' \
               '"duration":%.6f%s}\n' % (
                   util.now_micro(), json.dumps(user), verb, json.dumps(resource),
                   json.dumps(path), code, duration,
                   ',"admission":' + json.dumps(admission, separators=(",", ":"))
                   if admission else "")
        with self.log_lock:
            self.log_buf.append(line)

    def flush_log(self):
        with self.log_lock:
            buf = self.log_buf
            self.log_buf = []
            if buf and self.log_file is not None:
                self.log_file.write("".join(buf))
                self.log_file.flush()

    def reset_log(self):
        with self.log_lock:
            self.log_buf = []
            if self.log_file is not None:
                self.log_file.close()
                self.log_file = open(self.log_path, "w", encoding="utf-8")

    def _flush_loop(self):
        while True:
            time.sleep(0.2)
            try:
                self.flush_log()
            except (OSError, ValueError):
                pass

    def status(self):
        with self.lock:
            return {"paused": self.paused, "rules": [r.describe() for r in self.rules]}


def summarize(path, since=None):
    """Counts of logged requests by verb and by (verb, code); since = RFC 3339 lower bound."""
    by_verb = {}
    by_code = {}
    by_verb_code = {}
    total = 0
    dur = 0.0
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if since and e.get("time", "") < since:
                continue
            v = e.get("verb", "")
            c = str(e.get("code", ""))
            by_verb[v] = by_verb.get(v, 0) + 1
            by_code[c] = by_code.get(c, 0) + 1
            by_verb_code.setdefault(v, {})
            by_verb_code[v][c] = by_verb_code[v].get(c, 0) + 1
            total += 1
            if v != "watch":
                dur += float(e.get("duration", 0))
    return {"total": total, "byVerb": by_verb, "byCode": by_code, "byVerbAndCode": by_verb_code,
            "nonWatchSeconds": round(dur, 6)}
