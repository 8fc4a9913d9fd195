"""Many live sessions on one core: per-hop latency as the number of players grows.

Each session runs what a live microphone session runs (no pitch model on the take): its
own ``FeatureStream(config, NoPitch)`` and ``Follower``, all followers of one reference
sharing its arrays (``PreparedReference``) and the process's compiled kernels. Every hop
(256 samples, 16 ms of audio) each session receives its block; one thread pinned to one
core serves the sessions in turn, as a server's event loop would. A session's latency
for a hop is the time from the hop's start (every block has arrived) until its position
is ready, so the last session served waits for all the others. Reported per N: median,
p99 and max of that latency [ms] over hops and sessions, the share of hops whose round
took longer than the hop itself (the server falling behind real time), the state a
session adds [kB], and the round time as a multiple of one session's (N = 1 measured in
the same run: the baseline).

Takes are the shared Chopin performances when ../shared/data is there (each session
starts at another offset), else generated melodies; the reference is the first of them.

    .venv/bin/python tools/bench_sessions.py [--sessions 1 8 16 32 64 96] [--seconds 30] [--json OUT]
"""

from __future__ import annotations

import os

# One core, one thread: set before numpy/numba load their thread pools.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402

from matcher.evaluation.bench_sessions import run  # noqa: E402
from matcher.evaluation.params import add_json_option, write_json  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 8, 16, 32, 64, 96])
    ap.add_argument("--seconds", type=float, default=30.0, help="audio per session [s]")
    add_json_option(ap, help=None)
    args = ap.parse_args(argv)
    write_json(args.json, run(args.sessions, args.seconds), indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
