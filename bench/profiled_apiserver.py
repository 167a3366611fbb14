#!/usr/bin/env python3
"""Runs the API server stand-in (tests/apiserver) with every thread under cProfile, to find
where its time goes. Same command line as `apiserver.py serve`, plus where to write the
profile:

    python3 bench/profiled_apiserver.py PROFILE_OUT serve --state-dir DIR [serve options]

On SIGTERM or SIGINT the stand-in stops as usual and the profile of all threads together is
written to PROFILE_OUT (pstats format; read it with `python3 -m pstats PROFILE_OUT`) and its top
entries by internal time are printed to stderr. Used by `apiserver_throughput.py --profile`.
"""

import cProfile
import os
import pstats
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "apiserver"))

_lock = threading.Lock()
_done = []
_live = set()
_orig_run = threading.Thread.run


def _profiled_run(self):
    # CPU time of the thread, not wall time: threads mostly wait (for the GIL, sockets,
    # locks) and wall time would charge that waiting to whatever call happened to block.
    prof = cProfile.Profile(time.thread_time)
    with _lock:
        _live.add(prof)
    prof.enable()
    try:
        _orig_run(self)
    finally:
        prof.disable()
        with _lock:
            _live.discard(prof)
            _done.append(prof)


def _dump(out):
    with _lock:
        profs = _done + list(_live)
    stats = None
    for p in profs:
        try:
            p.disable()
        except Exception:
            pass
        try:
            if stats is None:
                stats = pstats.Stats(p)
            else:
                stats.add(p)
        except TypeError:  # a profile that recorded nothing
            continue
    if stats is None:
        return
    stats.dump_stats(out)
    stats.stream = sys.stderr
    stats.sort_stats("tottime").print_stats(30)


def main():
    if len(sys.argv) < 3 or sys.argv[2] != "serve":
        raise SystemExit(__doc__)
    out = os.path.abspath(sys.argv[1])
    threading.Thread.run = _profiled_run
    import apiserver
    real_exit = os._exit

    def exit_after_dump(code):
        _dump(out)
        sys.stderr.flush()
        real_exit(code)

    os._exit = exit_after_dump
    sys.exit(apiserver.main(sys.argv[2:]))


if __name__ == "__main__":
    main()
