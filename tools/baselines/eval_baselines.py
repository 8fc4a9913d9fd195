"""Evaluate the reference baselines on the standard pairs and print one table per set.

Baselines:
* ``mm_arzt``  — pymatchmaker 0.3.0 OnlineTimeWarpingArztFrame, chroma features (online);
* ``mm_dixon`` — pymatchmaker 0.3.0 OnlineTimeWarpingDixonFrame, log-spectral features (online);
* ``chroma_dtw`` — offline full-matrix librosa chroma DTW (matcher.evaluation.baselines).

Runs from the project's venv. The pymatchmaker followers run in their own venv
(``setup_matchmaker.sh``) through run_matchmaker.py as a subprocess, one call per pair
and method; everything is scored with the same rule (matcher.evaluation.metrics.beat_errors),
so the figures are directly comparable with the follower's (tools/eval_follow.py).

Pairs run one after another, never in parallel: frames/s is a timing figure and two
jobs sharing the machine's two cores would distort it.

    .venv/bin/python tools/baselines/eval_baselines.py [--methods ...] [--sets ...] --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from matcher.evaluation import baselines
from matcher.evaluation.data import DATA_ROOT, SHARED_SETS, Pair, pairs_of
from matcher.evaluation.report import methods_table
from matcher.evaluation.runs import Answer, evaluate_pairs

MM_METHODS = {"mm_arzt": "arzt", "mm_dixon": "dixon"}
ALL_METHODS = ["mm_arzt", "mm_dixon", "chroma_dtw"]


def run_matchmaker(pair: Pair, method: str, python: Path, reports_dir: Path | None) -> Answer:
    """One pymatchmaker follower on one pair; its raw reports kept in ``reports_dir`` if given."""
    res = baselines.matchmaker(pair, MM_METHODS[method], python)
    if reports_dir is not None:
        reports_dir.mkdir(parents=True, exist_ok=True)
        (reports_dir / f"{method}_{pair.name.replace('->', '_to_')}.json").write_text(json.dumps(res))
    rep = np.asarray(res["reports"], dtype=np.float64)
    extra = {"frames_per_s": res["frames_per_s"], "features": res["features"]}
    return Answer(rep[:, 0], rep[:, 1], res["n_frames"], res["step_seconds"], extra)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", nargs="+", choices=ALL_METHODS, default=ALL_METHODS)
    ap.add_argument("--sets", nargs="+", default=list(SHARED_SETS), help="restrict to these sets (piano, percussion)")
    ap.add_argument("--json", help="write the results (summaries + per-pair rows) to this JSON file")
    ap.add_argument("--reports-dir", type=Path, help="keep each matchmaker run's raw (t, ref_t) reports here")
    ap.add_argument("--matchmaker-python", type=Path, default=baselines.MATCHMAKER_PYTHON,
                    help="python of the pymatchmaker venv (default: %(default)s)")  # fmt: skip
    args = ap.parse_args(argv)
    if any(m in MM_METHODS for m in args.methods) and not args.matchmaker_python.exists():
        ap.error(f"{args.matchmaker_python} not found: run tools/baselines/setup_matchmaker.sh first")

    run = {m: (lambda p, m=m: run_matchmaker(p, m, args.matchmaker_python, args.reports_dir)) for m in MM_METHODS}
    run["chroma_dtw"] = lambda p: Answer(*baselines.chroma_dtw(p.ref_audio, p.take_audio))
    t0 = time.perf_counter()
    res = evaluate_pairs({m: run[m] for m in args.methods}, pairs_of(args.sets))
    res["meta"] = {
        "metric": "abs error (ms) of the method's reference time, interpolated linearly in "
        "take time at each annotated take beat, vs the annotated reference time; pooled per set",
        "data_root": str(DATA_ROOT),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "wall_seconds": time.perf_counter() - t0,
    }
    print(methods_table(res, frames=True))
    print(f"\nwall time {res['meta']['wall_seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
