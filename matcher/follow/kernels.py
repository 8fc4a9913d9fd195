"""numba kernels of the online follower. Only arrays and numbers go in and out; the
checking wrappers live in :mod:`matcher.follow.follower`.

The follower is an online time warping in take-synchronous form: every take frame
advances the warping path by one column, and within a band around the current
position the reference may advance by 0 (hold), 1 or 2 frames: a slope constraint
in the spirit of Dixon (2005), "Live tracking of musical performances using on-line
time warping", DAFx. The reference can never run ahead alone (at most two frames per
take frame, which bounds that run count); the take may advance alone (the reference
holds) at a price per frame rather than a hard limit, because fermatas and pauses
need long holds. Because every path into a column has consumed the same number of take
frames, accumulated costs within a column compare directly, and the column's argmin
is the current position. A tempo model after Arzt & Widmer (2010), "Simple tempo
models for real-time music tracking", SMC, smooths it: the tempo is the slope of the
recent positions, a position far from the tempo's prediction is treated as an outlier
until it persists (a jump), and the prediction extrapolates over the feature look-ahead.

Kernels take a chunk of take frames and carry their state in preallocated arrays, so
live use (one frame per call) and file use (many) run the same code.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = 1e30

# Integer state slots.
I_LO, I_J, I_CUR, I_OUTLIERS, I_HIST_N, I_HIST_HEAD = range(6)
N_ISTATE = 6
# Float state slots.
S_POS, S_TEMPO, S_SCALE_SUM, S_SCALE_N, S_QUALITY = range(5)
N_FSTATE = 5
# Parameter slots.
(
    P_BAND,
    P_SKIP,
    P_TEMPO_WIN,
    P_GATE,
    P_ALPHA,
    P_JUMP_AFTER,
    P_QUALITY_RATE,
    P_TEMPO_MIN,
    P_TEMPO_MAX,
    P_AUDIBLE_NORM,
    P_AMBIGUITY,
) = range(11)
N_PARAMS = 11


@njit(cache=True)
def _prev(D, lo, n_win, i):
    """Accumulated cost of reference frame ``i`` in the previous column (INF outside its window)."""
    k = i - lo
    if k < 0 or k >= n_win:
        return INF
    return D[k]


@njit(cache=True)
def follow_chunk(
    ref, ref_hold, take, n_flux,
    D, Dn, cost, hist_j, hist_p, istate, fstate, params,
    out_raw, out_pos, out_tempo, out_quality,
):  # fmt: skip
    """Advance the follower by ``len(take)`` frames.

    ref : float32 [shape=(n_ref, d)]  reference cost vectors (flux columns already scaled)
    ref_hold : float64 [shape=(n_ref,)]  price of holding still on each reference frame
    take : float32 [shape=(m, d)]     unscaled take cost vectors (flux in the first ``n_flux`` columns)
    D, Dn, cost : float64 [shape=(n_win,)]  accumulated costs of the last column, scratch
    hist_j, hist_p : float64 [shape=(tempo_win,)]  ring of recent (take frame, position)
    istate, fstate, params : state and parameter vectors (slots above)
    out_* : [shape=(m,)]  raw argmin, smoothed position [ref frames], tempo [ref frames per
        take frame], match quality in [0, 1]
    """
    n_ref, d = ref.shape
    n_win = D.shape[0]
    band = int(params[P_BAND])
    skip_pen = params[P_SKIP]
    x = np.empty(d, np.float64)
    for m in range(take.shape[0]):
        j = istate[I_J]
        # Running flux scale of the take (causal): mean flux norm over audible frames.
        norm = 0.0
        for k in range(n_flux):
            norm += take[m, k] * take[m, k]
        norm = np.sqrt(norm)
        if norm > params[P_AUDIBLE_NORM] * fstate[S_SCALE_SUM] / fstate[S_SCALE_N]:
            fstate[S_SCALE_SUM] += norm
            fstate[S_SCALE_N] += 1.0
        scale = fstate[S_SCALE_SUM] / fstate[S_SCALE_N]
        for k in range(d):
            x[k] = take[m, k] / scale if k < n_flux else take[m, k]

        cur = istate[I_CUR]
        lo_old = istate[I_LO]
        lo = min(max(cur - band, 0), max(n_ref - n_win, 0))
        width = min(n_win, n_ref)
        best = INF
        arg = lo
        cost_sum = 0.0
        for k in range(width):
            i = lo + k
            c = 0.0
            for q in range(d):
                diff = ref[i, q] - x[q]
                c += diff * diff
            c = np.sqrt(c)
            cost[k] = c
            cost_sum += c
            if j == 0:
                prev = 0.0 if i == 0 else INF
            else:
                prev = _prev(D, lo_old, width, i) + ref_hold[i]
                v = _prev(D, lo_old, width, i - 1)
                if v < prev:
                    prev = v
                v = _prev(D, lo_old, width, i - 2) + skip_pen
                if v < prev:
                    prev = v
            total = prev + c
            Dn[k] = total
            if total < best:
                best = total
                arg = i
        # Keep the numbers small: only differences within a column matter.
        for k in range(width):
            D[k] = Dn[k] - best if Dn[k] < INF else INF
        istate[I_LO] = lo
        istate[I_CUR] = arg

        # Match quality: how much cheaper the chosen cell is than the band's average.
        mean_cost = cost_sum / width
        q_now = 1.0 - cost[arg - lo] / mean_cost if mean_cost > 0 else 0.0
        fstate[S_QUALITY] += params[P_QUALITY_RATE] * (q_now - fstate[S_QUALITY])

        # Tempo model.
        pos = fstate[S_POS]
        tempo = fstate[S_TEMPO]
        est = float(arg)
        seen = est  # what the tempo is fitted to
        if j == 0:
            pos = est
        else:
            pred = pos + tempo
            # How much worse the best path through the predicted position is than the
            # best path: within a held note or a rest many positions fit equally well,
            # and there the tempo knows better than the argmin.
            kp = int(pred + 0.5) - lo
            gap = D[kp] if 0 <= kp < width else INF
            if gap <= params[P_AMBIGUITY]:
                pos = pred
                seen = pred
                istate[I_OUTLIERS] = 0
            elif abs(est - pred) <= params[P_GATE]:
                # Never backwards while following: only an accepted jump moves back.
                pos = max(pred + params[P_ALPHA] * (est - pred), pos)
                istate[I_OUTLIERS] = 0
            else:
                istate[I_OUTLIERS] += 1
                if istate[I_OUTLIERS] >= params[P_JUMP_AFTER]:
                    pos = est  # the estimate has stayed away: the player moved
                    istate[I_OUTLIERS] = 0
                    istate[I_HIST_N] = 0
                else:
                    pos = pred
                    seen = pred
        win = hist_j.shape[0]
        head = istate[I_HIST_HEAD]
        hist_j[head] = j
        hist_p[head] = seen
        istate[I_HIST_HEAD] = (head + 1) % win
        istate[I_HIST_N] = min(istate[I_HIST_N] + 1, win)
        nh = istate[I_HIST_N]
        if nh >= 8:
            mj = 0.0
            mp = 0.0
            for k in range(nh):
                idx = (istate[I_HIST_HEAD] - 1 - k) % win
                mj += hist_j[idx]
                mp += hist_p[idx]
            mj /= nh
            mp /= nh
            sxy = 0.0
            sxx = 0.0
            for k in range(nh):
                idx = (istate[I_HIST_HEAD] - 1 - k) % win
                sxy += (hist_j[idx] - mj) * (hist_p[idx] - mp)
                sxx += (hist_j[idx] - mj) * (hist_j[idx] - mj)
            if sxx > 0:
                tempo = min(max(sxy / sxx, params[P_TEMPO_MIN]), params[P_TEMPO_MAX])
        fstate[S_POS] = pos
        fstate[S_TEMPO] = tempo
        istate[I_J] = j + 1
        out_raw[m] = arg
        out_pos[m] = pos
        out_tempo[m] = tempo
        out_quality[m] = fstate[S_QUALITY]
