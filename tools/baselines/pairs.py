"""Evaluation pairs, beat ground truth and the beat-error metric for the baselines.

Plain numpy + csv on purpose: this module is imported both from the project's venv
(numpy 2) and, if ever needed, from the pymatchmaker venv (numpy 1), and it must not
depend on ``matcher`` so that the baselines stay an independent yardstick.

The data lives outside the project (``/work/shared/data`` by default, or wherever the
``MATCHER_EVAL_DATA`` environment variable points); it is read in place, never copied.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_ROOT = Path(os.environ.get("MATCHER_EVAL_DATA", "/work/shared/data"))

_PIANO_DIR = "vienna_chopin_op10_3"
_PERC_DIR = "percussion"

# Reference -> take, as used for the anchor figures quoted in the issues.
_PIANO_PAIRS = [("p01", "p02"), ("p03", "p04"), ("p05", "p06"), ("p07", "p08"), ("p05", "p08")]
_PERC_PAIRS = ["perc7_00", "perc7_01", "perc7_02"]

# Tolerances for the "share within" figures, in ms.
TOLERANCES_MS = (50, 100, 200)


@dataclass(frozen=True)
class Pair:
    """One reference -> take evaluation pair with its beat annotation files."""

    set_name: str  # "piano" or "percussion": results are pooled per set
    name: str
    ref_audio: Path
    take_audio: Path
    ref_beats: Path
    take_beats: Path


def _piano_pair(ref: str, take: str, root: Path) -> Pair:
    d = root / _PIANO_DIR
    stem = "Chopin_op10_no3_"
    return Pair(
        set_name="piano",
        name=f"{ref}->{take}",
        ref_audio=d / f"{stem}{ref}_fluidsynth.flac",
        take_audio=d / f"{stem}{take}_fluidsynth.flac",
        ref_beats=d / f"{stem}{ref}_beats.csv",
        take_beats=d / f"{stem}{take}_beats.csv",
    )


def _perc_pair(stem: str, root: Path) -> Pair:
    d = root / _PERC_DIR
    return Pair(
        set_name="percussion",
        name=stem,
        ref_audio=d / f"{stem}_ref.flac",
        take_audio=d / f"{stem}_take.flac",
        ref_beats=d / f"{stem}_ref_beats.csv",
        take_beats=d / f"{stem}_take_beats.csv",
    )


def all_pairs(root: Path | str | None = None) -> list[Pair]:
    """All evaluation pairs, piano first, then percussion."""
    base = Path(root) if root is not None else DATA_ROOT
    return [_piano_pair(r, t, base) for r, t in _PIANO_PAIRS] + [_perc_pair(s, base) for s in _PERC_PAIRS]


def set_names(pairs: list[Pair]) -> list[str]:
    """Set names in first-appearance order (so tables come out piano, percussion)."""
    return list(dict.fromkeys(p.set_name for p in pairs))


def read_beats(path: Path | str) -> dict[float, float]:
    """Read a ``score_beat,perf_time_sec`` csv into {score_beat: perf_time_sec}.

    Keyed by score beat rather than by line because beats without an onset are
    missing from the files, so line k of two files need not be the same beat.
    """
    out: dict[float, float] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out[float(row["score_beat"])] = float(row["perf_time_sec"])
    return out


def joined_beats(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """Corresponding (take_times, ref_times) of the beats annotated in both files.

    Sorted by score beat; the take time is the query, the reference time the truth.
    """
    ref = read_beats(pair.ref_beats)
    take = read_beats(pair.take_beats)
    common = sorted(set(ref) & set(take))
    take_t = np.array([take[b] for b in common], dtype=np.float64)
    ref_t = np.array([ref[b] for b in common], dtype=np.float64)
    return take_t, ref_t


def score_answers(
    take_beat_times: np.ndarray,
    ref_beat_times: np.ndarray,
    report_t: np.ndarray,
    report_ref_t: np.ndarray,
) -> np.ndarray:
    """Absolute beat errors in ms of a method's answers (take time -> reference time).

    The answer at take beat tB_k is the method's reported reference time interpolated
    linearly in take time at tB_k (``numpy.interp``; constant beyond the first and last
    report), compared with the annotated reference time tA_k. The same rule applies to
    an online follower's reports and to an offline aligner's path.

    ``report_t`` must be non-decreasing (numpy.interp's requirement); ties, which an
    offline DTW path has wherever it moves along the reference only, are allowed.
    """
    report_t = np.asarray(report_t, dtype=np.float64)
    report_ref_t = np.asarray(report_ref_t, dtype=np.float64)
    if report_t.ndim != 1 or report_t.shape != report_ref_t.shape or report_t.size == 0:
        raise ValueError("report_t and report_ref_t must be equal-length, non-empty 1-D arrays")
    if np.any(np.diff(report_t) < 0):
        raise ValueError("report_t must be non-decreasing")
    answer = np.interp(np.asarray(take_beat_times, dtype=np.float64), report_t, report_ref_t)
    return np.abs(answer - np.asarray(ref_beat_times, dtype=np.float64)) * 1000.0


def summarize(errors_ms: np.ndarray) -> dict[str, float]:
    """Pooled summary: share (%) within 50/100/200 ms, mean and median error (ms), n."""
    e = np.asarray(errors_ms, dtype=np.float64).ravel()
    if e.size == 0:
        nan = float("nan")
        return {**{f"within_{t}": nan for t in TOLERANCES_MS}, "mean_ms": nan, "median_ms": nan, "n": 0}
    out: dict[str, float] = {f"within_{t}": float(np.mean(e <= t) * 100.0) for t in TOLERANCES_MS}
    out["mean_ms"] = float(np.mean(e))
    out["median_ms"] = float(np.median(e))
    out["n"] = int(e.size)
    return out
