"""Cases for validating the practice scorer (tools/eval_score.py): a reference and a take that
is a different performance of the same music, with the take's beat times known; and
same-performance pairs (one performance in another timbre) that must score near zero.

Synthetic cases: :mod:`matcher.evaluation.synthetic` (a steady reference, a take with ±15 %
rubato, another timbre and 30 dB noise); shared cases: the pairs of ../shared/data. All
audio is written at the model rate as 32-bit float.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.random import default_rng as rng

from .. import Beats, Config, Reference, build_reference, read_audio
from ..scoring import Score, load_take, score_take
from ..synth import Note, TempoMap, render
from . import synthetic
from .data import join, pairs_of, read_beats, read_onsets


@dataclass(frozen=True)
class Case:
    set_name: str
    name: str
    ref_audio: Path
    take_audio: Path
    ref_beats: Beats  # numbered like the take's annotation
    take_beats: dict[float, float]  # beat number -> take time [s] (truth)
    take_onsets: np.ndarray  # take onset times [s] (to keep cuts clear of notes)
    bar_beats: int  # beats per bar (edit lengths)
    pitched: bool


def _write(path: Path, y: np.ndarray, sr: int) -> Path:
    return synthetic.write_audio(path, y, sr, "FLOAT")


def score(ref: Reference, path: Path) -> Score:
    """The practice score of the take at ``path`` against ``ref``."""
    return score_take(ref, load_take(path, ref))


def _synth_pieces(sets: list[str], rubato_seed: int) -> Iterator[tuple[str, str, int, list[Note], float, TempoMap]]:
    """Per synthetic set two pieces (16 bars or 5 cycles, seeds 10, 11): (set name, kind, k,
    notes, whole beats, a ±15 % rubato at 100 bpm seeded ``rubato_seed + k``)."""
    for kind, set_name in synthetic.SYNTH_SETS.items():
        if set_name not in sets:
            continue
        for k in range(2):
            notes = synthetic.piece(kind, 16 if kind == "melodic" else 5, seed=k + 10)
            n_beats = float(np.floor(synthetic.length_beats(notes)))
            yield set_name, kind, k, notes, n_beats, synthetic.rubato(n_beats, 100.0, 0.15, 4.0, rng(rubato_seed + k))


def synth_cases(sets: list[str], folder: Path) -> list[Case]:
    """Per kind two pieces: a steady 100 bpm reference, a take with ±15 % rubato."""
    out = []
    for set_name, kind, k, notes, n_beats, take_map in _synth_pieces(sets, 20):
        ref_map = synthetic.steady(n_beats)
        pair = synthetic.render_pair(folder, f"{kind}{k}_ref", f"{kind}{k}_take", notes, ref_map, take_map,
                                     seed=k, subtype="FLOAT")  # fmt: skip
        numbers = np.arange(0.0, n_beats + 1)
        beats = Beats.from_numbers(ref_map.seconds(numbers), numbers, synthetic.BEATS_PER_BAR[kind], "synth")
        truth = dict(zip(numbers.tolist(), take_map.seconds(numbers).tolist(), strict=True))
        onsets = take_map.seconds(np.array(sorted({n.beat for n in notes})))
        out.append(Case(set_name, f"{kind}{k}", pair.ref_audio, pair.take_audio, beats, truth, onsets, 4,
                        kind == "melodic"))  # fmt: skip
    return out


def shared_cases(sets: list[str]) -> list[Case]:
    """The present pairs of ../shared/data; beats joined by score beat, take onsets from the onset files."""
    out = []
    for p in pairs_of(sets):
        take = read_beats(p.take_beats)
        take_t, ref_t, common = join(take, read_beats(p.ref_beats))
        beats = Beats.from_numbers(ref_t, common, p.beats_per_bar, str(p.ref_beats))
        onsets = np.array(sorted(read_onsets(p.take_onsets).values())) if p.take_onsets.exists() else np.zeros(0)
        if not len(onsets):
            onsets = np.array(sorted(take.values()))
        truth = dict(zip(common.tolist(), take_t.tolist(), strict=True))
        out.append(Case(p.set_name, p.name, p.ref_audio, p.take_audio, beats, truth, onsets, p.beats_per_bar,
                        p.set_name == "piano"))  # fmt: skip
    return out


def same_performance(sets: list[str], config: Config, model: Any, folder: Path) -> list[dict[str, Any]]:
    """Same-performance pairs (synthetic: another timbre and 30 dB noise; shared: the reference low-passed
    at 2 kHz with 25 dB noise), each scored: share within 50 ms, median |error_ms|, tempo ratio."""
    sr = config.sr
    out = []
    for set_name, kind, piece, notes, n_beats, perf in _synth_pieces(sets, 30):
        numbers = np.arange(0.0, n_beats + 1)
        beats = Beats.from_numbers(perf.seconds(numbers), numbers, 4, "synth")
        ref_path = _write(folder / "same_ref.wav", render(notes, perf, sr, timbre=0), sr)
        take_path = _write(
            folder / "same_take.wav", render(notes, perf, sr, timbre=1, noise_db=30.0, seed=piece + 3), sr
        )
        out.append(_same(set_name, f"{kind}{piece}", ref_path, take_path, beats, config, model))
    for p in pairs_of(sets):
        if p.set_name == "piano" and p.name.split("->")[0] in {r["case"] for r in out}:
            continue  # p05 is the reference of two pairs
        from scipy.signal import butter, sosfilt

        y = read_audio(p.ref_audio, sr)
        dark = sosfilt(butter(2, 2000.0, "low", fs=sr, output="sos"), y)
        power = np.mean(dark[np.abs(dark) > 1e-4] ** 2)
        noisy = dark + np.random.default_rng(7).normal(0, np.sqrt(power / 10**2.5), len(dark))
        take_path = _write(folder / "same_take.wav", (noisy / np.max(np.abs(noisy)) * 0.7).astype(np.float32), sr)
        ref_beats = read_beats(p.ref_beats)
        numbers = np.array(sorted(ref_beats))
        beats = Beats.from_numbers(np.array([ref_beats[b] for b in numbers]), numbers, 4, "annotated")
        name = p.name.split("->")[0] if p.set_name == "piano" else p.name
        out.append(_same(p.set_name, name, p.ref_audio, take_path, beats, config, model))
    return out


def _same(set_name: str, name: str, ref_path: Path, take_path: Path, beats: Beats, config: Config, model: Any) -> dict:
    ref = build_reference(ref_path, config, model, "ref")
    ref = Reference(ref.name, ref.frames, beats, ref.config, ref.meta)
    s = score(ref, take_path)
    e = np.abs([b.error_ms for b in s.beats])
    return {
        "set": set_name,
        "case": name,
        "beats": len(e),
        "within_50": float(np.mean(e <= 50)),
        "median_abs_ms": float(np.median(e)),
        "tempo_ratio": s.tempo_ratio,
    }
