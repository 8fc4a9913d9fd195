"""Accuracy of the offline aligner (``matcher compare``), side by side with two baselines.

Pairs: those of ../shared/data (tools/baselines/pairs.py): piano p01->p02, p03->p04,
p05->p06, p07->p08, p05->p08 and percussion perc7_00..02, reference -> take.

Metric (the same as the follower's, tools/baselines/pairs.py): for each annotated take
beat at time tB, the method's path is interpolated linearly in take time at tB, and the
error is the distance to the annotated reference time. Per set: share within 50/100/200 ms,
mean and median error [ms], pooled over all beats; seconds per pair (features + alignment).

Methods:
* ``matcher dtw``    — matcher.compare with the full-matrix dtw-python engine;
* ``matcher banded`` — the same features and cost, coarse-to-fine banded engine (linear memory);
* ``chroma_dtw``     — librosa full-matrix chroma DTW at 20 ms (tools/baselines/chroma_dtw.py);
* ``synctoolbox``    — synctoolbox 1.4.2 MrMsDTW (chroma + DLNCO, its demo settings), run in
  its own venv (tools/baselines/setup_synctoolbox.sh) through run_synctoolbox.py.

Pairs run one after another: seconds per pair is a timing figure.

    .venv/bin/python tools/eval_compare.py [--sets piano percussion] [--methods ...] [--per-pair] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "baselines"))
import pairs as shared_pairs  # noqa: E402  (tools/ is not a package)

from matcher import Config, YinModel, build_reference  # noqa: E402
from matcher.align import AlignParams  # noqa: E402
from matcher.compare import compare  # noqa: E402

SYNCTOOLBOX_PYTHON = HERE / "baselines" / ".venv-synctoolbox" / "bin" / "python"
METHODS = ["matcher dtw", "matcher banded", "chroma_dtw", "synctoolbox"]


def run_matcher(pair: shared_pairs.Pair, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(take_t, ref_t) along the path of ``matcher compare REF TAKE`` (A = reference)."""
    config = Config(pitch_backend="yin")
    model = YinModel(config)
    ref = build_reference(pair.ref_audio, config, model, "ref")
    take = build_reference(pair.take_audio, config, model, "take")
    result = compare(ref, take, AlignParams(method=method))
    return result.alignment.b_t, result.alignment.a_t


def run_chroma_dtw(pair: shared_pairs.Pair) -> tuple[np.ndarray, np.ndarray]:
    import chroma_dtw

    return chroma_dtw.align_chroma_dtw(pair.ref_audio, pair.take_audio)


def run_synctoolbox(pair: shared_pairs.Pair, python: Path) -> tuple[np.ndarray, np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [str(python), str(HERE / "baselines" / "run_synctoolbox.py"), "--ref", str(pair.ref_audio)]
        cmd += ["--take", str(pair.take_audio), "--out", str(out)]
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True)  # it prints progress dots
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        path = np.asarray(json.loads(out.read_text())["path"], np.float64)
    return path[:, 1], path[:, 0]


def evaluate(methods: list[str], pair_list: list[shared_pairs.Pair], stb_python: Path, verbose: bool) -> dict[str, Any]:
    sets = shared_pairs.set_names(pair_list)
    results: dict[str, dict[str, Any]] = {s: {} for s in sets}
    rows: list[dict[str, Any]] = []
    for method in methods:
        errors: dict[str, list[np.ndarray]] = {s: [] for s in sets}
        wall: dict[str, list[float]] = {s: [] for s in sets}
        for p in pair_list:
            t0 = time.perf_counter()
            if method.startswith("matcher"):
                take_t, ref_t = run_matcher(p, method.split()[1])
            elif method == "chroma_dtw":
                take_t, ref_t = run_chroma_dtw(p)
            elif method == "synctoolbox":
                take_t, ref_t = run_synctoolbox(p, stb_python)
            else:
                raise ValueError(f"unknown method {method!r}")
            dt = time.perf_counter() - t0
            order = np.argsort(take_t, kind="stable")
            tb, ta = shared_pairs.joined_beats(p)
            e = shared_pairs.score_answers(tb, ta, take_t[order], ref_t[order])
            errors[p.set_name].append(e)
            wall[p.set_name].append(dt)
            row = {"method": method, "set": p.set_name, "pair": p.name, "seconds": dt, **shared_pairs.summarize(e)}
            rows.append(row)
            if verbose:
                print(
                    f"  {method:15s} {p.set_name:10s} {p.name:9s} {dt:6.1f} s  "
                    f"{row['within_50']:5.1f} / {row['within_100']:5.1f} / {row['within_200']:5.1f} %",
                    file=sys.stderr,
                    flush=True,
                )
        for s in sets:
            if errors[s]:
                results[s][method] = {
                    **shared_pairs.summarize(np.concatenate(errors[s])),
                    "seconds_per_pair": float(np.mean(wall[s])),
                }
    return {"sets": results, "pairs": rows}


def format_tables(res: dict[str, Any], per_pair: bool) -> str:
    lines = []
    for s, by_method in res["sets"].items():
        n = next(iter(by_method.values()))["n"] if by_method else 0
        lines.append(f"\n{s} (n = {n} beats)")
        lines.append(
            f"  {'method':<16}{'≤50 ms':>8}{'≤100 ms':>9}{'≤200 ms':>9}{'mean ms':>9}{'median':>8}{'s/pair':>8}"
        )
        for m, r in by_method.items():
            lines.append(
                f"  {m:<16}{r['within_50']:>7.1f}%{r['within_100']:>8.1f}%{r['within_200']:>8.1f}%"
                f"{r['mean_ms']:>9.1f}{r['median_ms']:>8.1f}{r['seconds_per_pair']:>8.1f}"
            )
    if per_pair:
        lines.append("\nper pair (≤50 / ≤100 / ≤200 ms)")
        pairs = list(dict.fromkeys(r["pair"] for r in res["pairs"]))
        methods = list(dict.fromkeys(r["method"] for r in res["pairs"]))
        lines.append(f"  {'pair':<10}" + "".join(f"{m:>22}" for m in methods))
        for pair in pairs:
            cells = []
            for m in methods:
                r = next(x for x in res["pairs"] if x["pair"] == pair and x["method"] == m)
                cells.append(f"{r['within_50']:5.0f}/{r['within_100']:4.0f}/{r['within_200']:4.0f}")
            lines.append(f"  {pair:<10}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", choices=["piano", "percussion"], default=["piano", "percussion"])
    ap.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    ap.add_argument("--synctoolbox-python", type=Path, default=SYNCTOOLBOX_PYTHON)
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
    pair_list = [
        p
        for p in shared_pairs.all_pairs()
        if p.set_name in args.sets and p.ref_audio.exists() and p.take_audio.exists()
    ]
    if not pair_list:
        print(f"no evaluation pairs found under {shared_pairs.DATA_ROOT}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    res = evaluate(methods, pair_list, args.synctoolbox_python, verbose=True)
    res["wall_seconds"] = time.perf_counter() - t0
    print(format_tables(res, args.per_pair))
    print(f"\nwall time {res['wall_seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
