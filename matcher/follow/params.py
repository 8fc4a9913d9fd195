"""The follower's settings (:class:`FollowParams`), apart from the follower so that what it
prepares from a reference (:mod:`matcher.follow.prepared`) can take them too."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from ..config import PAUSE_S
from ..errors import ParameterError

if TYPE_CHECKING:
    from ..reference import Reference

#: ``relock_evidence`` and ``relock_confirm_s`` against a score (measured on dev scores, every
#: 8th piece: 55.0 -> 60.5 % of beats within 50 ms and 38 -> 43 % of pieces tracked with the
#: evidence, 62.0 % and 76 % with the confirmation too), at the price of slower re-locks after
#: a jump (dev recordings, median: 1.9 s, 3.4 s with the evidence, 5.4 s with both).
#: Recordings keep 4 and 0.3 s: there 6 gained nothing on the dev corpus.
SCORE_RELOCK_EVIDENCE = 6.0
SCORE_RELOCK_CONFIRM_S = 1.0
#: ``hold_floor`` against a score, measured on dev scores (online, within 50 ms, every 11th /
#: 9th piece x soundfont/hardest: 0.6 60.0 / 67.1 %, 0.7 61.2 / 67.9 %, 0.8 62.6 / 68.5 %, 1.0 61.7 / -).
SCORE_HOLD_FLOOR = 0.8


@dataclass(frozen=True)
class FollowParams:
    """Follower settings (chosen by measurement with ``tools/eval_follow.py``).

    band_s : float > 0 [s]            search band either side of the current position
    hold_penalty, skip_penalty : float >= 0 [cost units]
        Price of a take frame on which the reference holds still / jumps two frames.
    hold_floor : float in [0, 1]      share of the hold penalty on reference frames without
                                      onset flux (a held note or rest may wait cheaper)
    hold_tempo_s : float >= 0 [s]     time constant of the slow tempo the hold price follows
                                      while the take is slower than the reference (times the
                                      tempo ratio; 0: never)
    tempo_window_s : float > 0 [s]    how much recent path the tempo is the slope of
    gate_s : float > 0 [s]            estimates further than this from the tempo's
                                      prediction are outliers
    alpha : float in (0, 1]           how far an accepted estimate pulls the position
    ambiguity : float >= 0 [cost]     where the path through the tempo's prediction costs at
                                      most this much more than the best path, the
                                      prediction is kept (held notes and rests fit anywhere)
    jump_after_s : float > 0 [s]      outliers persisting this long are accepted (a jump)
    tempo_min, tempo_max : float      bounds of the tempo ratio
    quality_time_s : float > 0 [s]    time constant of the match-quality average
    lost_below : float                match quality under which the state is ``lost``
    lost_doubt : float >= 0           the state is ``lost`` too while a far place has gathered
                                      this share of the evidence a move needs (and the
                                      take's level offset holds meanwhile)
    pause_s : float > 0 [s]           silence this long (below the level gate) is a pause:
                                      the position goes back to where it began and holds
    search_hold : float >= 0 [cost]   price of a held coarse frame in the global tracker
    relock_evidence : float > 0       a far place must have fit the take better than the
                                      current one by this many mean frame costs (of the
                                      coarse grid) since some moment to be moved to
                                      (against a score: :data:`SCORE_RELOCK_EVIDENCE`)
    relock_near_s : float > 0 [s]     the follower's own path, give or take this, is what
                                      far places are compared with
    relock_far_s : float > 0 [s]      places further than this from the follower are far
                                      (nearer ones are the local band's business)
    relock_drift : float >= 0         what a far place pays per coarse frame, in mean frame
                                      costs: small lasting differences never add up
    relock_spread_s : float >= 0 [s]  after a move the band's paths may begin this far either
                                      side of the place found (the search is coarse)
    relock_confirm_s : float > 0 [s]  how long the same far place must stay the best
                                      (against a score: :data:`SCORE_RELOCK_CONFIRM_S`)
    level_step_db : float >= 0 [dB per frame]
                                      how fast the take's level offset follows the
                                      reference's level at the follower's place minus the
                                      take's (a running median of that difference)
    level_warm_s : float >= 0 [s]     over the first frames it learns from (this long) the
                                      offset steps ten times faster (a take's gain differs
                                      from the first note on)
    level_range_db : float >= 0 [dB]  the most the take's levels are shifted either way
    relock_trial_s : float >= 0 [s]   a far move stays on trial this long: the band it left
                                      goes on beside the new one, and if the band left has
                                      the cheaper path by then, the follower goes back (0:
                                      no trial)
    catchup : float >= 0 [frames per frame]
                                      how much faster than the tempo the position may move
                                      to an estimate ahead of it (0: only by a jump); an
                                      estimate that stalled a moment in a blurred or quiet
                                      passage and found the music again is caught up with
                                      smoothly instead of leaping there a second later
    catchup_range_s : float >= 0 [s]  estimates at most this far ahead are caught up with
    relock_twin_s : float > 0 [s]     length of the passages the look-alike test compares
    relock_twin_ratio : float >= 0    passages whose mean distance is under this share of
                                      the reference's typical frame distance are look-alikes
    relock_twin_factor : float >= 1   a move between look-alikes needs this many times the
                                      evidence (1: no look-alike test)
    relock_twin_share : float >= 0    a look-alike of the best far place that has this share
                                      of its evidence, nearer the follower, is moved to
                                      instead (0: always the best)
    silent_advance_s : float >= 0 [s] how far the position shown may advance into a silence
                                      where the reference sounds before it is a pause
    """

    band_s: float = 10.0
    hold_penalty: float = 0.3
    hold_floor: float = 0.6
    hold_tempo_s: float = 10.0
    skip_penalty: float = 0.0
    tempo_window_s: float = 3.0
    gate_s: float = 0.5
    alpha: float = 1.0
    ambiguity: float = 0.3
    jump_after_s: float = 1.0
    tempo_min: float = 0.25
    tempo_max: float = 4.0
    quality_time_s: float = 1.0
    lost_below: float = 0.05
    lost_doubt: float = 0.5
    pause_s: float = PAUSE_S
    search_hold: float = 0.3
    relock_evidence: float = 4.0
    relock_near_s: float = 0.15
    relock_far_s: float = 1.0
    relock_drift: float = 0.2
    relock_spread_s: float = 0.5
    relock_confirm_s: float = 0.3
    level_step_db: float = 0.05
    level_warm_s: float = 2.0
    level_range_db: float = 40.0
    relock_trial_s: float = 2.0
    catchup: float = 2.0
    catchup_range_s: float = 3.0
    relock_twin_s: float = 4.0
    relock_twin_ratio: float = 0.5
    relock_twin_factor: float = 4.0
    relock_twin_share: float = 0.5
    silent_advance_s: float = 0.1

    @classmethod
    def for_score(cls) -> FollowParams:
        """The defaults against a score's rendering: a far move needs
        :data:`SCORE_RELOCK_EVIDENCE`, and the far place must stay the best for
        :data:`SCORE_RELOCK_CONFIRM_S` (a rendering plays its repeats and recapitulations
        alike to the sample, and a player's timbre, pedal and dynamics differ from it more
        than another recording's do, so far places gather chance evidence faster); a wait
        inside a note or rest costs :data:`SCORE_HOLD_FLOOR` of the hold price."""
        return cls(
            relock_evidence=SCORE_RELOCK_EVIDENCE, relock_confirm_s=SCORE_RELOCK_CONFIRM_S, hold_floor=SCORE_HOLD_FLOOR
        )

    @classmethod
    def for_reference(cls, reference: Reference) -> FollowParams:
        """The defaults for ``reference``: :meth:`for_score` when it was rendered from a score."""
        return cls.for_score() if reference.score is not None else cls()

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value) or value < 0:
                raise ParameterError(f"FollowParams.{f.name} must be a finite number >= 0, got {value!r}")
        if min(self.relock_evidence, self.relock_confirm_s, self.relock_near_s) <= 0:
            raise ParameterError("FollowParams: relock_evidence, relock_confirm_s and relock_near_s must be > 0")
        if self.hold_floor > 1:
            raise ParameterError(f"FollowParams.hold_floor must be in [0, 1], got {self.hold_floor}")
        if not 0 < self.alpha <= 1:
            raise ParameterError(f"FollowParams.alpha must be in (0, 1], got {self.alpha}")
        if not 0 < self.tempo_min < 1 < self.tempo_max:
            raise ParameterError(f"need 0 < tempo_min < 1 < tempo_max, got {self.tempo_min}, {self.tempo_max}")
