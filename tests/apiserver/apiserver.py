#!/usr/bin/env python3
"""Kubernetes API server stand-in for tests (see README.md in this folder).

  apiserver.py serve   --state-dir DIR [--port N] [--rbac] [--ready-delay SECONDS]
                       [--enable-admission-plugins NAME[,NAME...]]
  apiserver.py token   --state-dir DIR --service-account NAMESPACE/NAME
  apiserver.py admin   --state-dir DIR ACTION [options]
  apiserver.py summary --state-dir DIR [--log FILE] [--since TIME] [--json]
"""

import argparse
import json
import os
import signal
import socket
import ssl
import sys
import threading
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import admin as adminmod  # noqa: E402
import admission as admissionmod  # noqa: E402
import auth  # noqa: E402


def _free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def cmd_serve(args):
    import server

    state_dir = os.path.abspath(args.state_dir)
    os.makedirs(state_dir, exist_ok=True)
    port = args.port
    if port is None:
        port = 0
        try:
            with open(os.path.join(state_dir, "port")) as f:
                prev = int(f.read().strip())
            if prev and _free(prev):
                port = prev
        except (OSError, ValueError):
            pass
    stop = threading.Event()
    srv, app, flusher, url = server.run(state_dir, port, args.rbac, args.ready_delay, stop,
                                        args.admission_plugins)

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("listening on %s" % url, flush=True)
    while not stop.wait(1.0):
        pass
    srv.shutdown()
    srv.server_close()
    flusher.stop()
    try:
        app.store.save()
    finally:
        app.admin.flush_log()
    sys.stdout.flush()
    os._exit(0)


def cmd_token(args):
    ns, sep, name = args.service_account.partition("/")
    if not sep or not ns or not name:
        print("token: --service-account must be NAMESPACE/NAME", file=sys.stderr)
        return 2
    os.makedirs(args.state_dir, exist_ok=True)
    print(auth.service_account_token(os.path.abspath(args.state_dir), ns, name))
    return 0


def admin_request(state_dir, method, action, body=None):
    """Call the admin endpoint of the server running on state_dir; returns the JSON answer."""
    url, token = auth.read_kubeconfig(state_dir)
    ctx = ssl.create_default_context(cafile=os.path.join(state_dir, "ca.crt"))
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + "/_admin/" + action, data=data, method=method,
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raise SystemExit("admin: %s: %s" % (e.code, e.read().decode(errors="replace")))
    except urllib.error.URLError as e:
        raise SystemExit("admin: cannot reach the server at %s: %s" % (url, e.reason))


def cmd_admin(args):
    sd = os.path.abspath(args.state_dir)
    a = args.action
    if a == "fault":
        rule = {"code": args.code, "verb": args.verb, "resource": args.resource,
                "path": args.path, "probability": args.probability, "count": args.count,
                "retryAfter": args.retry_after}
        out = admin_request(sd, "POST", "faults", {k: v for k, v in rule.items() if v is not None})
    elif a == "latency":
        rule = {"latency": args.seconds, "verb": args.verb, "resource": args.resource,
                "path": args.path, "probability": args.probability, "count": args.count}
        out = admin_request(sd, "POST", "faults", {k: v for k, v in rule.items() if v is not None})
    elif a == "clear":
        out = admin_request(sd, "DELETE", "faults")
    elif a == "status":
        out = admin_request(sd, "GET", "status")
    else:
        out = admin_request(sd, "POST", a)
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0


def cmd_summary(args):
    path = args.log or os.path.join(os.path.abspath(args.state_dir), "requests.log")
    if not os.path.exists(path):
        print("summary: no request log at %s" % path, file=sys.stderr)
        return 1
    s = adminmod.summarize(path, args.since)
    if args.json:
        print(json.dumps(s, indent=2, sort_keys=True))
        return 0
    codes = sorted(s["byCode"], key=lambda c: int(c) if c.isdigit() else 0)
    width = max([len(v) for v in s["byVerb"]] + [4])
    print("%-*s %8s  %s" % (width, "verb", "total", "  ".join("%6s" % c for c in codes)))
    for v in sorted(s["byVerb"]):
        row = s["byVerbAndCode"][v]
        print("%-*s %8d  %s" % (width, v, s["byVerb"][v],
                                "  ".join("%6d" % row.get(c, 0) for c in codes)))
    print("%-*s %8d  %s" % (width, "all", s["total"],
                            "  ".join("%6d" % s["byCode"][c] for c in codes)))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="apiserver.py", description="Kubernetes API server "
                                "stand-in for tests")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the server")
    s.add_argument("--state-dir", required=True)
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--rbac", action="store_true")
    s.add_argument("--ready-delay", type=float, default=1.0)
    s.add_argument("--enable-admission-plugins", action="append", default=[],
                   metavar="NAME[,NAME...]",
                   help="admission plugins to enable, as kube-apiserver's flag (comma-separated, "
                   "repeatable); only OwnerReferencesPermissionEnforcement is implemented, and "
                   "it checks only requests authorized by --rbac")
    t = sub.add_parser("token", help="print a service-account token")
    t.add_argument("--state-dir", required=True)
    t.add_argument("--service-account", required=True)
    a = sub.add_parser("admin", help="test hooks of a running server")
    a.add_argument("--state-dir", required=True)
    a.add_argument("action", choices=["fault", "latency", "clear", "status", "close-watches",
                                      "expire-history", "pause", "resume", "bookmark",
                                      "reset-log", "flush"])
    a.add_argument("--code", type=int)
    a.add_argument("--seconds", type=float)
    a.add_argument("--verb")
    a.add_argument("--resource")
    a.add_argument("--path")
    a.add_argument("--probability", type=float)
    a.add_argument("--count", type=int)
    a.add_argument("--retry-after", type=int)
    m = sub.add_parser("summary", help="count logged requests by verb and code")
    m.add_argument("--state-dir", required=True)
    m.add_argument("--log")
    m.add_argument("--since")
    m.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.cmd == "serve":
        if args.ready_delay < 0:
            p.error("--ready-delay must be >= 0")
        try:
            args.admission_plugins = admissionmod.parse_plugins(args.enable_admission_plugins)
        except ValueError as e:
            p.error(str(e))
        return cmd_serve(args)
    if args.cmd == "token":
        return cmd_token(args)
    if args.cmd == "admin":
        if args.action == "fault" and args.code is None:
            p.error("admin fault needs --code")
        if args.action == "latency" and args.seconds is None:
            p.error("admin latency needs --seconds")
        return cmd_admin(args)
    return cmd_summary(args)


if __name__ == "__main__":
    sys.exit(main())
