"""The timing and pitch maths of practice scoring (pure functions of arrays).

Times are seconds on each axis (``ref_t`` for the reference, ``take_t`` for the take);
errors are milliseconds (negative: early); pitch differences cents.
"""

from __future__ import annotations

import math

import numpy as np

from ..timing import END_BEATS, deviation_ms, steady_fit

#: Default tolerance [ms]: a beat within it counts as in time.
DEFAULT_TOLERANCE_MS = 50.0
#: Beat intervals around a beat (half on each side) whose median pace predicts it.
LOCAL_INTERVALS = 4
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


def span_cents(
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


__all__ = [
    "DEFAULT_TOLERANCE_MS",
    "END_BEATS",
    "GRADES",
    "deviation_ms",
    "grade",
    "local_steadiness",
    "note_name",
    "span_cents",
    "steady_fit",
    "tempo_trend",
]
