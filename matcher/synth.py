"""Synthetic performances with exact ground truth, for the demo, tests and evaluation.

A *score* is a list of events in beats; a *tempo map* turns beats into seconds for one
performance. Rendering the same score with two tempo maps gives a reference and a take
whose correspondence is known exactly at every beat: ``take_map.seconds(b)`` against
``ref_map.seconds(b)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ParameterError


@dataclass(frozen=True)
class Note:
    """One event: onset and length in beats, MIDI pitch (None: unpitched stroke), loudness 0..1."""

    beat: float
    length: float
    midi: float | None
    velocity: float = 0.8
    drum: int = 0  # timbre of an unpitched stroke


@dataclass(frozen=True)
class TempoMap:
    """Seconds per beat as a piecewise-linear function of the score beat.

    knots : beats where the local tempo is given; bpm : tempo there [beats per minute].
    holds : {beat: extra seconds} added at that beat (fermatas, pauses).
    """

    knots: tuple[float, ...]
    bpm: tuple[float, ...]
    holds: dict[float, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.knots) != len(self.bpm) or not self.knots or min(self.bpm) <= 0:
            raise ParameterError(f"tempo map needs matching knots and positive bpm, got {self.knots}, {self.bpm}")

    def seconds(self, beats: np.ndarray | float) -> np.ndarray:
        """Performance time [s] of score position(s) ``beats`` (integrated tempo plus holds)."""
        b = np.atleast_1d(np.asarray(beats, np.float64))
        grid = np.linspace(0.0, max(float(b.max()), 1e-9), 4001)
        spb = 60.0 / np.interp(grid, self.knots, self.bpm)
        t_grid = np.concatenate([[0.0], np.cumsum((spb[1:] + spb[:-1]) / 2 * np.diff(grid))])
        t = np.interp(b, grid, t_grid)
        for at, extra in self.holds.items():
            t = t + np.where(b > at, extra, 0.0)
        return t if np.ndim(beats) else t[0]

    def tempo_ratio(self, beats: np.ndarray, reference: TempoMap) -> np.ndarray:
        """Local tempo of this map over ``reference``'s (> 1: faster), holds ignored."""
        return np.interp(beats, self.knots, self.bpm) / np.interp(beats, reference.knots, reference.bpm)


def melody(n_bars: int = 12, beats_per_bar: int = 4, seed: int = 0) -> list[Note]:
    """A stepwise melody in C major over a bass note per bar, mostly quarters and eighths."""
    rng = np.random.default_rng(seed)
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    notes, degree, beat = [], 7, 0.0
    end = n_bars * beats_per_bar
    while beat < end:
        length = rng.choice([0.5, 1.0, 1.0, 2.0]) if beat % 1 == 0 else 0.5
        length = min(length, end - beat)
        degree = int(np.clip(degree + rng.choice([-2, -1, 1, 2]), 0, 13))
        midi = 60 + 12 * (degree // 7) + scale[degree % 7]
        notes.append(Note(beat, length, float(midi), 0.6 + 0.3 * rng.random()))
        beat += length
    for bar in range(n_bars):
        root = [48, 45, 41, 43][bar % 4]
        notes.append(Note(bar * beats_per_bar, beats_per_bar, float(root), 0.5))
    return sorted(notes, key=lambda n: n.beat)


def percussion(n_cycles: int = 8, seed: int = 0) -> list[Note]:
    """A repeating 12-beat cycle of unpitched strokes (four timbres), a few strokes dropped."""
    rng = np.random.default_rng(seed)
    cycle = [(0, 0), (0, 2), (1.5, 1), (2, 3), (3, 1), (4.5, 1), (5, 3), (6, 0), (7.5, 1), (8, 2), (9, 3), (10.5, 1)]
    notes = []
    for c in range(n_cycles):
        for offset, drum in cycle:
            if rng.random() < 0.04:
                continue
            notes.append(Note(c * 12 + offset, 0.5, None, 0.6 + 0.4 * rng.random(), drum))
    return notes


def render(
    notes: list[Note], tempo: TempoMap, sr: int = 16000, timbre: int = 0, noise_db: float | None = None, seed: int = 0
) -> np.ndarray:
    """Audio [float32, mono, ``sr``] of ``notes`` played with ``tempo``.

    ``timbre`` changes the harmonic mix and decay of pitched notes and the colour of
    strokes (a "different instrument"); ``noise_db`` adds white noise at that SNR.
    """
    rng = np.random.default_rng(seed)
    end_beat = max(n.beat + n.length for n in notes)
    total = float(tempo.seconds(end_beat)) + 1.0
    out = np.zeros(int(total * sr) + 1, np.float64)
    harmonics = [np.array([1.0, 0.5, 0.3, 0.2, 0.1]), np.array([1.0, 0.2, 0.4, 0.05, 0.15, 0.1])][timbre % 2]
    decay = [3.0, 5.0][timbre % 2]
    for n in notes:
        start = float(tempo.seconds(n.beat))
        stop = float(tempo.seconds(n.beat + n.length))
        i0 = int(start * sr)
        if n.midi is None:
            seg = _stroke(n.drum, timbre, sr, rng) * n.velocity
        else:
            dur = max(stop - start, 0.05)
            t = np.arange(int((dur + 0.08) * sr)) / sr
            f0 = 440.0 * 2 ** ((n.midi - 69) / 12)
            env = np.exp(-decay * t) * np.minimum(1.0, t / 0.005) * np.clip((dur + 0.08 - t) / 0.08, 0, 1)
            partials = [(k + 1, a) for k, a in enumerate(harmonics) if f0 * (k + 1) < sr / 2]
            seg = sum(a * np.sin(2 * np.pi * f0 * k * t) for k, a in partials)
            seg = 0.25 * n.velocity * env * seg
        seg = seg[: len(out) - i0]
        out[i0 : i0 + len(seg)] += seg
    if noise_db is not None:
        power = np.mean(out[np.abs(out) > 1e-4] ** 2) if np.any(np.abs(out) > 1e-4) else 1e-4
        out += rng.normal(0.0, np.sqrt(power / 10 ** (noise_db / 10)), len(out))
    peak = np.max(np.abs(out))
    return (out / peak * 0.7 if peak > 0 else out).astype(np.float32)


def _stroke(drum: int, timbre: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A percussive stroke: a pitched drop for drums 0 and 2, filtered noise for 1 and 3."""
    t = np.arange(int(0.3 * sr)) / sr
    if drum % 2 == 0:
        f = (70.0 if drum == 0 else 180.0) * (1.1 if timbre else 1.0)
        sweep = 2 * np.pi * np.cumsum(f * (1 + 0.5 * np.exp(-30 * t))) / sr
        return np.sin(sweep) * np.exp(-(8.0 if drum == 0 else 14.0) * t)
    noise = rng.normal(0, 1, len(t))
    bright = 0.9 if drum == 3 else 0.5
    colour = np.convolve(noise, [1.0, -bright if timbre else bright], mode="same")
    return 0.5 * colour * np.exp(-(25.0 if drum == 3 else 40.0) * t)


def demo_tempo(beats_total: float, ref_bpm: float = 100.0, fermata_beat: float | None = None) -> TempoMap:
    """The demo's take: 15 % slow at first, rushing to 10 % fast, with a held fermata."""
    holds = {} if fermata_beat is None else {fermata_beat: 1.5}
    return TempoMap((0.0, beats_total * 0.3, beats_total), (ref_bpm * 0.85, ref_bpm * 0.9, ref_bpm * 1.1), holds)
