"""Evaluate the reference baselines on the standard pairs and print one table per set.

Baselines:
* ``mm_arzt``  — pymatchmaker 0.3.0 OnlineTimeWarpingArztFrame, chroma features (online);
* ``mm_dixon`` — pymatchmaker 0.3.0 OnlineTimeWarpingDixonFrame, log-spectral features (online);
* ``chroma_dtw`` — offline full-matrix librosa chroma DTW (chroma_dtw.py).

Runs from the project's venv. The pymatchmaker followers run in their own venv
(``setup_matchmaker.sh``) through run_matchmaker.py as a subprocess, one call per pair
and method; everything is scored here with the same rule (pairs.score_answers), so
the figures are directly comparable with a follower evaluated through pairs.py.

Pairs run one after another, never in parallel: frames/s is a timing figure and two
jobs sharing the machine's two cores would distort it.

    /work/main/.venv/bin/python tools/baselines/eval_baselines.py --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import chroma_dtw  # noqa: E402  (sibling modules; tools/ is not a package)
import pairs as pairs_mod  # noqa: E402

DEFAULT_MM_PYTHON = HERE / ".venv-matchmaker" / "bin" / "python"
MM_METHODS = {"mm_arzt": "arzt", "mm_dixon": "dixon"}
ALL_METHODS = ["mm_arzt", "mm_dixon", "chroma_dtw"]


def run_matchmaker(mm_python: Path, method: str, pair: pairs_mod.Pair, out_json: Path) -> dict[str, Any]:
    """Run one pymatchmaker follower on one pair in its venv and return its JSON."""
    cmd = [
        str(mm_python),
        str(HERE / "run_matchmaker.py"),
        "--method",
        method,
        "--ref",
        str(pair.ref_audio),
        "--take",
        str(pair.take_audio),
        "--out",
        str(out_json),
    ]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)  # stderr goes into the error
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(out_json.read_text())


def evaluate(
    methods: list[str],
    pair_list: list[pairs_mod.Pair],
    mm_python: Path = DEFAULT_MM_PYTHON,
    reports_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the chosen baselines on the pairs; pooled per-set summaries and per-pair rows.

    ``frames_per_s`` of an online method is pooled over the set: all take frames divided
    by all time spent in its per-frame calls. ``seconds_per_pair`` is the mean wall time of
    one pair, including feature extraction and (for matchmaker) the subprocess start.
    """
    sets = pairs_mod.set_names(pair_list)
    results: dict[str, dict[str, Any]] = {s: {} for s in sets}
    per_pair: list[dict[str, Any]] = []

    for method in methods:
        errors: dict[str, list[np.ndarray]] = {s: [] for s in sets}
        frames: dict[str, int] = {s: 0 for s in sets}
        step_s: dict[str, float] = {s: 0.0 for s in sets}
        wall: dict[str, list[float]] = {s: [] for s in sets}
        for p in pair_list:
            t0 = time.perf_counter()
            row: dict[str, Any] = {"method": method, "set": p.set_name, "pair": p.name}
            if method in MM_METHODS:
                with tempfile.TemporaryDirectory() as tmp:
                    out = Path(tmp) / "out.json"
                    res = run_matchmaker(mm_python, MM_METHODS[method], p, out)
                    if reports_dir is not None:
                        reports_dir.mkdir(parents=True, exist_ok=True)
                        safe = p.name.replace("->", "_to_")
                        (reports_dir / f"{method}_{safe}.json").write_text(out.read_text())
                rep = np.asarray(res["reports"], dtype=np.float64)
                take_t, ref_t = rep[:, 0], rep[:, 1]
                frames[p.set_name] += res["n_frames"]
                step_s[p.set_name] += res["step_seconds"]
                row.update(frames_per_s=res["frames_per_s"], features=res["features"])
            elif method == "chroma_dtw":
                take_t, ref_t = chroma_dtw.align_chroma_dtw(p.ref_audio, p.take_audio)
            else:
                raise ValueError(f"unknown method {method!r}")
            dt = time.perf_counter() - t0
            tb, ta = pairs_mod.joined_beats(p)
            e = pairs_mod.score_answers(tb, ta, take_t, ref_t)
            errors[p.set_name].append(e)
            wall[p.set_name].append(dt)
            row.update(seconds=dt, **pairs_mod.summarize(e))
            per_pair.append(row)
            print(
                f"  {method:10s} {p.set_name:10s} {p.name:9s} {dt:6.1f} s  "
                f"{row['within_50']:5.1f} / {row['within_100']:5.1f} / {row['within_200']:5.1f} %",
                file=sys.stderr,
                flush=True,
            )
        for s in sets:
            if not errors[s]:
                continue
            summary: dict[str, Any] = pairs_mod.summarize(np.concatenate(errors[s]))
            summary["frames_per_s"] = frames[s] / step_s[s] if step_s[s] > 0 else None
            summary["seconds_per_pair"] = float(np.mean(wall[s]))
            results[s][method] = summary

    return {
        "sets": results,
        "pairs": per_pair,
        "meta": {
            "metric": "abs error (ms) of the method's reference time, interpolated linearly in "
            "take time at each annotated take beat, vs the annotated reference time; pooled per set",
            "data_root": str(pairs_mod.DATA_ROOT),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        },
    }


def format_tables(res: dict[str, Any]) -> str:
    """One plain-text table per set: rows are methods."""
    lines = []
    for s, by_method in res["sets"].items():
        n = next(iter(by_method.values()))["n"] if by_method else 0
        lines.append(f"\n{s} (n = {n} beats)")
        lines.append(
            f"{'method':12s} {'<=50ms':>7s} {'<=100ms':>8s} {'<=200ms':>8s} "
            f"{'mean ms':>8s} {'median':>8s} {'frames/s':>9s} {'s/pair':>7s}"
        )
        for m, r in by_method.items():
            fps = f"{r['frames_per_s']:9.0f}" if r.get("frames_per_s") else f"{'offline':>9s}"
            lines.append(
                f"{m:12s} {r['within_50']:6.1f}% {r['within_100']:7.1f}% {r['within_200']:7.1f}% "
                f"{r['mean_ms']:8.1f} {r['median_ms']:8.1f} {fps} {r['seconds_per_pair']:7.1f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", nargs="+", choices=ALL_METHODS, default=ALL_METHODS)
    ap.add_argument("--sets", nargs="+", help="restrict to these sets (piano, percussion)")
    ap.add_argument("--json", help="write the results (summaries + per-pair rows) to this JSON file")
    ap.add_argument("--reports-dir", help="keep each matchmaker run's raw (t, ref_t) reports here")
    ap.add_argument(
        "--matchmaker-python",
        default=str(DEFAULT_MM_PYTHON),
        help="python of the pymatchmaker venv (default: %(default)s)",
    )
    args = ap.parse_args(argv)

    mm_python = Path(args.matchmaker_python)
    if any(m in MM_METHODS for m in args.methods) and not mm_python.exists():
        ap.error(f"{mm_python} not found: run tools/baselines/setup_matchmaker.sh first")

    pair_list = pairs_mod.all_pairs()
    if args.sets:
        pair_list = [p for p in pair_list if p.set_name in args.sets]

    t0 = time.perf_counter()
    res = evaluate(args.methods, pair_list, mm_python, Path(args.reports_dir) if args.reports_dir else None)
    res["meta"]["wall_seconds"] = time.perf_counter() - t0
    print(format_tables(res))
    print(f"\nwall time {res['meta']['wall_seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
