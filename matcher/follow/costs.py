"""What the follower compares: per-frame cost vectors built from :class:`Frames`.

A frame's vector stacks
* the onset flux over mel bands, divided by one scale per recording (the mean flux
  norm over audible frames) — the feature that carries percussion;
* chroma, L2-normalised and faded out in quiet frames (normalising a quiet frame's
  chroma would blow its noise up to full weight);
* pitch class on a circle, weighted by voicing confidence (zero where unvoiced).

The local cost of a (reference, take) frame pair is the Euclidean distance of their
vectors. The weights were chosen by measurement (see ``tools/eval_follow.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..features import Frames


@dataclass(frozen=True)
class CostWeights:
    """Weights of the feature groups in the cost vector.

    chroma, pitch : float >= 0
        Relative to the scaled onset flux (weight 1).
    fade_db : (float, float) [dBFS]
        Chroma fades in linearly from the first level to the second.
    """

    chroma: float = 1.0
    pitch: float = 0.0
    fade_db: tuple[float, float] = (-60.0, -30.0)

    def __post_init__(self) -> None:
        if self.chroma < 0 or self.pitch < 0:
            raise ParameterError(f"cost weights must be >= 0, got chroma={self.chroma}, pitch={self.pitch}")
        if not self.fade_db[0] < self.fade_db[1]:
            raise ParameterError(f"fade_db must rise, got {self.fade_db}")


def flux_scale(frames: Frames, gate_db: float) -> float:
    """Mean flux-vector norm over audible frames (1.0 when there are none)."""
    norms = np.linalg.norm(frames.flux, axis=1)
    audible = norms[frames.db >= gate_db]
    scale = float(np.mean(audible)) if len(audible) else 0.0
    return scale if scale > 0 else 1.0


def cost_vectors(frames: Frames, weights: CostWeights, scale: float = 1.0) -> np.ndarray:
    """Cost vectors [shape=(n, n_bands + 14), float32]; flux columns come first, divided by ``scale``."""
    # float32 throughout: a 3-hour reference has 675 000 frames.
    n, n_flux = frames.flux.shape
    out = np.empty((n, n_flux + 14), np.float32)
    np.divide(frames.flux, np.float32(scale), out=out[:, :n_flux])
    chroma = frames.chroma.astype(np.float32)
    chroma /= np.linalg.norm(chroma, axis=1, keepdims=True) + np.float32(1e-12)
    lo, hi = weights.fade_db
    fade = np.clip((frames.db - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)[:, None]
    out[:, n_flux : n_flux + 12] = np.float32(weights.chroma) * fade * chroma
    angle = 2 * np.pi * np.nan_to_num(frames.midi, nan=0.0) / 12.0
    conf = np.where(frames.voiced, frames.confidence, 0.0)
    out[:, n_flux + 12] = weights.pitch * conf * np.cos(angle)
    out[:, n_flux + 13] = weights.pitch * conf * np.sin(angle)
    return out
