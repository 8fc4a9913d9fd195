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

Beyond the band, a global tracker re-locks the follower after jumps and restarts: a
subsequence DTW of the take against the whole reference at a quarter of the frame
rate, one column per coarse take frame, its work spread evenly over the hops so no hop
stalls. A path may begin at any place and time at the cost the follower's own path had
then, so each value is the change-detection (CUSUM) evidence that the player left the
follower's place for that one; every place pays a small drift per frame, so passages
played alike elsewhere never add up to a move. When a far place's evidence passes a
threshold (in units of the mean frame cost) and stays the best for a moment, the
follower moves there. Exact repeats match equally well and so never trigger a move. A
move stays on trial for a while: the band it left goes on beside the new one, and if the
band left has the cheaper path at full resolution by then, the follower goes back.

The take's levels are brought to the reference's where the follower is (a take recorded
quieter is raised, a soft passage over a room's noise is not) before the level gate and
the chroma's fade read them.

While the take is silent and the reference is not, the player has paused: after
``pause`` frames the band goes back to where the silence began and waits (no columns).

Kernels take a chunk of take frames and carry their state in preallocated arrays, so
live use (one frame per call) and file use (many) run the same code.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..features.level import SILENCE_DB

INF = 1e30

#: Coarse grid of the re-locking search: this many frames per search frame.
COARSE = 4
#: Search features of a frame (:func:`_pool`): its flux bands averaged in 12 groups, then
#: its 12 chroma.
SEARCH_WIDTH = 24

# Integer state slots.
(
    I_LO,  # first reference frame of the band
    I_J,  # take frames seen
    I_CUR,  # raw position estimate (argmin of the last column)
    I_OUTLIERS,  # consecutive estimates outside the tempo gate
    I_HIST_N,
    I_HIST_HEAD,
    I_G_ROW,  # next reference row of the global tracker's running update; -1: idle
    I_G_J,  # take frame at which the coarse frame being added ended
    I_G_PAR,  # which row of ``glob`` holds the current column
    I_CAND,  # coarse reference frame of the last far candidate; -1: none
    I_CAND_N,  # how many columns in a row found it
    I_RELOCKS,
    I_SILENT_RUN,  # consecutive silent take frames (counted from where the reference sounds)
    I_G_AUDIBLE,  # audible take frames in the coarse frame being pooled
    I_SNAP_LO,  # band start when the silence began
    I_SNAP_CUR,  # raw position when the silence began
    I_TRIAL_LEFT,  # take frames left in which a move is on trial (0: none)
) = range(17)
N_ISTATE = 17
# Float state slots.
(
    S_POS,
    S_TEMPO,
    S_SCALE_SUM,
    S_SCALE_N,
    S_QUALITY,
    S_SEARCH_POS,
    S_SILENT_POS,
    S_G_SUM,
    S_G_MEAN,
    S_DOUBT,
    S_HOLD_TEMPO,  # the slow tempo the hold price follows
    S_LEVEL,  # the take's level offset to the reference's [dB]
    S_TRIAL_LEFT_COST,  # best path cost since a move on trial, in the band it left
    S_TRIAL_COST,  # the same in the band it moved to
    S_LEVEL_N,  # frames the level offset has learned from
) = range(15)
N_FSTATE = 15
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
    P_SEARCH_ROWS,  # reference rows of the global tracker per take frame
    P_SEARCH_HOLD,  # price of a held coarse frame in the global tracker
    P_G_MEAN_RATE,  # rate of its running mean frame cost, per coarse frame
    P_RELOCK_EVIDENCE,  # how much better a far place must have fit [mean frame costs]
    P_RELOCK_NEAR,  # coarse frames around the current position that count as "here"
    P_RELOCK_FAR,  # coarse frames from the current position beyond which a place is "far"
    P_RELOCK_DRIFT,  # what a far place pays per coarse frame [mean frame costs]
    P_RELOCK_SPREAD,  # frames either side of a re-lock's target where the band's paths may begin
    P_RELOCK_CONFIRM,  # columns in a row that must agree
    P_PAUSE_AFTER,  # silent take frames that make a pause (shorter gaps are music)
    P_CATCHUP,  # reference frames per take frame the position may gain on an estimate ahead
    P_CATCHUP_RANGE,  # estimates ahead by at most this many frames are caught up with
    P_TWIN_SPAN,  # coarse frames of the passages compared by the look-alike test
    P_TWIN_RATIO,  # passages this alike (share of the reference's typical frame distance) are look-alikes
    P_TWIN_FACTOR,  # a move between look-alikes needs this many times the evidence
    P_SELF_UNIT,  # the reference's typical distance between two of its coarse frames
    P_SILENT_ADVANCE,  # reference frames the position may advance into a silence before it is a pause
    P_HOLD_TEMPO_RATE,  # rate of the slow tempo the hold price follows, per take frame (0: held at 1)
    P_LEVEL_STEP,  # dB per frame the take's level offset moves towards the reference's level here
    P_LEVEL_RANGE,  # the most the offset shifts the take's levels either way [dB]
    P_GATE_DB,  # the level gate [dBFS]
    P_LOUD_DB,  # the reference's loud level [dBFS]
    P_NOISE_BELOW,  # a noise-like take frame this far under P_LOUD_DB is silence [dB]
    P_FADE_LO,  # the chroma fades in from this level ... [dBFS]
    P_FADE_HI,  # ... to this one
    P_TRIAL,  # take frames a far move stays on trial against the band it left (0: none)
    P_LEVEL_DOUBT,  # the level offset holds while a far place has this share of a move's evidence
    P_LEVEL_WARM,  # frames over which the offset first learns at LEVEL_WARM_STEPS times the step
    P_TWIN_SHARE,  # a look-alike of the best far place with this share of its evidence may be chosen instead
    P_FIRST_SOUND,  # the reference's first sounding frame (its first attack)
) = range(40)
N_PARAMS = 40

#: Over its first ``P_LEVEL_WARM`` frames the level offset steps this many times faster: a
#: take's gain differs from the first note, and a slow start left a louder percussion take in
#: a hall and pink noise as loud as it came for seconds (dev percussion corpus, hardest).
LEVEL_WARM_STEPS = 10.0


@njit(cache=True, fastmath={"reassoc", "contract"})
def _distance(a, x):
    """Euclidean distance of two vectors of equal length. Reassociation lets the compiler
    sum in SIMD lanes (the one hot loop of a step); the result differs from a strict
    left-to-right sum only in rounding."""
    c = np.float32(0.0)
    for q in range(x.shape[0]):
        diff = a[q] - x[q]
        c += diff * diff
    return np.sqrt(np.float64(c))


@njit(cache=True)
def level_learns_at(here, ref_active, params):
    """Whether the take's level offset may learn from the reference's level at frame
    ``here``: where the reference sounds, past its first attack. A follower waiting at the
    end of a lead-in sits on that attack (a rendered score's first note began there at
    -47 dBFS); learning its level brought a loud take 25 dB down, its chroma faded, and the
    faded take fitted that quiet frame better than the music, so the follower never left."""
    return ref_active[here] and here > params[P_FIRST_SOUND]


@njit(cache=True)
def take_level(db, noise, ref_db, ref_sounds, sure, fstate, params):
    """The take frame's level [dBFS] brought to the reference's, and whether it plays.

    The offset (``fstate[S_LEVEL]``) moves ``P_LEVEL_STEP`` dB a frame towards the
    reference's level at the follower's place minus the take's (a running median of that
    difference), on frames where the reference plays and the take is neither digital
    silence nor a room's noise (noise-like and well under the reference's loud level; a
    drum's stroke near it counts): a take recorded 20 dB quieter is raised 20 dB, while a
    soft passage stays soft where the reference is soft too, and a room's noise over it
    is not raised as if it were music. Over the first ``P_LEVEL_WARM`` frames it learns
    from it steps :data:`LEVEL_WARM_STEPS` times faster. Unless the follower is ``sure``
    of its place, the offset holds: while a far place has gathered ``P_LEVEL_DOUBT`` of
    the evidence a move needs, or a move is on trial, it would follow the level of a
    place the player may not be at, and hide where they are. A frame plays when its
    brought level passes the gate and it is not a room's noise (the rule of
    :func:`matcher.follow.activity.playing`)."""
    level = fstate[S_LEVEL]
    brought = db + level
    room = noise and brought < params[P_LOUD_DB] - params[P_NOISE_BELOW]
    plays = brought >= params[P_GATE_DB] and not room
    # A quiet take's frames under the gate count: they are what raises it. Room noise is
    # judged for learning at no less than the recorded level: an offset gone down must not
    # make the take's every frame room noise, which would stop it ever coming back.
    room_as_recorded = noise and db + max(level, 0.0) < params[P_LOUD_DB] - params[P_NOISE_BELOW]
    if sure and not room_as_recorded and ref_sounds and db > SILENCE_DB:
        step = params[P_LEVEL_STEP] * (LEVEL_WARM_STEPS if fstate[S_LEVEL_N] < params[P_LEVEL_WARM] else 1.0)
        fstate[S_LEVEL_N] += 1.0
        level += step if ref_db - db > level else -step
        fstate[S_LEVEL] = min(max(level, -params[P_LEVEL_RANGE]), params[P_LEVEL_RANGE])
    return brought, plays


@njit(cache=True)
def _prev(D, lo, n_win, i):
    """Accumulated cost of reference frame ``i`` in the previous column (INF outside its window)."""
    k = i - lo
    if k < 0 or k >= n_win:
        return INF
    return D[k]


@njit(cache=True)
def _dtw_column(ref, ref_hold, x, paused, D, Dn, cost, istate, params, hold_scale):
    """Add one take frame's column within the band, holds priced at ``hold_scale`` times
    ``ref_hold``; returns (argmin, band start, width, mean cost)."""
    n_ref = ref.shape[0]
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
        c = _distance(ref[i], x)
        cost[k] = c
        cost_sum += c
        if j == 0:
            prev = 0.0 if i == 0 else INF
        else:
            # While the player pauses, holding still costs nothing.
            prev = _prev(D, lo_old, width, i) + (0.0 if paused else ref_hold[i] * hold_scale)
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
    return arg, lo, width, cost_sum / width, best


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
        elif params[P_CATCHUP] > 0 and pred < est <= pred + params[P_CATCHUP_RANGE]:
            # Ahead, but not far: the estimate stalled a moment and found the music again
            # (a quiet or blurred passage); catch up at a bounded rate, never a leap.
            # The tempo is fitted to the estimate: the catching up is not the player's.
            pos = max(pred + min(est - pred, params[P_CATCHUP]), pos)
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
def _global_rows(ref_coarse, y, glob, istate, fstate, params):
    """Rows of the global tracker's next column for coarse take frame ``y``, continuing
    a running update; True when the column is complete.

    The tracker is a subsequence DTW of the take against the whole coarse reference in
    which a path may begin at any place and time at the cost the best path near the
    follower's position had then: after each column the values are shifted so that
    cost is 0 (see :func:`_decide`). A value is thus how much cheaper (negative) or
    dearer the best path ending there is than staying near the follower over the same
    take frames, since the most favourable moment: the cumulative-sum statistic of
    change detection, with the new place found by DTW. Every path into a column has
    consumed the same take frames, so its values compare directly.

    glob : float64 [shape=(2, n_coarse)]  the current column and the one being built
    """
    n_c = ref_coarse.shape[0]
    cur = glob[istate[I_G_PAR]]
    new = glob[1 - istate[I_G_PAR]]
    start = istate[I_G_ROW]
    stop = min(n_c, start + int(params[P_SEARCH_ROWS]))
    hold = params[P_SEARCH_HOLD]
    total = 0.0
    for i in range(start, stop):
        c = _distance(ref_coarse[i], y)
        best = min(cur[i] + hold, 0.0)  # 0: begin here now
        for back in range(1, 4):  # the reference advances 1..3 coarse frames
            k = i - back
            if k >= 0 and cur[k] < best:
                best = cur[k]
        new[i] = c + best
        total += c
    fstate[S_G_SUM] += total
    istate[I_G_ROW] = stop
    return stop == n_c


@njit(cache=True)
def passage_distance(ref_coarse, a, b, span):
    """Mean distance of the coarse reference's passages ending at frames ``a`` and ``b``
    over ``span`` frames, each frame of one matched to the nearest of three of the other
    (a little tempo difference); INF when either passage would start before the reference."""
    if a - span + 1 < 1 or b - span + 1 < 1:
        return INF
    n_c = ref_coarse.shape[0]
    total = 0.0
    for s in range(span):
        best = INF
        for o in range(-1, 2):
            k = b - s + o
            if 0 <= k < n_c:
                d = _distance(ref_coarse[a - s], ref_coarse[k])
                if d < best:
                    best = d
        total += best
    return total / span


@njit(cache=True)
def look_alike(ref_coarse, a, b, params):
    """Whether the reference plays its passages ending at coarse frames ``a`` and ``b``
    alike: their :func:`passage_distance` over ``P_TWIN_SPAN`` frames is under
    ``P_TWIN_RATIO`` of its typical frame distance (a repeat, a recapitulation)."""
    return passage_distance(ref_coarse, a, b, int(params[P_TWIN_SPAN])) < params[P_TWIN_RATIO] * params[P_SELF_UNIT]


#: Look-alike tests :func:`nearest_twin` makes at most: each compares two passages
#: (``P_TWIN_SPAN`` coarse frames), and a lost follower on an hours-long reference may
#: see half the evidence almost everywhere.
TWIN_TESTS = 256


@njit(cache=True)
def nearest_twin(ref_coarse, col, far_i, far, here, params):
    """The best far place ``far_i`` (value ``far``), or the look-alike of it nearest to
    ``here`` that has gathered at least ``P_TWIN_SHARE`` of its evidence.

    Where the reference plays a passage twice (a repeat, a recapitulation), both places
    gather about the same evidence, and which of them leads is chance; the one nearer the
    follower's place is where a player who only drifted away from it most likely is. The
    search goes outward from ``here`` (of two places at one distance, the earlier first)
    and gives up after :data:`TWIN_TESTS` places that have the evidence but are no
    look-alike.
    """
    share = params[P_TWIN_SHARE]
    if share <= 0.0:
        return far_i
    n_c = col.shape[0]
    enough = share * far
    tests = 0
    for dist in range(int(params[P_RELOCK_FAR]) + 1, abs(far_i - here)):
        for i in (here - dist, here + dist):
            if i < 0 or i >= n_c or col[i] > enough:
                continue
            if look_alike(ref_coarse, far_i, i, params):
                return i
            tests += 1
            if tests >= TWIN_TESTS:
                return far_i
    return far_i


@njit(cache=True)
def _decide(ref_coarse, glob, istate, fstate, params):
    """After a column of the global tracker: coarse frame to re-lock at, or -1 to stay.

    Shifts the column so that the best value near the follower is 0; a far place
    whose value has fallen below minus the evidence threshold (in units of the running
    mean frame cost, so the threshold does not depend on the features' scale) has fit
    the take that much better than the current place since some moment: the player
    is there now. Exact repeats fit equally well and so never trigger a move.
    """
    col = glob[istate[I_G_PAR]]
    n_c = col.shape[0]
    here = int(fstate[S_SEARCH_POS] / COARSE)
    near_w = int(params[P_RELOCK_NEAR])
    near = INF
    for i in range(max(0, here - near_w), min(n_c, here + near_w + 1)):
        if col[i] < near:
            near = col[i]
    if near >= INF:
        near = 0.0
    far = INF
    far_i = -1
    # Every place pays a little per frame, so small, lasting differences (the same
    # passage played alike elsewhere) never add up to a move; a lost follower's large
    # ones do, quickly.
    shift = near - params[P_RELOCK_DRIFT] * fstate[S_G_MEAN]
    for i in range(n_c):
        col[i] -= shift
        if abs(i - here) > params[P_RELOCK_FAR] and col[i] < far:
            far = col[i]
            far_i = i
    # Running mean frame cost: the unit of evidence.
    mean = fstate[S_G_SUM] / n_c
    if fstate[S_G_MEAN] <= 0.0:
        fstate[S_G_MEAN] = mean
    fstate[S_G_MEAN] += params[P_G_MEAN_RATE] * (mean - fstate[S_G_MEAN])
    # Doubt: the best far place's evidence as a share of what a move needs.
    need = params[P_RELOCK_EVIDENCE] * fstate[S_G_MEAN]
    fstate[S_DOUBT] = max(0.0, -far / need) if far_i >= 0 and need > 0 else 0.0
    # A place the reference itself plays alike (a repeat, a recapitulation) fits about as
    # well as here whatever the player does: moving there needs more evidence.
    if far_i >= 0 and need < -far <= need * params[P_TWIN_FACTOR] and look_alike(ref_coarse, here, far_i, params):
        need = need * params[P_TWIN_FACTOR]
    if far_i < 0 or not -far > need:
        istate[I_CAND_N] = 0
        istate[I_CAND] = -1
        return -1
    far_i = nearest_twin(ref_coarse, col, far_i, far, here, params)
    # The same place, moved on with the music since the last column?
    if istate[I_CAND] >= 0 and abs(far_i - istate[I_CAND] - fstate[S_TEMPO]) <= 3:
        istate[I_CAND_N] += 1
    else:
        istate[I_CAND_N] = 1
    istate[I_CAND] = far_i
    if istate[I_CAND_N] >= params[P_RELOCK_CONFIRM]:
        istate[I_CAND_N] = 0
        istate[I_CAND] = -1
        # The old place starts afresh, like any other.
        for i in range(n_c):
            col[i] -= far
            if col[i] > 0.0:
                col[i] = 0.0
        return far_i
    return -1


@njit(cache=True)
def _relock(target, D, istate, fstate, params, n_ref):
    """Restart the band around reference frame ``target``: paths may begin anywhere within
    the search's precision of it, and the coming frames choose."""
    target = min(max(target, 0), n_ref - 1)
    n_win = D.shape[0]
    lo = min(max(target - int(params[P_BAND]), 0), max(n_ref - n_win, 0))
    spread = int(params[P_RELOCK_SPREAD])
    for k in range(n_win):
        D[k] = 0.0 if abs(lo + k - target) <= spread else INF
    istate[I_LO] = lo
    istate[I_CUR] = target
    istate[I_HIST_N] = 0
    istate[I_OUTLIERS] = 0
    istate[I_RELOCKS] += 1
    istate[I_SILENT_RUN] = 0
    fstate[S_DOUBT] = 0.0
    fstate[S_POS] = float(target)
    fstate[S_SILENT_POS] = float(target)


@njit(cache=True)
def _trial_step(ref, ref_hold, x, paused, D, D_left, Dn, cost, best, istate, trial_istate, fstate, params, hold_scale):
    """One take frame of a far move on trial: the band it left takes the frame too, and
    each band's best path cost since the move adds up (``best``: the new band's for this
    frame). At the trial's end, if the band left has the cheaper path, the move was chance
    fit at the far place (it passed the coarse search's evidence, but at full resolution
    the place left explains the take better): its band comes back, the new one is
    dropped, and the position goes back to it. Returns True when it did."""
    trial_istate[I_J] = istate[I_J]
    left_best = _dtw_column(ref, ref_hold, x, paused, D_left, Dn, cost, trial_istate, params, hold_scale)[4]
    fstate[S_TRIAL_LEFT_COST] += left_best
    fstate[S_TRIAL_COST] += best
    istate[I_TRIAL_LEFT] -= 1
    if istate[I_TRIAL_LEFT] > 0 or fstate[S_TRIAL_LEFT_COST] >= fstate[S_TRIAL_COST]:
        return False
    D[:] = D_left
    istate[I_LO] = trial_istate[I_LO]
    istate[I_CUR] = trial_istate[I_CUR]
    istate[I_HIST_N] = 0
    istate[I_OUTLIERS] = 0
    fstate[S_POS] = float(istate[I_CUR])
    return True


@njit(cache=True)
def scale_take_frame(frame, n_flux, fstate, params, x):
    """The take frame's cost vector as the band compares it, into ``x``: flux columns
    divided by the take's running flux scale (causal: the mean flux norm over its audible
    frames so far, carried in ``fstate``), which this frame updates."""
    norm = 0.0
    for k in range(n_flux):
        norm += frame[k] * frame[k]
    norm = np.sqrt(norm)
    if norm > params[P_AUDIBLE_NORM] * fstate[S_SCALE_SUM] / fstate[S_SCALE_N]:
        fstate[S_SCALE_SUM] += norm
        fstate[S_SCALE_N] += 1.0
    scale = fstate[S_SCALE_SUM] / fstate[S_SCALE_N]
    for k in range(frame.shape[0]):
        x[k] = frame[k] / scale if k < n_flux else frame[k]


@njit(cache=True)
def follow_chunk(
    ref, ref_hold, ref_active, ref_db, ref_coarse, take, take_db, take_noise, n_flux,
    D, Dn, D_snap, D_left, cost, hist_j, hist_p, glob, y, pooled,
    istate, trial_istate, fstate, params,
    out_raw, out_pos, out_tempo, out_quality, out_doubt, out_paused,
):  # fmt: skip
    """Advance the follower by ``len(take)`` frames.

    ref : float32 [shape=(n_ref, d)]  reference cost vectors (flux columns already scaled)
    ref_hold : float64 [shape=(n_ref,)]  price of holding still on each reference frame
    ref_active : bool [shape=(n_ref,)]  the reference sounds there (above the level gate)
    ref_db : float64 [shape=(n_ref,)]  the reference's frame levels [dBFS]
    ref_coarse : float32 [shape=(n_ref // COARSE, SEARCH_WIDTH)]  search features of the reference
    take : float32 [shape=(m, d)]  take cost vectors, flux unscaled (the first ``n_flux``
        columns), chroma not faded (the next 12: the kernel fades them by the take's level
        brought to the reference's, :func:`take_level`)
    take_db : float64 [shape=(m,)]  the take's frame levels as recorded [dBFS]
    take_noise : bool [shape=(m,)]  the take frame is noise-like (flat chroma)
    D, Dn, D_snap, D_left, cost : float64 [shape=(n_win,)]  accumulated costs of the last
        column, scratch, the column when a silence began, the band a move on trial left,
        scratch
    hist_j, hist_p : float64 [shape=(tempo_win,)]  ring of recent (take frame, position)
    glob : float64 [shape=(2, n_ref // COARSE)]  the global tracker's columns
    y : float32, pooled : float64 [shape=(SEARCH_WIDTH,)]  the coarse take frame being added, the next one's sum
    istate, fstate, params : state and parameter vectors (slots above)
    trial_istate : int64 [shape=(N_ISTATE,)]  the band a move on trial left (I_LO, I_CUR, I_J)
    out_* : [shape=(m,)]  raw argmin, smoothed position [ref frames], tempo [ref frames per
        take frame], match quality in [0, 1], doubt (a far place's evidence as a share of
        what a move needs), paused (the take is silent where the reference sounds, or
        a silence that began so goes on, for ``P_PAUSE_AFTER`` frames or more: the
        follower waits)
    """
    n_ref, d = ref.shape
    x = np.empty(d, np.float32)
    for m in range(take.shape[0]):
        j = istate[I_J]
        # Silence where the reference sounds is a pause; silence where it rests is music.
        here = min(max(int(fstate[S_POS] + 0.5), 0), n_ref - 1)
        sure = fstate[S_DOUBT] < params[P_LEVEL_DOUBT] and istate[I_TRIAL_LEFT] == 0
        learns = level_learns_at(here, ref_active, params)
        brought, plays = take_level(take_db[m], take_noise[m], ref_db[here], learns, sure, fstate, params)
        silent = not plays
        if silent and (ref_active[here] or istate[I_SILENT_RUN] >= params[P_PAUSE_AFTER]):
            if istate[I_SILENT_RUN] == 0:
                # Where the silence began: a pause goes back here and holds.
                fstate[S_SILENT_POS] = fstate[S_POS]
                D_snap[:] = D
                if j == 0:  # before the first column: the path begins at the reference's start
                    D_snap[0] = 0.0
                istate[I_SNAP_LO] = istate[I_LO]
                istate[I_SNAP_CUR] = istate[I_CUR]
            istate[I_SILENT_RUN] += 1
        else:
            istate[I_SILENT_RUN] = 0
        paused = j > 0 and istate[I_SILENT_RUN] >= params[P_PAUSE_AFTER]
        if paused and istate[I_SILENT_RUN] == params[P_PAUSE_AFTER]:
            # The silence has lasted long enough to be a pause: undo what it did.
            D[:] = D_snap
            istate[I_LO] = istate[I_SNAP_LO]
            istate[I_CUR] = istate[I_SNAP_CUR]
            fstate[S_POS] = fstate[S_SILENT_POS]
            istate[I_OUTLIERS] = 0
        here = min(max(int(fstate[S_POS] + 0.5), 0), n_ref - 1)
        # While paused where the reference sounds, the path waits: no column is added.
        frozen = paused and ref_active[here]
        scale_take_frame(take[m], n_flux, fstate, params, x)
        # The chroma fades out in quiet frames, judged at the level brought to the reference's.
        fade = min(max((brought - params[P_FADE_LO]) / (params[P_FADE_HI] - params[P_FADE_LO]), 0.0), 1.0)
        for k in range(n_flux, n_flux + 12):
            x[k] *= fade

        if not frozen:
            # A take slower than the reference must hold on a share 1 - tempo of its frames:
            # the holds cost that much less, so a slow take is not pulled ahead into the
            # reference's next notes. The tempo here is a slow one (a fermata or a rest
            # is not a slower take).
            hold_scale = min(1.0, fstate[S_HOLD_TEMPO])
            arg, lo, width, mean_cost, best = _dtw_column(
                ref, ref_hold, x, paused, D, Dn, cost, istate, params, hold_scale
            )
            # Match quality: how much cheaper the chosen cell is than the band's average.
            q_now = 1.0 - cost[arg - lo] / mean_cost if mean_cost > 0 else 0.0
            if istate[I_TRIAL_LEFT] > 0 and _trial_step(
                ref, ref_hold, x, paused, D, D_left, Dn, cost, best, istate, trial_istate, fstate, params, hold_scale
            ):
                arg, lo = istate[I_CUR], istate[I_LO]  # the move was undone
            fstate[S_QUALITY] += params[P_QUALITY_RATE] * (q_now - fstate[S_QUALITY])
            if paused:
                fstate[S_POS] += fstate[S_TEMPO]  # the music rests here too: time goes on
            else:
                _track(float(arg), D, lo, width, hist_j, hist_p, istate, fstate, params)
                fstate[S_HOLD_TEMPO] += params[P_HOLD_TEMPO_RATE] * (fstate[S_TEMPO] - fstate[S_HOLD_TEMPO])
        # else hold the position; the tempo keeps its value

        # Global tracker: coarse take frames, each column's work spread over the next hops.
        _pool(x, n_flux, pooled)
        if not silent:
            istate[I_G_AUDIBLE] += 1
        if j % COARSE == COARSE - 1:
            # (The previous column is complete: it had COARSE hops of P_SEARCH_ROWS rows.)
            for k in range(SEARCH_WIDTH):
                y[k] = pooled[k] / COARSE
                pooled[k] = 0.0
            # Silence says nothing about where the player is: such frames add no column.
            audible = istate[I_G_AUDIBLE] > 0
            istate[I_G_AUDIBLE] = 0
            if audible and not paused:
                istate[I_G_ROW] = 0
                istate[I_G_J] = j
                fstate[S_SEARCH_POS] = fstate[S_POS]
                fstate[S_G_SUM] = 0.0
        if istate[I_G_ROW] >= 0 and _global_rows(ref_coarse, y, glob, istate, fstate, params):
            istate[I_G_ROW] = -1
            istate[I_G_PAR] = 1 - istate[I_G_PAR]
            target = _decide(ref_coarse, glob, istate, fstate, params)
            if target >= 0:
                # The column ended at take frame I_G_J; the player has moved on since.
                since = (j - istate[I_G_J]) * fstate[S_TEMPO]
                if params[P_TRIAL] > 0:
                    # The band left goes on beside the new one for a while (_trial_step).
                    D_left[:] = D
                    trial_istate[I_LO] = istate[I_LO]
                    trial_istate[I_CUR] = istate[I_CUR]
                    istate[I_TRIAL_LEFT] = int(params[P_TRIAL])
                    fstate[S_TRIAL_LEFT_COST] = 0.0
                    fstate[S_TRIAL_COST] = 0.0
                _relock(int(target * COARSE + COARSE - 1 + since), D, istate, fstate, params, n_ref)

        istate[I_J] = j + 1
        out_raw[m] = istate[I_CUR]
        out_pos[m] = fstate[S_POS]
        if 0 < istate[I_SILENT_RUN] < params[P_PAUSE_AFTER]:
            ahead = min(max(int(fstate[S_POS] + 0.5), 0), n_ref - 1)
            if ref_active[ahead]:
                # Silence where the reference sounds may be the start of a pause: the
                # position shown waits near where it began until the pause is known (the
                # path itself goes on, so a short gap costs nothing when the music comes).
                # A rest the reference has there too is music.
                out_pos[m] = min(out_pos[m], fstate[S_SILENT_POS] + params[P_SILENT_ADVANCE])
        out_tempo[m] = fstate[S_TEMPO]
        out_quality[m] = fstate[S_QUALITY]
        out_doubt[m] = fstate[S_DOUBT]
        out_paused[m] = paused
