"""Tempo of a followed take with its pauses left out: a pause is not slow playing.

While the player pauses (``Track.paused``: silence where the reference sounds), the
follower holds its position; its tempo model then fits a slope through held positions
and reads a slow tempo for the length of its window after the player resumes (the
demo's curve dived to -48 % after a fermata). The functions here drop the paused
frames (and, for the follower's own tempo, that settling window) from tempo figures,
and report the pauses apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..performance import Performance
from .follower import Track
from .params import FollowParams

#: A silence becomes a pause after this long [s] (``FollowParams.pause_s``); the pause
#: began where the silence did, so its frames count as paused in these figures.
PAUSE_S = FollowParams().pause_s
#: After a pause, the follower's tempo is its window's slope through held positions for
#: this long [s] (``FollowParams.tempo_window_s``); such frames do not count as tempo.
SETTLE_S = FollowParams().tempo_window_s


def paused_frames(track: Track, frame_s: float, pause_s: float = PAUSE_S) -> np.ndarray:
    """bool per frame: inside a pause, from where its silence began (``Track.paused`` marks
    frames only once the silence has lasted ``pause_s`` [s], as a live display must)."""
    paused = track.pauses
    lead = max(0, round(pause_s / frame_s))
    if not lead or not paused.any():
        return paused
    starts = np.flatnonzero(np.diff(paused.astype(np.int8), prepend=0) == 1)
    out = paused.copy()
    for k in starts:
        out[max(0, k - lead) : k] = True
    return out


def pause_spans(track: Track, frame_s: float) -> list[tuple[float, float]]:
    """The take's pauses as ``(t_start, t_end)`` [s, take time], in order, each from where
    its silence began (:func:`paused_frames`)."""
    paused = paused_frames(track, frame_s)
    if not paused.any():
        return []
    edges = np.diff(np.concatenate([[0], paused.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(float(track.t[a]), float(track.t[b])) for a, b in zip(starts, ends, strict=True)]


def tempo_mask(track: Track, frame_s: float, settle_s: float = SETTLE_S) -> np.ndarray:
    """bool per frame: the follower's tempo there means playing tempo (following, not
    paused, and not within ``settle_s`` [s] after a pause)."""
    paused = paused_frames(track, frame_s)
    settle = max(0, round(settle_s / frame_s))
    after = paused.copy()
    if settle and paused.any():
        # Frames up to `settle` after the last paused frame: a running count since the pause.
        idx = np.arange(len(paused))
        last_paused = np.maximum.accumulate(np.where(paused, idx, -(10**9)))
        after = (idx - last_paused) <= settle
    return ~np.asarray(track.lost, bool) & ~after


def followed_tempo(track: Track, frame_s: float, settle_s: float = SETTLE_S) -> np.ndarray:
    """The follower's tempo ratio per frame, NaN where it is not playing tempo (lost,
    paused, settling after a pause): a curve to plot without a dive after each pause."""
    return np.where(tempo_mask(track, frame_s, settle_s), np.asarray(track.tempo_ratio, np.float64), np.nan)


@dataclass(frozen=True)
class BarTempo:
    """One reference bar as the take played it.

    bar : int                    the reference's bar number
    take_start, take_end : float [s]   take time of the first and last frame placed in the bar
    tempo_ratio : float          reference time advanced / take time spent, pauses left out
                                 (> 1: faster); NaN when the bar was not played (all paused or lost)
    paused_s : float [s]         take time paused inside the bar
    """

    bar: int
    take_start: float
    take_end: float
    tempo_ratio: float
    paused_s: float

    @property
    def tempo_dev_pct(self) -> float:
        return (self.tempo_ratio - 1.0) * 100.0

    def to_dict(self) -> dict[str, Any]:
        ok = bool(np.isfinite(self.tempo_ratio))
        return {
            "bar": self.bar,
            "take_start": round(self.take_start, 3),
            "take_end": round(self.take_end, 3),
            "tempo_ratio": round(self.tempo_ratio, 4) if ok else None,
            "tempo_dev_pct": round(self.tempo_dev_pct, 1) if ok else None,
            "paused_s": round(self.paused_s, 3),
        }


def bar_tempo(track: Track, reference: Performance) -> list[BarTempo]:
    """Per-bar tempo of a followed take against its reference, paused time left out.

    A bar spans the reference from its first beat to the next bar's first beat; the take
    enters it when the followed position first reaches its start and leaves it when the
    position reaches the next bar's. Its tempo ratio is the bar's reference length divided
    by the take time between the two, less the time paused in between (> 1: faster).

    Parameters
    ----------
    track : Track
        From :func:`matcher.follow.follow_blocks` (or :func:`matcher.follow`).
    reference : Performance
        The reference followed (its beats number the bars; no rows without beats).

    Returns
    -------
    list of BarTempo, by bar; the last bar (no next bar to end it) is left out.
    """
    beats = reference.beats
    if len(track) == 0 or len(beats) < 2:
        return []
    numbers = np.floor(np.asarray(beats.bars, np.float64))
    firsts = np.flatnonzero(np.diff(numbers, prepend=np.nan) != 0)
    bar_start = np.asarray(beats.times, np.float64)[firsts]
    frame_s = reference.config.frame_seconds
    t = np.asarray(track.t, np.float64)
    reached = np.maximum.accumulate(np.asarray(track.ref_t, np.float64))  # a relock back does not undo a bar
    paused_before = np.concatenate(
        [[0.0], np.cumsum(paused_frames(track, frame_s)) * frame_s]
    )  # paused time before frame k
    enter = np.searchsorted(reached, bar_start, side="left")  # first frame at or past each bar's start
    rows = []
    for k in range(len(firsts) - 1):
        i, j = int(enter[k]), int(enter[k + 1])
        if j >= len(t) or i >= j:
            continue  # the take never got through this bar
        paused_s = float(paused_before[j] - paused_before[i])
        played = t[j] - t[i] - paused_s
        ratio = float((bar_start[k + 1] - bar_start[k]) / played) if played > 0 else float("nan")
        rows.append(BarTempo(int(numbers[firsts[k]]), float(t[i]), float(t[j]), ratio, paused_s))
    return rows


__all__ = [
    "PAUSE_S",
    "SETTLE_S",
    "BarTempo",
    "bar_tempo",
    "followed_tempo",
    "pause_spans",
    "paused_frames",
    "tempo_mask",
]
