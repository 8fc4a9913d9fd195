"""Comparison of two performances A and B of the same music: where and how they differ.

:func:`compare` aligns the two (:mod:`matcher.align`) and reads off the alignment:

* the warping path (A seconds <-> B seconds);
* the overall tempo ratio of B against A (> 1: B is faster): how long A's audible span
  (first to last audible frame) takes in A divided by how long it takes in B;
* a smoothed local tempo curve of B relative to A, over A's time;
* per beat of A (and bar): where it falls in B, and B's timing deviation from a steady
  rendering of A at the overall tempo ratio (``dev_ms`` > 0: B is late there, behind its
  own average pace relative to A; < 0: early);
* per bar: B's tempo against A relative to the overall ratio, and the bars where the
  two differ most (merged into passages);
* pitch differences in cents (folded into one octave) where both frames are voiced.

Times: ``a_t`` on A's axis, ``b_t`` on B's, seconds from the start of each audio.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .align import Alignment, AlignParams, align_frames, kept_at
from .atomic import write_atomic  # in __all__: its old home, where tools import it
from .beats import Beats
from .errors import ParameterError
from .numbers import beat_number, rounded
from .pauses import Pause, find_pauses  # in __all__ too: part of a Comparison
from .reference import Reference
from .resolve import prepare_performance  # in __all__: its old home, where tests import it
from .timing import deviation_ms, steady_offset

#: Bars whose tempo deviates at least this much [%] from the overall ratio can form a passage.
PASSAGE_MIN_PCT = 3.0
#: At most this many passages are reported.
MAX_PASSAGES = 3
#: Fewer voiced frame pairs than this and the pitch comparison is left out.
MIN_PITCH_FRAMES = 20


@dataclass(frozen=True)
class BeatDeviation:
    """One beat of A and where B plays it.

    beat : float — A's beat number (from 0); bar : int — its bar (from 1, 0 for a pickup);
    a_t, b_t : float [s]; dev_ms : float [ms] — B's deviation from a steady rendering of A
    at the overall tempo ratio (> 0: late); tempo_ratio : float — B's tempo against A's
    from this beat to the next (> 1: faster; NaN on the last beat); cents : float — median
    pitch difference B - A up to the next beat (NaN where not both voiced).
    """

    beat: float
    bar: int
    a_t: float
    b_t: float
    dev_ms: float
    tempo_ratio: float
    cents: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "beat": beat_number(self.beat),
            "bar": self.bar,
            "a_t": round(self.a_t, 4),
            "b_t": round(self.b_t, 4),
            "dev_ms": rounded(self.dev_ms, 1),
            "tempo_ratio": rounded(self.tempo_ratio, 4),
            "cents": rounded(self.cents, 1),
        }


@dataclass(frozen=True)
class BarDeviation:
    """One bar of A: its span on both axes, B's tempo against A relative to the overall
    ratio (``tempo_dev_pct`` > 0: B faster there than on average), the largest |dev_ms|
    of its beats, and the median pitch difference [cents]."""

    bar: int
    a_start: float
    a_end: float
    b_start: float
    b_end: float
    tempo_dev_pct: float
    max_dev_ms: float
    cents: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "bar": self.bar,
            "a_start": round(self.a_start, 4),
            "a_end": round(self.a_end, 4),
            "b_start": round(self.b_start, 4),
            "b_end": round(self.b_end, 4),
            "tempo_dev_pct": rounded(self.tempo_dev_pct, 2),
            "max_dev_ms": rounded(self.max_dev_ms, 1),
            "cents": rounded(self.cents, 1),
        }


@dataclass(frozen=True)
class Passage:
    """Consecutive bars where B's tempo against A differs most from the overall ratio."""

    first_bar: int
    last_bar: int
    a_start: float
    a_end: float
    b_start: float
    b_end: float
    tempo_dev_pct: float  # B's tempo over the passage relative to the overall ratio
    max_dev_ms: float

    @property
    def bars(self) -> str:
        return str(self.first_bar) if self.first_bar == self.last_bar else f"{self.first_bar}-{self.last_bar}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "bars": self.bars,
            "first_bar": self.first_bar,
            "last_bar": self.last_bar,
            "a_start": round(self.a_start, 4),
            "a_end": round(self.a_end, 4),
            "b_start": round(self.b_start, 4),
            "b_end": round(self.b_end, 4),
            "tempo_dev_pct": rounded(self.tempo_dev_pct, 2),
            "max_dev_ms": rounded(self.max_dev_ms, 1),
        }


@dataclass(frozen=True)
class Comparison:
    """Everything :func:`compare` finds; ``to_dict()`` is the JSON of ``matcher compare``.

    Attributes
    ----------
    a_name, b_name : str
    a_duration, b_duration : float [s]
    alignment : Alignment
        Its ``a_t`` / ``b_t`` (the JSON's ``path``) are the knots of a strictly increasing,
        piecewise-linear map between the time axes: the DTW path at the onsets of either
        recording (every path point with ``onset_anchors=None``) and both ends.
    tempo_ratio : float
        B's overall tempo against A's (> 1: B faster): the duration of A's audible span
        divided by the duration of the same music in B.
    tempo_a_t : np.ndarray [shape=(k,), s]
        A times of the tempo curve (10 per second).
    tempo_curve : np.ndarray [shape=(k,)]
        B's local tempo against A's, smoothed over ``smooth_s``.
    smooth_s : float [s]
    beats, bars, passages : tuples of :class:`BeatDeviation`, :class:`BarDeviation`, :class:`Passage`
    pitch : dict or None
        ``{"frames", "median_cents", "mean_abs_cents"}`` where both are voiced.
    pauses : tuple of :class:`Pause`
        Where B stops while A sounds; the tempo curve is NaN within ``smooth_s / 2`` of
        them (a pause is not slow playing).
    """

    a_name: str
    b_name: str
    a_duration: float
    b_duration: float
    alignment: Alignment
    tempo_ratio: float
    tempo_a_t: np.ndarray
    tempo_curve: np.ndarray
    smooth_s: float
    beats: tuple[BeatDeviation, ...]
    bars: tuple[BarDeviation, ...]
    passages: tuple[Passage, ...]
    pitch: dict[str, float] | None = None
    beats_per_bar: int = 4
    meta: dict[str, Any] = field(default_factory=dict)
    pauses: tuple[Pause, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Comparison({self.a_name!r} vs {self.b_name!r}, tempo ratio {self.tempo_ratio:.3f}, "
            f"{len(self.beats)} beats, {len(self.bars)} bars, {len(self.passages)} passages)"
        )

    def summary(self) -> str:
        """One or two sentences for people."""
        pct = (self.tempo_ratio - 1.0) * 100.0
        word = "faster" if pct > 0 else "slower"
        pace = "at the same tempo as" if abs(pct) < 0.5 else f"{abs(pct):.1f} % {word} than"
        text = f"{self.b_name} plays {pace} {self.a_name} overall ({self.a_duration:.1f} s vs {self.b_duration:.1f} s)"
        if self.beats:
            devs = np.array([b.dev_ms for b in self.beats])
            text += f"; beats deviate by {np.median(np.abs(devs)):.0f} ms (median), up to {np.max(np.abs(devs)):.0f} ms"
        if self.passages:
            parts = []
            for p in self.passages:
                word = "faster" if p.tempo_dev_pct > 0 else "slower"
                parts.append(
                    f"bar{'s' if p.first_bar != p.last_bar else ''} {p.bars} ({abs(p.tempo_dev_pct):.0f} % {word})"
                )
            text += "; they differ most in " + ", ".join(parts)
        if self.pauses:
            total = sum(p.seconds for p in self.pauses)
            times = "once" if len(self.pauses) == 1 else f"{len(self.pauses)} times"
            text += f"; {self.b_name} pauses {times} ({total:.1f} s, left out of the tempo curve)"
        text += "."
        if self.pitch is not None:
            c = self.pitch["median_cents"]
            if abs(c) < 1:
                text += f" Pitch: {self.b_name} matches {self.a_name} (median difference under 1 cent)."
            else:
                side = "sharp" if c > 0 else "flat"
                text += f" Pitch: {self.b_name} is {abs(c):.0f} cents {side} of {self.a_name} (median)."
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": {"name": self.a_name, "duration": round(self.a_duration, 4)},
            "b": {"name": self.b_name, "duration": round(self.b_duration, 4)},
            "method": self.alignment.method,
            "frame_seconds": self.alignment.frame_seconds,
            "tempo_ratio": rounded(self.tempo_ratio, 5),
            "smooth_s": round(self.smooth_s, 3),
            "beats_per_bar": self.beats_per_bar,
            "path": [
                [round(float(a), 4), round(float(b), 4)]
                for a, b in zip(self.alignment.a_t, self.alignment.b_t, strict=True)
            ],
            "tempo_curve": {
                "a_t": [round(float(t), 3) for t in self.tempo_a_t],
                "ratio": [rounded(float(r), 4) for r in self.tempo_curve],
            },
            "beats": [b.to_dict() for b in self.beats],
            "bars": [b.to_dict() for b in self.bars],
            "passages": [p.to_dict() for p in self.passages],
            "pitch": self.pitch,
            "pauses": [p.to_dict() for p in self.pauses],
            "summary": self.summary(),
            **({"meta": self.meta} if self.meta else {}),
        }

    def beats_csv(self) -> str:
        """The per-beat table as CSV text."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["beat", "bar", "a_t", "b_t", "dev_ms", "tempo_ratio", "cents"])
        for b in self.beats:
            d = b.to_dict()
            writer.writerow(
                ["" if d[k] is None else d[k] for k in ("beat", "bar", "a_t", "b_t", "dev_ms", "tempo_ratio", "cents")]
            )
        return buf.getvalue()


# -- analysis ---------------------------------------------------------------------------


def overall_tempo_ratio(alignment: Alignment, a_start: float, a_end: float) -> float:
    """B's tempo against A's over A's span ``[a_start, a_end]`` [s]: the span's length on A
    divided by its length on B (> 1: B took less time, it is faster)."""
    b0, b1 = alignment.b_at(a_start), alignment.b_at(a_end)
    return float((a_end - a_start) / (b1 - b0)) if a_end > a_start and b1 > b0 else float("nan")


def tempo_curve(
    alignment: Alignment, smooth_s: float, rate: float = 10.0, span: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """B's local tempo against A's on a grid of A times over ``span`` [s] (default: the whole
    alignment): ``smooth_s`` [s] of A divided by the B time it maps to (a centred
    difference, shortened at the ends of the span)."""
    a0, a1 = span if span is not None else (float(alignment.a_t[0]), float(alignment.a_t[-1]))
    grid = np.arange(a0, a1 + 1e-9, 1.0 / rate)
    half = smooth_s / 2
    lo = np.clip(grid - half, a0, a1)
    hi = np.clip(grid + half, a0, a1)
    db = alignment.b_at(hi) - alignment.b_at(lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(db > 0, (hi - lo) / db, np.nan)
    return grid, ratio


def path_cents(alignment: Alignment, a: Reference, b: Reference) -> np.ndarray:
    """Per path cell: B - A pitch [cents] folded into [-600, 600), NaN unless both voiced."""
    ma = a.frames.midi[alignment.a_frames].astype(np.float64)
    mb = b.frames.midi[alignment.b_frames].astype(np.float64)
    diff = 100.0 * (mb - ma)
    return (diff + 600.0) % 1200.0 - 600.0  # NaN stays NaN


def _median_or_nan(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else float("nan")


def compare(
    a: Reference,
    b: Reference,
    params: AlignParams | None = None,
    smooth_s: float | None = None,
    beats: Beats | None = None,
) -> Comparison:
    """Align B to A and describe the differences.

    Parameters
    ----------
    a, b : Reference
        The two performances (frames made with the same configuration, pitch backend
        aside). A's beats (``a.beats``, or ``beats``) number the beats and bars.
    params : AlignParams, optional
    smooth_s : float > 0 [s], optional
        Smoothing of the tempo curve; default two of A's beats (median interval),
        within 1-8 s, or 3 s without beats.

    Raises
    ------
    ParameterError
        When the two were made with incompatible configurations, or on bad options.
    """
    why = a.config.replace(pitch_backend="yin").incompatibility(b.config.replace(pitch_backend="yin"))
    if why is not None:
        raise ParameterError(f"cannot compare {a.name!r} with {b.name!r}: {why}")
    beats = beats if beats is not None else a.beats
    params = params or AlignParams()
    alignment = align_frames(a.frames, b.frames, a.config, params)
    passes = None
    if a.score is not None and params.score_passes > 1:
        from .notation.realign import realign

        alignment, passes = realign(a, b, alignment, params)
    if a.score is not None and params.onset_anchors is not None:
        alignment = kept_at(alignment, a.score.note_t)  # the score's onsets, not the take's flux peaks
    fs = a.config.frame_seconds

    # Overall tempo over A's audible span inside the aligned range.
    audible = np.flatnonzero(a.frames.db >= a.config.gate_db) * fs
    a_lo, a_hi = float(alignment.a_t[0]), float(alignment.a_t[-1])
    span = audible[(audible >= a_lo) & (audible <= a_hi)]
    s0, s1 = (float(span[0]), float(span[-1])) if len(span) > 1 else (a_lo, a_hi)
    ratio = overall_tempo_ratio(alignment, s0, s1)

    intervals = np.diff(beats.times)
    if smooth_s is None:
        smooth_s = float(np.clip(2 * np.median(intervals), 1.0, 8.0)) if len(intervals) else 3.0
    elif not smooth_s > 0:
        raise ParameterError(f"smooth_s must be > 0 seconds, got {smooth_s!r}")
    grid, curve = tempo_curve(alignment, smooth_s, span=(s0, s1))
    pauses = find_pauses(a, b, alignment)
    for p in pauses:  # a window that holds a pause would read it as slow playing
        a_end = p.a_t if p.a_end is None else p.a_end
        curve[(grid + smooth_s / 2 >= p.a_t) & (grid - smooth_s / 2 <= a_end)] = np.nan

    cents = path_cents(alignment, a, b)
    path_a_t = alignment.a_frames * fs
    pitch = None
    if np.count_nonzero(np.isfinite(cents)) >= MIN_PITCH_FRAMES:
        c = cents[np.isfinite(cents)]
        pitch = {
            "frames": len(c),
            "median_cents": round(float(np.median(c)), 1),
            "mean_abs_cents": round(float(np.mean(np.abs(c))), 1),
        }

    # Beats of A inside the aligned range.
    inside = (beats.times >= a_lo) & (beats.times <= a_hi)
    bt, bn, bb = beats.times[inside], beats.numbers[inside], beats.bars[inside]
    b_of = alignment.b_at(bt) if len(bt) else np.zeros(0)
    if len(bt) >= 2:
        # Steady rendering of A at the overall ratio, placed by least squares on the beats.
        offset = steady_offset(bt, b_of, 1.0 / ratio, "mean")
        dev = deviation_ms(bt, b_of, 1.0 / ratio, offset)
    else:
        dev = np.zeros(len(bt))
    beat_rows = []
    for k in range(len(bt)):
        nxt = k + 1 < len(bt)
        tr = (bt[k + 1] - bt[k]) / (b_of[k + 1] - b_of[k]) if nxt and b_of[k + 1] > b_of[k] else float("nan")
        i0, i1 = np.searchsorted(path_a_t, [bt[k], bt[k + 1] if nxt else bt[k] + 1e-9])  # path_a_t is sorted
        beat_rows.append(
            BeatDeviation(
                float(bn[k]), int(np.floor(bb[k])), float(bt[k]), float(b_of[k]), float(dev[k]), float(tr),
                _median_or_nan(cents[i0:i1]),
            )
        )  # fmt: skip

    bar_rows = _bars(alignment, beat_rows, bb, ratio, cents, path_a_t)
    passages = _passages(bar_rows, alignment, ratio)
    return Comparison(
        a_name=a.name,
        b_name=b.name,
        a_duration=a.duration,
        b_duration=b.duration,
        alignment=alignment,
        tempo_ratio=ratio,
        tempo_a_t=grid,
        tempo_curve=curve,
        smooth_s=float(smooth_s),
        beats=tuple(beat_rows),
        bars=tuple(bar_rows),
        passages=passages,
        pitch=pitch,
        beats_per_bar=beats.beats_per_bar,
        meta={
            "beats_source": beats.source,
            "audible_a": [round(s0, 3), round(s1, 3)],
            **({"score_alignment": passes} if passes is not None else {}),
        },
        pauses=pauses,
    )


def _bars(
    alignment: Alignment,
    beat_rows: list[BeatDeviation],
    bars: np.ndarray,
    ratio: float,
    cents: np.ndarray,
    path_a_t: np.ndarray,
) -> list[BarDeviation]:
    """One row per bar of A that has a beat; a bar spans from its first beat to the next
    bar's first beat (the last bar to its own last beat: what follows the last beat, a
    held chord or silence, says nothing about tempo)."""
    if not beat_rows:
        return []
    numbers = np.floor(bars).astype(int)
    firsts = [k for k in range(len(numbers)) if k == 0 or numbers[k] != numbers[k - 1]]
    rows = []
    for n, k in enumerate(firsts):
        stop = firsts[n + 1] if n + 1 < len(firsts) else len(beat_rows)
        a_start = beat_rows[k].a_t
        a_end = beat_rows[stop].a_t if stop < len(beat_rows) else beat_rows[stop - 1].a_t
        b_start, b_end = alignment.b_at(a_start), alignment.b_at(a_end)
        if a_end > a_start and b_end > b_start:
            dev_pct = ((a_end - a_start) / (b_end - b_start) / ratio - 1.0) * 100.0
        else:
            dev_pct = float("nan")
        i0, i1 = np.searchsorted(path_a_t, [a_start, a_end])
        rows.append(
            BarDeviation(
                int(numbers[k]), a_start, a_end, float(b_start), float(b_end), float(dev_pct),
                float(max(abs(beat_rows[q].dev_ms) for q in range(k, stop))), _median_or_nan(cents[i0:i1]),
            )
        )  # fmt: skip
    return rows


def _passages(bars: list[BarDeviation], alignment: Alignment, ratio: float) -> tuple[Passage, ...]:
    """The bars that differ most in tempo (at most :data:`MAX_PASSAGES` runs of
    consecutive bars, each bar at least :data:`PASSAGE_MIN_PCT` off the overall ratio)."""
    scored = [(abs(b.tempo_dev_pct), i) for i, b in enumerate(bars) if math.isfinite(b.tempo_dev_pct)]
    chosen: set[int] = set()
    runs: list[list[int]] = []
    for score, i in sorted(scored, reverse=True):
        if score < PASSAGE_MIN_PCT or len(runs) >= MAX_PASSAGES:
            break
        if i in chosen:
            continue
        # Grow a run around the bar while neighbours deviate the same way and strongly.
        sign = np.sign(bars[i].tempo_dev_pct)
        run = [i]
        for step in (-1, 1):
            j = i + step
            while 0 <= j < len(bars) and j not in chosen and math.isfinite(bars[j].tempo_dev_pct):
                d = bars[j].tempo_dev_pct
                if np.sign(d) != sign or abs(d) < max(PASSAGE_MIN_PCT, score / 2):
                    break
                run.append(j)
                j += step
        run.sort()
        chosen.update(run)
        runs.append(run)
    out = []
    for run in runs:
        first, last = bars[run[0]], bars[run[-1]]
        a0, a1, b0, b1 = first.a_start, last.a_end, first.b_start, last.b_end
        dev = ((a1 - a0) / (b1 - b0) / ratio - 1.0) * 100.0 if b1 > b0 else float("nan")
        out.append(Passage(first.bar, last.bar, a0, a1, b0, b1, float(dev), max(bars[q].max_dev_ms for q in run)))
    return tuple(out)


# -- inputs and outputs -------------------------------------------------------------------


__all__ = [
    "BarDeviation",
    "BeatDeviation",
    "Comparison",
    "Passage",
    "Pause",
    "compare",
    "find_pauses",
    "overall_tempo_ratio",
    "path_cents",
    "prepare_performance",
    "tempo_curve",
    "write_atomic",
]
