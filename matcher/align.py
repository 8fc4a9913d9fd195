"""Offline alignment of two performances: non-causal, as accurate as the features allow.

Two engines over the same cost (Euclidean distance of per-frame feature vectors built
from :class:`~matcher.features.Frames`, the follower's features: onset flux over mel
bands, faded chroma, optionally pitch; and, offline only, the onsets of each pitch
class, :func:`chroma_onsets`):

* ``dtw`` — dtw-python on the full local-cost matrix (its step patterns, Sakoe-Chiba
  window, open begin / open end). dtw-python builds the whole ``n x m`` matrix even with
  a window (about 24 bytes per cell with the local costs), so it is only chosen when
  that fits ``AlignParams.memory_mb``.
* ``banded`` — coarse-to-fine DTW in numba (:mod:`matcher.align_kernels`): the feature
  sequences are averaged down by 2 per level until the matrix is small, aligned there
  in full, and the path is projected one level finer and refined inside a band of
  ``radius`` frames around it, level by level. Memory is one byte per band cell plus
  two rows of costs: linear in the duration.

``auto`` takes ``dtw`` when it fits and ``banded`` otherwise. A final step turns the
frame path into a strictly increasing, sub-frame map between the two time axes (the
midpoint of each horizontal or vertical run) and, from frames, keeps it at the onsets
of either recording with linear pieces in between (:func:`onset_anchored`): that map
is what the comparison reads. Against a score, :func:`matcher.compare.compare` keeps it
at the score's note onsets alone (:func:`kept_at`).

Time axes: ``a_t`` for the first performance A (the rows), ``b_t`` for B (the columns),
in seconds from the start of each audio, frame ``k`` at ``k * hop / sr``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import Config
from .errors import ParameterError
from .features import Frames
from .features.level import loud_level
from .features.vectors import CostWeights, cost_vectors, flux_norms, flux_scale, noise_flux

METHODS = ("auto", "dtw", "banded")

#: Step weights (diagonal, A alone, B alone) of the patterns the banded kernel runs;
#: the names and weights are dtw-python's, so both engines mean the same by them.
BANDED_PATTERNS: dict[str, tuple[float, float, float]] = {
    "symmetric1": (1.0, 1.0, 1.0),
    "symmetric2": (2.0, 1.0, 1.0),
}

#: Bytes dtw-python needs per cell of the local-cost matrix (the matrix itself, its
#: accumulated cost and step directions; measured 24.1 on 5000 x 5000).
DTW_BYTES_PER_CELL = 24


#: The alignment's weights are the follower's (one cost-vector builder for both).
AlignWeights = CostWeights


@dataclass(frozen=True)
class AlignParams:
    """How to align.

    method : {"auto", "dtw", "banded"}
        See the module docstring.
    step_pattern : str
        dtw-python step pattern name for ``dtw``; ``banded`` runs ``symmetric1`` or
        ``symmetric2``. Open ends need a pattern dtw-python can normalise by the take's
        length; ``asymmetric`` is used for ``dtw`` when open ends are asked for with
        the default pattern.
    open_begin, open_end : bool
        B may start late / stop early against A: its path may begin / end anywhere in A.
    window_s : float > 0 [s], optional
        Sakoe-Chiba window half-width for ``dtw`` (the matrix is still built whole).
    memory_mb : float > 0 [MiB]
        Budget of the ``dtw`` engine; ``auto`` switches to ``banded`` above it.
    radius : int > 0 [frames]
        Half-width of the refinement band at every level of ``banded``.
    coarse_cells : int > 0
        ``banded`` aligns in full once ``n * m`` is at most this many cells.
    onset_anchors : float > 0, optional
        Keep the path only at onsets — local peaks of a recording's flux norm at least
        this many times its mean over audible frames that the other recording has too —
        and interpolate linearly between them (see :func:`onset_anchored`); against a
        score, :func:`matcher.compare.compare` keeps it at the score's note onsets instead
        (:func:`kept_at`). None keeps every path point.
    spread_chords : float > 0, optional
        Onsets at least this many times the mean flux that one recording spreads over
        50-120 ms and the other plays at once are paired at their mean (see
        :func:`onset_anchored`). None turns this off.
    chroma_onsets : float > 0, optional
        Weight of the pitch classes' onsets (:func:`chroma_onsets`) added to each frame's
        vector beside the flux and chroma; None leaves them out. Dev corpus, 16 pairs x
        clean/hardest, within 50 ms: 94.3 % without; 94.9 and 94.8 % at 0.7 and 1 (hardest
        92.6 -> 93.6 % at 0.7); with :data:`CHROMA_ONSET_GAIN` at 100, 94.6, 94.6 and
        93.9 % at 0.5, 1 and 2.
    weights : AlignWeights
    score_passes : {1, 2}
        Against a score (a reference with a ``ScoreInfo``), :func:`matcher.compare.compare`
        aligns again to the score rendered at the tempo the first pass found
        (:mod:`matcher.notation.realign`); 1 keeps the first pass.
    """

    method: str = "auto"
    step_pattern: str = "symmetric1"
    open_begin: bool = False
    open_end: bool = False
    window_s: float | None = None
    memory_mb: float = 1024.0
    radius: int = 24
    coarse_cells: int = 1_000_000
    onset_anchors: float | None = 1.0
    spread_chords: float | None = 2.0
    chroma_onsets: float | None = 0.7
    weights: AlignWeights = field(default_factory=AlignWeights)
    score_passes: int = 2

    def __post_init__(self) -> None:
        if self.score_passes not in (1, 2):
            raise ParameterError(f"score_passes must be 1 or 2, got {self.score_passes!r}")
        if self.method not in METHODS:
            raise ParameterError(f"unknown alignment method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.method == "banded" and self.step_pattern not in BANDED_PATTERNS:
            raise ParameterError(
                f"the banded aligner runs step patterns {', '.join(BANDED_PATTERNS)}; got {self.step_pattern!r}"
            )
        if not isinstance(self.radius, int) or self.radius < 1:
            raise ParameterError(f"radius must be a positive number of frames, got {self.radius!r}")
        if not isinstance(self.coarse_cells, int) or self.coarse_cells < 4:
            raise ParameterError(f"coarse_cells must be an integer >= 4, got {self.coarse_cells!r}")
        if not self.memory_mb > 0:
            raise ParameterError(f"memory_mb must be > 0, got {self.memory_mb!r}")
        if self.window_s is not None and not self.window_s > 0:
            raise ParameterError(f"window_s must be > 0 seconds, got {self.window_s!r}")
        for name in ("onset_anchors", "spread_chords", "chroma_onsets"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ParameterError(f"{name} must be > 0 (or None), got {value!r}")

    def replace(self, **changes: Any) -> AlignParams:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Alignment:
    """A warping path between performances A and B.

    Attributes
    ----------
    a_frames, b_frames : np.ndarray [shape=(k,), int]
        The DTW path (frame indices), both non-decreasing, one step at a time.
    a_t, b_t : np.ndarray [shape=(p,), seconds]
        The path as a strictly increasing map between the time axes (runs of one frame
        on either side replaced by their midpoint): what comparisons interpolate.
    frame_seconds : float [s]
        Hop of both frame grids.
    cost : float
        Accumulated cost of the path (the engine's own normalisation).
    method : str
        ``"dtw"`` or ``"banded"`` (what ``auto`` chose).
    cells : int
        Cells of the cost matrix the engine evaluated (its memory is proportional).
    """

    a_frames: np.ndarray
    b_frames: np.ndarray
    a_t: np.ndarray
    b_t: np.ndarray
    frame_seconds: float
    cost: float
    method: str
    cells: int

    def __repr__(self) -> str:
        return (
            f"Alignment(method={self.method!r}, path={len(self.a_frames)}, "
            f"A {self.a_t[0]:.2f}-{self.a_t[-1]:.2f} s, B {self.b_t[0]:.2f}-{self.b_t[-1]:.2f} s, cells={self.cells})"
        )

    def b_at(self, a_t: np.ndarray | float) -> np.ndarray | float:
        """B time(s) [s] matching A time(s) (linear between path points, constant beyond)."""
        out = np.interp(a_t, self.a_t, self.b_t)
        return out if np.ndim(a_t) else float(out)

    def a_at(self, b_t: np.ndarray | float) -> np.ndarray | float:
        """A time(s) [s] matching B time(s) (linear between path points, constant beyond)."""
        out = np.interp(b_t, self.b_t, self.a_t)
        return out if np.ndim(b_t) else float(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "frame_seconds": self.frame_seconds,
            "cost": float(self.cost),
            "cells": int(self.cells),
            "path": [[round(float(a), 4), round(float(b), 4)] for a, b in zip(self.a_t, self.b_t, strict=True)],
        }


# -- features --------------------------------------------------------------------------


def feature_vectors(
    frames: Frames, weights: CostWeights, gate_db: float, chroma_onset_weight: float | None = None
) -> np.ndarray:
    """Per-frame vectors whose Euclidean distance is the alignment's local cost: the
    follower's :func:`~matcher.features.vectors.cost_vectors` with the flux the
    recording's noise makes taken off (:func:`~matcher.features.vectors.noise_flux`:
    a file has all its frames at hand) and the rest divided by the recording's own scale
    (its mean norm over frames at least ``gate_db`` [dBFS] loud), then, unless
    ``chroma_onset_weight`` is None or 0 (as ``AlignParams.chroma_onsets``), that many
    times its :func:`chroma_onsets`.

    Returns
    -------
    np.ndarray [shape=(n, n_bands + 14), or (n, n_bands + 26) with chroma onsets, float32]
    """
    noise = noise_flux(frames, gate_db)
    vectors = cost_vectors(frames, weights, flux_scale(frames, gate_db, noise), noise)
    if not chroma_onset_weight:
        return vectors
    onsets = chroma_onset_weight * chroma_onsets(frames, gate_db)
    return np.concatenate([vectors, onsets.astype(np.float32)], axis=1)


#: Chroma energy is compressed as log(1 + CHROMA_ONSET_GAIN * energy / its mean over
#: audible frames) before its rises are taken, so a soft note's rise counts beside a loud
#: one's (dev corpus, 16 pairs x clean/hardest, `compare` within 50 ms at weight 1: 94.1,
#: 94.6, 94.8 and 94.8 % at 10, 100, 1000 and 10000; 94.3 % without chroma onsets).
CHROMA_ONSET_GAIN = 1000.0
#: A rise is held, fading linearly, over this many frames after it (48 ms): two
#: recordings' onsets a frame or two apart still overlap.
CHROMA_ONSET_HOLD = 3


def chroma_onsets(frames: Frames, gate_db: float) -> np.ndarray:
    """Where each pitch class begins to sound [shape=(n, 12), float32]: the rise of its
    log-compressed chroma energy from the frame before (0 where it falls), held over
    :data:`CHROMA_ONSET_HOLD` frames as it fades, divided by the rises' mean norm over
    frames at least ``gate_db`` [dBFS] loud.

    The flux says that something began; these say which pitch classes did. A chord
    played over a held note, or the same harmony struck again, makes flux that fits the
    other recording's onsets nearby equally well; the pitch classes that rise pin the
    onset to the one that plays them (the chroma onset features of high-resolution audio
    synchronisation, Ewert, Müller and Grosche 2009)."""
    chroma = np.asarray(frames.chroma, np.float64)
    audible = np.asarray(frames.db) >= gate_db
    mean = float(chroma[audible].sum(axis=1).mean()) if audible.any() else 0.0
    if not mean > 0:
        return np.zeros((len(chroma), 12), np.float32)
    log_energy = np.log1p(CHROMA_ONSET_GAIN * chroma / mean)
    rises = np.zeros_like(log_energy)
    rises[1:] = np.maximum(np.diff(log_energy, axis=0), 0.0)
    held = rises.copy()
    for k in range(1, CHROMA_ONSET_HOLD + 1):
        held[k:] = np.maximum(held[k:], rises[:-k] * (1.0 - k / (CHROMA_ONSET_HOLD + 1)))
    scale = float(np.linalg.norm(held[audible], axis=1).mean())
    return (held / scale if scale > 0 else held).astype(np.float32)


# -- engines ---------------------------------------------------------------------------


def _check_vectors(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.ascontiguousarray(X, dtype=np.float32)
    Y = np.ascontiguousarray(Y, dtype=np.float32)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ParameterError(f"feature vectors must be 2-D with equal widths, got shapes {X.shape} and {Y.shape}")
    if len(X) < 2 or len(Y) < 2:
        raise ParameterError(f"need at least 2 frames on each side to align, got {len(X)} and {len(Y)}")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        raise ParameterError("feature vectors contain NaN or infinite values")
    return X, Y


def dtw_cells_fit(n: int, m: int, memory_mb: float) -> bool:
    """Whether dtw-python's full matrix of ``n x m`` cells fits ``memory_mb`` [MiB]."""
    return n * m * DTW_BYTES_PER_CELL <= memory_mb * 2**20


def _dtw_python(X: np.ndarray, Y: np.ndarray, params: AlignParams, frame_seconds: float):
    """dtw-python on the full local-cost matrix; rows of its query are B (the take),
    so open ends free B's start and end along A."""
    import dtw
    from scipy.spatial.distance import cdist

    pattern = params.step_pattern
    if (params.open_begin or params.open_end) and pattern == "symmetric1":
        pattern = "asymmetric"  # symmetric1 cannot be normalised, which open ends need
    try:
        step = dtw.stepPattern.__dict__[pattern] if isinstance(pattern, str) else pattern
    except KeyError:
        raise ParameterError(f"unknown dtw-python step pattern {pattern!r}") from None
    if not isinstance(step, dtw.stepPattern.StepPattern):
        raise ParameterError(f"unknown dtw-python step pattern {pattern!r}")
    C = cdist(Y, X)  # rows: B (query), columns: A (reference)
    kwargs: dict[str, Any] = {}
    if params.window_s is not None:
        kwargs = {
            "window_type": "sakoechiba",
            "window_args": {"window_size": round(params.window_s / frame_seconds)},
        }
    try:
        res = dtw.dtw(
            C,
            step_pattern=step,
            open_begin=params.open_begin,
            open_end=params.open_end,
            distance_only=False,
            **kwargs,
        )
    except ValueError as exc:  # no path within the window, or a pattern open ends cannot use
        raise ParameterError(f"dtw-python cannot align with step pattern {pattern!r}: {exc}") from exc
    cost = float(res.normalizedDistance) if np.isfinite(res.normalizedDistance) else float(res.distance)
    return np.asarray(res.index2, np.int64), np.asarray(res.index1, np.int64), cost, C.size


def _banded(X: np.ndarray, Y: np.ndarray, params: AlignParams):
    """Coarse-to-fine banded DTW (see the module docstring)."""
    from . import align_kernels as K

    weights = BANDED_PATTERNS.get(params.step_pattern)
    if weights is None:
        raise ParameterError(
            f"the banded aligner runs step patterns {', '.join(BANDED_PATTERNS)}; got {params.step_pattern!r}"
        )
    levels = [(X, Y)]
    while len(levels[-1][0]) * len(levels[-1][1]) > params.coarse_cells and min(map(len, levels[-1])) >= 8:
        x, y = levels[-1]
        levels.append((K.pool(x, 2), K.pool(y, 2)))
    x, y = levels[-1]
    lo = np.zeros(len(x), np.int64)
    hi = np.full(len(x), len(y), np.int64)
    cells = 0
    path_i = path_j = np.zeros(0, np.int64)
    cost = np.inf
    for level in range(len(levels) - 1, -1, -1):
        x, y = levels[level]
        if level < len(levels) - 1:
            lo, hi = K.project_band(path_i, path_j, 2, len(x), len(y), params.radius)
        path_i, path_j, cost, n_cells = K.band_dtw(
            x, y, lo, hi, *weights, bool(params.open_begin), bool(params.open_end)
        )
        cells = max(cells, int(n_cells))
        if len(path_i) == 0:
            raise ParameterError(f"no warping path inside the band at level {level} (radius {params.radius})")
    return path_i, path_j, float(cost), cells


def monotone_map(a_frames: np.ndarray, b_frames: np.ndarray, frame_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """A strictly increasing map ``(a_t, b_t)`` [s] from a DTW path.

    A run of path cells that share an A frame (B advances alone) becomes one point at
    the run's middle B time, and likewise for runs that share a B frame: a frame-level
    path holds still on one side for whole runs, and the middle is the unbiased
    estimate of where inside the run the two frames correspond.
    """
    a = np.asarray(a_frames, np.float64)
    b = np.asarray(b_frames, np.float64)
    for _ in range(2):  # first collapse runs of equal a, then of equal b
        keys, start = np.unique(a, return_index=True)
        counts = np.diff(np.append(start, len(a)))
        b = np.add.reduceat(b, start) / counts
        a = keys
        a, b = b, a  # the other side's runs next; the second swap restores the order
    return a * frame_seconds, b * frame_seconds


def align_vectors(X: np.ndarray, Y: np.ndarray, frame_seconds: float, params: AlignParams | None = None) -> Alignment:
    """Align feature vectors of A (``X``) and B (``Y``).

    Parameters
    ----------
    X : np.ndarray [shape=(n, d)]
    Y : np.ndarray [shape=(m, d)]
    frame_seconds : float > 0 [s]
        Hop of both sequences.
    params : AlignParams, optional

    Returns
    -------
    Alignment

    Raises
    ------
    ParameterError
        On bad shapes, NaN/Inf, bad options, or when ``method="dtw"`` does not fit
        ``params.memory_mb``.
    """
    params = params or AlignParams()
    X, Y = _check_vectors(X, Y)
    if not frame_seconds > 0:
        raise ParameterError(f"frame_seconds must be > 0, got {frame_seconds!r}")
    method = params.method
    fits = dtw_cells_fit(len(X), len(Y), params.memory_mb)
    if method == "auto":
        method = "dtw" if fits else "banded"
    if method == "dtw":
        if not fits:
            need = len(X) * len(Y) * DTW_BYTES_PER_CELL / 2**20
            raise ParameterError(
                f"full-matrix DTW of {len(X)} x {len(Y)} frames needs about {need:.0f} MiB, over the "
                f"{params.memory_mb:.0f} MiB budget; use method 'banded' (or 'auto')"
            )
        a_frames, b_frames, cost, cells = _dtw_python(X, Y, params, frame_seconds)
    else:
        a_frames, b_frames, cost, cells = _banded(X, Y, params)
    a_t, b_t = monotone_map(a_frames, b_frames, frame_seconds)
    return Alignment(a_frames, b_frames, a_t, b_t, frame_seconds, cost, method, cells)


def onset_contrast(norms: np.ndarray, background_frames: int) -> np.ndarray:
    """How far each frame's flux norm stands out of its surroundings: the norm less the
    median of the norms within ``±background_frames`` frames (0: the norm itself). A held
    note that wavers (a flute's breath and vibrato, a bow) makes a steady flux of its own,
    which an onset rises out of."""
    if background_frames <= 0 or len(norms) == 0:
        return norms
    from scipy.ndimage import median_filter

    return norms - median_filter(norms, size=2 * background_frames + 1, mode="nearest")


def onset_peaks(
    frames: Frames, gate_db: float, threshold: float, half_width: int = 2, background_frames: int = 0
) -> np.ndarray:
    """Frames [indices] where the flux norm peaks: a maximum over ``±half_width`` frames
    that stands out of its surroundings (:func:`onset_contrast`) by at least ``threshold``
    times the norm's mean over audible frames."""
    norms = flux_norms(frames)
    audible = norms[frames.db >= gate_db]
    scale = float(np.mean(audible)) if len(audible) else 0.0
    if not scale > 0 or len(norms) == 0:
        return np.zeros(0, np.int64)
    padded = np.pad(norms, half_width)
    local_max = np.lib.stride_tricks.sliding_window_view(padded, 2 * half_width + 1).max(axis=1)
    height = onset_contrast(norms, background_frames)
    return np.flatnonzero((norms >= local_max) & (height >= threshold * scale))


def _nearest(times: np.ndarray, targets: np.ndarray, window: float) -> np.ndarray:
    """Index of the nearest of ``targets`` (sorted) to each of ``times``; -1 beyond ``window``."""
    if len(targets) == 0:
        return np.full(len(times), -1)
    k = np.searchsorted(targets, times)
    cand = np.stack([np.clip(k - 1, 0, len(targets) - 1), np.clip(k, 0, len(targets) - 1)], axis=1)
    best = cand[np.arange(len(times)), np.abs(targets[cand] - times[:, None]).argmin(axis=1)]
    return np.where(np.abs(targets[best] - times) <= window, best, -1)


def _spread_chords(
    own: np.ndarray, other: np.ndarray, strong: np.ndarray, mapped: np.ndarray, window: float, spread: tuple
) -> list[tuple[np.ndarray, int]]:
    """Groups of strong onsets of one recording (``own``, times [s]) that all map (``mapped``:
    their times on the other axis) to the same onset of the other recording, and lie
    ``spread[0]..spread[1]`` seconds apart: a chord one player spreads and the other does not."""
    target = _nearest(mapped, other, window)
    target[~strong] = -1
    groups = []
    for j in np.unique(target[target >= 0]):
        members = np.flatnonzero(target == j)
        if len(members) >= 2 and spread[0] <= own[members].max() - own[members].min() <= spread[1]:
            groups.append((members, int(j)))
    return groups


def onset_anchored(
    alignment: Alignment,
    a: Frames,
    b: Frames,
    gate_db: float,
    threshold: float,
    spread_threshold: float | None = 2.0,
    window_s: float = 0.1,
    spread_s: tuple[float, float] = (0.048, 0.12),
) -> Alignment:
    """The alignment kept only at onsets and linear in between; spread chords meet in the middle.

    Where neither recording has an onset (a held note, a pause) the local cost is flat
    and a DTW path runs diagonally and then jumps just before the next onset; the
    position of a beat inside such a stretch is better estimated by a steady tempo
    between the onsets around it. The map keeps the path's correspondence at each
    onset peak of A and of B (:func:`onset_peaks` at ``threshold``) that the other
    recording has too (one of its peaks within ``window_s`` of where the path maps it),
    plus both ends.

    A pianist who leads with the melody or breaks the hands plays one chord as two
    onsets 50-120 ms apart where the other plays it at once; the path then pairs the
    single onset with the louder of the two, while the chord's time is equally well the
    other one (annotations often take the accompaniment's). When at least two strong
    onsets (``spread_threshold`` times the mean flux) of one recording, ``spread_s``
    apart, map within ``window_s`` of the same onset of the other, that onset is paired
    with their mean instead: the estimate that is least wrong whichever voice counts.
    """
    fs = alignment.frame_seconds
    a0, a1, b0, b1 = alignment.a_t[0], alignment.a_t[-1], alignment.b_t[0], alignment.b_t[-1]
    pa = onset_peaks(a, gate_db, threshold) * fs
    pb = onset_peaks(b, gate_db, threshold) * fs
    pa = pa[(pa > a0) & (pa < a1)]
    pb = pb[(pb > b0) & (pb < b1)]
    chord_a: list[float] = []
    chord_b: list[float] = []
    used_a = np.zeros(len(pa), bool)
    used_b = np.zeros(len(pb), bool)
    if spread_threshold is not None:
        strong_a = np.isin(np.round(pa / fs), onset_peaks(a, gate_db, spread_threshold))
        strong_b = np.isin(np.round(pb / fs), onset_peaks(b, gate_db, spread_threshold))
        for members, j in _spread_chords(pa, pb, strong_a, alignment.b_at(pa), window_s, spread_s):
            chord_a.append(float(pa[members].mean()))
            chord_b.append(float(pb[j]))
            used_a[members] = used_b[j] = True
        for members, i in _spread_chords(pb, pa, strong_b, alignment.a_at(pb), window_s, spread_s):
            if used_a[i] or used_b[members].any():
                continue
            chord_a.append(float(pa[i]))
            chord_b.append(float(pb[members].mean()))
            used_b[members] = used_a[i] = True
    ca, cb = np.array(chord_a), np.array(chord_b)
    pa, pb = pa[~used_a], pb[~used_b]
    # An onset only one recording has (noise, a pedal, a note one player adds) is no
    # anchor: the straight line over it is the better guess. Both judged against the
    # other's onsets as found, so the rule is the same either way round.
    shared_a = _nearest(np.asarray(alignment.b_at(pa)), pb, window_s) >= 0
    shared_b = _nearest(np.asarray(alignment.a_at(pb)), pa, window_s) >= 0
    pa, pb = pa[shared_a], pb[shared_b]
    if len(ca):  # single onsets next to a spread chord would pull it back to the louder voice
        pa = pa[np.min(np.abs(pa[:, None] - ca[None, :]), axis=1, initial=np.inf) > window_s]
        pb = pb[np.min(np.abs(pb[:, None] - cb[None, :]), axis=1, initial=np.inf) > window_s]
    a_t = np.concatenate([[a0], pa, alignment.a_at(pb), ca, [a1]])
    b_t = np.concatenate([[b0], alignment.b_at(pa), pb, cb, [b1]])
    return dataclasses.replace(alignment, **_increasing(a_t, b_t))


def kept_at(alignment: Alignment, a_points: np.ndarray) -> Alignment:
    """The alignment kept only at A times ``a_points`` (and both ends), linear in between.

    Against a score, whose note onsets are known exactly, a beat inside a held note or a
    rest is placed by a steady tempo between the notes around it: onsets the take's flux
    shows there (noise, a pedal, an ornament) are not the score's and pull it aside."""
    a0, a1 = float(alignment.a_t[0]), float(alignment.a_t[-1])
    a_points = np.unique(np.asarray(a_points, np.float64))
    a_t = np.r_[a0, a_points[(a_points > a0) & (a_points < a1)], a1]
    return dataclasses.replace(alignment, **_increasing(a_t, np.asarray(alignment.b_at(a_t), np.float64)))


def _increasing(a_t: np.ndarray, b_t: np.ndarray) -> dict[str, np.ndarray]:
    """Points sorted by A time and kept where they advance both times (strictly increasing
    on both axes); both ends stay."""
    order = np.lexsort((b_t, a_t))
    a_t, b_t = a_t[order], b_t[order]
    keep = np.ones(len(a_t), bool)
    last = 0
    for k in range(1, len(a_t)):
        if a_t[k] > a_t[last] and b_t[k] > b_t[last]:
            last = k
        else:
            keep[k] = False
    if not keep[-1]:  # the end point always stays; drop what it does not advance past
        keep[last] = False
        keep[-1] = True
    return {"a_t": a_t[keep], "b_t": b_t[keep]}


#: The most a recording's frame levels are moved to meet the other's loud level [dB] (the
#: follower's ``FollowParams.level_range_db``).
LEVEL_RANGE_DB = 40.0


def level_matched(a: Frames, b: Frames) -> tuple[Frames, Frames]:
    """A and B with the quieter one's frame levels moved up so that both have the louder
    one's loud level (:func:`~matcher.features.level.loud_level`), by at most LEVEL_RANGE_DB.

    The level gate and the chroma's fade are absolute [dBFS]: a take recorded 20 dB
    quieter than its reference would have its soft passages read as silence and their
    chroma faded out. Moving the quieter one up, not the louder one down, keeps a quiet
    recording (a pianissimo piece, a score rendered at its own dynamics) from pulling the
    other's soft passages under the gate too. A file has all its frames at hand, so its
    levels move by one offset. The flux needs nothing: its floor follows each
    recording's own level."""
    loud_a, loud_b = loud_level(a.db), loud_level(b.db)
    shift = np.float32(min(abs(loud_a - loud_b), LEVEL_RANGE_DB))

    def raised(frames: Frames) -> Frames:
        return dataclasses.replace(frames, db=(frames.db + shift).astype(np.float32, copy=False))

    return (raised(a), b) if loud_a < loud_b else (a, raised(b))


def align_frames(a: Frames, b: Frames, config: Config, params: AlignParams | None = None) -> Alignment:
    """Align two recordings' frames (both made with ``config``; the quieter one's levels
    brought to the louder one's, :func:`level_matched`)."""
    params = params or AlignParams()
    a, b = level_matched(a, b)
    X = feature_vectors(a, params.weights, config.gate_db, params.chroma_onsets)
    Y = feature_vectors(b, params.weights, config.gate_db, params.chroma_onsets)
    alignment = align_vectors(X, Y, config.frame_seconds, params)
    if params.onset_anchors is not None:
        alignment = onset_anchored(alignment, a, b, config.gate_db, params.onset_anchors, params.spread_chords)
    return alignment
