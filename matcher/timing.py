"""Timing against a steady rendering: the one definition behind compare's ``dev_ms`` and
score's ``error_ms``.

A steady rendering of the reference (A) in the take (B) is the line
``b_t = offset + slope * a_t`` [s]: the reference played at one constant tempo
(``slope`` = take seconds per reference second = 1 / tempo ratio). A beat's deviation is
how far the take plays it from that line [ms] (> 0: late). Compare and score differ only
in how they place the line: compare takes the slope of A's audible span and the offset
of least squares (``centre="mean"``); score measures the slope from the first to the
last bar (:func:`steady_fit`) and takes the median offset (half the beats early, half
late), so one misplaced beat moves no other.
"""

from __future__ import annotations

import numpy as np

#: The take's overall tempo is measured between its first and its last this many beats.
END_BEATS = 4
CENTRES = ("mean", "median")


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

    Parameters
    ----------
    ref_t, take_t : np.ndarray [shape=(k,), s]
    slope : float > 0 [take s per reference s], optional

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
    offset = steady_offset(r, t, float(slope), "median")
    return float(slope), offset


def steady_offset(ref_t: np.ndarray, take_t: np.ndarray, slope: float, centre: str = "median") -> float:
    """The offset [s] of the steady line of ``slope`` through the points: the median
    (``centre="median"``) or the mean (least squares) of ``take_t - slope * ref_t``; NaN
    with no points or a non-finite slope."""
    if centre not in CENTRES:
        raise ValueError(f"centre must be one of {CENTRES}, got {centre!r}")
    r = np.asarray(ref_t, np.float64)
    t = np.asarray(take_t, np.float64)
    if not len(r) or not np.isfinite(slope):
        return float("nan")
    rest = t - slope * r
    return float(np.median(rest) if centre == "median" else np.mean(rest))


def deviation_ms(ref_t: np.ndarray, take_t: np.ndarray, slope: float, offset: float) -> np.ndarray:
    """Signed deviation [ms] of each take time from the steady rendering
    ``offset + slope * ref_t`` (> 0: late; < 0: early).

    Parameters
    ----------
    ref_t, take_t : np.ndarray [shape=(k,), s]   the same events on both axes
    slope : float [take s per reference s]
    offset : float [s]
    """
    r = np.asarray(ref_t, np.float64)
    t = np.asarray(take_t, np.float64)
    return (t - (offset + slope * r)) * 1000.0


__all__ = ["END_BEATS", "deviation_ms", "steady_fit", "steady_offset"]
