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

Beyond the band, a search re-locks the follower after jumps and restarts: the last
seconds of take, at a quarter of the frame rate, are aligned against the whole
(coarse) reference by subsequence DTW, a few hundred reference rows per take frame so
no hop stalls; when a place far from the current position matches clearly better
than the current one, twice in a row, the follower moves there. Exact repeats match
equally well and so never trigger a move. While the take is silent and the reference
is not, the player has paused: the position holds and holding costs nothing.

Kernels take a chunk of take frames and carry their state in preallocated arrays, so
live use (one frame per call) and file use (many) run the same code.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = 1e30

#: Coarse grid of the re-locking search: this many frames per search frame.
COARSE = 4

# Integer state slots.
(
    I_LO,  # first reference frame of the band
    I_J,  # take frames seen
    I_CUR,  # raw position estimate (argmin of the last column)
    I_OUTLIERS,  # consecutive estimates outside the tempo gate
    I_HIST_N,
    I_HIST_HEAD,
    I_RING_N,  # coarse take frames in the ring
    I_RING_HEAD,
    I_SEARCH_ROW,  # next reference row of the running search; -1: idle
    I_SEARCH_J,  # take frame at which the running search's probe ends
    I_CAND,  # coarse reference frame of the last far candidate; -1: none
    I_CAND_J,
    I_CAND_N,  # how many searches in a row found it
    I_RELOCKS,
    I_SILENT_RUN,  # consecutive silent take frames
) = range(15)
N_ISTATE = 15
# Float state slots.
S_POS, S_TEMPO, S_SCALE_SUM, S_SCALE_N, S_QUALITY, S_SEARCH_POS, S_SILENT_POS = range(7)
N_FSTATE = 7
# Parameter slots.
(
    P_BAND,
    P_SKIP,
    P_GATE,
    P_ALPHA,
    P_JUMP_AFTER,
    P_QUALITY_RATE,
    P_TEMPO_MIN,
    P_TEMPO_MAX,
    P_AUDIBLE_NORM,
    P_AMBIGUITY,
    P_SEARCH_ROWS,  # reference rows of the search per take frame
    P_SEARCH_HOLD,  # price of a held coarse frame in the search
    P_RELOCK_RATIO,  # a far match must cost less than this share of the near one
    P_RELOCK_NEAR,  # coarse frames around the current position that count as "here"
    P_RELOCK_CONFIRM,  # searches in a row that must agree
    P_PAUSE_AFTER,  # silent take frames that make a pause (shorter gaps are music)
) = range(16)
N_PARAMS = 16


@njit(cache=True)
def _prev(D, lo, n_win, i):
    """Accumulated cost of reference frame ``i`` in the previous column (INF outside its window)."""
    k = i - lo
    if k < 0 or k >= n_win:
        return INF
    return D[k]


@njit(cache=True)
def _dtw_column(ref, ref_hold, x, paused, D, Dn, cost, istate, params):
    """Add one take frame's column within the band; returns (argmin, band start, width, mean cost)."""
    n_ref, d = ref.shape
    n_win = D.shape[0]
    j = istate[I_J]
    lo_old = istate[I_LO]
    lo = min(max(istate[I_CUR] - int(params[P_BAND]), 0), max(n_ref - n_win, 0))
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
            # While the player pauses, holding still costs nothing.
            prev = _prev(D, lo_old, width, i) + (0.0 if paused else ref_hold[i])
            v = _prev(D, lo_old, width, i - 1)
            if v < prev:
                prev = v
            v = _prev(D, lo_old, width, i - 2) + params[P_SKIP]
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
    return arg, lo, width, cost_sum / width


@njit(cache=True)
def _fit_tempo(hist_j, hist_p, istate, params, tempo):
    """Slope of the recent (take frame, position) pairs, bounded; ``tempo`` if too few."""
    win = hist_j.shape[0]
    nh = istate[I_HIST_N]
    if nh < 8:
        return tempo
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
    if sxx <= 0:
        return tempo
    return min(max(sxy / sxx, params[P_TEMPO_MIN]), params[P_TEMPO_MAX])


@njit(cache=True)
def _track(est, D, lo, width, hist_j, hist_p, istate, fstate, params):
    """Tempo model: the new smoothed position from the raw estimate."""
    j = istate[I_J]
    pos = fstate[S_POS]
    tempo = fstate[S_TEMPO]
    seen = est  # what the tempo is fitted to
    if j == 0:
        pos = est
    else:
        pred = pos + tempo
        # How much worse the best path through the predicted position is than the best
        # path: within a held note or a rest many positions fit equally well, and there
        # the tempo knows better than the argmin.
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
    fstate[S_POS] = pos
    fstate[S_TEMPO] = _fit_tempo(hist_j, hist_p, istate, params, tempo)


@njit(cache=True)
def no_backwards(pos, ref_t, last):
    """Raise ``ref_t`` in place to the last reported value unless the position itself
    moved back (a jump); ``last`` = (position, ref_t) before this run. Returns the new last."""
    for k in range(pos.shape[0]):
        if pos[k] >= last[0] and ref_t[k] < last[1]:
            ref_t[k] = last[1]
        last[0] = pos[k]
        last[1] = ref_t[k]
    return last


@njit(cache=True)
def _pool(x, n_flux, out):
    """Search features of one frame: flux pooled into 12 groups of bands, then chroma."""
    for g in range(12):
        a = g * n_flux // 12
        b = (g + 1) * n_flux // 12
        acc = 0.0
        for k in range(a, b):
            acc += x[k]
        if b > a:
            out[g] += acc / (b - a)
    for k in range(12):
        out[12 + k] += x[n_flux + k]


@njit(cache=True)
def _start_search(ring, ring_active, probe, istate, fstate):
    """Snapshot the ring of coarse take frames (oldest first) as the search's probe;
    False when too little of it is audible to say where the player is."""
    n = ring.shape[0]
    active = 0.0
    for k in range(n):
        idx = (istate[I_RING_HEAD] + k) % n
        probe[k, :] = ring[idx, :]
        active += ring_active[idx]
    if active < 0.5 * n:
        return False
    istate[I_SEARCH_ROW] = 0
    istate[I_SEARCH_J] = istate[I_J]
    fstate[S_SEARCH_POS] = fstate[S_POS]
    return True


@njit(cache=True)
def _search_rows(ref_coarse, probe, rows, row_end, istate, params):
    """Subsequence DTW of the probe against reference rows, continuing a running search.

    rows : float64 [shape=(4, P)]  the last rows' accumulated costs (ring by row index)
    row_end : float64 [shape=(n_coarse,)]  each row's cost with the whole probe ending there
    """
    n_c, d = ref_coarse.shape
    n_p = probe.shape[0]
    start = istate[I_SEARCH_ROW]
    stop = min(n_c, start + int(params[P_SEARCH_ROWS]))
    hold = params[P_SEARCH_HOLD]
    for i in range(start, stop):
        r = rows[i % 4]
        for jj in range(n_p):
            c = 0.0
            for q in range(d):
                diff = ref_coarse[i, q] - probe[jj, q]
                c += diff * diff
            c = np.sqrt(c)
            if jj == 0:
                best = 0.0  # open begin: the probe may start anywhere
            else:
                best = r[jj - 1] + hold
                for back in range(1, 4):  # the reference advances 1..3 coarse frames
                    if i - back >= 0:
                        v = rows[(i - back) % 4, jj - 1]
                        if v < best:
                            best = v
            r[jj] = best + c
        row_end[i] = r[n_p - 1]
    istate[I_SEARCH_ROW] = stop
    return stop == n_c


@njit(cache=True)
def _decide(row_end, istate, fstate, params):
    """After a search: coarse frame to re-lock at, or -1 to stay."""
    n_c = row_end.shape[0]
    here = int(fstate[S_SEARCH_POS] / COARSE)
    near_w = int(params[P_RELOCK_NEAR])
    near = INF
    far = INF
    far_i = -1
    for i in range(n_c):
        v = row_end[i]
        if abs(i - here) <= near_w:
            if v < near:
                near = v
        elif abs(i - here) > 3 * near_w and v < far:
            far = v
            far_i = i
    if far_i < 0 or not far < params[P_RELOCK_RATIO] * near:
        istate[I_CAND_N] = 0
        istate[I_CAND] = -1
        return -1
    # The same place (moved on by the time between searches) found again?
    if istate[I_CAND] >= 0:
        moved = (istate[I_SEARCH_J] - istate[I_CAND_J]) / COARSE
        if abs(far_i - istate[I_CAND] - moved * fstate[S_TEMPO]) <= near_w:
            istate[I_CAND_N] += 1
        else:
            istate[I_CAND_N] = 1
    else:
        istate[I_CAND_N] = 1
    istate[I_CAND] = far_i
    istate[I_CAND_J] = istate[I_SEARCH_J]
    if istate[I_CAND_N] >= params[P_RELOCK_CONFIRM]:
        istate[I_CAND_N] = 0
        istate[I_CAND] = -1
        return far_i
    return -1


@njit(cache=True)
def _relock(target, D, istate, fstate, params, n_ref):
    """Restart the band at reference frame ``target`` as if the path had always led there."""
    target = min(max(target, 0), n_ref - 1)
    n_win = D.shape[0]
    lo = min(max(target - int(params[P_BAND]), 0), max(n_ref - n_win, 0))
    for k in range(n_win):
        D[k] = INF
    D[target - lo] = 0.0
    istate[I_LO] = lo
    istate[I_CUR] = target
    istate[I_HIST_N] = 0
    istate[I_OUTLIERS] = 0
    istate[I_RELOCKS] += 1
    fstate[S_POS] = float(target)


@njit(cache=True)
def follow_chunk(
    ref, ref_hold, ref_active, ref_coarse, take, take_active, n_flux,
    D, Dn, cost, hist_j, hist_p, ring, ring_active, probe, rows, row_end, pooled,
    istate, fstate, params,
    out_raw, out_pos, out_tempo, out_quality,
):  # fmt: skip
    """Advance the follower by ``len(take)`` frames.

    ref : float32 [shape=(n_ref, d)]  reference cost vectors (flux columns already scaled)
    ref_hold : float64 [shape=(n_ref,)]  price of holding still on each reference frame
    ref_active : bool [shape=(n_ref,)]  the reference sounds there (above the level gate)
    ref_coarse : float32 [shape=(n_ref // COARSE, 24)]  search features of the reference
    take : float32 [shape=(m, d)]  unscaled take cost vectors (flux in the first ``n_flux`` columns)
    take_active : bool [shape=(m,)]  the take sounds (above the level gate)
    D, Dn, cost : float64 [shape=(n_win,)]  accumulated costs of the last column, scratch
    hist_j, hist_p : float64 [shape=(tempo_win,)]  ring of recent (take frame, position)
    ring, ring_active, probe : the search's ring of coarse take frames, their audible
        share, and the snapshot being searched [shape=(P, 24), (P,), (P, 24)]
    rows, row_end, pooled : the search's working rows, per-row result, pooling scratch
    istate, fstate, params : state and parameter vectors (slots above)
    out_* : [shape=(m,)]  raw argmin, smoothed position [ref frames], tempo [ref frames per
        take frame], match quality in [0, 1]
    """
    n_ref, d = ref.shape
    n_p = ring.shape[0]
    x = np.empty(d, np.float64)
    for m in range(take.shape[0]):
        j = istate[I_J]
        # Silence where the reference sounds is a pause; silence where it rests is music.
        here = min(max(int(fstate[S_POS] + 0.5), 0), n_ref - 1)
        silent = not take_active[m]
        if silent and (ref_active[here] or istate[I_SILENT_RUN] >= params[P_PAUSE_AFTER]):
            if istate[I_SILENT_RUN] == 0:
                fstate[S_SILENT_POS] = fstate[S_POS]
            istate[I_SILENT_RUN] += 1
        else:
            istate[I_SILENT_RUN] = 0
        paused = j > 0 and istate[I_SILENT_RUN] >= params[P_PAUSE_AFTER]
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

        arg, lo, width, mean_cost = _dtw_column(ref, ref_hold, x, paused, D, Dn, cost, istate, params)
        # Match quality: how much cheaper the chosen cell is than the band's average.
        q_now = 1.0 - cost[arg - lo] / mean_cost if mean_cost > 0 else 0.0
        fstate[S_QUALITY] += params[P_QUALITY_RATE] * (q_now - fstate[S_QUALITY])

        if paused:
            if istate[I_SILENT_RUN] == params[P_PAUSE_AFTER]:
                fstate[S_POS] = fstate[S_SILENT_POS]  # the pause began with the silence
            here = min(max(int(fstate[S_POS] + 0.5), 0), n_ref - 1)
            if not ref_active[here]:
                fstate[S_POS] += fstate[S_TEMPO]  # the music rests here too: time goes on
            # otherwise hold the position; the tempo keeps its value
        else:
            _track(float(arg), D, lo, width, hist_j, hist_p, istate, fstate, params)

        # Re-locking search: coarse take frames into the ring, a slice of work per frame.
        _pool(x, n_flux, pooled)
        if j % COARSE == COARSE - 1:
            head = istate[I_RING_HEAD]
            for k in range(24):
                ring[head, k] = pooled[k] / COARSE
                pooled[k] = 0.0
            ring_active[head] = 0.0 if silent else 1.0
            istate[I_RING_HEAD] = (head + 1) % n_p
            istate[I_RING_N] = min(istate[I_RING_N] + 1, n_p)
        if istate[I_SEARCH_ROW] < 0 and istate[I_RING_N] == n_p and j % COARSE == COARSE - 1:
            _start_search(ring, ring_active, probe, istate, fstate)
        if istate[I_SEARCH_ROW] >= 0 and _search_rows(ref_coarse, probe, rows, row_end, istate, params):
            istate[I_SEARCH_ROW] = -1
            target = _decide(row_end, istate, fstate, params)
            if target >= 0:
                # The probe ended at take frame I_SEARCH_J; the player has moved on since.
                since = (j - istate[I_SEARCH_J]) * fstate[S_TEMPO]
                _relock(int(target * COARSE + COARSE - 1 + since), D, istate, fstate, params, n_ref)

        istate[I_J] = j + 1
        out_raw[m] = istate[I_CUR]
        out_pos[m] = fstate[S_POS]
        out_tempo[m] = fstate[S_TEMPO]
        out_quality[m] = fstate[S_QUALITY]
