"""Run methods over the shared pairs and pool their beat errors per set.

A method is a function of a :class:`~matcher.evaluation.data.Pair` returning an
:class:`Answer`: its reports or path as take time -> reference time, and optionally the
frames it stepped and the seconds its per-frame calls took (online methods).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .data import Pair, joined_beats, set_names
from .measure import Timer
from .metrics import beat_errors, summarize


@dataclass(frozen=True)
class Answer:
    """A method's answers on one pair.

    take_t, ref_t : np.ndarray [shape=(n,), s]   take time -> reference time (any order)
    frames : int           take frames stepped (online methods; 0: offline)
    step_seconds : float   time spent in per-frame calls [s]
    extra : dict           other per-pair figures to keep
    """

    take_t: np.ndarray
    ref_t: np.ndarray
    frames: int = 0
    step_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def pair_errors(pair: Pair, answer: Answer) -> np.ndarray:
    """Beat errors [ms] of an answer on a pair (answers sorted by take time first)."""
    order = np.argsort(answer.take_t, kind="stable")
    take_beats, ref_beats = joined_beats(pair)
    return beat_errors(take_beats, ref_beats, np.asarray(answer.take_t)[order], np.asarray(answer.ref_t)[order])


def evaluate_pairs(
    methods: dict[str, Callable[[Pair], Answer]], pairs: list[Pair], *, verbose: bool = True
) -> dict[str, Any]:
    """Run every method on every pair, one after another (seconds per pair is a timing figure).

    Returns
    -------
    dict
        ``sets``: {set: {method: summary}} with :func:`~matcher.evaluation.metrics.summarize`'s
        figures pooled over the set's beats, ``seconds_per_pair`` (mean wall time of one pair)
        and ``frames_per_s`` (online methods: frames over the time of their per-frame calls,
        pooled; None offline); ``pairs``: one row per method and pair.
    """
    sets = set_names(pairs)
    results: dict[str, dict[str, Any]] = {s: {} for s in sets}
    rows: list[dict[str, Any]] = []
    for name, method in methods.items():
        errors: dict[str, list[np.ndarray]] = {s: [] for s in sets}
        wall: dict[str, list[float]] = {s: [] for s in sets}
        frames = {s: 0 for s in sets}
        step_s = {s: 0.0 for s in sets}
        for p in pairs:
            with Timer() as clock:
                answer = method(p)
            e = pair_errors(p, answer)
            errors[p.set_name].append(e)
            wall[p.set_name].append(clock.seconds)
            frames[p.set_name] += answer.frames
            step_s[p.set_name] += answer.step_seconds
            row = {"method": name, "set": p.set_name, "pair": p.name, **answer.extra, "seconds": clock.seconds}
            rows.append({**row, **summarize(e)})
            if verbose:
                r = rows[-1]
                print(f"  {name:15s} {p.set_name:10s} {p.name:9s} {clock.seconds:6.1f} s  {r['within_50']:5.1f} / "
                      f"{r['within_100']:5.1f} / {r['within_200']:5.1f} %", file=sys.stderr, flush=True)  # fmt: skip
        for s in sets:
            if errors[s]:
                results[s][name] = {
                    **summarize(np.concatenate(errors[s])),
                    "frames_per_s": frames[s] / step_s[s] if step_s[s] > 0 else None,
                    "seconds_per_pair": float(np.mean(wall[s])),
                }
    return {"sets": results, "pairs": rows}
