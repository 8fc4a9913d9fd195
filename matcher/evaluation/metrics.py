"""The beat-error metric every tool uses, and its pooled summary.

The rule (../shared/data/README.md): for each annotated take beat at time tB_k, the
method's answer is its reported reference time interpolated linearly in take time at
tB_k (constant beyond the first and last report); the error is the distance to the
annotated reference time tA_k. The same rule for a follower's reports (``t``,
``ref_t``), an aligner's path and a comparison's path.
"""

from __future__ import annotations

import numpy as np

#: Tolerances of the "share within" figures [ms].
TOLERANCES_MS: tuple[int, ...] = (50, 100, 200)


def beat_errors(
    take_beats: np.ndarray,
    ref_beats: np.ndarray,
    report_t: np.ndarray,
    report_ref_t: np.ndarray,
) -> np.ndarray:
    """Absolute beat errors [ms] of a method's answers (take time -> reference time).

    Parameters
    ----------
    take_beats : np.ndarray [shape=(n,), s]
        Take times tB_k of the annotated beats.
    ref_beats : np.ndarray [shape=(n,) or (n, k), s]
        True reference times tA_k. With two dimensions, each row lists the reference
        times that are equally true (music that repeats exactly; NaN: no more) and the
        error is the distance to the nearest.
    report_t : np.ndarray [shape=(m,), s]
        Take times of the answers, non-decreasing (ties allowed: an offline path that
        moves along the reference only).
    report_ref_t : np.ndarray [shape=(m,), s]
        Reference times answered.

    Returns
    -------
    np.ndarray [shape=(n,), ms]
        |answer(tB_k) - tA_k|, the nearest truth when there are several; NaN where a row
        holds no truth at all.

    Raises
    ------
    ValueError
        Reports empty, of unequal length, not 1-D, or with a decreasing ``report_t``;
        beats and truths of different lengths.
    """
    report_t = np.asarray(report_t, dtype=np.float64)
    report_ref_t = np.asarray(report_ref_t, dtype=np.float64)
    if report_t.ndim != 1 or report_t.shape != report_ref_t.shape or report_t.size == 0:
        raise ValueError(
            f"report_t and report_ref_t must be equal-length, non-empty 1-D arrays, "
            f"got shapes {report_t.shape} and {report_ref_t.shape}"
        )
    if np.any(np.diff(report_t) < 0):
        raise ValueError("report_t must be non-decreasing")
    take_beats = np.asarray(take_beats, dtype=np.float64)
    truth = np.asarray(ref_beats, dtype=np.float64)
    if truth.ndim == 1:
        truth = truth[:, None]
    if take_beats.ndim != 1 or truth.ndim != 2 or len(truth) != len(take_beats):
        raise ValueError(f"take_beats {take_beats.shape} and ref_beats {np.shape(ref_beats)} do not correspond")
    if take_beats.size == 0:
        return np.zeros(0)
    answer = np.interp(take_beats, report_t, report_ref_t)
    distance = np.abs(truth - answer[:, None])
    out = np.full(len(take_beats), np.nan)
    known = ~np.all(np.isnan(distance), axis=1)
    out[known] = np.nanmin(distance[known], axis=1) * 1000.0
    return out


def share_within(errors_ms: np.ndarray, tolerance_ms: float) -> float:
    """Share [%] of errors at most ``tolerance_ms``; NaN for no errors."""
    e = np.asarray(errors_ms, dtype=np.float64).ravel()
    return float(np.mean(e <= tolerance_ms) * 100.0) if e.size else float("nan")


def summarize(errors_ms: np.ndarray, tolerances_ms: tuple[int, ...] = TOLERANCES_MS) -> dict[str, float]:
    """Pooled summary of beat errors [ms].

    Returns
    -------
    dict
        ``within_T`` (share [%] within T ms for each tolerance T), ``mean_ms``,
        ``median_ms``, ``p95_ms`` and ``n`` (NaN figures and n = 0 for no errors).
    """
    e = np.asarray(errors_ms, dtype=np.float64).ravel()
    out: dict[str, float] = {f"within_{t}": share_within(e, t) for t in tolerances_ms}
    nan = float("nan")
    out["mean_ms"] = float(np.mean(e)) if e.size else nan
    out["median_ms"] = float(np.median(e)) if e.size else nan
    out["p95_ms"] = float(np.percentile(e, 95)) if e.size else nan
    out["n"] = int(e.size)
    return out
