"""The evaluation data sets of ../shared/data: pairs, beat and onset annotations, cases.

The data lives outside the project (``/work/shared/data`` by default, or wherever
``MATCHER_EVAL_DATA`` points) and is read in place, never copied. See its README for the
pairs (reference -> take) behind the figures quoted in the issues.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Root of the shared evaluation data.
DATA_ROOT = Path(os.environ.get("MATCHER_EVAL_DATA", "/work/shared/data"))
#: The sets of the shared data, in table order.
SHARED_SETS: tuple[str, ...] = ("piano", "percussion")

_PIANO_DIR = "vienna_chopin_op10_3"
_PERC_DIR = "percussion"
_PIANO_PAIRS = (("p01", "p02"), ("p03", "p04"), ("p05", "p06"), ("p07", "p08"), ("p05", "p08"))
_PERC_PAIRS = ("perc7_00", "perc7_01", "perc7_02")


@dataclass(frozen=True)
class Pair:
    """One reference -> take pair of the shared data with its annotation files.

    ``set_name`` ("piano" or "percussion") pools results; ``beats_per_bar`` numbers bars
    (Chopin op. 10/3 is in 2/4). The onset files exist for piano only.
    """

    set_name: str
    name: str
    ref_audio: Path
    take_audio: Path
    ref_beats: Path
    take_beats: Path
    beats_per_bar: int

    @property
    def ref_onsets(self) -> Path:
        """``score_onset_beat,perf_time_sec`` file of the reference (may not exist)."""
        return Path(str(self.ref_beats).replace("_beats.csv", "_onsets.csv"))

    @property
    def take_onsets(self) -> Path:
        """``score_onset_beat,perf_time_sec`` file of the take (may not exist)."""
        return Path(str(self.take_beats).replace("_beats.csv", "_onsets.csv"))

    @property
    def present(self) -> bool:
        """Both audio files exist."""
        return self.ref_audio.exists() and self.take_audio.exists()


@dataclass(frozen=True)
class Case:
    """A reference -> take pair with corresponding beat times, shared or synthetic.

    take_beats, ref_beats : np.ndarray [shape=(n,), s]   beat k in the take and in the reference
    """

    set_name: str
    name: str
    ref_audio: Path
    take_audio: Path
    take_beats: np.ndarray
    ref_beats: np.ndarray


def _piano_pair(ref: str, take: str, root: Path) -> Pair:
    d, stem = root / _PIANO_DIR, "Chopin_op10_no3_"
    return Pair(
        "piano",
        f"{ref}->{take}",
        d / f"{stem}{ref}_fluidsynth.flac",
        d / f"{stem}{take}_fluidsynth.flac",
        d / f"{stem}{ref}_beats.csv",
        d / f"{stem}{take}_beats.csv",
        2,
    )


def _perc_pair(stem: str, root: Path) -> Pair:
    d = root / _PERC_DIR
    return Pair(
        "percussion",
        stem,
        d / f"{stem}_ref.flac",
        d / f"{stem}_take.flac",
        d / f"{stem}_ref_beats.csv",
        d / f"{stem}_take_beats.csv",
        4,
    )


def all_pairs(root: Path | str | None = None) -> list[Pair]:
    """All shared pairs, piano first, then percussion (whether their files exist or not)."""
    base = Path(root) if root is not None else DATA_ROOT
    return [_piano_pair(r, t, base) for r, t in _PIANO_PAIRS] + [_perc_pair(s, base) for s in _PERC_PAIRS]


def pairs_of(sets: list[str] | tuple[str, ...], root: Path | str | None = None) -> list[Pair]:
    """The pairs of ``sets`` whose audio is present."""
    return [p for p in all_pairs(root) if p.set_name in sets and p.present]


def set_names(items: list[Pair] | list[Case]) -> list[str]:
    """Set names in first-appearance order (so tables come out piano, percussion)."""
    return list(dict.fromkeys(p.set_name for p in items))


def read_beats(path: Path | str) -> dict[float, float]:
    """A ``score_beat,perf_time_sec`` csv -> {score beat: time [s]}.

    Keyed by score beat, not by line: beats without an onset are missing from the
    files, so line k of two files need not be the same beat.
    """
    out: dict[float, float] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out[float(row["score_beat"])] = float(row["perf_time_sec"])
    return out


def read_onsets(path: Path | str) -> dict[float, float]:
    """A ``score_onset_beat,perf_time_sec`` csv -> {score onset: mean time of its notes [s]}."""
    times: dict[float, list[float]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            times.setdefault(float(row["score_onset_beat"]), []).append(float(row["perf_time_sec"]))
    return {k: float(np.mean(v)) for k, v in times.items()}


def join(take: dict[float, float], ref: dict[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corresponding times of two annotations keyed by score position.

    Returns
    -------
    (take_t, ref_t, score) : np.ndarray [shape=(n,)]
        Take time [s], reference time [s] and score position [beats] of every position
        annotated in both, sorted by score position.
    """
    common = sorted(set(take) & set(ref))
    return (
        np.array([take[b] for b in common], dtype=np.float64),
        np.array([ref[b] for b in common], dtype=np.float64),
        np.array(common, dtype=np.float64),
    )


def joined_beats(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """(take_times, ref_times) [s] of the beats annotated in both files, by score beat."""
    take_t, ref_t, _ = join(read_beats(pair.take_beats), read_beats(pair.ref_beats))
    return take_t, ref_t


def shared_cases(sets: list[str] | tuple[str, ...], root: Path | str | None = None) -> list[Case]:
    """The present shared pairs of ``sets`` as cases (beats joined by score beat)."""
    return [Case(p.set_name, p.name, p.ref_audio, p.take_audio, *joined_beats(p)) for p in pairs_of(sets, root)]
