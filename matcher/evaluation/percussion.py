"""Synthetic percussion pairs for the corpus, rendered under the same acoustic conditions.

:func:`matcher.synth.percussion` makes a repeating 12-beat cycle of four unpitched strokes
(standing in for samulnori's buk, kkwaenggwari, jing and janggu). Here each piece is
written as General MIDI percussion (channel 10) twice — a reference at a steady tempo and
a take with its own tempo curve (a section that speeds up, rubato) and per-stroke jitter —
together with ASAP-style beat annotations (``time time label``, ``db`` on each cycle's
first beat), so a piece is a :class:`matcher.evaluation.corpus.Pair` like any ASAP pair
and is rendered by :mod:`matcher.evaluation.conditions`: other soundfonts and engines give
other drum kits, and the rooms, microphones, noise, levels and tunings apply as they do
to piano. Pieces alternate between two GM mappings (:data:`KITS`).

Files are written into a folder of the cache (never the repository); the same seed writes
the same files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..synth import TempoMap, percussion
from .corpus import Pair, Performance

TICKS_PER_SECOND = 960  # 480 ticks a beat at MIDI's default 120 bpm
CYCLE_BEATS = 12
#: GM percussion notes for synth.percussion's drums 0-3 (low drop, noise, high drop, sharp noise)
KITS = {
    "samulnori": (35, 56, 47, 38),  # acoustic bass drum, cowbell, low-mid tom, snare
    "band": (36, 75, 45, 40),  # bass drum 1, claves, low tom, electric snare
}
PIECES = {"dev": 4, "validation": 3}
SPLIT_SEEDS = {"dev": 100, "validation": 200}  # piece seeds start here


def _write_midi(path: Path, times: np.ndarray, notes: list[int], velocities: np.ndarray) -> None:
    """Strokes at ``times`` [s] on channel 10, each 100 ms long."""
    import mido

    events = []
    for t, n, v in zip(times, notes, velocities, strict=True):
        on = round(t * TICKS_PER_SECOND)
        events += [(on, 1, n, int(v)), (on + TICKS_PER_SECOND // 10, 0, n, 0)]
    events.sort()
    mid = mido.MidiFile(ticks_per_beat=TICKS_PER_SECOND // 2)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    now = 0
    for tick, is_on, n, v in events:
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, channel=9, note=n, velocity=v, time=tick - now))
        now = tick
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(str(path))


def _write_annotations(path: Path, beat_times: np.ndarray) -> None:
    rows = []
    for k, t in enumerate(beat_times):
        label = "db" if k % CYCLE_BEATS == 0 else "b"
        rows.append(f"{t:.6f}\t{t:.6f}\t{label}\n")
    path.write_text("".join(rows))


def take_tempo(n_beats: float, bpm: float, rng: np.random.Generator) -> TempoMap:
    """A take's tempo: rubato of ±12 % every 6 beats over a rise from 85 % to 125 % of ``bpm``."""
    knots = np.arange(0.0, n_beats + 6.0, 6.0)
    rise = np.interp(knots, [0.0, n_beats * 0.4, n_beats], [0.85, 0.95, 1.25])
    return TempoMap(tuple(knots), tuple(bpm * rise * (1 + 0.12 * rng.uniform(-1, 1, len(knots)))))


def write_piece(folder: Path, seed: int, cycles: int = 6) -> tuple[Performance, Performance]:
    """Write one piece's reference and take (MIDI + annotations) into ``folder``.

    Returns
    -------
    (reference, take) : Performance
        ``split`` is filled in by the caller.
    """
    rng = np.random.default_rng(seed)
    notes = percussion(cycles, seed=seed)
    kit = list(KITS.values())[seed % len(KITS)]
    beats = np.arange(0.0, cycles * CYCLE_BEATS)
    n_beats = float(cycles * CYCLE_BEATS)
    bpm = float(rng.uniform(90.0, 120.0))
    lead = 1.0  # [s] before the first stroke, as a recording would have
    maps = {"ref": TempoMap((0.0, n_beats), (bpm, bpm)), "take": take_tempo(n_beats, bpm, rng)}
    out = []
    for role, tempo in maps.items():
        onsets = lead + np.asarray(tempo.seconds(np.array([n.beat for n in notes])))
        if role == "take":
            onsets = onsets + rng.normal(0.0, 0.008, len(onsets))  # per-stroke jitter [s]
        velocities = np.array([np.clip(n.velocity * 127, 1, 127) for n in notes])
        midi = folder / f"{role}.mid"
        _write_midi(midi, onsets, [kit[n.drum % 4] for n in notes], velocities)
        ann = folder / f"{role}_annotations.txt"
        _write_annotations(ann, lead + np.asarray(tempo.seconds(beats)))
        out.append(Performance(folder=str(folder.name), split="", midi=midi, annotations=ann))
    return out[0], out[1]


def percussion_pairs(split: str, cache: Path, seed: int = 12, n: int | None = None) -> list[Pair]:
    """The percussion pieces of a split (``PIECES[split]``, or ``n``) as corpus pairs.

    Pieces are written under ``cache/percussion-src/<split>/`` (rewritten each call; the
    same seed gives the same files) and their folder names are ``percussion/<split>/<k>``.
    """
    if split not in PIECES:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(PIECES)}")
    out = []
    for k in range(PIECES[split] if n is None else n):
        piece_seed = SPLIT_SEEDS[split] + 1000 * seed + k
        folder = cache / "percussion-src" / split / f"{k}"
        ref, take = write_piece(folder, piece_seed)
        name = f"percussion/{split}/{k}"
        ref = Performance(name, split, ref.midi, ref.annotations)
        take = Performance(name, split, take.midi, take.annotations)
        out.append(Pair(split, name, ref, take))
    return out
