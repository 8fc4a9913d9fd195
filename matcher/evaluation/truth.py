"""Ground truth of a take: take time -> reference time, with the positions that are equally true.

Used by the jump scenarios (:mod:`matcher.evaluation.jumps`): an edited take's time maps
back to the unedited take's time, which this maps to the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..synth import Note


@dataclass(frozen=True)
class TruthMap:
    """Take time -> reference time of one unedited take, and which reference positions are equivalent.

    take_t, ref_t : np.ndarray [shape=(n,), s]   corresponding times, both strictly increasing
    score : np.ndarray [shape=(n,), beats]       score position of each point (locates the cycles)
    cycle_beats : float > 0 or None             length of the repeating cycle; None: every position unique
    cycle_ids : tuple[int, ...]                  one id per cycle c (score [c * cycle_beats, (c + 1) *
                                                 cycle_beats)); cycles with equal ids are the same music
    """

    take_t: np.ndarray
    ref_t: np.ndarray
    score: np.ndarray
    cycle_beats: float | None = None
    cycle_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.take_t)
        if n < 2 or len(self.ref_t) != n or len(self.score) != n:
            raise ValueError(f"need >= 2 corresponding points, got {n}, {len(self.ref_t)}, {len(self.score)}")
        for name in ("take_t", "ref_t", "score"):
            if np.any(np.diff(getattr(self, name)) <= 0):
                raise ValueError(f"TruthMap.{name} must be strictly increasing")
        if self.cycle_beats is not None and not self.cycle_ids:
            raise ValueError("cycle_beats needs cycle_ids")

    @classmethod
    def from_points(cls, take_t: np.ndarray, ref_t: np.ndarray) -> TruthMap:
        """Unique positions from corresponding times; points where either time does not advance are dropped."""
        take_t, ref_t = np.asarray(take_t, np.float64), np.asarray(ref_t, np.float64)
        keep = [0]
        for k in range(1, len(take_t)):
            if take_t[k] > take_t[keep[-1]] and ref_t[k] > ref_t[keep[-1]]:
                keep.append(k)
        return cls(take_t[keep], ref_t[keep], np.arange(len(keep), dtype=np.float64))

    @property
    def span(self) -> tuple[float, float]:
        """First and last annotated take time [s]."""
        return float(self.take_t[0]), float(self.take_t[-1])

    def ref_at(self, take_t: np.ndarray) -> np.ndarray:
        """Reference time [s] of unedited take time(s); NaN outside the annotated span or where NaN."""
        x = np.asarray(take_t, np.float64)
        inside = (x >= self.take_t[0]) & (x <= self.take_t[-1])
        return np.where(inside, np.interp(x, self.take_t, self.ref_t), np.nan)

    def equivalents(self, ref_t: np.ndarray) -> np.ndarray:
        """[shape=(n, k), s]: column 0 is ``ref_t``, the others equivalent reference positions (NaN: none)."""
        r = np.atleast_1d(np.asarray(ref_t, np.float64))
        if self.cycle_beats is None:
            return r[:, None]
        length, ids = self.cycle_beats, np.asarray(self.cycle_ids)
        known = ~np.isnan(r)
        u = np.interp(np.where(known, r, self.ref_t[0]), self.ref_t, self.score)
        c = np.clip(np.floor(u / length), 0, len(ids) - 1).astype(np.int64)
        offset = u - c * length
        out = np.full((len(r), 1 + len(ids)), np.nan)
        out[:, 0] = r
        for c2 in range(len(ids)):
            u2 = c2 * length + offset
            ok = known & (ids[c] == ids[c2]) & (c != c2) & (u2 >= self.score[0]) & (u2 <= self.score[-1])
            out[ok, 1 + c2] = np.interp(u2[ok], self.score, self.ref_t)
        return out


def cycle_ids(notes: list[Note], cycle_beats: float) -> tuple[int, ...]:
    """One id per cycle: cycles holding the same strokes (offset in the cycle, drum) share an id.

    Velocities are ignored (matcher.synth.percussion draws one per stroke); a cycle with a
    dropped stroke differs from a complete one.
    """
    cycles: dict[int, set[tuple[float, int]]] = {}
    for n in notes:
        c = int(np.floor(n.beat / cycle_beats))
        cycles.setdefault(c, set()).add((round(n.beat - c * cycle_beats, 6), n.drum))
    patterns = [frozenset(cycles.get(c, ())) for c in range(max(cycles) + 1)]
    first = {p: k for k, p in reversed(list(enumerate(patterns)))}
    return tuple(first[p] for p in patterns)
