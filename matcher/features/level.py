"""A recording's running loud level, frame by frame (numba), which the flux floor follows
(:mod:`matcher.features.spectral`)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def track_loud_level(db, state, up, down, gate, warm_frames, warm_up):
    """Running loud level of a recording [dB]: a quantile tracker stepping ``up`` when a frame
    at least ``gate`` loud is louder than the estimate and ``down`` when quieter (it settles
    where up * (1 - q) = down * q, q = up / (up + down)); quieter frames leave it alone.
    The first such frame starts it, and over the first ``warm_frames`` of them it rises
    ``warm_up`` a frame instead of ``up``, so it reaches the recording's loud passages
    within a second whatever the first note's level. ``state`` [float64, shape=(2,)]:
    the estimate (NaN: none yet) and the frames at least ``gate`` loud so far, carried
    between calls. Returns the estimate after each frame (NaN until it has one)."""
    out = np.empty(db.shape[0])
    level = state[0]
    seen = state[1]
    for k in range(db.shape[0]):
        if db[k] >= gate:
            if np.isnan(level):
                level = db[k]
            elif db[k] > level:
                level += warm_up if seen < warm_frames else up
            else:
                level -= down
            seen += 1.0
        out[k] = level
    state[0] = level
    state[1] = seen
    return out
