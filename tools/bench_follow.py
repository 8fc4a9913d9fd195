"""Speed and memory of the online follower, with pymatchmaker's Arzt follower as a yardstick.

(a) Step throughput [frames/s] on IDENTICAL inputs: pymatchmaker's 12-bin chroma of a
    take and a reference (30 frames/s), the same band (+-10 s = +-300 frames) for both.
    Ours: the numba kernel that ``Follower.steps`` runs (``follow_chunk``), fed the
    chroma arrays as they are, many frames per call (a file) and one frame per call
    (live); also the whole ``Follower.steps`` / ``Follower.step`` wrapper (it builds its
    own cost vectors: chroma L2-normalised plus two zero pitch columns).
    pymatchmaker: ``OnlineTimeWarpingArztFrame`` one frame per call, in its own venv
    (tools/baselines/run_matchmaker.py timing mode). Both are measured back to back,
    alternating, ``--rounds`` times; each figure is a median over passes.
    Not identical: the local distance (ours Euclidean, pymatchmaker Manhattan), and what
    a step does besides (our tempo model and match quality; pymatchmaker's Python-level
    bookkeeping per call).
(b) Per-hop latency of live following: the take fed in 256-sample blocks (one hop)
    through ``FeatureStream(config, NoPitch(config))`` + ``Follower.steps``; median and
    p99 [ms] against the 16 ms real-time budget of a hop. Again with SPICE pitch computed
    on the take (the hop that runs SPICE over the frames that became ready carries it).
(c) Peak memory above start-up while following a 3-hour reference (real reference frames
    tiled; start-up = reference in memory, kernels compiled, feature stream made), next
    to a 3-minute reference; each in a fresh process, RSS sampled from /proc/self/status
    by a thread (and the kernel's VmHWM peak after resetting it, as a check).
(d) The far-move look-alike search (``kernels.nearest_twin``) at its worst: a lost
    follower on a 3-hour reference where every place has the leader's evidence and none
    is a look-alike; ms per call against the real time of the coarse take frame (4 hops)
    it runs in.

Data: the Chopin pair p01 (reference) -> p02 (take) of ../shared/data when present,
else a synthetic melody pair (matcher.synth).

    .venv/bin/python tools/bench_follow.py [--quick] [--no-spice] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from matcher.evaluation.bench_follow import print_report, print_twin, run
from matcher.evaluation.bench_follow_live import memory_child
from matcher.evaluation.params import add_json_option, write_json


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short run: fewer rounds, 20 s of take, a 1-hour reference")
    ap.add_argument("--no-spice", action="store_true", help="skip the SPICE latency row")
    add_json_option(ap)
    ap.add_argument("--memory-child", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--take-seconds", type=float, default=180.0, help=argparse.SUPPRESS)
    ap.add_argument("--ref-audio", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--take-audio", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child is not None:
        print(json.dumps(memory_child(args.ref_audio, args.take_audio, args.memory_child, args.take_seconds)))
        return 0
    figures = run(Path(__file__), args.quick, spice=not args.no_spice)
    print_report(figures["pair"], figures["steps"], figures["latency"], figures["memory"])
    print_twin(figures["twin"])
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
