"""Pauses and held notes in a followed take, so that tempo figures do not read them as slow playing.

A stretch where the reported reference time stands still (a pause, a fermata held long)
is not a tempo: a tempo figure taken across it would dive (the demo's bar with a fermata
read −48 %). :func:`held_spans` finds those stretches in a follower's reports and
:func:`bar_tempo` leaves them out of a tempo over a span of the take.

(The follower's own pause state, when it reports one, can replace :func:`held_spans`:
the rest takes spans of take time only.)
"""

from __future__ import annotations

import numpy as np

#: A stand-still shorter than this is a held note being followed, not a pause [s of take].
MIN_HELD_S = 1.0
#: The reference may creep this much during a stand-still [s of reference].
HELD_TOLERANCE_S = 0.1


def held_spans(
    t: np.ndarray, ref_t: np.ndarray, *, min_s: float = MIN_HELD_S, tolerance_s: float = HELD_TOLERANCE_S
) -> list[tuple[float, float]]:
    """Spans of take time where the reported reference time stood still.

    Parameters
    ----------
    t : np.ndarray [shape=(n,), s]
        Take times of the reports, increasing.
    ref_t : np.ndarray [shape=(n,), s]
        Reported reference times.
    min_s : float > 0 [s of take]
        Shortest span reported.
    tolerance_s : float >= 0 [s of reference]
        How far the reference time may move within a span.

    Returns
    -------
    list of (start, end) [s of take]
        Disjoint, in order.
    """
    t, ref_t = np.asarray(t, np.float64), np.asarray(ref_t, np.float64)
    if t.shape != ref_t.shape or t.ndim != 1:
        raise ValueError(f"t and ref_t must be 1-D arrays of one length, got {t.shape} and {ref_t.shape}")
    spans: list[tuple[float, float]] = []
    i, n = 0, len(t)
    while i < n:
        j = i
        while j + 1 < n and abs(ref_t[j + 1] - ref_t[i]) <= tolerance_s:
            j += 1
        if t[j] - t[i] >= min_s:
            spans.append((float(t[i]), float(t[j])))
            i = j + 1
        else:
            i += 1
    return spans


def overlap(spans: list[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of ``spans`` inside ``[start, end]``."""
    return float(sum(max(0.0, min(b, end) - max(a, start)) for a, b in spans))


def bar_tempo(
    t: np.ndarray, ref_t: np.ndarray, start: float, end: float, spans: list[tuple[float, float]]
) -> tuple[float, float]:
    """Tempo ratio (take over reference, > 1 faster) over take time ``[start, end]`` with ``spans`` left out.

    The ratio is the reference seconds the reports advance over the span divided by the
    take seconds played (the span's length less its held time).

    Returns
    -------
    (ratio, held_s)
        NaN ratio when nothing was played or the reference did not advance.
    """
    held = overlap(spans, start, end)
    played = end - start - held
    advanced = float(np.interp(end, t, ref_t) - np.interp(start, t, ref_t))
    if played <= 0 or advanced <= 0:
        return float("nan"), held
    return advanced / played, held
