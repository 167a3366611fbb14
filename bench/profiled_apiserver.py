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
_dumped = []
_orig_start = threading.Thread.start


def _profiled_start(self):
    """Thread.start that runs the thread's run method (its own, for subclasses) profiled."""
    run = self.run
    self.run = lambda: _profiled_run(run)
    _orig_start(self)


def _profiled_run(run):
    # CPU time of the thread, not wall time: threads mostly wait (for the GIL, sockets,
    # locks) and wall time would charge that waiting to whatever call happened to block.
    prof = cProfile.Profile(time.thread_time)
    with _lock:
        _live.add(prof)
    prof.enable()
    try:
        run()
    finally:
        prof.disable()
        with _lock:
            _live.discard(prof)
            _done.append(prof)


def _dump(out):
    if _dumped:
        return
    _dumped.append(out)
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
        except Exception as e:  # nothing recorded, or a thread still running changed it
            print("profile of a thread skipped: %r" % e, file=sys.stderr)
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
    threading.Thread.start = _profiled_start
    import apiserver
    real_exit = os._exit

    def exit_after_dump(code):
        _dump(out)
        sys.stderr.flush()
        real_exit(code)

    os._exit = exit_after_dump
    try:
        code = apiserver.main(sys.argv[2:])
    finally:
        # Also when serve ends with an exception instead of os._exit.
        _dump(out)
    sys.exit(code)


if __name__ == "__main__":
    main()
