"""A simulated rehearsal session: a piece, renderings of it, and a seeded plan of what the player does.

The take is a seeded sequence of passages of one piece played with other timbres and
tempo warps, as a rehearsal goes: play on for a while, start again from the beginning,
jump back or ahead by 10-30 s, stop for 3-10 s of silence and go on, lose up to a second
of audio, move on to another rendering, stop at the end of the piece. Only a few
renderings are held in memory; the session's audio is cut from them one block at a time
(:func:`take_blocks`). Used by tools/soak.py (:mod:`matcher.evaluation.soak`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import Config, Reference, YinModel, build_reference
from ..synth import Note, TempoMap, render
from . import synthetic

BPM = 120.0  # reference tempo
VARIANTS = 4  # renderings of the piece the take is cut from
FADE_S = 0.005  # fade in/out at every splice [s]
#: What the player does after playing a while, with its probability.
EVENTS = {"restart": 0.12, "back": 0.2, "forward": 0.2, "pause": 0.16, "drop": 0.14, "next": 0.18}


def make_piece(kind: str, minutes: float, seed: int) -> tuple[list[Note], int]:
    """The notes of a ``kind`` piece lasting about ``minutes`` at BPM, and its beats per bar (or cycle)."""
    per_bar = synthetic.BEATS_PER_BAR.get(kind)
    if per_bar is None:
        raise ValueError(f"unknown piece {kind!r}; valid: 'melodic', 'percussion'")
    return synthetic.piece(kind, max(2, round(minutes * BPM / per_bar)), seed), per_bar


def make_material(
    folder: Path, kind: str = "melodic", minutes: float = 3.0, seed: int = 7
) -> tuple[Reference, list[np.ndarray]]:
    """The reference (built and beat-annotated) and ``VARIANTS`` renderings of its piece for the take."""
    config = Config(pitch_backend="yin")
    notes, per_bar = make_piece(kind, minutes, seed)
    n_beats = max(n.beat + n.length for n in notes)
    ref_map = TempoMap((0.0, n_beats), (BPM, BPM))
    ref_path, beats_path = folder / "reference.wav", folder / "beats.txt"
    synthetic.write_audio(ref_path, render(notes, ref_map, config.sr), config.sr)
    beats_path.write_text("".join(f"{t:.6f}\n" for t in ref_map.seconds(np.arange(np.floor(n_beats) + 1))))
    reference = build_reference(ref_path, config, YinModel(config), "soak", beats_path, per_bar)
    rng = np.random.default_rng(seed)
    variants = []
    for k in range(VARIANTS):
        knots = tuple(np.arange(0.0, n_beats + 16.0, 16.0))
        overall = rng.uniform(0.85, 1.15)
        bpm = tuple(BPM * overall * (1 + 0.12 * rng.uniform(-1, 1, len(knots))))
        noise_db = (30.0, 20.0)[k % 2]
        variants.append(render(notes, TempoMap(knots, bpm), config.sr, (k + 1) % 2, noise_db, seed + k + 1))
    return reference, variants


@dataclass(frozen=True)
class Segment:
    """A stretch of the session: rendering ``variant`` from ``src`` [s] on, or silence (variant -1).

    ``event`` is what led to it: "start"; after playing a while, "restart" (from the
    beginning), "back" / "forward" (a jump of 10-30 s), "drop" (0.2-1 s of audio lost),
    "pause" (silence) then "resume" (where it stopped), "next" (another rendering, from
    its start or from a place in it), or "end" (the rendering ended: silence, then "next").
    """

    event: str
    variant: int
    src: float
    length: float


def plan(rng: np.random.Generator, durations: list[float], total_s: float) -> Iterator[Segment]:
    """Segments lasting ``total_s`` in all, over renderings lasting ``durations`` [s]."""
    names, chances = list(EVENTS), list(EVENTS.values())
    t, v, pos, event = 0.0, 0, 0.0, "start"
    while t < total_s:
        length = min(rng.uniform(15.0, 90.0), durations[v] - pos, total_s - t)
        yield Segment(event, v, pos, length)
        t, pos = t + length, pos + length
        event = str(rng.choice(names, p=chances))
        if pos + 5.0 > durations[v]:  # the player stops at the end (or within its last seconds)
            event = "end"
        elif event == "back" and pos < 15.0:
            event = "restart"
        elif event == "forward" and pos + 45.0 > durations[v]:
            event = "next"
        if event in ("end", "pause"):
            gap = min(rng.uniform(2.0, 6.0) if event == "end" else rng.uniform(3.0, 10.0), total_s - t)
            if gap > 0:
                yield Segment(event, -1, 0.0, gap)
            t += gap
        if event in ("end", "next"):
            event, v = "next", int(rng.choice([k for k in range(len(durations)) if k != v]))
            pos = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.0, durations[v] * 0.6))
        elif event == "pause":
            event = "resume"
        elif event == "restart":
            pos = 0.0
        elif event == "back":
            pos -= rng.uniform(10.0, min(30.0, pos))
        elif event == "forward":
            pos += rng.uniform(10.0, 30.0)
        elif event == "drop":
            pos += rng.uniform(0.2, 1.0)


def take_blocks(segments: Iterable[Segment], variants: list[np.ndarray], sr: int, block: int) -> Iterator[np.ndarray]:
    """The session's audio in blocks of ``block`` samples (the last may be shorter), faded at splices."""
    half = max(1, round(FADE_S * sr))
    fade_in = np.sin(0.5 * np.pi * (np.arange(half) + 0.5) / half).astype(np.float32)
    buf, fill = np.zeros(block, np.float32), 0
    end = 0.0
    for seg in segments:
        n = round((end + seg.length) * sr) - round(end * sr)  # whole samples, no drift over the session
        end += seg.length
        if seg.variant < 0:
            pieces = [np.zeros(n, np.float32)]
        else:
            a = round(seg.src * sr)
            x = variants[seg.variant][a : a + n]
            x = np.concatenate([x, np.zeros(n - len(x), np.float32)]) if len(x) < n else x
            h = min(half, n // 2)
            pieces = [x[:h] * fade_in[:h], x[h : n - h], x[n - h :] * fade_in[:h][::-1]]
        for x in pieces:
            k = 0
            while k < len(x):
                m = min(block - fill, len(x) - k)
                buf[fill : fill + m] = x[k : k + m]
                fill, k = fill + m, k + m
                if fill == block:
                    yield buf.copy()
                    fill = 0
    if fill:
        yield buf[:fill].copy()
