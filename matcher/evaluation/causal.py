"""The causal bound of the follower's costs: how well any follower using them could do
without look-ahead, and without ever getting lost.

For every take frame, the argmin of the column of a full take-synchronous DTW of the
take against the *whole* reference, with the follower's own step pattern (the reference
holds at its hold price, or advances one or two frames), its reference vectors and the
take's vectors as its streaming front end and running flux scale make them. No band
can lose the path and no re-lock can move it falsely; there is no tempo model either.
It cannot follow a jump of the take (its paths only go forward): it is a bound for
unedited takes only. The work is the reference's length per take frame, so it runs
at tens of times real time on long pieces: an evaluation method, not a follower.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit

from ..audio import file_blocks
from ..features import NoPitch, extract
from ..follow import Follower, FollowParams
from ..follow import kernels as K
from ..follow.costs import cost_vectors
from ..reference import Reference


@njit(cache=True)
def column_argmins(ref, ref_hold, take, n_flux, fstate, params):
    """Argmin of every column of the full DTW: the follower's own column
    (:func:`matcher.follow.kernels._dtw_column`) over a window as long as the reference,
    take frames scaled as :func:`matcher.follow.kernels.scale_take_frame` does
    (``fstate``, ``params``: a follower's, for the scale's start and rule and the step
    prices). Every path begins at the reference's first frame, as the follower's do.
    Holds cost their full price: the follower's cheaper holds in a slower take follow its
    tempo model, which the bound leaves out."""
    n = ref.shape[0]
    D = np.full(n, K.INF)
    Dn = np.empty(n)
    cost = np.empty(n)
    istate = np.zeros(K.N_ISTATE, np.int64)
    x = np.empty(take.shape[1], np.float32)
    out = np.empty(take.shape[0], np.int64)
    for j in range(take.shape[0]):
        K.scale_take_frame(take[j], n_flux, fstate, params, x)
        istate[K.I_J] = j
        out[j] = K._dtw_column(ref, ref_hold, x, False, D, Dn, cost, istate, params, 1.0)[0]
    return out


def run_causal(ref: Reference, take_audio: Path, params: FollowParams) -> tuple[np.ndarray, np.ndarray]:
    """The causal bound over a take file: ``(t, ref_t)`` [s] per take frame, reported at
    the follower's times (after its look-ahead) and extrapolated over it at tempo 1."""
    # The take's frames as the live path makes them (one feature stream, no pitch: the
    # follower's default look-ahead is then the stream's).
    frames = extract((block for block, _ in file_blocks(take_audio, ref.config.sr)), ref.config, NoPitch(ref.config))
    if not len(frames):
        return np.zeros(0), np.zeros(0)
    follower = Follower(ref, params)
    # The chroma faded at the take's levels as recorded: the follower brings them to the
    # reference's at its own place, which the bound does not follow.
    take = np.ascontiguousarray(cost_vectors(frames, follower.weights, 1.0))
    fstate, params_vector = follower.kernel_vectors()
    arg = column_argmins(follower.ref_vectors, follower.ref_hold, take, follower.n_flux, fstate, params_vector)
    t = np.arange(len(arg)) * follower.frame_s + follower.lookahead_s
    return t, arg * follower.frame_s + follower.lookahead_s
