"""Metrics of following on corpus pairs: beat errors, tracked windows, false moves.

* **Beat error**: for each annotated take beat at take time tB, a method's answers (a
  follower's ``(t, ref_t)`` reports, or an aligner's path) are interpolated linearly in take
  time at tB; the error is the distance to the annotated reference time of the same beat
  (the rule of tools/baselines/pairs.py, so every method is scored alike).
* **Shares**: beats within 50 / 100 / 200 / 300 ms and the median error, pooled over
  beats and, beside it, the mean over folders of each folder's figures.
* **Tracked**: windows of 30 s of take time every 10 s; a window is lost when the median
  absolute error of its beats exceeds the take's median beat period in that window; a
  piece is tracked when no window is lost.
* **False moves**: the reported ``ref_t`` jumping more than 1 s from one report to the
  next where the take has no edit; counted per hour of take.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOLERANCES_MS = (50, 100, 200, 300)
WINDOW_S = 30.0  # tracked: window length [s of take]
WINDOW_HOP_S = 10.0  # tracked: window spacing [s]
MOVE_S = 1.0  # a report-to-report jump of ref_t larger than this is a move [s]
EDIT_GRACE_S = 2.0  # moves this long after an edit of the take are not false [s]


def beat_errors(take_beats: np.ndarray, ref_beats: np.ndarray, t: np.ndarray, ref_t: np.ndarray) -> np.ndarray:
    """Absolute errors [ms] of answers ``(t, ref_t)`` at the take beats.

    Parameters
    ----------
    take_beats, ref_beats : np.ndarray [shape=(n,), s]
        Corresponding beat times of the take and the reference.
    t, ref_t : np.ndarray [shape=(m,), s]
        The method's answers: take time (non-decreasing) and reference time.

    Returns
    -------
    np.ndarray [shape=(n,), ms]
    """
    t, ref_t = np.asarray(t, np.float64), np.asarray(ref_t, np.float64)
    if t.ndim != 1 or t.shape != ref_t.shape or not len(t):
        raise ValueError(f"t and ref_t must be equal-length non-empty 1-D arrays, got {t.shape}, {ref_t.shape}")
    if np.any(np.diff(t) < 0):
        raise ValueError("t must be non-decreasing")
    answer = np.interp(np.asarray(take_beats, np.float64), t, ref_t)
    return np.abs(answer - np.asarray(ref_beats, np.float64)) * 1000.0


def shares(errors_ms: np.ndarray) -> dict[str, float]:
    """Share [%] of errors within each of :data:`TOLERANCES_MS`, median and mean [ms], n."""
    e = np.asarray(errors_ms, np.float64).ravel()
    if not e.size:
        return {**{f"within_{m}": float("nan") for m in TOLERANCES_MS}, "median_ms": float("nan"),
                "mean_ms": float("nan"), "n": 0}  # fmt: skip
    out = {f"within_{m}": float(np.mean(e <= m) * 100.0) for m in TOLERANCES_MS}
    return {**out, "median_ms": float(np.median(e)), "mean_ms": float(np.mean(e)), "n": int(e.size)}


def pooled_and_folder_mean(errors_by_folder: dict[str, list[np.ndarray]]) -> dict[str, dict[str, float]]:
    """``{"pooled": shares of all beats, "folder_mean": mean over folders of each folder's shares}``."""
    all_e = [e for errs in errors_by_folder.values() for e in errs]
    pooled = shares(np.concatenate(all_e)) if all_e else shares(np.zeros(0))
    per = [shares(np.concatenate(errs)) for errs in errors_by_folder.values() if errs]
    keys = [k for k in pooled if k != "n"]
    mean = {k: float(np.mean([p[k] for p in per])) if per else float("nan") for k in keys}
    mean["n"] = len(per)  # folders
    return {"pooled": pooled, "folder_mean": mean}


@dataclass(frozen=True)
class Window:
    """One tracking window: take time span [s], beats in it, median error and beat period [s]."""

    start: float
    end: float
    beats: int
    median_error_s: float
    beat_period_s: float

    @property
    def lost(self) -> bool:
        return self.median_error_s > self.beat_period_s


def windows(take_beats: np.ndarray, errors_ms: np.ndarray) -> list[Window]:
    """The 30-s windows of a take, every 10 s from its first annotated beat.

    Windows start at the first beat and every :data:`WINDOW_HOP_S` after it until one
    reaches the last beat (so every beat is in a window; a take shorter than a window has
    one window); a window with fewer than 3 beats is skipped (no median period).
    """
    tb = np.asarray(take_beats, np.float64)
    e = np.asarray(errors_ms, np.float64) / 1000.0
    if len(tb) != len(e):
        raise ValueError(f"{len(tb)} beats but {len(e)} errors")
    if len(tb) < 3:
        return []
    first, last = float(tb[0]), float(tb[-1])
    starts = [first]
    while starts[-1] + WINDOW_S < last:
        starts.append(starts[-1] + WINDOW_HOP_S)
    out = []
    for s in starts:
        k = np.flatnonzero((tb >= s) & ((tb < s + WINDOW_S) | (s + WINDOW_S >= last)))
        if len(k) < 3:
            continue
        out.append(Window(float(s), float(min(s + WINDOW_S, last)), len(k), float(np.median(e[k])),
                          float(np.median(np.diff(tb[k])))))  # fmt: skip
    return out


def tracked(take_beats: np.ndarray, errors_ms: np.ndarray) -> tuple[bool, int, int]:
    """(piece tracked, windows lost, windows) of one take."""
    w = windows(take_beats, errors_ms)
    lost = sum(x.lost for x in w)
    return lost == 0, lost, len(w)


def false_moves(t: np.ndarray, ref_t: np.ndarray, edits: tuple[float, ...] = ()) -> np.ndarray:
    """Take times [s] of reports whose ``ref_t`` moved more than :data:`MOVE_S` from the
    previous report, leaving out those within :data:`EDIT_GRACE_S` after an edit of the take
    (``edits``: take times of splices [s]; none for an unedited take)."""
    t, ref_t = np.asarray(t, np.float64), np.asarray(ref_t, np.float64)
    k = np.flatnonzero(np.abs(np.diff(ref_t)) > MOVE_S) + 1
    at = t[k]
    for edit in edits:
        at = at[~((at >= edit) & (at < edit + EDIT_GRACE_S))]
    return at


def per_hour(count: int, seconds: float) -> float:
    """``count`` events over ``seconds`` [s] of take, as a rate per hour."""
    return count * 3600.0 / seconds if seconds > 0 else float("nan")
