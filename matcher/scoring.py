"""Practice scoring: the timing (and pitch) of a take against its reference, beat by beat.

:func:`score_take` aligns the take to the reference (:func:`matcher.compare.compare`, so the
offline alignment, the tempo curve and the per-beat pitch difference are the comparison's)
and reads, for every reference beat and every reference onset inside the take:

* ``take_t`` — where the take plays it [s];
* ``error_ms`` — its signed timing error against the reference's timing scaled to the
  take's overall tempo (negative: early): the steady rendering
  ``take_t = offset + slope * ref_t`` whose slope is the take's pace from its first to its
  last bar (:func:`steady_fit`; or a tempo the caller fixes) and whose offset is the median
  one (half the beats early, half late). A gap inserted before a beat steps the error of
  every later beat by the gap relative to the earlier ones; re-measured, the overall
  tempo also takes in the longer take (a tilt of up to the gap over the take);
* ``steadiness_ms`` — its signed error against the player's own local tempo: the time
  predicted from the previous beat and the median pace of the ``LOCAL_INTERVALS`` beat
  intervals around it (the reference's intervals scaled by the take's own pace there; the
  interval ending at the beat left out), so a single hesitation shows at that beat only;
* ``cents`` — the median pitch difference take - reference [cents, folded into one octave]
  over the frames from this beat to the next where both are voiced (when enough are:
  :data:`MIN_PITCH_FRAMES`, :data:`MIN_PITCH_SHARE`).

The take is processed with the reference's configuration and pitch backend (see
:func:`load_take`), so pitch is measured the same way on both sides.

Summary: mean |error|, share of beats within ``tolerance_ms``, the trend (the curvature of
a quadratic regression of ``error_ms`` over take time, expressed as the change of the
take's tempo from its first to its last beat: > 0 rushing, < 0 dragging), tempo steadiness
(spread of the inter-beat intervals against the reference's, scaled), the worst bars,
passages of consecutive bars early or late on average, median pitch difference and the
notes (reference onset to onset) most out of tune, within a semitone; notes further off
are counted as other notes.

Live takes: :func:`followed_span` turns a follower's :class:`~matcher.follow.Track` into
alignment options for the part of the reference the take covered; the take itself is
scored offline when it ends. Measured with tools/eval_score.py, the offline take times of
the annotated beats are within 50 ms for 88-100 % of the beats per pair (piano and
percussion), the times at which the follower's reported position reaches them for 44-85 %
(its positions are causal, and hold and jump where the music does), and the follower
computes no pitch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .align import AlignParams, onset_peaks
from .beats import Beats
from .compare import Comparison, _num, _pitch_cents, _round, compare, load_performance, write_atomic
from .errors import InputFileError, ParameterError
from .reference import Reference

if TYPE_CHECKING:
    from .follow import Track

#: Default tolerance [ms]: a beat within it counts as in time.
DEFAULT_TOLERANCE_MS = 50.0
#: Beat intervals around a beat (half on each side) whose median pace predicts it.
LOCAL_INTERVALS = 4
#: The take's overall tempo is measured between its first and its last this many beats.
END_BEATS = 4
#: |tempo change| over the take [%] from which the trend counts as rushing or dragging.
TREND_MIN_PCT = 3.0
#: A bar belongs to a passage when its mean signed error is at least this share of the tolerance.
PASSAGE_SHARE = 0.5
#: At most this many passages, worst bars and out-of-tune notes are reported.
MAX_PASSAGES = 2
MAX_WORST = 3
#: A beat (a bar, a note) gets a pitch difference when at least this many of its frame
#: pairs, and this share of them, are voiced on both sides (unpitched strokes get none:
#: measured per beat, the median voiced share is 85-89 % on piano and a synthetic melody,
#: 26 % on the shared percussion, whose few voiced frames misread a pitch shift).
MIN_PITCH_FRAMES = 4
MIN_PITCH_SHARE = 0.5
#: A note needs this many frame pairs voiced on both sides to be among the most out of tune.
MIN_NOTE_FRAMES = 6
#: A note further off than this [cents] is another note (a wrong note, or the pitch tracker
#: following another voice of a chord), counted apart, not "out of tune".
OUT_OF_TUNE_MAX_CENTS = 100.0
#: The sentence names the note most out of tune when it is off by at least this much [cents].
NOTE_MENTION_CENTS = 10.0
#: The follower's take must begin / end this far [s] inside the reference's audible span to
#: be scored with an open begin / open end.
OPEN_MARGIN_S = 2.0

GRADES = ("green", "yellow", "red")
_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def grade(error_ms: float, tolerance_ms: float) -> str:
    """``"green"`` within the tolerance, ``"yellow"`` within twice it, else ``"red"``
    (``"none"`` for NaN)."""
    if not math.isfinite(error_ms):
        return "none"
    e = abs(error_ms)
    return GRADES[0] if e <= tolerance_ms else GRADES[1] if e <= 2 * tolerance_ms else GRADES[2]


def note_name(midi: float) -> str:
    """``60 -> "C4"`` (nearest semitone); ``""`` for NaN."""
    if not math.isfinite(midi):
        return ""
    m = round(midi)
    return f"{_NOTE_NAMES[m % 12]}{m // 12 - 1}"


# -- timing -----------------------------------------------------------------------------


def steady_fit(ref_t: np.ndarray, take_t: np.ndarray, slope: float | None = None) -> tuple[float, float]:
    """The take's steady rendering of the reference: ``take_t ≈ offset + slope * ref_t``.

    ``slope`` (unless given) is the take's overall pace from its first to its last bar:
    the median of ``(take_t[j] - take_t[i]) / (ref_t[j] - ref_t[i])`` over ``i`` among the
    first :data:`END_BEATS` points and ``j`` among the last (half the points each when
    there are fewer), so one misplaced beat at either end does not tilt it. ``offset`` is
    the median of ``take_t - slope * ref_t``: half the beats early, half late.

    Measured on the evaluation edits (tools/eval_score.py), estimators of the overall
    tempo trade robustness for continuity: medians of local tempos ignore a gap but jump
    by up to 150 ms of error at the ends when a measurement moves by a few ms (the order
    statistics of a spread-out tempo distribution are sparse); end-to-end estimates move
    smoothly, and a gap of ``g`` tilts them by ``g`` over the take (the take did get longer).

    Returns
    -------
    slope : float [take s per reference s] (1 / the take's tempo ratio); NaN with < 2 points
    offset : float [s]; NaN with no points
    """
    r = np.asarray(ref_t, np.float64)
    t = np.asarray(take_t, np.float64)
    if slope is None:
        slope = float("nan")
        if len(r) >= 2:
            m = max(1, min(END_BEATS, len(r) // 2))
            dr = r[-m:][None, :] - r[:m][:, None]
            dt = t[-m:][None, :] - t[:m][:, None]
            ok = dr > 0
            if ok.any():
                slope = float(np.median(dt[ok] / dr[ok]))
    offset = float(np.median(t - slope * r)) if len(r) and np.isfinite(slope) else float("nan")
    return float(slope), offset


def local_steadiness(
    ref_q: np.ndarray, take_q: np.ndarray, beat_ref: np.ndarray, beat_take: np.ndarray, n: int = LOCAL_INTERVALS
) -> np.ndarray:
    """Signed deviation [ms] of each query from the time the player's own local tempo predicts.

    For a query at reference time ``r`` (a beat or an onset), the anchor is the last beat
    before it, and the player's pace is the median of ``take interval / reference interval``
    over the ``n`` beat intervals around the one holding the query (``n / 2`` on each side,
    that one left out): the prediction is ``take(anchor) + (r - ref(anchor)) * pace``. At or
    before the first beat the anchor is the first beat after ``r``. A centred window keeps
    an accelerando from reading as unsteady; leaving the query's own interval out keeps a
    hesitation at the beat it happened. NaN with fewer than 3 beats.

    Parameters
    ----------
    ref_q, take_q : np.ndarray [shape=(k,), s]   the queries on both axes
    beat_ref, beat_take : np.ndarray [shape=(m,), s]   the beats on both axes (increasing ``beat_ref``)
    n : int >= 2
    """
    ref_q = np.asarray(ref_q, np.float64)
    take_q = np.asarray(take_q, np.float64)
    br = np.asarray(beat_ref, np.float64)
    bt = np.asarray(beat_take, np.float64)
    out = np.full(len(ref_q), np.nan)
    if len(br) < 3:
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        pace = np.diff(bt) / np.diff(br)  # pace[i]: interval from beat i to i + 1
    half, eps = max(1, n // 2), 1e-9
    for q, r in enumerate(ref_q):
        j = int(np.searchsorted(br, r - eps, side="left")) - 1  # last beat strictly before r
        if j >= 0:
            anchor, held = j, j
        else:
            anchor = int(np.searchsorted(br, r + eps, side="right"))  # first beat strictly after r
            held = anchor - 1
        if anchor >= len(br):
            continue
        window = np.concatenate([pace[max(0, held - half) : max(0, held)], pace[held + 1 : held + 1 + half]])
        window = window[np.isfinite(window)]
        if len(window) == 0:
            continue
        predicted = bt[anchor] + (r - br[anchor]) * float(np.median(window))
        out[q] = (take_q[q] - predicted) * 1000.0
    return out


def tempo_trend(take_t: np.ndarray, error_ms: np.ndarray) -> float:
    """Change of the take's tempo from its first to its last point [%] (> 0: rushing).

    A quadratic least-squares fit ``e(t) = a + b t + c t^2`` of the error [ms] over take
    time [s]; the local tempo relative to the steady rendering is ``1 - e'(t)``, so it
    changes by ``-2 c (t1 - t0)`` over the take. NaN with fewer than 4 points.
    """
    t = np.asarray(take_t, np.float64)
    e = np.asarray(error_ms, np.float64)
    ok = np.isfinite(t) & np.isfinite(e)
    t, e = t[ok], e[ok]
    if len(t) < 4 or t[-1] <= t[0]:
        return float("nan")
    centre, half = (t[0] + t[-1]) / 2, (t[-1] - t[0]) / 2
    c = np.polyfit((t - centre) / half, e / 1000.0, 2)[0] / half**2  # [s / s^2]
    return float(-2.0 * c * (t[-1] - t[0]) * 100.0)


# -- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BeatScore:
    """One reference beat in the take.

    beat : float — the reference's beat number (from 0); bar : int — its bar (from 1, 0 for
    a pickup); ref_t, take_t : float [s]; error_ms : float [ms] — against the reference
    scaled to the take's overall tempo (< 0: early); steadiness_ms : float [ms] — against
    the player's own local tempo (< 0: early; NaN with < 3 beats); cents : float — median
    pitch difference take - reference up to the next beat (NaN where not both voiced).
    """

    beat: float
    bar: int
    ref_t: float
    take_t: float
    error_ms: float
    steadiness_ms: float
    cents: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "beat": _num(self.beat),
            "bar": self.bar,
            "ref_t": round(self.ref_t, 4),
            "take_t": round(self.take_t, 4),
            "error_ms": _round(self.error_ms, 1),
            "steadiness_ms": _round(self.steadiness_ms, 1),
            "cents": _round(self.cents, 1),
        }


@dataclass(frozen=True)
class OnsetScore:
    """One reference onset (a peak of its onset flux) in the take: as :class:`BeatScore`,
    with the fractional ``beat`` and ``bar`` of the onset (NaN without beats), and ``cents``
    up to the next onset."""

    ref_t: float
    take_t: float
    beat: float
    bar: float
    error_ms: float
    steadiness_ms: float
    cents: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref_t": round(self.ref_t, 4),
            "take_t": round(self.take_t, 4),
            "beat": _round(self.beat, 3),
            "bar": _round(self.bar, 3),
            "error_ms": _round(self.error_ms, 1),
            "steadiness_ms": _round(self.steadiness_ms, 1),
            "cents": _round(self.cents, 1),
        }


@dataclass(frozen=True)
class BarScore:
    """One bar: its beats' mean signed and absolute error [ms], share within the tolerance,
    largest |steadiness| [ms] and median pitch difference [cents]."""

    bar: int
    ref_t: float
    take_t: float
    beats: int
    mean_error_ms: float
    mean_abs_error_ms: float
    within: float
    max_abs_steadiness_ms: float
    cents: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "bar": self.bar,
            "ref_t": round(self.ref_t, 4),
            "take_t": round(self.take_t, 4),
            "beats": self.beats,
            "mean_error_ms": _round(self.mean_error_ms, 1),
            "mean_abs_error_ms": _round(self.mean_abs_error_ms, 1),
            "within": _round(self.within, 4),
            "max_abs_steadiness_ms": _round(self.max_abs_steadiness_ms, 1),
            "cents": _round(self.cents, 1),
        }


@dataclass(frozen=True)
class Score:
    """Everything :func:`score_take` finds; ``to_dict()`` is the JSON of ``matcher score``.

    Attributes
    ----------
    ref_name, take_name : str
    tolerance_ms : float [ms]
    slope, offset : float
        The steady rendering ``take_t = offset + slope * ref_t`` the errors are measured from.
    beats, onsets, bars : tuples of :class:`BeatScore`, :class:`OnsetScore`, :class:`BarScore`
    summary : dict
        The figures of the summary (see :meth:`to_dict`).
    comparison : Comparison
        The underlying alignment, tempo curve and pitch comparison.
    """

    ref_name: str
    take_name: str
    tolerance_ms: float
    slope: float
    offset: float
    beats: tuple[BeatScore, ...]
    onsets: tuple[OnsetScore, ...]
    bars: tuple[BarScore, ...]
    summary: dict[str, Any]
    comparison: Comparison
    meta: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.summary
        within = "n/a" if s["within_tolerance"] is None else f"{100 * s['within_tolerance']:.0f} %"
        return (
            f"Score({self.take_name!r} against {self.ref_name!r}, {len(self.beats)} beats, "
            f"{within} within ±{self.tolerance_ms:g} ms, tempo ratio {self.tempo_ratio:.3f})"
        )

    @property
    def tempo_ratio(self) -> float:
        """The take's overall tempo against the reference's (> 1: faster)."""
        return 1.0 / self.slope if self.slope > 0 else float("nan")

    def sentence(self) -> str:
        """One sentence of facts for people (no advice)."""
        s, tol = self.summary, self.tolerance_ms
        if not self.beats:
            return f"No beat of {self.ref_name} falls inside {self.take_name}: nothing to score."
        parts = [
            f"{100 * s['within_tolerance']:.0f} % of {s['beats']} beats within ±{tol:g} ms "
            f"(mean error {s['mean_abs_error_ms']:.0f} ms)"
        ]
        for p in s["passages"]:
            word = "rushed" if p["mean_error_ms"] < 0 else "dragged"
            where = f"bar {p['first_bar']}" if p["first_bar"] == p["last_bar"] else f"bars {p['bars']}"
            parts.append(f"{where} {word} by {abs(p['mean_error_ms']):.0f} ms on average")
        ratio = self.tempo_ratio
        if self.meta.get("tempo") == "given":
            pace = f"errors measured at {100 * ratio:.0f} % of the reference's tempo"
        elif not math.isfinite(ratio):
            pace = ""
        elif abs(ratio - 1) < 0.005:
            pace = "the same tempo as the reference overall"
        else:
            pace = f"{abs(ratio - 1) * 100:.0f} % {'faster' if ratio > 1 else 'slower'} than the reference overall"
        trend = s["trend"]
        if trend["tempo_change_pct"] is not None:
            change = trend["tempo_change_pct"]
            if trend["label"] == "steady":
                text = f"tempo steady over the take (within {TREND_MIN_PCT:g} %)"
            else:
                text = f"tempo {'rose' if change > 0 else 'fell'} {abs(change):.0f} % over the take"
            parts.append(f"{text}, {pace}" if pace else text)
        elif pace:
            parts.append(pace)
        pitch = s["pitch"]
        if pitch is not None:
            c = pitch["median_cents"]
            side = "sharp" if c > 0 else "flat"
            text = "pitch within 1 cent (median)" if abs(c) < 1 else f"pitch {abs(c):.0f} cents {side} (median)"
            notes = [n for n in pitch["out_of_tune"] if abs(n["cents"]) >= NOTE_MENTION_CENTS]
            if notes:
                n = notes[0]
                where = f"bar {n['bar']}" if n["bar"] is not None else f"{n['take_t']:.1f} s"
                text += f", most out of tune {n['note']} in {where} ({n['cents']:+.0f} cents)"
            parts.append(text)
        return "; ".join(parts) + "."

    def to_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "reference": {"name": self.ref_name, "duration": round(c.a_duration, 4)},
            "take": {"name": self.take_name, "duration": round(c.b_duration, 4)},
            "tolerance_ms": self.tolerance_ms,
            "method": c.alignment.method,
            "frame_seconds": c.alignment.frame_seconds,
            "tempo_ratio": _round(self.tempo_ratio, 5),
            "steady": {"slope": _round(self.slope, 6), "offset": _round(self.offset, 4)},
            "beats_per_bar": c.beats_per_bar,
            "beats": [b.to_dict() for b in self.beats],
            "bars": [b.to_dict() for b in self.bars],
            "onsets": [o.to_dict() for o in self.onsets],
            "tempo_curve": {
                "take_t": [round(float(t), 3) for t in c.alignment.b_at(c.tempo_a_t)],
                "ref_t": [round(float(t), 3) for t in c.tempo_a_t],
                "ratio": [_round(float(r), 4) for r in c.tempo_curve],
            },
            "summary": self.summary,
            "sentence": self.sentence(),
            **({"meta": self.meta} if self.meta else {}),
        }


# -- scoring ----------------------------------------------------------------------------


def _check_tolerance(tolerance_ms: float) -> float:
    try:
        tol = float(tolerance_ms)
    except (TypeError, ValueError):
        tol = float("nan")
    if not (math.isfinite(tol) and tol > 0):
        raise ParameterError(f"tolerance must be a positive number of milliseconds, got {tolerance_ms!r}")
    return tol


def score_take(
    reference: Reference,
    take: Reference,
    tolerance_ms: float = DEFAULT_TOLERANCE_MS,
    params: AlignParams | None = None,
    beats: Beats | None = None,
    smooth_s: float | None = None,
    tempo_ratio: float | None = None,
) -> Score:
    """Score a take's timing and pitch against its reference.

    Parameters
    ----------
    reference : Reference
        Its beats (or ``beats``) number the beats and bars.
    take : Reference
        The take's frames, made with the reference's configuration and pitch backend
        (:func:`load_take`).
    tolerance_ms : float > 0 [ms]
    params : AlignParams, optional
        Alignment options (open begin / end for a take of part of the piece).
    beats : Beats, optional
    smooth_s : float > 0 [s], optional
        Smoothing of the tempo curve (as :func:`matcher.compare.compare`).
    tempo_ratio : float > 0, optional
        Measure ``error_ms`` against the reference at this tempo (take / reference: 0.8 for
        a take practised at 80 %, or another take's ``tempo_ratio`` to compare two takes on
        one yardstick) instead of the take's own overall tempo.

    Raises
    ------
    ParameterError
        On a bad tolerance or options, or when the take was made with another
        configuration or pitch backend than the reference.
    """
    tol = _check_tolerance(tolerance_ms)
    if tempo_ratio is not None and not (math.isfinite(tempo_ratio) and tempo_ratio > 0):
        raise ParameterError(f"tempo ratio must be a positive number (take / reference), got {tempo_ratio!r}")
    why = reference.config.incompatibility(take.config)
    if why is not None:
        raise ParameterError(
            f"cannot score {take.name!r} against {reference.name!r}: {why}; "
            "a take must be processed with its reference's configuration and pitch backend"
        )
    params = params or AlignParams()
    beats = beats if beats is not None else reference.beats
    comp = compare(reference, take, params, smooth_s, beats)
    al, fs, cfg = comp.alignment, reference.config.frame_seconds, reference.config
    ref_t = np.array([b.a_t for b in comp.beats])
    take_t = np.array([b.b_t for b in comp.beats])

    slope, offset = steady_fit(ref_t, take_t, None if tempo_ratio is None else 1.0 / tempo_ratio)
    if not (math.isfinite(slope) and slope > 0):  # < 2 beats, or a degenerate path
        slope = 1.0 / comp.tempo_ratio if comp.tempo_ratio > 0 else 1.0
        offset = float(np.median(take_t - slope * ref_t)) if len(ref_t) else 0.0
    error = (take_t - (offset + slope * ref_t)) * 1000.0
    steady = local_steadiness(ref_t, take_t, ref_t, take_t)
    a_lo, a_hi = float(al.a_t[0]), float(al.a_t[-1])
    cents = _pitch_cents(al, reference, take)  # per path cell, NaN unless both voiced
    path_a_t = al.a_frames * fs
    beat_cents, _ = _span_cents(cents, path_a_t, ref_t, np.append(ref_t[1:], a_hi)[: len(ref_t)], MIN_PITCH_FRAMES)
    beat_rows = tuple(
        BeatScore(b.beat, b.bar, b.a_t, b.b_t, float(e), float(s), float(c))
        for b, e, s, c in zip(comp.beats, error, steady, beat_cents, strict=True)
    )

    # Onsets of the reference inside the aligned range, and pitch per onset-to-onset note.
    threshold = params.onset_anchors if params.onset_anchors is not None else 1.0
    on_ref = onset_peaks(reference.frames, cfg.gate_db, threshold) * fs
    on_ref = on_ref[(on_ref >= a_lo) & (on_ref <= a_hi)]
    on_take = np.asarray(al.b_at(on_ref), np.float64) if len(on_ref) else np.zeros(0)
    on_error = (on_take - (offset + slope * on_ref)) * 1000.0
    on_steady = local_steadiness(on_ref, on_take, ref_t, take_t)
    on_ends = np.append(on_ref[1:], a_hi)[: len(on_ref)]
    on_cents, on_frames = _span_cents(cents, path_a_t, on_ref, on_ends, MIN_PITCH_FRAMES)
    ref_midi = np.where(np.isfinite(cents), reference.frames.midi[al.a_frames].astype(np.float64), np.nan)
    on_midi, _ = _span_cents(ref_midi, path_a_t, on_ref, on_ends, MIN_PITCH_FRAMES)
    has_beats = len(beats) > 0
    on_beat = np.asarray(beats.beat_at(on_ref), float) if has_beats else np.full(len(on_ref), np.nan)
    on_bar = np.asarray(beats.bar_at(on_ref), float) if has_beats else np.full(len(on_ref), np.nan)
    onset_rows = tuple(
        OnsetScore(float(r), float(t), float(bn), float(bb), float(e), float(s), float(c))
        for r, t, bn, bb, e, s, c in zip(on_ref, on_take, on_beat, on_bar, on_error, on_steady, on_cents, strict=True)
    )

    bar_rows = _bars(beat_rows, tol, cents, path_a_t, a_hi)
    summary = _summary(beat_rows, onset_rows, bar_rows, tol, slope, comp)
    judged = [k for k in range(len(on_ref)) if on_frames[k] >= MIN_NOTE_FRAMES and math.isfinite(on_cents[k])]
    notes = [
        {
            "ref_t": round(float(on_ref[k]), 3),
            "take_t": round(float(on_take[k]), 3),
            "bar": None if not math.isfinite(on_bar[k]) else int(np.floor(on_bar[k])),
            "beat": _round(float(on_beat[k]), 2),
            "note": note_name(on_midi[k]),
            "cents": round(on_cents[k], 1),
        }
        for k in sorted(
            (k for k in judged if abs(on_cents[k]) <= OUT_OF_TUNE_MAX_CENTS),
            key=lambda k: -abs(on_cents[k]),
        )[:MAX_WORST]
    ]
    if summary["pitch"] is not None:
        summary["pitch"]["notes"] = len(judged)
        summary["pitch"]["other_notes"] = int(sum(abs(on_cents[k]) > OUT_OF_TUNE_MAX_CENTS for k in judged))
        summary["pitch"]["out_of_tune"] = notes
    return Score(
        ref_name=reference.name,
        take_name=take.name,
        tolerance_ms=tol,
        slope=float(slope),
        offset=float(offset),
        beats=beat_rows,
        onsets=onset_rows,
        bars=bar_rows,
        summary=summary,
        comparison=comp,
        meta={
            **comp.meta,
            "open_begin": params.open_begin,
            "open_end": params.open_end,
            "tempo": "measured" if tempo_ratio is None else "given",
        },
    )


def _span_cents(
    values: np.ndarray, path_a_t: np.ndarray, starts: np.ndarray, ends: np.ndarray, min_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """Median of ``values`` over the path cells of each reference span ``[start, end)`` [s]
    and how many were finite; NaN where fewer than ``min_frames`` cells, or fewer than
    :data:`MIN_PITCH_SHARE` of the span's cells, are (pitch measured on both sides)."""
    out = np.full(len(starts), np.nan)
    counts = np.zeros(len(starts), np.int64)
    lo = np.searchsorted(path_a_t, starts, side="left")
    hi = np.searchsorted(path_a_t, ends, side="left")
    for k, (i, j) in enumerate(zip(lo, hi, strict=True)):
        v = values[i:j]
        v = v[np.isfinite(v)]
        counts[k] = len(v)
        if len(v) >= min_frames and len(v) >= MIN_PITCH_SHARE * (j - i):
            out[k] = float(np.median(v))
    return out, counts


def _bars(
    beats: tuple[BeatScore, ...], tol: float, cents: np.ndarray, path_a_t: np.ndarray, a_hi: float
) -> tuple[BarScore, ...]:
    rows = []
    k = 0
    while k < len(beats):
        stop = k
        while stop < len(beats) and beats[stop].bar == beats[k].bar:
            stop += 1
        group = beats[k:stop]
        end = beats[stop].ref_t if stop < len(beats) else a_hi
        bar_cents, _ = _span_cents(cents, path_a_t, np.array([group[0].ref_t]), np.array([end]), MIN_PITCH_FRAMES)
        e = np.array([b.error_ms for b in group])
        s = np.array([b.steadiness_ms for b in group])
        s = s[np.isfinite(s)]
        rows.append(
            BarScore(
                bar=group[0].bar,
                ref_t=group[0].ref_t,
                take_t=group[0].take_t,
                beats=len(group),
                mean_error_ms=float(np.mean(e)),
                mean_abs_error_ms=float(np.mean(np.abs(e))),
                within=float(np.mean(np.abs(e) <= tol)),
                max_abs_steadiness_ms=float(np.max(np.abs(s))) if len(s) else float("nan"),
                cents=float(bar_cents[0]),
            )
        )
        k = stop
    return tuple(rows)


def _passages(bars: tuple[BarScore, ...], beats: tuple[BeatScore, ...], tol: float) -> list[dict[str, Any]]:
    """Runs of consecutive bars early (or late) on average by at least ``PASSAGE_SHARE * tol``,
    the :data:`MAX_PASSAGES` with the largest summed error."""
    runs: list[list[int]] = []
    for i, b in enumerate(bars):
        sign = int(np.sign(b.mean_error_ms)) if abs(b.mean_error_ms) >= PASSAGE_SHARE * tol else 0
        if sign == 0:
            continue
        prev = runs[-1] if runs else None
        if (
            prev is not None
            and prev[-1] == i - 1
            and bars[i - 1].bar + 1 >= b.bar
            and int(np.sign(bars[prev[-1]].mean_error_ms)) == sign
        ):
            prev.append(i)
        else:
            runs.append([i])
    out = []
    for run in runs:
        first, last = bars[run[0]].bar, bars[run[-1]].bar
        e = np.array([x.error_ms for x in beats if first <= x.bar <= last])
        out.append(
            {
                "bars": str(first) if first == last else f"{first}–{last}",
                "first_bar": first,
                "last_bar": last,
                "mean_error_ms": round(float(np.mean(e)), 1),
                "_weight": float(abs(np.sum(e))),
            }
        )
    out.sort(key=lambda p: -p["_weight"])
    out = sorted(out[:MAX_PASSAGES], key=lambda p: p["first_bar"])
    for p in out:
        del p["_weight"]
    return out


def _summary(
    beats: tuple[BeatScore, ...],
    onsets: tuple[OnsetScore, ...],
    bars: tuple[BarScore, ...],
    tol: float,
    slope: float,
    comp: Comparison,
) -> dict[str, Any]:
    e = np.array([b.error_ms for b in beats])
    s = np.array([b.steadiness_ms for b in beats])
    ref_t = np.array([b.ref_t for b in beats])
    take_t = np.array([b.take_t for b in beats])
    numbers = np.array([b.beat for b in beats])
    n = len(beats)
    change = tempo_trend(take_t, e) if n else float("nan")
    label = None
    if math.isfinite(change):
        label = "steady" if abs(change) < TREND_MIN_PCT else ("rushing" if change > 0 else "dragging")
    spread = take_cv = ref_cv = float("nan")
    if n >= 3:
        d_ref, d_take, d_num = np.diff(ref_t), np.diff(take_t), np.diff(numbers)
        ok = (d_ref > 0) & (d_num > 0)
        if ok.sum() >= 2:
            rel = d_take[ok] / (d_ref[ok] * slope)  # 1: the interval the steady rendering expects
            spread = float(np.std(rel) * 100.0)
            per_take, per_ref = d_take[ok] / d_num[ok], d_ref[ok] / d_num[ok]
            take_cv = float(np.std(per_take) / np.mean(per_take) * 100.0)
            ref_cv = float(np.std(per_ref) / np.mean(per_ref) * 100.0)
    worst = sorted(bars, key=lambda b: -b.mean_abs_error_ms)[:MAX_WORST]
    on_e = np.array([o.error_ms for o in onsets])
    measured = any(math.isfinite(b.cents) for b in beats) or any(math.isfinite(o.cents) for o in onsets)
    pitch = None if comp.pitch is None or not measured else {**comp.pitch, "out_of_tune": []}
    s_ok = s[np.isfinite(s)]
    return {
        "beats": n,
        "tolerance_ms": tol,
        "within_tolerance": _round(float(np.mean(np.abs(e) <= tol)), 4) if n else None,
        "mean_abs_error_ms": _round(float(np.mean(np.abs(e))), 1) if n else None,
        "median_abs_error_ms": _round(float(np.median(np.abs(e))), 1) if n else None,
        "tempo_ratio": _round(1.0 / slope, 5) if slope > 0 else None,
        "trend": {"tempo_change_pct": _round(change, 2), "label": label},
        "steadiness": {
            "ibi_spread_pct": _round(spread, 2),
            "take_ibi_cv_pct": _round(take_cv, 2),
            "ref_ibi_cv_pct": _round(ref_cv, 2),
            "median_abs_steadiness_ms": _round(float(np.median(np.abs(s_ok))), 1) if len(s_ok) else None,
        },
        "worst_bars": [
            {
                "bar": b.bar,
                "mean_error_ms": round(b.mean_error_ms, 1),
                "mean_abs_error_ms": round(b.mean_abs_error_ms, 1),
                "within": round(b.within, 4),
            }
            for b in worst
        ],
        "passages": _passages(bars, beats, tol),
        "onsets": {
            "n": len(onsets),
            "within_tolerance": _round(float(np.mean(np.abs(on_e) <= tol)), 4) if len(on_e) else None,
            "mean_abs_error_ms": _round(float(np.mean(np.abs(on_e))), 1) if len(on_e) else None,
        },
        "pitch": pitch,
    }


# -- inputs -------------------------------------------------------------------------------


def take_pitch_model(reference: Reference, handle: str | None = None) -> Any:
    """The pitch model a take of ``reference`` is processed with: the reference's backend
    (for SPICE, ``handle`` or the model the reference was built with)."""
    from .features.pitch import load_pitch_model

    return load_pitch_model(reference.config, handle or reference.meta.get("pitch_model") or None)


def load_take(
    spec: str | os.PathLike, reference: Reference, store: Any = None, handle: str | None = None, progress: Any = None
) -> Reference:
    """A take for scoring against ``reference``: an audio file processed with the reference's
    configuration and pitch backend, or (with ``store``) a stored reference made with the
    same configuration.

    Raises
    ------
    InputFileError
        When ``spec`` is neither a stored name nor a readable, non-silent audio file.
    ParameterError
        When a stored take was made with another configuration or pitch backend.
    """
    models: dict[str, Any] = {}

    def model_for() -> Any:
        if "m" not in models:
            models["m"] = take_pitch_model(reference, handle)
        return models["m"]

    if store is not None:
        take = load_performance(str(spec), store, reference.config, model_for, progress=progress)
    else:
        from .reference import build_reference

        path = Path(spec)
        if not path.exists():
            raise InputFileError(f"{path}: no such file")
        model = model_for()
        take = build_reference(path, reference.config, model, progress=progress)
    why = reference.config.incompatibility(take.config)
    if why is not None:
        raise ParameterError(
            f"take {take.name!r} was made with another configuration than reference {reference.name!r} ({why}); "
            "score its audio file instead"
        )
    if take.name == reference.name:
        take = Reference(f"{take.name} (take)", take.frames, take.beats, take.config, take.meta)
    return take


def followed_span(track: Track, reference: Reference, params: AlignParams | None = None) -> AlignParams:
    """Alignment options for a take the follower followed: an open begin when it started
    more than :data:`OPEN_MARGIN_S` into the reference's audible span, an open end when it
    stopped that far before the span's end (a take of part of the piece)."""
    params = params or AlignParams()
    following = ~np.asarray(track.lost, bool)
    if len(track) == 0 or not following.any():
        return params
    cfg = reference.config
    audible = np.flatnonzero(reference.frames.db >= cfg.gate_db) * cfg.frame_seconds
    if len(audible) == 0:
        return params
    r = np.asarray(track.ref_t, np.float64)[following]
    return params.replace(
        open_begin=bool(r[0] > audible[0] + OPEN_MARGIN_S),
        open_end=bool(r[-1] < audible[-1] - OPEN_MARGIN_S),
    )


# -- outputs ------------------------------------------------------------------------------


def score_png(score: Score, dpi: int = 110) -> bytes:
    """Timing error per beat (coloured by grade, steadiness as dots, the tolerance band) and
    the take's local tempo against the reference, over take time; pitch per beat when
    measured. Returns PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .plot import figure_png

    c = score.comparison
    has_pitch = any(math.isfinite(b.cents) for b in score.beats)
    rows = 3 if has_pitch else 2
    fig, axes = plt.subplots(rows, 1, figsize=(10, 3 + 2.6 * rows), sharex=True)
    ax_err, ax_tempo = axes[0], axes[1]
    colours = {"green": "#2ca02c", "yellow": "#e6b800", "red": "#d62728", "none": "0.6"}
    try:
        tol = score.tolerance_ms
        take_t = np.array([b.take_t for b in score.beats])
        if len(take_t):
            err = np.array([b.error_ms for b in score.beats])
            steady = np.array([b.steadiness_ms for b in score.beats])
            width = 0.7 * float(np.median(np.diff(take_t))) if len(take_t) > 1 else 0.2
            ax_err.bar(take_t, err, width=width, color=[colours[grade(e, tol)] for e in err], label="error_ms")
            ax_err.plot(take_t, steady, "o", color="0.15", ms=2.5, label="steadiness_ms (own local tempo)")
            for bar in score.bars:
                ax_err.axvline(bar.take_t, color="0.88", lw=0.6, zorder=0)
        else:
            ax_err.text(0.5, 0.5, "no reference beats inside the take", transform=ax_err.transAxes, ha="center")
        ax_err.axhspan(-tol, tol, color="#2ca02c", alpha=0.08, zorder=0)
        ax_err.axhline(0.0, color="0.5", lw=0.8)
        ax_err.set_ylabel("timing error [ms]\n(< 0: early)")
        ax_err.set_title(f"{score.take_name} against {score.ref_name}: {score.sentence()}", fontsize=8, wrap=True)
        if len(take_t):
            ax_err.legend(loc="best", fontsize=8, framealpha=0.7)
        ax_err.grid(alpha=0.3, axis="y")

        curve_t = np.asarray(c.alignment.b_at(c.tempo_a_t), float)
        ax_tempo.plot(curve_t, (c.tempo_curve - 1.0) * 100.0, color="C0", lw=1.2, label="take (smoothed)")
        ax_tempo.axhline((score.tempo_ratio - 1.0) * 100.0, color="0.4", ls="--", lw=1, label="take overall")
        ax_tempo.axhline(0.0, color="0.75", lw=1, label="reference")
        ax_tempo.set_ylabel("tempo vs reference [%]\n(> 0: faster)")
        ax_tempo.legend(loc="upper right", fontsize=8)
        ax_tempo.grid(alpha=0.3)

        if has_pitch:
            ax_pitch = axes[2]
            cents = np.array([b.cents for b in score.beats])
            ax_pitch.plot(take_t, cents, "o-", color="C4", ms=3, lw=0.8)
            ax_pitch.axhline(0.0, color="0.5", lw=0.8)
            ax_pitch.set_ylabel("pitch vs reference\n[cents]")
            ax_pitch.grid(alpha=0.3)
        axes[-1].set_xlabel(f"{score.take_name} (take) time [s]")
        return figure_png(fig, dpi)
    finally:
        plt.close(fig)


def write_score_png(score: Score, path: str | os.PathLike, dpi: int = 110) -> None:
    """Render :func:`score_png` and write it atomically."""
    write_atomic(path, score_png(score, dpi))


__all__ = [
    "DEFAULT_TOLERANCE_MS",
    "BarScore",
    "BeatScore",
    "OnsetScore",
    "Score",
    "followed_span",
    "grade",
    "load_take",
    "local_steadiness",
    "score_png",
    "score_take",
    "steady_fit",
    "take_pitch_model",
    "tempo_trend",
    "write_score_png",
]
