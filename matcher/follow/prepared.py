"""What a follower needs from its reference, computed once and shared by every session
that follows the same reference (a server following many players keeps one copy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..features.level import loud_level
from ..reference import Reference
from . import kernels as K
from .activity import noise_like, playing
from .costs import CostWeights, cost_vectors, flux_scale
from .params import FollowParams


@dataclass(frozen=True, eq=False)
class PreparedReference:
    """Read-only arrays derived from a reference for :class:`~matcher.follow.Follower`.

    ref_vectors : float32 [shape=(n_ref, d)]   cost vectors, flux columns divided by ``ref_scale``
    ref_hold : float64 [shape=(n_ref,)]         price of holding still on each frame
    ref_active : bool [shape=(n_ref,)]          the reference sounds there (above the level gate)
    ref_coarse : float32 [shape=(n_ref // 4, SEARCH_WIDTH)]  the global tracker's features
    loud_db : float [dBFS]                      the reference's loud level (LOUD_QUANTILE of its frame levels)
    coarse_unit : float                         median distance between two of its coarse frames
                                                (the scale of the global tracker's look-alike test)
    ref_db : float64 [shape=(n_ref,)]           its frame levels [dBFS] (a take's levels are
                                                brought to them where the follower is)
    first_sound : int                           its first sounding frame (``ref_active``), -1 if none:
                                                the take's level is not learned at that first attack
    """

    reference: Reference
    weights: CostWeights
    hold: tuple[float, float]  # (hold_penalty, hold_floor) of the FollowParams the holds were priced with
    ref_scale: float
    n_flux: int
    ref_vectors: np.ndarray
    ref_hold: np.ndarray
    ref_active: np.ndarray
    ref_coarse: np.ndarray
    loud_db: float
    coarse_unit: float
    ref_db: np.ndarray
    first_sound: int

    @classmethod
    def build(cls, reference: Reference, weights: CostWeights, params: FollowParams) -> PreparedReference:
        """The arrays for followers of ``reference`` with these weights and settings (of the
        settings, only the hold prices shape them)."""
        reference.check_followable()
        hold_penalty, hold_floor = params.hold_penalty, params.hold_floor
        frames, c = reference.frames, reference.config
        scale = flux_scale(frames, c.gate_db)
        vectors = np.ascontiguousarray(cost_vectors(frames, weights, scale))
        # Holding still on a reference onset means the take missed it: that costs the
        # full penalty; within a held note or a rest the reference may wait cheaply.
        onset = np.minimum(1.0, np.linalg.norm(frames.flux, axis=1) / scale)
        ref_hold = hold_penalty * (hold_floor + (1.0 - hold_floor) * onset)
        n_flux = frames.flux.shape[1]
        # The reference's rests are judged as the take's are: a quiet, noise-like frame
        # (a drum's decay, a room's tone) rests, so a take resting there too plays on.
        loud = loud_level(frames.db)
        active = playing(frames.db, noise_like(frames.chroma), c.gate_db, loud)
        arrays = (vectors, ref_hold, active, coarse_features(vectors, n_flux))
        ref_db = np.array(frames.db, np.float64)
        for a in (*arrays, ref_db):
            a.setflags(write=False)  # shared between sessions
        unit = coarse_unit(arrays[3])
        first_sound = int(np.argmax(active)) if active.any() else -1
        return cls(
            reference, weights, (hold_penalty, hold_floor), scale, n_flux, *arrays, loud, unit, ref_db, first_sound
        )

    def check(self, reference: Reference, weights: CostWeights, params: FollowParams) -> None:
        """Refuse arrays prepared for another reference or other settings."""
        hold = (params.hold_penalty, params.hold_floor)
        if self.reference is not reference or self.weights != weights or self.hold != hold:
            raise ParameterError(
                f"prepared arrays of {self.reference.name!r} (weights {self.weights}, hold {self.hold}) do not "
                f"match this follower's reference {reference.name!r} and settings"
            )


def coarse_unit(coarse: np.ndarray, pairs: int = 4096) -> float:
    """Median distance between two coarse frames of a reference, over seeded random pairs
    (the same for the same reference): what "alike" is measured against."""
    if len(coarse) < 2:
        return 1.0
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(coarse), (2, pairs))
    d = np.linalg.norm(coarse[a].astype(np.float64) - coarse[b], axis=1)[a != b]
    unit = float(np.median(d)) if len(d) else 0.0
    return unit if unit > 0 else 1.0


def coarse_features(vectors: np.ndarray, n_flux: int) -> np.ndarray:
    """The global tracker's features [float32, shape=(n // 4, K.SEARCH_WIDTH)]: the pooling of
    :func:`matcher.follow.kernels._pool` (flux bands averaged in 12 groups, groups
    without bands 0, then chroma) as one product, averaged over each coarse frame."""
    n_c = len(vectors) // K.COARSE
    pool = np.zeros((n_flux + 12, K.SEARCH_WIDTH))
    for g in range(12):
        a, b = g * n_flux // 12, (g + 1) * n_flux // 12
        pool[a:b, g] = 1.0 / max(b - a, 1)
    pool[n_flux + np.arange(12), 12 + np.arange(12)] = 1.0
    pooled = vectors[: n_c * K.COARSE, : n_flux + 12].astype(np.float64) @ pool
    return np.ascontiguousarray(pooled.reshape(n_c, K.COARSE, K.SEARCH_WIDTH).mean(axis=1).astype(np.float32))
