#!/usr/bin/env python3
"""Throughput of the Kubernetes API server stand-in (tests/apiserver): creates per second over
persistent HTTPS connections, and watch events per second delivered to concurrent watchers.

    python3 bench/apiserver_throughput.py [--creates N] [--clients C] [--watchers W]
                                          [--watch-creates N] [--profile FILE]

Starts its own stand-in on a free loopback port with a temporary state directory, runs the
two measurements, prints the figures and stops the server. All traffic stays on 127.0.0.1.
The clients are Python processes on the same machine, so they share its cores with the server.
With --profile the server runs under cProfile (all threads; much slower, so the figures of
that run are not the server's throughput) and the profile is written to FILE.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import ssl
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILED = os.path.join(REPO, "bench", "profiled_apiserver.py")

sys.path.insert(0, os.path.join(REPO, "tests", "apiserver"))
import harness  # noqa: E402  (the stand-in's process harness)


def start_server(state_dir, profile=None):
    cmd = [sys.executable, harness.SERVER]
    if profile:
        cmd = [sys.executable, PROFILED, profile]
    output = []
    p, url = harness.launch(cmd + ["serve", "--state-dir", state_dir, "--port", "0"], output,
                            30)
    if url is None:
        p.kill()
        raise SystemExit("stand-in did not start")
    p.output = output
    return p, int(url.rsplit(":", 1)[1])


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def measure_watch(state_dir, port, total, watchers, clients):
    rv = make_namespace(state_dir, port, "bench-watch")
    mgr = multiprocessing.Manager()
    ready = [mgr.Event() for _ in range(watchers)]
    per = total // clients
    total = per * clients
    with multiprocessing.Pool(watchers) as pool, multiprocessing.Pool(clients) as writers:
        res = pool.map_async(watch_worker, [(state_dir, port, "bench-watch", rv, total, ready[i])
                                            for i in range(watchers)])
        for e in ready:
            e.wait(30)
        time.sleep(0.3)
        t0 = time.monotonic()
        writers.map(create_worker, [(state_dir, port, "bench-watch", "w%d" % i, per)
                                    for i in range(clients)])
        t_writes = time.monotonic() - t0
        results = res.get(timeout=300)
        t_end = max(r[2] for r in results if r[2] is not None)
    got = sum(r[0] for r in results)
    return got, t0, t_end, t_writes, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--creates", type=int, default=4000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--watchers", type=int, default=10)
    ap.add_argument("--watch-creates", type=int, default=2000)
    ap.add_argument("--profile", metavar="FILE",
                    help="run the server under cProfile and write the profile to FILE")
    args = ap.parse_args()
    state_dir = tempfile.mkdtemp(prefix="apiserver-bench-")
    proc, port = start_server(state_dir, args.profile and os.path.abspath(args.profile))
    try:
        print("load average before: %s" % "%.2f %.2f %.2f" % os.getloadavg())
        c0 = cpu_seconds(proc.pid)
        n, dt, fails = measure_creates(state_dir, port, args.creates, args.clients)
        c1 = cpu_seconds(proc.pid)
        print("creates: %d ConfigMaps by %d keep-alive clients in %.2f s = %.0f creates/s "
              "(%d failed); server CPU %.2f s = %.2f ms per create"
              % (n, args.clients, dt, n / dt, fails, c1 - c0, 1000 * (c1 - c0) / max(n, 1)))
        got, t0, t_end, t_writes, wn = measure_watch(state_dir, port, args.watch_creates,
                                                     args.watchers, args.clients)
        c2 = cpu_seconds(proc.pid)
        span = t_end - t0
        print("watch: %d events to %d watchers (%d creates by %d clients in %.2f s) delivered "
              "in %.2f s = %.0f watch events/s; server CPU %.2f s"
              % (got, args.watchers, wn, args.clients, t_writes, span, got / span, c2 - c1))
        print("load average after: %s" % "%.2f %.2f %.2f" % os.getloadavg())
    finally:
        harness.stop_process(proc, 60)
        if args.profile:
            time.sleep(0.2)
            sys.stdout.write("".join(proc.output))
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
