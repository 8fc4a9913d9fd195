"""Pauses of a take against its reference, found offline: where B is silent while A sounds.

A pause is not slow playing: :func:`matcher.compare.compare` lists them and leaves them
out of its tempo curve (the follower has its own, causal, rule: ``Track.paused``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import PAUSE_S

if TYPE_CHECKING:
    from .align import Alignment
    from .performance import Performance


@dataclass(frozen=True)
class Pause:
    """B stops where A sounds: B silent (below the level gate) for at least
    :data:`~matcher.config.PAUSE_S` from ``b_start`` to ``b_end`` [s]; ``a_t`` to ``a_end``
    [s] is the span of A the alignment stretches over it (between the path's knots around
    the pause: the piecewise-linear map spreads the pause over that span)."""

    b_start: float
    b_end: float
    a_t: float
    a_end: float | None = None  # [s] (a_t when None)

    @property
    def seconds(self) -> float:
        return self.b_end - self.b_start

    def to_dict(self) -> dict[str, Any]:
        a_end = self.a_t if self.a_end is None else self.a_end
        return {
            "b_start": round(self.b_start, 3),
            "b_end": round(self.b_end, 3),
            "a_t": round(self.a_t, 3),
            "a_end": round(a_end, 3),
        }


def find_pauses(a: Performance, b: Performance, alignment: Alignment) -> tuple[Pause, ...]:
    """Where B is silent for at least :data:`~matcher.config.PAUSE_S` while A, at the
    aligned time where the silence begins, sounds (a rest both observe is music)."""
    fs = b.config.frame_seconds
    silent = np.asarray(b.frames.db < b.config.gate_db, np.int8)
    edges = np.diff(np.concatenate([[0], silent, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lo, hi = float(alignment.b_t[0]), float(alignment.b_t[-1])
    out = []
    for i, j in zip(starts, ends, strict=True):
        b_start, b_end = float(i * fs), float(j * fs)
        if b_end - b_start < PAUSE_S or b_start <= lo or b_end >= hi:  # B's leading or trailing silence
            continue
        k = min(round(float(alignment.a_at(b_start)) / a.config.frame_seconds), len(a.frames) - 1)
        if a.frames.db[k] >= a.config.gate_db:
            before = max(int(np.searchsorted(alignment.b_t, b_start, side="right")) - 1, 0)
            after = min(int(np.searchsorted(alignment.b_t, b_end, side="left")), len(alignment.b_t) - 1)
            out.append(Pause(b_start, b_end, float(alignment.a_t[before]), float(alignment.a_t[after])))
    return tuple(out)


__all__ = ["Pause", "find_pauses"]
