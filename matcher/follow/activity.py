"""Which take frames are playing: above the level gate, and not room noise.

A player who stops in a real room leaves its noise, which the level gate alone takes for
music (pink noise 20 dB below the take passes it). Noise has no pitched content: its
chroma is flat (normalised entropy above 0.97 in 98 % of frames of pink noise, against
under 3 % of piano frames even at 10 dB SNR, and never half a second in a row in the
shared percussion takes). A flat frame counts as silence when it is also well below the
take's loud level, so a loud cluster or a cymbal crash never does; a pause still needs
``FollowParams.pause_s`` of such frames in a row.
"""

from __future__ import annotations

import numpy as np

#: Normalised chroma entropy (1: all twelve classes equal) above which a frame is noise-like.
FLAT_CHROMA = 0.97
#: A noise-like frame is silence only this far below the reference's loud level [dB] (the
#: take's levels are brought to the reference's loudness first).
NOISE_BELOW_LOUD_DB = 10.0


def chroma_flatness(chroma: np.ndarray) -> np.ndarray:
    """Normalised entropy of each frame's chroma [shape=(n, 12)] in [0, 1]; 1 where all zero."""
    c = np.asarray(chroma, np.float64)
    total = c.sum(axis=1, keepdims=True)
    p = np.where(total > 0, c / np.maximum(total, 1e-300), 1.0 / 12.0)
    return -(p * np.log(np.maximum(p, 1e-300))).sum(axis=1) / np.log(12.0)


def noise_like(chroma: np.ndarray) -> np.ndarray:
    """bool per frame [chroma shape=(n, 12)]: its chroma is flat, as noise's is."""
    return chroma_flatness(chroma) > FLAT_CHROMA


def playing(db: np.ndarray, noise: np.ndarray, gate_db: float, loud_db: float) -> np.ndarray:
    """bool per frame: it plays there. ``db``: frame levels [dBFS] (a reference's as they
    are; the follower's kernel judges a take's frame by frame by this same rule, at its
    levels brought to the reference's: :func:`matcher.follow.kernels.take_level`);
    ``noise``: :func:`noise_like` of its chroma; ``loud_db``: the reference's loud level."""
    db = np.asarray(db)
    return (db >= gate_db) & ~(noise & (db < loud_db - NOISE_BELOW_LOUD_DB))
