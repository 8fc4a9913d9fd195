"""What the follower and the offline aligner compare: one cost vector per frame.

A frame's vector stacks
* the onset flux over mel bands, divided by one scale per recording (the mean flux
  norm over audible frames) — the feature that carries percussion;
* chroma, L2-normalised and faded out in quiet frames (normalising a quiet frame's
  chroma would blow its noise up to full weight);
* pitch class on a circle, weighted by voicing confidence (zero where unvoiced).

The local cost of a frame pair is the Euclidean distance of their vectors. The weights
were chosen by measurement (``tools/eval_follow.py``, ``tools/eval_compare.py``). The
follower (:mod:`matcher.follow`) and the aligner (:mod:`matcher.align`) both build
their vectors here, so the two always compare the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from .frames import Frames

#: Columns after the flux bands: 12 chroma, 2 pitch-class circle.
EXTRA_COLUMNS = 14
#: A recording's noise flux is learned from this share of its audible frames, the quietest
#: (:func:`noise_flux`) ...
NOISE_SHARE = 0.2
#: ... as this quantile of each band's flux over them.
NOISE_QUANTILE = 0.9
#: Fewer audible frames than this and no noise flux is learned.
NOISE_MIN_FRAMES = 100
#: Frames per slice when a whole recording's flux is read (bounds the copies for hours of audio).
SLICE = 65536


@dataclass(frozen=True)
class CostWeights:
    """Weights of the feature groups in the cost vector.

    flux, chroma, pitch : float >= 0
        Relative weights of the scaled onset flux, the faded chroma and the pitch-class
        circle (not all zero). Chroma at 0.9 of the flux: re-measured once the flux floor
        followed each recording's level (docs/DESIGN.md, "Features").
    fade_db : (float, float) [dBFS]
        Chroma fades in linearly from the first level to the second.
    """

    flux: float = 1.0
    chroma: float = 0.9
    pitch: float = 0.0
    fade_db: tuple[float, float] = (-60.0, -30.0)

    def __post_init__(self) -> None:
        for name in ("flux", "chroma", "pitch"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ParameterError(f"cost weight {name} must be a finite number >= 0, got {value!r}")
        if self.flux == self.chroma == self.pitch == 0:
            raise ParameterError("cost weights are all zero: nothing to compare")
        if not self.fade_db[0] < self.fade_db[1]:
            raise ParameterError(f"fade_db must rise, got {self.fade_db}")


def noise_flux(frames: Frames, gate_db: float) -> np.ndarray:
    """Per band, the flux a whole recording's steady noise makes on its own [dB a frame]:
    the :data:`NOISE_QUANTILE` of each band's flux over the quietest :data:`NOISE_SHARE`
    of its frames at least ``gate_db`` [dBFS] loud (zeros with fewer than
    :data:`NOISE_MIN_FRAMES` of them).

    A band's level in noise wanders by a few dB from frame to frame, and every rise counts
    as flux: pink noise 10 dB under a piano fills the high bands with rises that no
    recording of the music shares, while its onsets there are masked. Between the notes
    of a clean recording the flux is near zero, so this is too (for a file: it reads
    the whole recording, which a live take cannot offer).
    """
    audible = np.flatnonzero(frames.db >= gate_db)
    if len(audible) < NOISE_MIN_FRAMES:
        return np.zeros(frames.flux.shape[1], np.float32)
    levels = frames.db[audible]
    quiet = audible[levels <= np.quantile(levels, NOISE_SHARE)]
    # Band by band: a copy of one column at a time, not of a fifth of hours of flux.
    return np.array(
        [np.quantile(frames.flux[quiet, b], NOISE_QUANTILE) for b in range(frames.flux.shape[1])], np.float32
    )


def _above(flux: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
    return flux if noise is None else np.maximum(flux - noise, np.float32(0.0))


def flux_norms(frames: Frames, noise: np.ndarray | None = None) -> np.ndarray:
    """Each frame's flux-vector norm [float64]; of the flux above ``noise`` (per band,
    :func:`noise_flux`) when given. Read in slices, so hours of flux are never copied whole."""
    norms = np.empty(len(frames.flux))
    for start in range(0, len(norms), SLICE):
        flux = _above(np.asarray(frames.flux[start : start + SLICE], np.float32), noise)
        norms[start : start + SLICE] = np.sqrt(np.einsum("ij,ij->i", flux, flux).astype(np.float64))
    return norms


def flux_scale(frames: Frames, gate_db: float, noise: np.ndarray | None = None) -> float:
    """Mean flux-vector norm over frames at least ``gate_db`` [dBFS] loud (1.0 when there
    are none): the per-recording scale of the flux columns; of the flux above ``noise``
    (per band, :func:`noise_flux`) when given."""
    audible = flux_norms(frames, noise)[frames.db >= gate_db]
    scale = float(np.mean(audible)) if len(audible) else 0.0
    return scale if scale > 0 else 1.0


def cost_vectors(
    frames: Frames, weights: CostWeights, scale: float = 1.0, noise: np.ndarray | None = None, fade: bool = True
) -> np.ndarray:
    """Per-frame cost vectors.

    Parameters
    ----------
    frames : Frames
        One recording's features.
    weights : CostWeights
    scale : float > 0
        The flux columns are multiplied by ``weights.flux / scale`` (:func:`flux_scale`
        for a whole recording; 1.0 for a live take, whose scale the follower keeps running).
    noise : np.ndarray [shape=(n_bands,)], optional
        Flux per band that the recording's noise makes (:func:`noise_flux`), taken off
        each frame's flux (down to zero) before the scale.
    fade : bool
        Fade the chroma out in quiet frames (``weights.fade_db``, by ``frames.db``); the
        follower fades a take's chroma itself, by its levels brought to the reference's.

    Returns
    -------
    np.ndarray [shape=(n, n_bands + 14), float32]
        Flux columns first, then faded chroma, then the pitch-class circle (columns of
        zero weight kept, so vectors of two recordings always line up).
    """
    n, n_bands = frames.flux.shape
    # Filled in place, in float32: a 3-hour reference has 675 000 frames.
    out = np.empty((n, n_bands + EXTRA_COLUMNS), np.float32)
    flux = out[:, :n_bands]
    flux[:] = frames.flux
    if noise is not None:
        flux -= noise
        np.maximum(flux, np.float32(0.0), out=flux)
    if weights.flux != 1.0 or scale != 1.0:
        flux *= np.float32(weights.flux / scale)
    chroma = out[:, n_bands : n_bands + 12]
    chroma[:] = frames.chroma
    chroma_norm = np.sqrt(np.einsum("ij,ij->i", chroma, chroma).astype(np.float64)) + 1e-12
    lo, hi = weights.fade_db
    faded = np.clip((frames.db.astype(np.float64) - lo) / (hi - lo), 0.0, 1.0) if fade else 1.0
    chroma *= (weights.chroma * faded / chroma_norm).astype(np.float32)[:, None]
    voiced = frames.voiced
    angle = 2 * np.pi * np.where(voiced, np.nan_to_num(frames.midi, nan=0.0), 0.0) / 12.0
    conf = weights.pitch * np.where(voiced, frames.confidence, 0.0)
    out[:, n_bands + 12] = conf * np.cos(angle)
    out[:, n_bands + 13] = conf * np.sin(angle)
    return out


__all__ = ["CostWeights", "cost_vectors", "flux_norms", "flux_scale", "noise_flux"]
