"""Offline full-matrix chroma DTW baseline (librosa), evaluated on the baseline pairs.

This is the upper-bound-style yardstick for piano: an offline aligner sees both whole
recordings and so can never drift, but it is quadratic in time and memory and (on
repeating percussion cycles) has no notion of "don't jump to the wrong cycle" beyond
the global path cost.

Runs in the project's venv (librosa, numpy, soundfile); no matcher imports.

    /work/main/.venv/bin/python tools/baselines/chroma_dtw.py [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import librosa
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pairs as pairs_mod

SAMPLE_RATE = 22050
HOP = 441  # 20 ms
# chroma_cqt returns all-zero columns in silence; cosine distance is undefined there,
# so a tiny floor makes silent frames equal to each other instead of NaN.
EPS = 1e-6


def chroma(path: str | Path) -> np.ndarray:
    """Chroma (12, n_frames) at 20 ms hop, floored by EPS."""
    y, _ = librosa.load(str(path), sr=SAMPLE_RATE, mono=True)
    return librosa.feature.chroma_cqt(y=y, sr=SAMPLE_RATE, hop_length=HOP) + EPS


def align_chroma_dtw(ref_path: str | Path, take_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Align take to reference with full-matrix cosine DTW (librosa default steps).

    Returns (take_t, ref_t) in seconds along the warping path, ordered by time, with
    take_t non-decreasing (it repeats where the path moves along the reference only),
    ready for numpy.interp over take time.
    """
    ref_c = chroma(ref_path)
    take_c = chroma(take_path)
    _, wp = librosa.sequence.dtw(X=ref_c, Y=take_c, metric="cosine")
    wp = wp[::-1]  # librosa returns the path from the end backwards
    frame_s = HOP / SAMPLE_RATE
    return wp[:, 1] * frame_s, wp[:, 0] * frame_s


def evaluate(pair_list: list[pairs_mod.Pair] | None = None, verbose: bool = True) -> dict:
    """Run the baseline on every pair; per-set pooled summaries plus per-pair detail.

    ``seconds_per_pair`` is the wall time of one full alignment (features + DTW), the
    cost an offline user pays; frames/s is not meaningful for an offline method.
    """
    pair_list = pair_list if pair_list is not None else pairs_mod.all_pairs()
    errors: dict[str, list[np.ndarray]] = {s: [] for s in pairs_mod.set_names(pair_list)}
    seconds: dict[str, list[float]] = {s: [] for s in errors}
    per_pair = []
    for p in pair_list:
        t0 = time.perf_counter()
        take_t, ref_t = align_chroma_dtw(p.ref_audio, p.take_audio)
        dt = time.perf_counter() - t0
        tb, ta = pairs_mod.joined_beats(p)
        e = pairs_mod.score_answers(tb, ta, take_t, ref_t)
        errors[p.set_name].append(e)
        seconds[p.set_name].append(dt)
        summary = pairs_mod.summarize(e)
        per_pair.append({"set": p.set_name, "pair": p.name, "seconds": dt, **summary})
        if verbose:
            print(
                f"  chroma_dtw {p.set_name:10s} {p.name:10s} {dt:6.1f} s  "
                f"{summary['within_50']:5.1f} / {summary['within_100']:5.1f} / {summary['within_200']:5.1f} %",
                file=sys.stderr,
            )
    sets = {
        s: {**pairs_mod.summarize(np.concatenate(errors[s])), "seconds_per_pair": float(np.mean(seconds[s]))}
        for s in errors
    }
    return {"method": "chroma_dtw", "sets": sets, "pairs": per_pair}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Offline librosa chroma DTW baseline")
    ap.add_argument("--json", help="write the results to this JSON file")
    args = ap.parse_args(argv)
    res = evaluate()
    print(f"{'set':12s} {'<=50ms':>7s} {'<=100ms':>8s} {'<=200ms':>8s} {'mean ms':>8s} {'median':>8s} {'s/pair':>7s}")
    for s, r in res["sets"].items():
        print(
            f"{s:12s} {r['within_50']:6.1f}% {r['within_100']:7.1f}% {r['within_200']:7.1f}% "
            f"{r['mean_ms']:8.1f} {r['median_ms']:8.1f} {r['seconds_per_pair']:7.1f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
