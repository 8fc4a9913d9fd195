"""numba kernels of the beat tracker (:func:`matcher.beats.track_beats`): librosa 0.11's
dynamic-programming tracker (Ellis 2007, "Beat tracking by dynamic programming", JNMR 36)
for one fixed tempo, the same loops in the same order, compiled once and cached.

librosa's own module compiles its local score at every import (``cache=False``), and
importing ``librosa.beat`` pulls in scipy.signal and scipy.stats: 3.7 s of CPU in every
process that tracks beats. librosa is ISC-licensed; the loops below are its
``__beat_local_score`` (static tempo), ``__beat_track_dp`` and ``__dp_backtrack``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def local_score(onset: np.ndarray, frames_per_beat: float) -> np.ndarray:  # pragma: no cover - compiled
    """Same-mode convolution of the normalised onsets with a Gaussian of the beat period."""
    n = len(onset)
    out = np.empty(n)
    window = np.exp(-0.5 * (np.arange(-frames_per_beat, frames_per_beat + 1) * 32.0 / frames_per_beat) ** 2)
    k_len = len(window)
    for i in range(n):
        out[i] = 0.0
        for k in range(max(0, i + k_len // 2 - n + 1), min(i + k_len // 2, k_len)):
            out[i] += window[k] * onset[i + k_len // 2 - k]
    return out


@njit(cache=True)
def track_dp(
    score: np.ndarray, frames_per_beat: float, tightness: np.float32
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Back-links and cumulative scores of the best beat sequence ending at each frame."""
    n = len(score)
    backlink = np.empty(n, np.int32)
    cumscore = np.empty(n)
    score_thresh = 0.01 * score.max()
    first_beat = True
    backlink[0] = -1
    cumscore[0] = score[0]
    for i in range(n):
        score_i = score[i]
        best_score = -np.inf
        beat_location = -1
        for loc in range(i - np.round(frames_per_beat / 2), i - 2 * frames_per_beat - 1, -1):
            if loc < 0:
                break
            s = cumscore[loc] - tightness * (np.log(i - loc) - np.log(frames_per_beat)) ** 2
            if s > best_score:
                best_score = s
                beat_location = loc
        if beat_location >= 0:
            cumscore[i] = score_i + best_score
        else:
            cumscore[i] = score_i
        if first_beat and score_i < score_thresh:
            backlink[i] = -1
        else:
            backlink[i] = beat_location
            first_beat = False
    return backlink, cumscore


@njit(cache=True)
def backtrack(backlink: np.ndarray, tail: int, n: int) -> np.ndarray:  # pragma: no cover
    """The beats (bool per frame) of the sequence ending at ``tail``."""
    beats = np.zeros(n, np.bool_)
    k = tail
    while k >= 0:
        beats[k] = True
        k = backlink[k]
    return beats
