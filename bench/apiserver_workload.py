#!/usr/bin/env python3
"""Cost of the API server stand-in's workload emulation: N Deployments of one replica are
created one by one over a keep-alive connection (stand-in --ready-delay 0), then the script
waits (on a watch) until every one is available, and prints the time taken and the stand-in's
CPU time (utime + stime) per Deployment. Each Deployment makes the stand-in create a
ReplicaSet and a Pod, start the Pod and write three statuses, so this is where a large
benchmark spends the stand-in's time.

    python3 bench/apiserver_workload.py [--deployments N] [--apiserver PATH]

--apiserver runs another copy of tests/apiserver/apiserver.py, e.g. an older one extracted with
`git archive COMMIT tests/apiserver | tar -x -C DIR`, to compare before and after a change.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import operator_converge as oc  # noqa: E402


def deployment(i):
    name = "d%04d" % i
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{
                                      "name": "ho11y", "image": "ho11y:bench",
                                      "ports": [{"name": "http", "containerPort": 8765}],
                                      "env": [{"name": "E%d" % j, "value": "v"}
                                              for j in range(10)]}]}}}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deployments", type=int, default=1000)
    ap.add_argument("--apiserver", help="the apiserver.py to run (default: this tree's)")
    args = ap.parse_args()
    if args.apiserver:
        oc.StandIn.script = os.path.abspath(args.apiserver)
    n = args.deployments
    work = tempfile.mkdtemp(prefix="apiserver-workload-")
    standin = oc.StandIn(work, "standin").start()
    try:
        cl = standin.client()
        st, _ = cl.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": "bench"}})
        if st != 201:
            raise SystemExit("namespace create failed: %d" % st)
        _, rv = cl.list_all("/apis/apps/v1/deployments", "limit=1")
        tracker = oc.DeploymentTracker(n)
        w = oc.Watch(standin, "/apis/apps/v1/deployments", rv, tracker.on_event)
        w.start()
        load0 = os.getloadavg()[0]
        cpu0 = standin.cpu()
        t0 = time.time()
        for i in range(n):
            st, out = cl.request("POST", "/apis/apps/v1/namespaces/bench/deployments",
                                 deployment(i))
            if st != 201:
                raise SystemExit("create failed: %d %s" % (st, out))
        t_created = time.time() - t0
        last = tracker.wait(1800)
        w.stop()
        if last is None:
            raise SystemExit("only %d of %d Deployments available" % (len(tracker.available),
                                                                       n))
        cpu = standin.cpu() - cpu0
        print("%d Deployments created in %.1f s, all available after %.1f s; stand-in CPU "
              "%.2f s = %.1f ms per Deployment (load average %.1f before, %.1f after)"
              % (n, t_created, last - t0, cpu, 1000.0 * cpu / n, load0, os.getloadavg()[0]))
        cl.close()
    finally:
        standin.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
