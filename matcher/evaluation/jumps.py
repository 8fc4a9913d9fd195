"""Edits of a take that jump, restart, pause or lose audio, with exact truth, and the re-lock metrics.

Scenarios (each an edit of an evaluation take; T1 is the edit's take time):

* ``restart``  take[0:T1] + take[0:]             the player starts again from the beginning
* ``back``     take[0:T1] + take[T1-20 s:]       jumps 20 s of take back
* ``forward``  take[0:T1] + take[T1+20 s:]       jumps 20 s of take ahead
* ``drop``     take[0:T1] + take[T1+0.5 s:]      500 ms of audio lost
* ``silence``  take[0:T1] + 5 s of zeros + take[T1:]
* ``noise``    take[0:T1] + 5 s of room noise + take[T1:]   (pink, 30 dB below the take's RMS)

Splices are 5 ms equal-power crossfades centred on the splice, so every output sample
away from a splice is one take sample and the timeline stays exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from .truth import TruthMap

TOL_S = 0.2  # a report within this of truth is on it [s]
HOLD_S = 1.0  # ... and re-locked when it stays so this long [s]
GOAL_S = 2.0  # re-lock goal [s]
EXCLUDE_S = 2.0  # beats this long after a splice are left out of the accuracy figures [s]
FADE_S = 0.005  # crossfade at splices [s]
JUMP_S = 20.0  # back / forward jumps [s of take]
PAUSE_S = 5.0  # silence / noise inserted [s]
DROP_S = 0.5  # audio dropped [s]
LEAD_S = 25.0  # earliest edit [s of take]: the follower has locked by then
TAIL_S = 6.0  # annotated music left after the edit lands [s]: re-lock + hold + a few beats
MIN_SPACING_S = 3.0  # edits of one kind in one take at least this far apart [s]
ROOM_NOISE_DB = -30.0  # inserted room noise, relative to the take's RMS [dB]
JUMP_KINDS = ("restart", "back", "forward", "drop")
PAUSE_KINDS = ("silence", "noise")
KINDS = (*JUMP_KINDS, *PAUSE_KINDS)


@dataclass(frozen=True)
class Segment:
    """A stretch of the edited take: take audio from ``src`` [s] on, or inserted fill (``src`` None)."""

    start: float  # [s of the edited take]
    length: float  # [s]
    src: float | None  # [s of the unedited take]


@dataclass(frozen=True)
class Scenario:
    """One edit of a take: its segments in order; ``fill`` is what a pause holds ("silence"/"noise")."""

    kind: str
    at: float  # T1 [s]
    segments: tuple[Segment, ...]
    fill: str = ""

    @property
    def name(self) -> str:
        return f"{self.kind}@{self.at:.2f}s"

    @property
    def duration(self) -> float:
        return self.segments[-1].start + self.segments[-1].length

    @property
    def splices(self) -> tuple[float, ...]:
        """Edited-take times where one segment gives way to the next [s]."""
        return tuple(s.start for s in self.segments[1:])

    @property
    def resume(self) -> Segment:
        """The take music that follows the edit (the last segment)."""
        return self.segments[-1]

    def source_times(self, t: np.ndarray) -> np.ndarray:
        """Unedited take time of edited-take time(s) ``t``; NaN inside fill and beyond the end."""
        t = np.asarray(t, np.float64)
        starts = np.array([s.start for s in self.segments])
        k = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        src = np.array([np.nan if s.src is None else s.src for s in self.segments])
        ends = np.array([s.start + s.length for s in self.segments])
        return np.where((t >= starts[k]) & (t < ends[k]), src[k] + (t - starts[k]), np.nan)

    def truth(self, t: np.ndarray, truth: TruthMap) -> np.ndarray:
        """[shape=(len(t), k), s]: every reference time equivalent to edited-take time ``t`` (NaN: none)."""
        return truth.equivalents(truth.ref_at(self.source_times(t)))

    def place(self, src_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where unedited take times ``src_t`` occur in the edited take: (edited times, index into src_t).

        A time may occur twice (after a restart or a jump back) or not at all (skipped).
        """
        src_t = np.asarray(src_t, np.float64)
        out_t, index = [], []
        for s in self.segments:
            if s.src is None:
                continue
            k = np.flatnonzero((src_t >= s.src) & (src_t < s.src + s.length))
            out_t.append(s.start + src_t[k] - s.src)
            index.append(k)
        order = np.argsort(np.concatenate(out_t), kind="stable")
        return np.concatenate(out_t)[order], np.concatenate(index)[order]

    def render(
        self, take: np.ndarray, sr: int, rng: np.random.Generator, noise_db: float = ROOM_NOISE_DB
    ) -> np.ndarray:
        """The edited take [float32, ``sr``] from the unedited one; equal-power crossfades at splices.

        Segment boundaries must be whole samples at ``sr``; ``noise_db`` [dB] is the level of
        a ``noise`` pause relative to the take's RMS.
        """
        half = max(1, round(FADE_S * sr / 2))
        x = (np.arange(2 * half) + 0.5) / (2 * half)
        fade_in, fade_out = np.sin(0.5 * np.pi * x), np.cos(0.5 * np.pi * x)
        out = np.zeros(round(self.duration * sr), np.float64)
        last = len(self.segments) - 1
        for i, s in enumerate(self.segments):
            a, n = round(s.start * sr), round(s.length * sr)
            lo, hi = (a - half if i > 0 else a), (a + n + half if i < last else a + n)
            if s.src is None:
                piece = fill_audio(self.fill, hi - lo, take, rng, noise_db)
            else:
                piece = np.zeros(hi - lo)
                s0 = round(s.src * sr) - (a - lo)
                src_lo, src_hi = max(s0, 0), min(s0 + hi - lo, len(take))
                if src_hi > src_lo:
                    piece[src_lo - s0 : src_hi - s0] = take[src_lo:src_hi]
            if i > 0:
                piece[: 2 * half] *= fade_in
            if i < last:
                piece[-2 * half :] *= fade_out
            out[lo:hi] += piece
        return out.astype(np.float32)


def fill_audio(
    fill: str, n: int, take: np.ndarray, rng: np.random.Generator, noise_db: float = ROOM_NOISE_DB
) -> np.ndarray:
    """``n`` samples of a pause: zeros, or pink room noise at ``noise_db`` [dB] relative to the take's RMS."""
    if fill == "silence":
        return np.zeros(n)
    if fill != "noise":
        raise ValueError(f"unknown fill {fill!r}; valid: 'silence', 'noise'")
    spectrum = np.fft.rfft(rng.normal(size=n))
    spectrum[0] = 0.0
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    noise = np.fft.irfft(spectrum, n)
    rms = float(np.sqrt(np.mean(np.square(take, dtype=np.float64))))
    return noise * (rms * 10 ** (noise_db / 20) / max(float(np.sqrt(np.mean(noise**2))), 1e-12))


def _chain(kind: str, at: float, parts: Iterable[tuple[float | None, float]], fill: str = "") -> Scenario:
    segments, start = [], 0.0
    for src, length in parts:
        segments.append(Segment(start, length, src))
        start += length
    return Scenario(kind, at, tuple(segments), fill)


#: kind -> (edit(T1, take duration) -> Scenario, take seconds the edit skips ahead)
EDITS: dict[str, tuple[Callable[[float, float], Scenario], float]] = {
    "restart": (lambda at, dur: _chain("restart", at, [(0.0, at), (0.0, dur)]), 0.0),
    "back": (lambda at, dur: _chain("back", at, [(0.0, at), (at - JUMP_S, dur - at + JUMP_S)]), 0.0),
    "forward": (lambda at, dur: _chain("forward", at, [(0.0, at), (at + JUMP_S, dur - at - JUMP_S)]), JUMP_S),
    "drop": (lambda at, dur: _chain("drop", at, [(0.0, at), (at + DROP_S, dur - at - DROP_S)]), DROP_S),
    "silence": (lambda at, dur: _chain("silence", at, [(0.0, at), (None, PAUSE_S), (at, dur - at)], "silence"), 0.0),
    "noise": (lambda at, dur: _chain("noise", at, [(0.0, at), (None, PAUSE_S), (at, dur - at)], "noise"), 0.0),
}


def placements(kind: str, truth: TruthMap, n: int) -> list[float]:
    """Up to ``n`` edit times T1 [s, multiples of 10 ms] for ``kind``, spread over the allowed range."""
    skip = EDITS[kind][1]
    lo = max(LEAD_S, truth.span[0] + JUMP_S) if kind == "back" else LEAD_S
    hi = truth.span[1] - TAIL_S - skip
    if hi < lo or n < 1:
        return []
    n = min(n, 1 + int((hi - lo) / MIN_SPACING_S))
    return [round(lo + (hi - lo) * (k + 0.5) / n, 2) for k in range(n)]


def make_scenario(kind: str, at: float, take_duration: float) -> Scenario:
    """The ``kind`` edit at T1 = ``at`` of a take lasting ``take_duration`` [s]."""
    if kind not in EDITS:
        raise ValueError(f"unknown scenario kind {kind!r}; valid: {', '.join(EDITS)}")
    return EDITS[kind][0](at, take_duration)


# -- metrics ----------------------------------------------------------------------------------


def distance_to_truth(ref_t: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """[s] distance of each report to the nearest of its truths (row of ``truth``); NaN where none."""
    d = np.abs(truth - np.asarray(ref_t, np.float64)[:, None])
    out = np.full(len(d), np.nan)
    has = ~np.all(np.isnan(d), axis=1)
    out[has] = np.nanmin(d[has], axis=1)
    return out


def relock_time(t: np.ndarray, ref_t: np.ndarray, truth: np.ndarray, start: float) -> float:
    """Seconds from ``start`` to the first report within TOL_S of truth for HOLD_S on end; inf if never.

    t, ref_t : np.ndarray [shape=(n,), s]   the reports (t increasing)
    truth : np.ndarray [shape=(n, k), s]    each report's equivalent true reference times (NaN: none)
    """
    t = np.asarray(t, np.float64)
    d = distance_to_truth(ref_t, truth)
    ok = ~np.isnan(d) & (d <= TOL_S)
    bad = np.flatnonzero(~ok)
    cand = np.flatnonzero(ok & (t >= start))
    if cand.size == 0:
        return float("inf")
    nxt = np.append(bad, len(t))[np.searchsorted(bad, cand)]  # first bad report after each candidate
    until = np.append(t, np.inf)[nxt]  # ok holds up to (not including) this time
    held = (until > t[cand] + HOLD_S) & (t[-1] >= t[cand] + HOLD_S)
    return float(t[cand[np.argmax(held)]] - start) if held.any() else float("inf")


def max_drift(t: np.ndarray, ref_t: np.ndarray, held: np.ndarray, start: float, stop: float) -> float:
    """Largest distance [s] of the reports with ``start <= t < stop`` from the nearest of ``held``."""
    m = (np.asarray(t) >= start) & (np.asarray(t) < stop)
    if not m.any():
        return float("nan")
    return float(np.max(distance_to_truth(np.asarray(ref_t)[m], np.broadcast_to(held, (int(m.sum()), len(held))))))
