"""Pairs of human performances of the same piece from the ASAP corpus, with beat truth.

ASAP (Foscarin et al., ISMIR 2020) holds piano performances as MIDI with one annotated
beat per row (``time time label``). Two performances of the same *folder* (a piece; pair
by folder, never by title) whose label sequences are identical play the same beats in
the same order, so the k-th annotated beat of the take is the k-th of the reference.
That is the ground truth of every figure measured on the corpus. Except where a
performer skipped a passage the score has (a repeat not taken): ASAP keeps the label
sequence and stacks the skipped beats at one instant (75 to 207 beats within a second
in 9 performances). Such a performance plays other music than its folder's others, so
it is paired with no one (:func:`skips_passage`).

Pairs are drawn per folder with a seeded generator (the same seed always gives the same
pairs), at most :data:`CAPS` pairs per folder (3 for ``dev``, 2 for ``validation``) so no
long piece dominates, and each folder's draw depends only on the seed and the folder's
name (adding a folder does not reshuffle the others). ``split`` is the column of
``metadata.csv``: tune on ``dev``, report on ``validation``.

The data is read in place (``/work/shared/data/asap`` or ``$MATCHER_ASAP``), never copied.
"""

from __future__ import annotations

import csv
import itertools
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_ROOT = Path(os.environ.get("MATCHER_ASAP", "/work/shared/data/asap"))
SPLITS = ("dev", "validation")
CAPS = {"dev": 3, "validation": 2}  # pairs per folder
DEFAULT_SEED = 12
#: Beats annotated this close together were not played one after another [s].
STACKED_S = 0.05
#: A run of this many stacked intervals is a skipped passage, not ornaments or a slip of
#: the annotation (ASAP's runs are either at most 6 or at least 75 intervals long).
SKIPPED_RUN = 8


def skips_passage(times: np.ndarray) -> bool:
    """Whether annotated beat times [s] stack :data:`SKIPPED_RUN` or more consecutive
    intervals under :data:`STACKED_S`: the performer skipped that passage."""
    stacked = np.diff(np.asarray(times, np.float64)) < STACKED_S
    run = 0
    for s in stacked:
        run = run + 1 if s else 0
        if run >= SKIPPED_RUN:
            return True
    return False


@dataclass(frozen=True)
class Performance:
    """One ASAP performance: its MIDI file and beat annotations (paths inside the data root).

    Attributes
    ----------
    folder : str
        The piece, e.g. ``"Bach/Prelude/bwv_860"``.
    split : str
        ``"dev"`` or ``"validation"``.
    midi, annotations : Path
        The performance MIDI and its ``*_annotations.txt``.
    """

    folder: str
    split: str
    midi: Path
    annotations: Path

    @property
    def name(self) -> str:
        """Folder and file stem, e.g. ``Bach/Prelude/bwv_860/Ko04M``."""
        return f"{self.folder}/{self.midi.stem}"

    def beats(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """Annotated beat times [s of the MIDI file] and their labels, in playing order."""
        return read_annotations(self.annotations)


@dataclass(frozen=True)
class Pair:
    """A reference and a take of the same folder whose beat label sequences are identical."""

    split: str
    folder: str
    ref: Performance
    take: Performance

    @property
    def name(self) -> str:
        return f"{self.folder}/{self.ref.midi.stem}->{self.take.midi.stem}"

    def beats(self) -> tuple[np.ndarray, np.ndarray]:
        """Corresponding beat times (take, reference) [s of each MIDI file], beat k with beat k.

        Raises
        ------
        ValueError
            When the two label sequences differ (the pair is then not beat-aligned).
        """
        take_t, take_l = self.take.beats()
        ref_t, ref_l = self.ref.beats()
        if take_l != ref_l:
            raise ValueError(f"{self.name}: label sequences differ ({len(take_l)} vs {len(ref_l)} beats)")
        return take_t, ref_t


def read_annotations(path: Path | str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Read an ASAP ``*_annotations.txt``: rows ``time<TAB>time<TAB>label``.

    Returns
    -------
    times : np.ndarray [shape=(n,), s]
    labels : tuple[str, ...]
        The full label (``b``, ``db``, ``bR``, optionally with time signature and key).
    """
    times, labels = [], []
    with open(path) as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or not parts[0].strip():
                continue
            times.append(float(parts[0]))
            labels.append(parts[2].strip())
    return np.asarray(times, np.float64), tuple(labels)


def load_metadata(root: Path | str | None = None) -> list[Performance]:
    """Every performance listed in ``root/metadata.csv`` (paths resolved inside ``root``).

    Raises
    ------
    FileNotFoundError
        When ``root/metadata.csv`` is absent.
    """
    base = Path(root) if root is not None else DATA_ROOT
    out = []
    with open(base / "metadata.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            out.append(
                Performance(
                    folder=row["folder"],
                    split=row["split"],
                    midi=base / row["midi_performance"],
                    annotations=base / row["performance_annotations"],
                )
            )
    return out


def folder_rng(seed: int, folder: str) -> np.random.Generator:
    """The generator of one folder's draw: depends on the seed and the folder's name only."""
    return np.random.default_rng([seed, zlib.crc32(folder.encode())])


def make_pairs(
    performances: list[Performance], split: str, seed: int = DEFAULT_SEED, cap: int | None = None
) -> list[Pair]:
    """Seeded pairs of same-folder performances with identical label sequences.

    Performances that skipped a passage (:func:`skips_passage`) are left
    out. Within a folder, performances are grouped by their label sequence; every unordered
    pair of a group is a candidate. Candidates are shuffled with :func:`folder_rng`, then
    taken in that order preferring pairs whose performances are not yet used (so three
    pairs of a folder use six performances where it has them), up to ``cap``; which one is
    the reference is drawn too.

    Parameters
    ----------
    performances : list[Performance]
    split : {"dev", "validation"}
        Only performances of this split are paired.
    seed : int
    cap : int > 0, optional
        Pairs per folder; default :data:`CAPS` [split].

    Returns
    -------
    list[Pair]
        Sorted by folder, then by the draw.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    cap = CAPS[split] if cap is None else cap
    if cap < 1:
        raise ValueError(f"cap must be >= 1 pairs per folder, got {cap}")
    folders: dict[str, list[Performance]] = {}
    for p in performances:
        if p.split == split:
            folders.setdefault(p.folder, []).append(p)
    out: list[Pair] = []
    for folder in sorted(folders):
        groups: dict[tuple[str, ...], list[Performance]] = {}
        for p in sorted(folders[folder], key=lambda q: q.midi.name):
            times, labels = p.beats()
            if not skips_passage(times):
                groups.setdefault(labels, []).append(p)
        candidates = [c for g in groups.values() if len(g) > 1 for c in itertools.combinations(g, 2)]
        if not candidates:
            continue
        rng = folder_rng(seed, folder)
        order = rng.permutation(len(candidates))
        chosen: list[tuple[Performance, Performance]] = []
        used: set[Path] = set()
        for fresh_only in (True, False):
            for k in order:
                a, b = candidates[k]
                if len(chosen) >= cap or (a, b) in chosen:
                    continue
                if fresh_only and (a.midi in used or b.midi in used):
                    continue
                chosen.append((a, b))
                used |= {a.midi, b.midi}
        for a, b in chosen:
            ref, take = (a, b) if rng.random() < 0.5 else (b, a)
            out.append(Pair(split, folder, ref, take))
    return out


def quick_pairs(pairs: list[Pair], n: int = 3, max_seconds: float = 100.0, seed: int = DEFAULT_SEED) -> list[Pair]:
    """A small, seeded subset for quick runs: at most one pair per folder, takes whose last
    annotated beat is within ``max_seconds`` [s], ``n`` of them (fewer if fewer qualify)."""
    short = [p for p in pairs if float(p.take.beats()[0][-1]) <= max_seconds]
    by_folder: dict[str, Pair] = {}
    for p in short:
        by_folder.setdefault(p.folder, p)
    firsts = list(by_folder.values())
    rng = np.random.default_rng([seed, 1])
    pick = rng.permutation(len(firsts))[:n]
    return [firsts[k] for k in sorted(pick)]


def corpus_pairs(
    split: str, seed: int = DEFAULT_SEED, quick: bool = False, root: Path | str | None = None
) -> list[Pair]:
    """The corpus of one split (``quick``: its quick subset) from the data at ``root``."""
    pairs = make_pairs(load_metadata(root), split, seed)
    return quick_pairs(pairs, seed=seed) if quick else pairs


def cache_root() -> Path:
    """Where rendered corpus audio is kept: ``$MATCHER_CORPUS_CACHE``, else
    ``${XDG_CACHE_HOME:-~/.cache}/matcher/corpus`` (outside the repository)."""
    if os.environ.get("MATCHER_CORPUS_CACHE"):
        return Path(os.environ["MATCHER_CORPUS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matcher" / "corpus"


def audio_path(cache: Path, performance: Performance, condition: object) -> Path:
    """Cache path of ``performance`` rendered under ``condition`` (a conditions.Condition):
    the folder name carries a hash of the condition's definition, so a changed condition
    never reuses old audio."""
    spec = repr(sorted(condition.to_dict().items()))  # type: ignore[attr-defined]
    tag = f"{condition.name}-{zlib.crc32(spec.encode()):08x}"  # type: ignore[attr-defined]
    return cache / tag / performance.folder / f"{performance.midi.stem}.flac"


@dataclass(frozen=True)
class RenderedPair:
    """A pair rendered under one condition: audio paths and corresponding beat times [s of audio]."""

    pair: Pair
    condition: str
    ref_audio: Path
    take_audio: Path
    take_beats: np.ndarray
    ref_beats: np.ndarray


def pair_paths(pair: Pair, condition_name: str, cache: Path | None = None) -> tuple[Path, Path]:
    """Cache paths of ``pair``'s reference and take under a condition (rendered there or not)."""
    from . import conditions as cond

    cache = cache or cache_root()
    condition = cond.CONDITIONS[condition_name]
    return audio_path(cache, pair.ref, cond.reference_for(condition)), audio_path(cache, pair.take, condition)


def render_pair(pair: Pair, condition_name: str, cache: Path | None = None) -> RenderedPair:
    """Render (or find in the cache) ``pair``'s reference and its take under a condition.

    The noise of a take is seeded by the take's name, so a render is reproducible.
    """
    from . import conditions as cond

    condition = cond.CONDITIONS[condition_name]
    ref_path, take_path = pair_paths(pair, condition_name, cache)
    ref_audio = cond.render(pair.ref.midi, cond.reference_for(condition), ref_path)
    seed = zlib.crc32(pair.take.name.encode())
    take_audio = cond.render(pair.take.midi, condition, take_path, seed)
    take_t, ref_t = pair.beats()
    return RenderedPair(pair, condition_name, ref_audio, take_audio, take_t * condition.time_scale, ref_t)
