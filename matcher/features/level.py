"""A recording's loud level: running, frame by frame (numba), which the flux floor follows
(:mod:`matcher.features.spectral`); and of a whole recording, which the follower starts
a take's loudness from and the offline aligner brings a take's levels to."""

from __future__ import annotations

import numpy as np
from numba import njit

#: Which quantile of a performance's frame levels is its loud level, and the level below
#: which a frame is digital silence rather than quiet music [dBFS].
LOUD_QUANTILE = 0.9
SILENCE_DB = -85.0


def loud_level(db: np.ndarray) -> float:
    """LOUD_QUANTILE of the frame levels above SILENCE_DB [dBFS] (SILENCE_DB if none)."""
    heard = db[db >= SILENCE_DB]
    return float(np.quantile(heard, LOUD_QUANTILE)) if len(heard) else SILENCE_DB


@njit(cache=True)
def track_loud_level(db, state, up, down, gate, below, warm_frames, warm_up, far):
    """Running loud level of a recording [dB]: a quantile tracker stepping ``up`` when a
    frame is louder than the estimate and ``down`` when quieter (it settles where
    up * (1 - q) = down * q, q = up / (up + down)). The first frame at least ``gate`` loud
    starts it; after that, frames more than ``below`` dB under the estimate (rests,
    decays, a room's noise in a pause) leave it alone, whatever their absolute level, so
    a recording made 20 dB quieter is tracked as it would be at full level. Over the
    first ``warm_frames`` frames it counts it rises ``warm_up`` a frame instead of ``up``,
    so it reaches the recording's loud passages within a second whatever the first
    note's level; a frame more than ``far`` dB above it (music after a room's noise)
    raises it ``warm_up`` and begins that count again. ``state`` [float64, shape=(2,)]:
    the estimate (NaN: none yet) and the frames counted so far, carried between calls.
    Returns the estimate after each frame (NaN until it has one)."""
    out = np.empty(db.shape[0])
    level = state[0]
    seen = state[1]
    for k in range(db.shape[0]):
        if np.isnan(level):
            if db[k] >= gate:
                level = db[k]
                seen = 1.0
        elif db[k] >= level - below:
            if db[k] > level + far:  # far too low (it began on a room's noise): begin again
                level += warm_up
                seen = 0.0
            elif db[k] > level:
                level += warm_up if seen < warm_frames else up
            else:
                level -= down
            seen += 1.0
        out[k] = level
    state[0] = level
    state[1] = seen
    return out


@njit(cache=True)
def track_noise_floor(power, db, state, up, silence_db):
    """Running noise floor of each column of ``power`` [shape=(n, k)]: the lowest value so
    far, allowed to rise by the factor ``up`` a frame. A room's noise is what every band
    comes down to between notes; the floor follows it getting louder, slowly enough that
    music that never rests for a minute does not lift it far. Frames whose level ``db``
    [dBFS, shape=(n,)] is under ``silence_db`` (digital silence: no room to hear) leave
    it alone. ``state`` [float64, shape=(k,)]: the floor (inf: none yet), carried between
    calls. Returns the floor after each frame (0 before the first sounding frame: no
    room heard yet)."""
    out = np.empty(power.shape)
    for t in range(power.shape[0]):
        sounding = db[t] >= silence_db
        for b in range(power.shape[1]):
            if sounding:
                floor = state[b] * up
                if power[t, b] < floor:
                    floor = power[t, b]
                state[b] = floor
            out[t, b] = state[b] if state[b] < np.inf else 0.0
    return out
