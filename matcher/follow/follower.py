"""Follower: where in the reference is the player, and how fast are they going.

``Follower(reference).step(frame)`` for live use, ``Follower.steps(frames)`` for many
frames at once (a file); both run the same numba kernel
(:func:`matcher.follow.kernels.follow_chunk`) over state allocated once, sized by the
search band, never by the piece.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..features import Frames
from ..reference import Reference
from . import kernels as K
from .activity import NOISE_BELOW_LOUD_DB, noise_like
from .costs import CostWeights, cost_vectors
from .jsonl import jsonl
from .params import FollowParams
from .prepared import PreparedReference

STATE_FOLLOWING = "following"
STATE_LOST = "lost"


@dataclass(frozen=True)
class Position:
    """Where the player is, as a live system could have shown it at take time ``t``.

    t : float [s]              end of the newest take audio this position depends on
    ref_t : float [s]          reference time
    beat, bar : float          fractional beat (from 0) and bar (from 1) of the reference
    tempo_ratio : float        take tempo / reference tempo (> 1: faster)
    tempo_dev_pct : float      (tempo_ratio - 1) * 100
    confidence : float         match quality in [0, 1]
    state : str                "following" or "lost"
    frame : int                take frame index
    """

    t: float
    ref_t: float
    beat: float
    bar: float
    tempo_ratio: float
    tempo_dev_pct: float
    confidence: float
    state: str
    frame: int

    def __repr__(self) -> str:
        return (
            f"Position(t={self.t:.3f}, ref_t={self.ref_t:.3f}, bar={self.bar:.2f}, "
            f"tempo={self.tempo_dev_pct:+.1f}%, {self.state})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values; beat and bar are None when the reference has no beats (JSON null)."""
        return {k: (_json_float(v) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)


def take_inputs(frames: Frames, weights: CostWeights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the follower's kernel reads of take frames: cost vectors [float32, C-contiguous,
    flux unscaled, chroma not faded], frame levels [float64, dBFS] and noise-like flags
    [bool, :func:`~matcher.follow.activity.noise_like`]."""
    vectors = np.ascontiguousarray(cost_vectors(frames, weights, 1.0, fade=False))
    return vectors, np.asarray(frames.db, np.float64), noise_like(frames.chroma)


def _json_float(v: float) -> float | None:
    return round(v, 4) if np.isfinite(v) else None


@dataclass(frozen=True)
class Track:
    """Many positions as arrays (one per take frame); see :class:`Position` for the fields."""

    t: np.ndarray
    ref_t: np.ndarray
    beat: np.ndarray
    bar: np.ndarray
    tempo_ratio: np.ndarray
    confidence: np.ndarray
    lost: np.ndarray
    frame: np.ndarray
    #: bool per frame: the player pauses there (take silent where the reference sounds, for
    #: at least ``FollowParams.pause_s``: the follower waits); None where not recorded.
    paused: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.t)

    def __repr__(self) -> str:
        return f"Track(n={len(self)}, t={self.t[0] if len(self) else 0:.2f}..{self.t[-1] if len(self) else 0:.2f} s)"

    def __getitem__(self, k: int) -> Position:
        return Position(
            t=float(self.t[k]),
            ref_t=float(self.ref_t[k]),
            beat=float(self.beat[k]),
            bar=float(self.bar[k]),
            tempo_ratio=float(self.tempo_ratio[k]),
            tempo_dev_pct=float((self.tempo_ratio[k] - 1.0) * 100.0),
            confidence=float(self.confidence[k]),
            state=STATE_LOST if self.lost[k] else STATE_FOLLOWING,
            frame=int(self.frame[k]),
        )

    def positions(self) -> list[Position]:
        return [self[k] for k in range(len(self))]

    def to_jsonl(self) -> str:
        """Every position as :meth:`Position.to_json` writes it, one a line (each line ends
        with a newline); formatted column-wise in numpy (:mod:`matcher.follow.jsonl`),
        about 10x faster than position by position."""
        if len(self) == 0:
            return ""
        floats = (self.t, self.ref_t, self.beat, self.bar, self.tempo_ratio, (self.tempo_ratio - 1.0) * 100.0)
        names = [f.name for f in fields(Position)]
        return jsonl(names[:7], [*floats, self.confidence], [STATE_FOLLOWING, STATE_LOST], self.lost, self.frame)

    def compact(self) -> Track:
        """The same positions in 32-bit numbers (29 bytes a frame instead of 57): what a long
        session keeps. float32 resolves a time of 10 hours to 2 ms, a frame being 16 ms."""
        small = {f.name: getattr(self, f.name).astype(np.float32) for f in fields(Track) if f.name != "paused"}
        small["lost"] = self.lost
        small["frame"] = self.frame.astype(np.int32)
        return Track(**small, paused=self.paused)

    @property
    def pauses(self) -> np.ndarray:
        """bool per frame: paused (all False when the track did not record pauses)."""
        return np.zeros(len(self), bool) if self.paused is None else np.asarray(self.paused, bool)

    @classmethod
    def concat(cls, parts: list[Track]) -> Track:
        names = [f.name for f in fields(cls) if f.name != "paused"]
        arrays = {name: np.concatenate([getattr(p, name) for p in parts]) for name in names}
        paused = None if all(p.paused is None for p in parts) else np.concatenate([p.pauses for p in parts])
        return cls(**arrays, paused=paused)


class Follower:
    """Online follower of one take against one reference.

    Parameters
    ----------
    reference : Reference
    params : FollowParams, optional
    weights : CostWeights, optional
    lookahead_samples : int >= 0 [samples at the model rate]
        How far past a frame's centre the audio must reach before the frame is settled
        (``FeatureStream.lookahead_samples``); positions are reported at that time and
        extrapolated to it with the current tempo.
    prepared : PreparedReference, optional
        The reference's arrays (``PreparedReference.build``) when several followers share
        them: each follower then holds only its band-sized state (a few hundred kB).
    """

    def __init__(
        self,
        reference: Reference,
        params: FollowParams | None = None,
        weights: CostWeights | None = None,
        lookahead_samples: int | None = None,
        prepared: PreparedReference | None = None,
    ) -> None:
        self.reference = reference
        self.params = params or FollowParams.for_reference(reference)
        self.weights = weights or CostWeights()
        c = reference.config
        self.config = c
        self.frame_s = c.frame_seconds
        self.lookahead_s = (c.n_ahead if lookahead_samples is None else lookahead_samples) / c.sr
        p = self.params
        if prepared is None:
            prepared = PreparedReference.build(reference, self.weights, p)
        else:
            prepared.check(reference, self.weights, p)
        self.prepared = prepared
        self.ref_scale = prepared.ref_scale
        self.ref_vectors = prepared.ref_vectors
        self.n_flux = prepared.n_flux
        self.ref_hold = prepared.ref_hold
        self.ref_active = prepared.ref_active
        self.ref_coarse = prepared.ref_coarse
        p, rate = self.params, c.frame_rate
        band = max(1, round(p.band_s * rate))
        n_win = min(2 * band + 1, len(reference.frames))
        self._D = np.full(n_win, K.INF)
        self._Dn = np.empty(n_win)
        self._D_snap = np.full(n_win, K.INF)
        self._D_left = np.full(n_win, K.INF)  # the band a far move left, while the move is on trial
        self._trial_istate = np.zeros(K.N_ISTATE, np.int64)
        self._cost = np.empty(n_win)
        win = max(8, round(p.tempo_window_s * rate))
        self._hist_j = np.zeros(win)
        self._hist_p = np.zeros(win)
        # The global tracker's columns; before the first coarse frame every place is
        # equally (un)likely.
        self._glob = np.zeros((2, max(len(self.ref_coarse), 1)))
        self._y = np.zeros(K.SEARCH_WIDTH, np.float32)
        self._pooled = np.zeros(K.SEARCH_WIDTH)
        self._istate = np.zeros(K.N_ISTATE, np.int64)
        self._istate[K.I_G_ROW] = -1
        self._last = np.array([-1.0, -1.0])  # last (position, reported ref_t)
        self._pending_seek: float | None = None  # a seek told before the first frame
        self._istate[K.I_CAND] = -1
        self._fstate = np.zeros(K.N_FSTATE)
        self._fstate[K.S_TEMPO] = 1.0
        self._fstate[K.S_HOLD_TEMPO] = 1.0
        # The take's flux scale starts from the reference's, worth two seconds of frames.
        prior = 2.0 * rate
        self._fstate[K.S_SCALE_SUM] = self.ref_scale * prior
        self._fstate[K.S_SCALE_N] = prior
        self._params = np.zeros(K.N_PARAMS)
        self._params[K.P_BAND] = band
        self._params[K.P_SKIP] = p.skip_penalty
        self._params[K.P_GATE] = p.gate_s * rate
        self._params[K.P_ALPHA] = p.alpha
        self._params[K.P_AMBIGUITY] = p.ambiguity
        self._params[K.P_JUMP_AFTER] = max(1, round(p.jump_after_s * rate))
        self._params[K.P_QUALITY_RATE] = min(1.0, 1.0 / (p.quality_time_s * rate))
        self._params[K.P_TEMPO_MIN] = p.tempo_min
        self._params[K.P_TEMPO_MAX] = p.tempo_max
        # A column of the global tracker is spread over the hops until the next coarse
        # frame, so every hop does the same bounded share of it.
        self._params[K.P_SEARCH_ROWS] = max(1, -(-len(self.ref_coarse) // K.COARSE))
        self._params[K.P_SEARCH_HOLD] = p.search_hold
        coarse_rate = rate / K.COARSE
        self._params[K.P_G_MEAN_RATE] = 1.0 / (10.0 * coarse_rate)  # about 10 s
        self._params[K.P_RELOCK_EVIDENCE] = p.relock_evidence
        self._params[K.P_RELOCK_NEAR] = max(1, round(p.relock_near_s * coarse_rate))
        self._params[K.P_RELOCK_FAR] = max(1, round(p.relock_far_s * coarse_rate))
        self._params[K.P_RELOCK_DRIFT] = p.relock_drift
        self._params[K.P_RELOCK_SPREAD] = round(p.relock_spread_s * rate)
        self._params[K.P_RELOCK_CONFIRM] = max(1, round(p.relock_confirm_s * coarse_rate))
        self._params[K.P_PAUSE_AFTER] = max(1, round(p.pause_s * rate))
        self._params[K.P_CATCHUP] = p.catchup
        self._params[K.P_CATCHUP_RANGE] = p.catchup_range_s * rate
        self._params[K.P_TWIN_SPAN] = max(1, round(p.relock_twin_s * coarse_rate))
        self._params[K.P_TWIN_RATIO] = p.relock_twin_ratio
        self._params[K.P_TWIN_FACTOR] = max(1.0, p.relock_twin_factor)
        self._params[K.P_TWIN_SHARE] = p.relock_twin_share
        self._params[K.P_SELF_UNIT] = prepared.coarse_unit
        self._params[K.P_SILENT_ADVANCE] = p.silent_advance_s * rate
        self._params[K.P_LEVEL_STEP] = p.level_step_db
        self._params[K.P_LEVEL_RANGE] = p.level_range_db
        self._params[K.P_GATE_DB] = c.gate_db
        self._params[K.P_LOUD_DB] = prepared.loud_db
        self._params[K.P_NOISE_BELOW] = NOISE_BELOW_LOUD_DB
        self._params[K.P_FADE_LO], self._params[K.P_FADE_HI] = self.weights.fade_db
        self._params[K.P_TRIAL] = round(p.relock_trial_s * rate)
        self._params[K.P_LEVEL_DOUBT] = p.lost_doubt
        self._params[K.P_LEVEL_WARM] = round(p.level_warm_s * rate)
        self._params[K.P_HOLD_TEMPO_RATE] = min(1.0, 1.0 / (p.hold_tempo_s * rate)) if p.hold_tempo_s > 0 else 0.0
        # The take's level is not learned at the reference's first attack (kernels.level_learns_at).
        self._params[K.P_FIRST_SOUND] = prepared.first_sound
        # A take frame counts towards the running scale when louder than a tenth of it.
        self._params[K.P_AUDIBLE_NORM] = 0.1

    @property
    def relocks(self) -> int:
        """How often the search moved the follower to another place."""
        return int(self._istate[K.I_RELOCKS])

    def __repr__(self) -> str:
        return f"Follower({self.reference.name!r}, frames={self.frames_seen})"

    @property
    def frames_seen(self) -> int:
        return int(self._istate[K.I_J])

    def run_kernel(self, take: np.ndarray, db: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, ...]:
        """The kernel over take cost vectors [float32, shape=(m, d), C-contiguous, flux
        unscaled, chroma not faded], their frame levels [float64, dBFS] and noise-like flags
        [bool]: (raw argmin, position, tempo, quality, doubt, paused)."""
        m = len(take)
        raw = np.empty(m, np.int64)
        pos, tempo, quality, doubt = (np.empty(m) for _ in range(4))
        paused = np.zeros(m, np.bool_)
        if m:
            K.follow_chunk(
                self.ref_vectors, self.ref_hold, self.ref_active, self.prepared.ref_db, self.ref_coarse,
                take, db, noise, self.n_flux,
                self._D, self._Dn, self._D_snap, self._D_left, self._cost, self._hist_j, self._hist_p,
                self._glob, self._y, self._pooled,
                self._istate, self._trial_istate, self._fstate, self._params,
                raw, pos, tempo, quality, doubt, paused,
            )  # fmt: skip
        return raw, pos, tempo, quality, doubt, paused

    def seek(self, ref_t: float) -> None:
        """Tell the follower the player is now at reference time ``ref_t`` [s] (a tapped bar,
        "from the start"): the band restarts there at once, the next positions begin there
        and go on from it; the tempo and the take's level offset are kept (the offset
        learns fast again, as at the start), the tempo history and any pending jump or far
        candidate of the global tracker are dropped. Not counted in :attr:`relocks`."""
        if not np.isfinite(ref_t):
            raise ParameterError(f"Follower.seek needs a finite reference time [s], got {ref_t!r}")
        if self.frames_seen == 0:  # the kernel's first column starts every path at the start
            self._pending_seek = float(ref_t)
            return
        n_ref = len(self.reference.frames)
        target = min(max(round(float(ref_t) / self.frame_s), 0), n_ref - 1)
        n_win = len(self._D)
        band = int(self._params[K.P_BAND])
        lo = min(max(target - band, 0), max(n_ref - n_win, 0))
        # Paths may begin a frame or two before the place told (a tap is late, never early).
        first = np.arange(lo, lo + n_win)
        self._D[:] = np.where((first >= target - 2) & (first <= target), 0.0, K.INF)
        i, f = self._istate, self._fstate
        i[K.I_LO], i[K.I_CUR] = lo, target
        i[K.I_HIST_N] = i[K.I_OUTLIERS] = i[K.I_SILENT_RUN] = i[K.I_CAND_N] = i[K.I_TRIAL_LEFT] = 0
        i[K.I_CAND] = -1
        f[K.S_POS] = f[K.S_SILENT_POS] = f[K.S_SEARCH_POS] = float(target)
        f[K.S_DOUBT] = 0.0
        # The level offset learns the new place's level fast again, as at the start.
        f[K.S_LEVEL_N] = 0.0
        # The global tracker's evidence was gathered against the old place: start it afresh.
        self._glob[:] = 0.0
        i[K.I_G_ROW] = -1
        self._last[:] = -1.0  # the reported position may go back to the place told

    def steps(self, frames: Frames) -> Track:
        """Follow ``len(frames)`` consecutive take frames; their positions."""
        return self.steps_vectors(*self.take_vectors(frames))

    def kernel_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the kernel's float state and parameter vectors (slots in
        :mod:`matcher.follow.kernels`): where a tool that runs pieces of the kernel itself
        (:mod:`matcher.evaluation.causal`) starts from, the follower left as it is."""
        return self._fstate.copy(), self._params.copy()

    def take_vectors(self, frames: Frames) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Take frames as the kernel reads them: their cost vectors [float32, C-contiguous,
        flux unscaled, chroma not faded: the kernel fades it by the take's level brought to
        the reference's], frame levels [float64, dBFS] and noise-like flags [bool]."""
        return take_inputs(frames, self.weights)

    def steps_vectors(self, take: np.ndarray, db: np.ndarray, noise: np.ndarray) -> Track:
        """:meth:`steps` from what :meth:`take_vectors` gives (many sessions build theirs in
        one pass, :func:`take_inputs`)."""
        m = len(take)
        j0 = self.frames_seen
        if self._pending_seek is not None and m:
            # A place told before the first frame: the first column begins the paths, then
            # the band moves there; the first position is already the place told.
            self.run_kernel(take[:1], db[:1], noise[:1])
            self.seek(self._pending_seek)
            self._pending_seek = None
            f = self._fstate
            _, pos, tempo, quality, doubt, paused = self.run_kernel(take[1:], db[1:], noise[1:])
            pos, tempo = np.concatenate([[f[K.S_POS]], pos]), np.concatenate([[f[K.S_TEMPO]], tempo])
            quality, doubt = np.concatenate([[f[K.S_QUALITY]], quality]), np.concatenate([[0.0], doubt])
            paused = np.concatenate([[False], paused])
        else:
            _, pos, tempo, quality, doubt, paused = self.run_kernel(take, db, noise)
        frame = np.arange(j0, j0 + m)
        t = frame * self.frame_s + self.lookahead_s
        # Extrapolate over the look-ahead (the frame's centre is lookahead_s before t), and
        # never back while following: only a jump of the position itself moves back.
        # (np.minimum/np.maximum: np.clip's dispatch costs more than the frame or two a live hop has)
        ref_t = np.minimum(np.maximum(pos * self.frame_s + tempo * self.lookahead_s, 0.0), self.reference.duration)
        self._last = K.no_backwards(pos, ref_t, self._last)
        beats = self.reference.beats
        return Track(
            t=t,
            ref_t=ref_t,
            beat=np.asarray(beats.beat_at(ref_t), float),
            bar=np.asarray(beats.bar_at(ref_t), float),
            tempo_ratio=tempo,
            confidence=np.minimum(np.maximum(quality, 0.0), 1.0),
            lost=(quality < self.params.lost_below) | (doubt >= self.params.lost_doubt),
            frame=frame,
            paused=paused,
        )

    def step(self, frame: Frames) -> Position:
        """Follow one take frame (``len(frame) == 1``)."""
        if len(frame) != 1:
            raise ParameterError(f"Follower.step takes one frame, got {len(frame)}; use steps() for more")
        return self.steps(frame)[0]
