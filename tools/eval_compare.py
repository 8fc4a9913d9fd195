"""Accuracy of the offline aligner (``matcher compare``), side by side with two baselines.

Pairs: those of ../shared/data (matcher.evaluation.data): piano p01->p02, p03->p04,
p05->p06, p07->p08, p05->p08 and percussion perc7_00..02, reference -> take.

Metric (the same as the follower's, matcher.evaluation.metrics.beat_errors): for each annotated take
beat at time tB, the method's path is interpolated linearly in take time at tB, and the
error is the distance to the annotated reference time. Per set: share within 50/100/200 ms,
mean and median error [ms], pooled over all beats; seconds per pair (features + alignment).

Methods:
* ``matcher dtw``    — matcher.compare with the full-matrix dtw-python engine;
* ``matcher banded`` — the same features and cost, coarse-to-fine banded engine (linear memory);
* ``chroma_dtw``     — librosa full-matrix chroma DTW at 20 ms (matcher.evaluation.baselines);
* ``synctoolbox``    — synctoolbox 1.4.2 MrMsDTW (chroma + DLNCO, its demo settings), run in
  its own venv (tools/baselines/setup_synctoolbox.sh) through run_synctoolbox.py.

Pairs run one after another: seconds per pair is a timing figure.

    .venv/bin/python tools/eval_compare.py [--sets piano percussion] [--methods ...] [--per-pair] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from matcher import AlignParams, Config, YinModel, build_reference
from matcher.compare import compare
from matcher.evaluation import baselines
from matcher.evaluation.data import DATA_ROOT, Pair, pairs_of
from matcher.evaluation.report import methods_table, per_pair_table
from matcher.evaluation.runs import Answer, evaluate_pairs

METHODS = ["matcher dtw", "matcher banded", "chroma_dtw", "synctoolbox"]


def run_matcher(pair: Pair, method: str) -> Answer:
    """(take_t, ref_t) along the path of ``matcher compare REF TAKE`` (A = reference)."""
    config = Config(pitch_backend="yin")
    model = YinModel(config)
    ref = build_reference(pair.ref_audio, config, model, "ref")
    take = build_reference(pair.take_audio, config, model, "take")
    result = compare(ref, take, AlignParams(method=method))
    return Answer(result.alignment.b_t, result.alignment.a_t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", choices=["piano", "percussion"], default=["piano", "percussion"])
    ap.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    ap.add_argument("--synctoolbox-python", type=Path, default=baselines.SYNCTOOLBOX_PYTHON)
    ap.add_argument("--per-pair", action="store_true", help="also print each pair's figures")
    ap.add_argument("--json", type=Path, help="write all figures here")
    args = ap.parse_args(argv)

    methods = list(args.methods)
    if "synctoolbox" in methods and not args.synctoolbox_python.exists():
        print(
            f"synctoolbox left out: {args.synctoolbox_python} not found (run tools/baselines/setup_synctoolbox.sh)",
            file=sys.stderr,
        )
        methods.remove("synctoolbox")
    pair_list = pairs_of(args.sets)
    if not pair_list:
        print(f"no evaluation pairs found under {DATA_ROOT}", file=sys.stderr)
        return 2
    run = {
        "matcher dtw": lambda p: run_matcher(p, "dtw"),
        "matcher banded": lambda p: run_matcher(p, "banded"),
        "chroma_dtw": lambda p: Answer(*baselines.chroma_dtw(p.ref_audio, p.take_audio)),
        "synctoolbox": lambda p: Answer(*baselines.synctoolbox(p, args.synctoolbox_python)),
    }
    t0 = time.perf_counter()
    res = evaluate_pairs({m: run[m] for m in methods}, pair_list)
    res["wall_seconds"] = time.perf_counter() - t0
    print(methods_table(res) + ("\n" + per_pair_table(res["pairs"]) if args.per_pair else ""))
    print(f"\nwall time {res['wall_seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
