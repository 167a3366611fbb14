#!/usr/bin/env python3
"""Throughput of the Kubernetes API server stand-in (tests/apiserver): creates per second over
persistent HTTPS connections, and watch events per second delivered to concurrent watchers.

    python3 bench/apiserver_throughput.py [--creates N] [--clients C] [--watchers W]

Starts its own stand-in on a free loopback port with a temporary state directory, runs the
two measurements, prints the figures and stops the server. All traffic stays on 127.0.0.1.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(REPO, "tests", "apiserver", "apiserver.py")


def start_server(state_dir):
    p = subprocess.Popen([sys.executable, SERVER, "serve", "--state-dir", state_dir],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        if line.startswith("listening on "):
            port = int(line.split(":")[-1])
            return p, port
    p.kill()
    raise SystemExit("stand-in did not start")


def connect(state_dir, port):
    ctx = ssl.create_default_context(cafile=os.path.join(state_dir, "ca.crt"))
    return http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)


def token(state_dir):
    with open(os.path.join(state_dir, "admin.token")) as f:
        return f.read().strip()


def request(conn, tok, method, path, body=None):
    hdrs = {"Authorization": "Bearer " + tok, "Accept": "application/json",
            "User-Agent": "bench/1.0"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=hdrs)
    r = conn.getresponse()
    out = r.read()
    return r.status, out


def create_worker(args):
    state_dir, port, ns, prefix, count = args
    tok = token(state_dir)
    conn = connect(state_dir, port)
    path = "/api/v1/namespaces/%s/configmaps" % ns
    failures = 0
    for i in range(count):
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "%s-%d" % (prefix, i), "labels": {"bench": "yes"}},
                "data": {"index": str(i)}}
        status, _ = request(conn, tok, "POST", path, body)
        if status != 201:
            failures += 1
    conn.close()
    return failures


def watch_worker(args):
    state_dir, port, ns, rv, expected, ready = args
    tok = token(state_dir)
    conn = connect(state_dir, port)
    conn.request("GET", "/api/v1/namespaces/%s/configmaps?watch=true&resourceVersion=%s"
                 % (ns, rv), headers={"Authorization": "Bearer " + tok})
    r = conn.getresponse()
    ready.set()
    got = 0
    buf = b""
    first = last = None
    while got < expected:
        chunk = r.read1(1 << 16)
        if not chunk:
            break
        buf += chunk
        n = buf.count(b"\n")
        if n:
            now = time.monotonic()
            if first is None:
                first = now
            last = now
            got += n
            buf = buf[buf.rfind(b"\n") + 1:]
    conn.close()
    return got, first, last


def make_namespace(state_dir, port, name):
    conn = connect(state_dir, port)
    status, _ = request(conn, token(state_dir), "POST", "/api/v1/namespaces",
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    st, out = request(conn, token(state_dir), "GET", "/api/v1/namespaces/%s/configmaps" % name)
    conn.close()
    if status != 201:
        raise SystemExit("namespace create failed: %d" % status)
    return json.loads(out)["metadata"]["resourceVersion"]


def measure_creates(state_dir, port, total, clients):
    make_namespace(state_dir, port, "bench-create")
    per = total // clients
    with multiprocessing.Pool(clients) as pool:
        t0 = time.monotonic()
        fails = pool.map(create_worker, [(state_dir, port, "bench-create", "c%d" % i, per)
                                         for i in range(clients)])
        dt = time.monotonic() - t0
    return per * clients, dt, sum(fails)


def measure_watch(state_dir, port, total, watchers):
    rv = make_namespace(state_dir, port, "bench-watch")
    mgr = multiprocessing.Manager()
    ready = [mgr.Event() for _ in range(watchers)]
    with multiprocessing.Pool(watchers + 1) as pool:
        res = pool.map_async(watch_worker, [(state_dir, port, "bench-watch", rv, total, ready[i])
                                            for i in range(watchers)])
        for e in ready:
            e.wait(30)
        time.sleep(0.3)
        t0 = time.monotonic()
        create_worker((state_dir, port, "bench-watch", "w", total))
        t_writes = time.monotonic() - t0
        results = res.get(timeout=300)
        t_end = max(r[2] for r in results if r[2] is not None)
    got = sum(r[0] for r in results)
    return got, t0, t_end, t_writes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--creates", type=int, default=4000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--watchers", type=int, default=10)
    ap.add_argument("--watch-creates", type=int, default=2000)
    args = ap.parse_args()
    state_dir = tempfile.mkdtemp(prefix="apiserver-bench-")
    proc, port = start_server(state_dir)
    try:
        n, dt, fails = measure_creates(state_dir, port, args.creates, args.clients)
        print("creates: %d ConfigMaps by %d keep-alive clients in %.2f s = %.0f creates/s "
              "(%d failed)" % (n, args.clients, dt, n / dt, fails))
        got, t0, t_end, t_writes = measure_watch(state_dir, port, args.watch_creates,
                                                 args.watchers)
        span = t_end - t0
        print("watch: %d events to %d watchers (%d creates in %.2f s) delivered in %.2f s = "
              "%.0f watch events/s" % (got, args.watchers, args.watch_creates, t_writes, span,
                                       got / span))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
