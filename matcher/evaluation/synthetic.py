"""Synthetic pairs with exact ground truth (``matcher.synth``): pieces, tempo warps, audio files.

A synthetic case is a piece (notes on a beat grid), a steady reference tempo map and a
warped take tempo map; both are rendered (reference in timbre 0, take in timbre 1 with
noise), and the maps give the exact time of every beat in both. The tools' synthetic sets
are built here: :func:`follow_cases` (tools/eval_follow.py), the longer pieces of
tools/eval_jumps.py (:mod:`matcher.evaluation.jumps`), the scoring cases of
tools/eval_score.py, the live takes of tools/bench_live.py and the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..config import Config
from ..synth import Note, TempoMap, melody, percussion, render
from .data import Case

#: Synthetic set names, by kind of piece.
SYNTH_SETS: dict[str, str] = {"melodic": "synth-melodic", "percussion": "synth-percussion"}
#: Beats per bar (melodic) or per cycle (percussion) of the pieces.
BEATS_PER_BAR: dict[str, int] = {"melodic": 4, "percussion": 12}


def piece(kind: str, size: int, seed: int) -> list[Note]:
    """Notes of a ``melodic`` piece of ``size`` 4/4 bars or a ``percussion`` piece of ``size`` 12-beat cycles."""
    if kind == "melodic":
        return melody(size, BEATS_PER_BAR["melodic"], seed=seed)
    if kind == "percussion":
        return percussion(size, seed=seed)
    raise ValueError(f"unknown kind of piece {kind!r}; valid: 'melodic', 'percussion'")


def length_beats(notes: list[Note]) -> float:
    """Where the last note ends [beats]."""
    return float(max(n.beat + n.length for n in notes))


def steady(n_beats: float, bpm: float = 100.0) -> TempoMap:
    """A steady tempo map of ``bpm`` over ``n_beats``."""
    return TempoMap((0.0, float(n_beats)), (bpm, bpm))


def rubato(n_beats: float, bpm: float, depth: float, every: float, rng: np.random.Generator) -> TempoMap:
    """A tempo that wanders: ``bpm * (1 + depth * U(-1, 1))`` at knots ``every`` beats apart.

    Parameters
    ----------
    n_beats : float > 0 [beats]
    bpm : float > 0 [beats/min]
    depth : float in [0, 1)
        Largest relative deviation.
    every : float > 0 [beats]
        Knot spacing; the knots run from 0 to past ``n_beats``.
    rng : np.random.Generator
        Draws one number per knot.
    """
    knots = tuple(np.arange(0.0, n_beats + every, every))
    return TempoMap(knots, tuple(bpm * (1 + depth * rng.uniform(-1, 1, len(knots)))))


def warps(n_beats: float, seed: int, bpm: float = 100.0) -> dict[str, TempoMap]:
    """Take tempo maps against a steady reference: ``curve`` (±30 %), ``rubato`` (±15 % every
    2 beats), ``pause`` (90 -> 110 bpm with a 3-s hold half way)."""
    knots = tuple(np.linspace(0, n_beats, 5))
    curve = TempoMap(knots, tuple(bpm * np.array([0.7, 1.0, 1.3, 1.1, 0.8])))
    wander = rubato(n_beats, bpm, 0.15, 2.0, np.random.default_rng(seed))
    pause = TempoMap((0.0, n_beats), (0.9 * bpm, 1.1 * bpm), {float(n_beats // 2): 3.0})
    return {"curve": curve, "rubato": wander, "pause": pause}


@dataclass(frozen=True)
class SynthPair:
    """A rendered synthetic pair: notes, maps and files.

    ``beats`` [beats] are the whole beats of the piece; ``take_beats``/``ref_beats`` [s] their times.
    """

    notes: list[Note]
    ref_map: TempoMap
    take_map: TempoMap
    ref_audio: Path
    take_audio: Path
    beats: np.ndarray

    @property
    def take_beats(self) -> np.ndarray:
        """Take time of every whole beat [s]."""
        return self.take_map.seconds(self.beats)

    @property
    def ref_beats(self) -> np.ndarray:
        """Reference time of every whole beat [s]."""
        return self.ref_map.seconds(self.beats)

    def case(self, set_name: str, name: str) -> Case:
        """This pair as an evaluation case (beats by number)."""
        return Case(set_name, name, self.ref_audio, self.take_audio, self.take_beats, self.ref_beats)


def write_audio(path: Path, y: np.ndarray, sr: int, subtype: str | None = None) -> Path:
    """Write mono audio to ``path`` (``subtype``: soundfile's, e.g. ``FLOAT``); return the path."""
    sf.write(path, y, sr, subtype=subtype)
    return path


def render_pair(
    folder: Path,
    ref_name: str,
    take_name: str,
    notes: list[Note],
    ref_map: TempoMap,
    take_map: TempoMap,
    *,
    seed: int,
    noise_db: float = 30.0,
    sr: int | None = None,
    subtype: str | None = None,
    write_ref: bool = True,
) -> SynthPair:
    """Render the reference (timbre 0, clean) and the take (timbre 1, noise ``noise_db`` dB SNR).

    Parameters
    ----------
    folder : Path
        Where ``{ref_name}.wav`` and ``{take_name}.wav`` are written.
    seed : int
        The take's noise seed.
    sr : int or None [Hz]
        Sample rate (default: the configuration's model rate).
    write_ref : bool
        False: the reference file exists already (several takes of one reference).
    """
    sr = sr or Config().sr
    ref_path, take_path = folder / f"{ref_name}.wav", folder / f"{take_name}.wav"
    if write_ref:
        write_audio(ref_path, render(notes, ref_map, sr, timbre=0), sr, subtype)
    write_audio(take_path, render(notes, take_map, sr, timbre=1, noise_db=noise_db, seed=seed), sr, subtype)
    beats = np.arange(0.0, np.floor(length_beats(notes)) + 1)
    return SynthPair(notes, ref_map, take_map, ref_path, take_path, beats)


def follow_cases(sets: list[str] | tuple[str, ...], folder: Path) -> list[Case]:
    """tools/eval_follow.py's synthetic sets: per kind two pieces of about 24 s (10 bars or 4
    cycles), a steady 100 bpm reference and three takes (:func:`warps`)."""
    cases = []
    for kind, set_name in SYNTH_SETS.items():
        if set_name not in sets:
            continue
        for k in range(2):
            notes = piece(kind, 10 if kind == "melodic" else 4, seed=k)
            n_beats = length_beats(notes)
            for j, (warp, take_map) in enumerate(warps(n_beats, seed=k).items()):
                pair = render_pair(
                    folder, f"{kind}{k}_ref", f"{kind}{k}_{warp}", notes, steady(n_beats), take_map,
                    seed=k + 7, write_ref=j == 0,
                )  # fmt: skip
                cases.append(pair.case(set_name, f"{kind}{k}-{warp}"))
    return cases
