"""The demo's material for the browser: `make demo`'s melody (``matcher.synth``) stored as a
reference, and a tempo-warped take of it written as a file a fake microphone can play,
with the take's beat truth. Used by the serve tests, tools/bench_serve.py and the
screenshots in docs/img (no shared data: everything is generated here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..synth import TempoMap, demo_tempo, melody, render
from . import engine

BPM = 100.0
BEATS_PER_BAR = 4


@dataclass(frozen=True)
class DemoTake:
    """A generated take and its truth.

    path : the take (16-bit WAV at ``sr``), starting with ``lead_s`` of silence
    beat_times : take time [s] of each beat played (from the file's start)
    ref_beat_times : reference time [s] of the same beats
    beat_bars : the bar (from 1) of each of them
    jump_s : take time [s] where the player jumped (None: played straight through)
    """

    path: Path
    sr: int
    lead_s: float
    beat_times: np.ndarray
    ref_beat_times: np.ndarray
    beat_bars: np.ndarray
    jump_s: float | None = None

    def bar_of_beat(self, k: int) -> int:
        return int(self.beat_bars[k])


def make_demo(
    folder: Path,
    store: engine.ReferenceStore,
    n_bars: int = 12,
    take_sr: int = 48000,
    lead_s: float = 1.0,
    tail_s: float = 2.0,
    name: str = "demo",
    jump: tuple[int, int] | None = None,
) -> DemoTake:
    """Store the demo reference as ``name`` and write a take of it; the take and its truth.

    ``jump=(a, b)``: the player plays up to bar ``a`` and goes on from bar ``b`` (a cut
    at the bars' first beats), as after "let's take it from bar b"."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    sr = 16000
    notes = melody(n_bars=n_bars, beats_per_bar=BEATS_PER_BAR, seed=3)
    n_beats = n_bars * BEATS_PER_BAR
    ref_map = TempoMap((0.0, n_beats), (BPM, BPM))
    take_map = demo_tempo(n_beats, BPM, fermata_beat=None)
    ref_path = folder / "reference.wav"
    sf.write(ref_path, render(notes, ref_map, sr, timbre=0), sr)
    beats = np.arange(n_beats + 1, dtype=float)
    beats_file = folder / "reference_beats.txt"
    beats_file.write_text("".join(f"{t:.6f}\n" for t in ref_map.seconds(beats)))
    if name in store.index():
        store.remove(name)
    engine.add_reference(store, ref_path, name, beats_file, BEATS_PER_BAR, "yin", replace=True)
    take = render(notes, take_map, take_sr, timbre=1, noise_db=35.0, seed=1)
    numbers = beats[:-1]
    times = take_map.seconds(numbers)
    keep = np.ones(len(numbers), bool)
    jump_s = None
    if jump is not None:
        first, then = (BEATS_PER_BAR * (bar - 1) for bar in jump)
        cut, resume = (round(float(times[k]) * take_sr) for k in (first, then))
        take = np.concatenate([take[:cut], take[resume:]])
        keep = (numbers < first) | (numbers >= then)
        times = np.where(numbers >= then, times - (resume - cut) / take_sr, times)
        jump_s = lead_s + cut / take_sr
    lead, tail = np.zeros(int(lead_s * take_sr), np.float32), np.zeros(int(tail_s * take_sr), np.float32)
    take = np.concatenate([lead, take, tail])
    suffix = "" if jump is None else f"_jump{jump[0]}to{jump[1]}"
    take_path = folder / f"take_{take_sr}{suffix}.wav"
    sf.write(take_path, take, take_sr, subtype="PCM_16")
    return DemoTake(
        take_path,
        take_sr,
        lead_s,
        lead_s + times[keep],
        ref_map.seconds(numbers[keep]),
        1 + numbers[keep].astype(int) // BEATS_PER_BAR,
        jump_s,
    )
