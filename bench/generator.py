#!/usr/bin/env python3
"""ho11y under wrk, in one run on this machine (every process on 127.0.0.1):

  1. a leaf ho11y (trace export on, to a local OTLP sink) against nginx serving the same 49-byte
     JSON, alternating rounds of wrk at the same concurrency;
  2. a frontend calling two downstream ho11y leaves (the recipe's shape): requests/s and p99;
  3. spans delivered vs expected at 50 % of the frontend's saturated rate, driven by ho11y's own
     load mode at a fixed open-loop rate;
  4. peak RSS (VmHWM of /proc/PID/status) of each ho11y after its run.

    python3 bench/generator.py [--bin-dir build/bin] [--duration 8] [--rounds 2]
                               [--connections 50] [--wrk-threads 2]

The OTLP sink is a small HTTP server in this script: it counts spans in each batch without
parsing the JSON (occurrences of "spanId"), so it costs little next to ho11y. nginx (nginx-light)
runs unprivileged from a temporary prefix with its own config, pid and logs. wrk, nginx, the
sink and ho11y share the machine's cores: the figures compare servers under the same conditions,
they are not each server's capacity alone. The load average before and after is printed, since
other work on the machine disturbs the figures.
"""

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BODY = '{"traceId":"1-6193a9be-53693f29a0119ee4d661ba0d"}'
MIB = 1024.0 * 1024.0


class Sink:
    """An OTLP/HTTP JSON receiver that counts spans and answers 200 {}."""

    def __init__(self):
        self.lock = threading.Lock()
        self.spans = 0
        self.requests = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                n = raw.count(b'"spanId"')
                with sink.lock:
                    sink.spans += n
                    sink.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/v1/traces" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def count(self):
        with self.lock:
            return self.spans

    def wait_stable(self, want=None, quiet=1.5, limit=30.0):
        """Waits until the count reaches want (if given) or stops changing for `quiet` s."""
        deadline = time.monotonic() + limit
        last, since = self.count(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            n = self.count()
            if want is not None and n >= want:
                return n
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return n
        return self.count()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(port, proc, what, limit=10.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("%s exited with %s" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("%s did not listen on %d" % (what, port))


class Ho11y:
    def __init__(self, binary, name, env):
        self.name = name
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/" % self.port
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HO11Y_PORT": str(self.port),
                "HO11Y_BIND_ADDRESS": "127.0.0.1", "OTEL_SERVICE_NAME": name,
                "HO11Y_LOG_DEST": "stdout", "DISABLE_OM": "on"}
        full.update(env)
        # Logs stay on (one JSON line per request, as in the recipe) and go to /dev/null.
        self.proc = subprocess.Popen([binary], env=full, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        wait_listening(self.port, self.proc, name)

    def metrics(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def status(self, field):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Nginx:
    CONF = """worker_processes 2;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            default_type application/json;
            return 200 '%(body)s';
        }
    }
}
"""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "nginx")
        os.makedirs(self.dir)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/" % self.port
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self.CONF % {"dir": self.dir, "port": self.port, "body": BODY})
        cmd = [shutil.which("nginx") or "/usr/sbin/nginx", "-p", self.dir, "-c", conf,
               "-e", os.path.join(self.dir, "error.log")]
        if os.geteuid() == 0:
            # Never as root: the whole prefix belongs to nobody, and nginx starts as nobody.
            os.chmod(tmp, 0o755)
            shutil.chown(self.dir, "nobody", "nogroup")
            shutil.chown(conf, "nobody", "nogroup")
            cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_listening(self.port, self.proc, "nginx")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def cpu_seconds(pid):
    """CPU time (user + system) of a process and its children, in seconds."""
    total = 0.0
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            for child in f.read().split():
                total += cpu_seconds(int(child))
    except OSError:
        pass
    return total


def wrk(url, args, pid=None):
    """Runs wrk; returns (requests/s, p99 seconds, non-2xx count, socket errors, CPU seconds of
    pid and its children per request)."""
    cpu0 = cpu_seconds(pid) if pid else 0.0
    cmd = ["wrk", "-t%d" % args.wrk_threads, "-c%d" % args.connections,
           "-d%ds" % args.duration, "--latency", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    cpu = (cpu_seconds(pid) - cpu0) / max(total, 1) if pid else 0.0
    return (rps, p99, int(non2xx.group(1)) if non2xx else 0, errs.group(1) if errs else "", cpu)


def recipe_graph(binary, export, procs):
    """The recipe's shape, every process exporting: [frontend, downstream0, downstream1], the
    frontend calling the two leaves; they are added to procs (stopped in the end)."""
    ds0 = Ho11y(binary, "downstream0", export)
    ds1 = Ho11y(binary, "downstream1", export)
    fe = Ho11y(binary, "frontend", dict(export, DOWNSTREAM0=ds0.url, DOWNSTREAM1=ds1.url))
    graph = [fe, ds0, ds1]
    procs += graph
    return graph


def span_counts(procs):
    created = exported = dropped = queued = 0.0
    for p in procs:
        m = p.metrics()
        created += m.get("ho11y_spans_created_total", 0)
        exported += m.get("ho11y_spans_exported_total", 0)
        queued += m.get("ho11y_export_queue_spans", 0)
        dropped += sum(v for k, v in m.items() if k.startswith("ho11y_spans_dropped_total"))
    return int(created), int(exported), int(dropped), int(queued)


def mib(n):
    return "%.1f MiB" % (n / MIB)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=2, help="alternating leaf/nginx rounds")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--half-rate-seconds", type=int, default=10)
    args = ap.parse_args()
    binary = os.path.join(args.bin_dir, "ho11y")
    if not os.access(binary, os.X_OK):
        raise SystemExit("no ho11y binary at %s (build first, or pass --bin-dir)" % binary)
    for tool in ("wrk",):
        if not shutil.which(tool):
            raise SystemExit("%s is not installed (scripts/setup.sh --test installs it)" % tool)
    print("machine: %d cores; load average before: %.2f %.2f %.2f" % ((os.cpu_count(),)
                                                                     + os.getloadavg()))
    print("wrk -t%d -c%d -d%ds per run" % (args.wrk_threads, args.connections, args.duration))
    tmp = tempfile.mkdtemp(prefix="ho11y-bench-")
    sink = Sink()
    procs = []
    nginx = None
    try:
        export = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": sink.url}
        # 1. leaf vs nginx, alternating so that both see the same background load.
        nginx = Nginx(tmp)
        leaf = Ho11y(binary, "leaf", export)
        procs.append(leaf)
        leaf_runs, nginx_runs = [], []
        before = sink.count()
        for _ in range(args.rounds):
            nginx_runs.append(wrk(nginx.url, args, nginx.proc.pid))
            leaf_runs.append(wrk(leaf.url, args, leaf.proc.pid))
        nginx.stop()
        leaf_rss = leaf.status("VmHWM")
        leaf_anon, leaf_file = leaf.status("RssAnon"), leaf.status("RssFile")
        # The last partial batch leaves after OTEL_BSP_SCHEDULE_DELAY (5 s by default).
        created = span_counts([leaf])[0]
        sink.wait_stable(want=before + created, quiet=7)
        created, exported, dropped, queued = span_counts([leaf])
        leaf_delivered = sink.count() - before
        best_leaf = max(r[0] for r in leaf_runs)
        best_nginx = max(r[0] for r in nginx_runs)
        print("\n1. leaf ho11y (export on) vs nginx, same 49-byte JSON")
        for i, (l, n) in enumerate(zip(leaf_runs, nginx_runs)):
            print("   round %d: ho11y %.0f req/s (p99 %.2f ms, %.1f us CPU/request), "
                  "nginx %.0f req/s (p99 %.2f ms, %.1f us CPU/request)"
                  % (i + 1, l[0], l[1] * 1e3, l[4] * 1e6, n[0], n[1] * 1e3, n[4] * 1e6))
        print("   best: ho11y %.0f req/s, nginx %.0f req/s, ratio %.2f (goal >= 0.5)"
              % (best_leaf, best_nginx, best_leaf / best_nginx))
        print("   leaf spans: created %d, delivered to the sink %d, exported %d, dropped %d, "
              "queued %d" % (created, leaf_delivered, exported, dropped, queued))
        print("   leaf peak RSS (VmHWM) %s; after the runs: anonymous %s, file-backed (shared "
              "libraries) %s" % (mib(leaf_rss), mib(leaf_anon), mib(leaf_file)))
        leaf.stop()
        procs.remove(leaf)

        # 2. frontend -> downstream0, downstream1 (leaves), every process exporting.
        graph = recipe_graph(binary, export, procs)
        before = sink.count()
        cpu0 = [cpu_seconds(p.proc.pid) for p in graph]
        rps, p99, non2xx, errs, _ = wrk(graph[0].url, args)
        cpu = [cpu_seconds(p.proc.pid) - c for p, c in zip(graph, cpu0)]
        rss = {p.name: p.status("VmHWM") for p in graph}
        sink.wait_stable(want=before + span_counts(graph)[0], quiet=7)
        created, exported, dropped, queued = span_counts(graph)
        print("\n2. frontend with two downstreams (5 spans per request), saturated")
        print("   %.0f req/s, p99 %.2f ms, non-2xx %d %s" % (rps, p99 * 1e3, non2xx, errs))
        total = rps * args.duration
        print("   CPU per frontend request: " + ", ".join(
            "%s %.1f us" % (p.name, c / total * 1e6) for p, c in zip(graph, cpu)))
        print("   spans: created %d, exported %d, dropped %d (queue overflow above saturation)"
              % (created, exported, dropped))
        print("   peak RSS: " + ", ".join("%s %s" % (k, mib(v)) for k, v in rss.items()))
        for p in graph:
            p.stop()
            procs.remove(p)

        # 3. the same graph, fresh, at half the saturated rate, open loop.
        rate = max(1, int(rps / 2))
        graph = recipe_graph(binary, export, procs)
        before = sink.count()
        load = Ho11y(binary, "load", {"HO11Y_LOAD_TARGET": graph[0].url,
                                      "HO11Y_LOAD_RATE": str(rate),
                                      "HO11Y_LOAD_DURATION": "%ds" % args.half_rate_seconds,
                                      "HO11Y_LOAD_CONCURRENCY": "256",
                                      "OTEL_TRACES_EXPORTER": "none"})
        procs.append(load)
        total = rate * args.half_rate_seconds
        deadline = time.monotonic() + args.half_rate_seconds + 30
        m = {}
        while time.monotonic() < deadline:
            time.sleep(0.5)
            m = load.metrics()
            if m.get("ho11y_load_request_duration_seconds_count", 0) >= total:
                break
        ok = int(m.get('ho11y_load_requests_total{status_code="200"}', 0))
        skipped = int(m.get("ho11y_load_skipped_total", 0))
        errors = int(sum(v for k, v in m.items() if k.startswith("ho11y_load_errors_total")))
        expected = 5 * ok
        delivered = sink.wait_stable(want=before + expected) - before
        created, exported, dropped, queued = span_counts(graph)
        rss = {p.name: p.status("VmHWM") for p in graph}
        print("\n3. 50 %% of saturation: %d req/s for %d s (ho11y load mode, open loop)"
              % (rate, args.half_rate_seconds))
        print("   requests: %d answered 200 of %d due, %d skipped, %d transport errors"
              % (ok, total, skipped, errors))
        print("   spans: expected %d, delivered %d (%.2f %%), exported %d, dropped %d"
              % (expected, delivered, 100.0 * delivered / max(expected, 1), exported, dropped))
        print("   peak RSS: " + ", ".join("%s %s" % (k, mib(v)) for k, v in rss.items()))
    finally:
        for p in procs:
            p.stop()
        if nginx:
            nginx.stop()
        sink.httpd.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    print("\nload average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
