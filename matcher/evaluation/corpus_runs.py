"""Following and comparison on the ASAP corpus: which pairs and conditions, the methods, their figures.

The front ends are tools/build_corpus.py (renders the corpus), tools/check_corpus.py
(checks its truth) and tools/eval_corpus.py (evaluates on it; its docstring states the
methods). Pairs come from :mod:`matcher.evaluation.corpus`, conditions from
:mod:`matcher.evaluation.conditions`, the metrics from :mod:`matcher.evaluation.tracking`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from ..audio import file_blocks
from ..compare import compare
from ..config import Config
from ..features import YinModel
from ..follow import FollowParams, follow_blocks
from ..reference import Reference, build_reference
from ..signals import exit_on_sigterm, sigterm_exits
from . import baselines, corpus, tracking
from . import conditions as cond
from .causal import run_causal
from .data import Case
from .jump_runs import Piece, run_piece, tables
from .report import jump_table
from .truth import TruthMap

METHODS = ("follow", "compare", "arzt", "causal")
PAUSE_DB = -20.0  # room noise in the corpus pauses, relative to the take's RMS [dB] (issue 12)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose pairs and conditions (``--split --set --quick --conditions --pairs --seed --cache``)."""
    parser.add_argument("--split", choices=corpus.SPLITS, default="dev")
    parser.add_argument(
        "--set",
        choices=["asap", "percussion"],
        default="asap",
        help="ASAP piano pairs, or synthetic percussion pieces (matcher/evaluation/percussion.py)",
    )
    parser.add_argument("--quick", action="store_true", help="the quick subset: 3 short pairs, the quick conditions")
    parser.add_argument(
        "--conditions",
        nargs="+",
        choices=list(cond.CONDITIONS),
        help="default: the piano ones (quick: QUICK); other instruments by name: " + ", ".join(cond.INSTRUMENTS),
    )
    parser.add_argument("--pairs", type=int, help="only the first N pairs (of the spread ones with --spread)")
    parser.add_argument("--spread", type=int, help="N pairs evenly spaced over the list (many folders and composers)")
    parser.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED)
    parser.add_argument("--cache", type=Path, default=None, help="rendered audio (default: %(default)s -> cache_root)")


def selected(args: argparse.Namespace) -> tuple[list[corpus.Pair], list[str]]:
    """The pairs and condition names chosen by the options of :func:`add_arguments`."""
    if args.set == "percussion":
        from .percussion import percussion_pairs

        pairs = percussion_pairs(args.split, args.cache or corpus.cache_root(), args.seed, 2 if args.quick else None)
    else:
        pairs = corpus.corpus_pairs(args.split, args.seed, args.quick)
    if args.spread and args.spread < len(pairs):
        pairs = [pairs[k * len(pairs) // args.spread] for k in range(args.spread)]
    if args.pairs:
        pairs = pairs[: args.pairs]
    names = args.conditions or list(cond.QUICK if args.quick else cond.PIANO)
    return pairs, names


def run_follow(ref: Reference, take_audio: Path, params: FollowParams) -> tuple[np.ndarray, np.ndarray]:
    """The follower over the take in file blocks: its reports ``(t, ref_t)`` [s]."""
    track = follow_blocks(ref, (b for b, _ in file_blocks(take_audio, ref.config.sr)), params)
    return np.asarray(track.t, np.float64), np.asarray(track.ref_t, np.float64)


def run_compare(ref: Reference, take_audio: Path, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """``matcher.compare.compare`` offline: its alignment path as ``(take_t, ref_t)`` [s]."""
    take = build_reference(take_audio, config, YinModel(config), "take", track=False)
    a = compare(ref, take).alignment
    return a.b_t, a.a_t


def run_arzt(ref_audio: Path, take_audio: Path) -> tuple[np.ndarray, np.ndarray]:
    """pymatchmaker's Arzt OLTW in its own venv: its reports ``(t, ref_t)`` [s]."""
    rep = np.asarray(baselines.matchmaker_files(ref_audio, take_audio, "arzt")["reports"], np.float64)
    return rep[:, 0], rep[:, 1]


def score(r: corpus.RenderedPair, t: np.ndarray, ref_t: np.ndarray, duration: float, online: bool) -> dict[str, Any]:
    """One method's figures on one rendered pair (``errors`` [ms] kept for pooling; ``duration`` [s])."""
    e = tracking.beat_errors(r.take_beats, r.ref_beats, t, ref_t)
    ok, lost, n_win = tracking.tracked(r.take_beats, e)
    moves = tracking.false_moves(t, ref_t) if online else np.zeros(0)
    in_music = int(np.sum(moves <= r.take_beats[-1]))  # the rest: in the take's last notes ringing out
    return {"errors": e, "tracked": ok, "windows_lost": lost, "windows": n_win, "false_moves": len(moves),
            "false_moves_in_music": in_music, "false_move_at_s": [round(float(x), 2) for x in moves[:20]],
            "take_s": duration}  # fmt: skip


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled and folder-mean shares, tracked share [%], false moves per hour of some :func:`score` rows."""
    by_folder: dict[str, list[np.ndarray]] = {}
    for row in rows:
        by_folder.setdefault(row["folder"], []).append(row["errors"])
    out = tracking.pooled_and_folder_mean(by_folder)
    seconds = sum(r["take_s"] for r in rows)
    moves = sum(r["false_moves"] for r in rows)
    out["false_moves_in_music"] = sum(r["false_moves_in_music"] for r in rows)
    out["tracked_pct"] = float(np.mean([r["tracked"] for r in rows]) * 100.0) if rows else float("nan")
    out["pieces"] = len(rows)
    out["false_moves"] = moves
    out["false_moves_per_hour"] = tracking.per_hour(moves, seconds)
    out["take_hours"] = seconds / 3600.0
    out["method_seconds"] = sum(r["seconds"] for r in rows)
    return out


def figures_table(title: str, figures: dict[str, dict[str, dict[str, Any]]]) -> str:
    """``{condition: {method: aggregate}}`` as a table: shares within N ms and median [ms] pooled,
    folder means, tracked [%], false moves per hour, beats, seconds spent by the method."""
    ms = tracking.TOLERANCES_MS
    head = f"  {'condition':<14}{'method':<9}" + "".join(f"{f'≤{m}':>7}" for m in ms) + f"{'median':>9}"
    head += "   folder-mean " + "/".join(str(m) for m in ms) + f"{'tracked':>10}{'false/h':>9}{'beats':>7}{'s':>7}"
    lines = [f"\n{title}", head]
    for name, methods in figures.items():
        for method, f in methods.items():
            p, m = f["pooled"], f["folder_mean"]
            line = f"  {name:<14}{method:<9}" + "".join(f"{p[f'within_{x}']:>6.1f}%" for x in ms)
            line += f"{p['median_ms']:>7.0f}ms   " + " / ".join(f"{m[f'within_{x}']:.0f}" for x in ms).ljust(17)
            fm = "—" if method == "compare" else f"{f['false_moves_per_hour']:.1f}"
            line += f"{f['tracked_pct']:>8.0f}%{fm:>9}{p['n']:>7}{f['method_seconds']:>7.0f}"
            lines.append(line)
    return "\n".join(lines)


def pair_line(row: dict[str, Any]) -> str:
    """One :func:`score` row (with ``pair``, ``condition``, ``method``, ``seconds``) on a line."""
    s = tracking.shares(row["errors"])
    return (f"  {row['pair']:<56}{row['condition']:<13}{row['method']:<8}"
            + " / ".join(f"{s[f'within_{m}']:.0f}" for m in tracking.TOLERANCES_MS)
            + f"  median {s['median_ms']:.0f} ms  tracked {row['tracked']}  false {row['false_moves']}"
            + f"  {row['seconds']:.1f} s")  # fmt: skip


def run_pairs(
    pairs: list[corpus.Pair],
    names: list[str],
    methods: list[str],
    params: FollowParams,
    cache: Path,
    per_pair: bool = False,
    jobs: int = 1,
) -> tuple[list[dict[str, Any]], list[corpus.RenderedPair], float]:
    """Every method on every pair under every condition (rendered, or found in ``cache``).

    Prints a line per pair done (``per_pair``: a line per method, pair and condition too).
    With ``jobs`` > 1 that many processes take a pair each, longest first (a 30-min piece
    begun last would run alone at the end); the rows come back in the pairs' order.

    Returns
    -------
    (rows, rendered, render_s)
        :func:`score` rows with ``pair``, ``folder``, ``condition``, ``method`` and the
        ``seconds`` the method took; the rendered pairs; seconds spent rendering or
        finding the audio (summed over the processes).
    """
    began = time.perf_counter()
    tasks = [(p, names, methods, params, cache, per_pair) for p in pairs]
    if jobs > 1 and len(pairs) > 1:
        from multiprocessing import get_context

        longest_first = sorted(range(len(pairs)), key=lambda k: -float(pairs[k].beats()[0][-1]))
        done: dict[int, tuple] = {}
        # spawn: a fork would copy a parent that may hold threads (numba, BLAS) mid-lock.
        # Leaving the with-block early (a pair's error, Ctrl-C, SIGTERM) terminates the
        # workers at once instead of running the pairs still queued.
        with (
            sigterm_exits(),
            get_context("spawn").Pool(min(jobs, len(pairs)), exit_on_sigterm) as pool,
        ):
            pending = {k: pool.apply_async(_pair_rows, tasks[k]) for k in longest_first}
            for k in longest_first:
                done[k] = result = pending[k].get()
                print(f"  done {result[3]}, {time.perf_counter() - began:.0f} s so far", flush=True)
            pool.close()
            pool.join()
        results = [done[k] for k in range(len(pairs))]
    else:
        results = []
        for task in tasks:
            results.append(_pair_rows(*task))
            print(f"  done {results[-1][3]}, {time.perf_counter() - began:.0f} s so far", flush=True)
    rows = [row for result in results for row in result[0]]
    rendered = [r for result in results for r in result[1]]
    return rows, rendered, sum(result[2] for result in results)


def _pair_rows(
    p: corpus.Pair, names: list[str], methods: list[str], params: FollowParams, cache: Path, per_pair: bool
) -> tuple[list[dict[str, Any]], list[corpus.RenderedPair], float, str]:
    """:func:`run_pairs` on one pair: (rows, rendered, render_s, a line saying what was done)."""
    config = Config(pitch_backend="yin")
    rows: list[dict[str, Any]] = []
    rendered: list[corpus.RenderedPair] = []
    render_s = ref_s = 0.0
    refs: dict[Path, Reference] = {}  # one per instrument the conditions play the pair on
    for name in names:
        t0 = time.perf_counter()
        r = corpus.render_pair(p, name, cache)
        render_s += time.perf_counter() - t0
        rendered.append(r)
        if r.ref_audio not in refs:
            t0 = time.perf_counter()
            refs[r.ref_audio] = build_reference(r.ref_audio, config, YinModel(config), "ref", track=False)
            ref_s += time.perf_counter() - t0
        ref = refs[r.ref_audio]
        duration = sf.info(r.take_audio).duration
        for method in methods:
            t0 = time.perf_counter()
            if method == "follow":
                t, ref_t = run_follow(ref, r.take_audio, params)
            elif method == "compare":
                t, ref_t = run_compare(ref, r.take_audio, config)
            elif method == "causal":
                t, ref_t = run_causal(ref, r.take_audio, params)
            else:
                t, ref_t = run_arzt(r.ref_audio, r.take_audio)
            spent = time.perf_counter() - t0
            row = {"pair": p.name, "folder": p.folder, "condition": name, "method": method, "seconds": spent,
                   **score(r, t, ref_t, duration, method != "compare")}  # fmt: skip
            rows.append(row)
            if per_pair:
                print(pair_line(row), flush=True)
    return rows, rendered, render_s, f"{p.name} (reference {ref_s:.1f} s)"


def by_condition(
    rows: list[dict[str, Any]], names: list[str], methods: list[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{condition (and "pooled"): {method: aggregate}}`` of :func:`run_pairs` rows."""
    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for name in [*names, "pooled"]:
        figures[name] = {}
        for method in methods:
            mine = [r for r in rows if r["method"] == method and name in ("pooled", r["condition"])]
            figures[name][method] = aggregate(mine)
    return figures


def run_edits(
    rendered: list[corpus.RenderedPair], params: FollowParams, places: int, kinds: list[str], noise_db: float = PAUSE_DB
) -> tuple[dict[str, Any], str]:
    """The jump and pause scenarios (:mod:`matcher.evaluation.jump_runs`) on rendered pairs, per
    condition and pooled; truth from the beats; ``noise_db`` [dB]: the pauses' room noise
    relative to the take's RMS. Returns (``{"tables", "scenarios"}``, the tables as text)."""
    outcomes = []
    for r in rendered:
        case = Case(r.condition, r.pair.name, r.ref_audio, r.take_audio, r.take_beats, r.ref_beats)
        piece = Piece(case, TruthMap.from_points(r.take_beats, r.ref_beats), "beats")
        outcomes += run_piece(piece, kinds, places, params, noise_db=noise_db)[0]
    by_set = tables(outcomes, kinds)
    text = []
    for name, rows in by_set.items():
        n = len({o.piece for o in outcomes if name in ("pooled", o.set_name)})
        text.append(jump_table(f"edits, {name} ({n} takes)", rows))
    return {"tables": by_set, "scenarios": [o.to_dict() for o in outcomes]}, "\n".join(text)
