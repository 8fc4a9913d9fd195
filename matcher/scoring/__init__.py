"""Practice scoring: the timing (and pitch) of a take against its reference, beat by beat.

* :mod:`.maths` — timing and pitch maths on arrays (steadiness, trend, grades, cents);
* :mod:`.results` — the result types (:class:`Score` and its rows);
* :mod:`.prose` — the sentence people read;
* :mod:`.scorer` — :func:`score_take`, take loading and the live-take span.

The PNG is :func:`matcher.plot.score_png`.
"""

from ..plot import score_png, write_score_png
from ..timing import steady_fit
from .maths import (
    DEFAULT_TOLERANCE_MS,
    GRADES,
    LOCAL_INTERVALS,
    MIN_PITCH_FRAMES,
    MIN_PITCH_SHARE,
    OPEN_MARGIN_S,
    grade,
    local_steadiness,
    note_name,
    tempo_trend,
)
from .prose import sentence
from .results import BarScore, BeatScore, OnsetScore, Score
from .scorer import check_tolerance, followed_span, load_take, score_take, take_pitch_model

__all__ = [
    "DEFAULT_TOLERANCE_MS",
    "GRADES",
    "LOCAL_INTERVALS",
    "MIN_PITCH_FRAMES",
    "MIN_PITCH_SHARE",
    "OPEN_MARGIN_S",
    "BarScore",
    "BeatScore",
    "OnsetScore",
    "Score",
    "check_tolerance",
    "followed_span",
    "grade",
    "load_take",
    "local_steadiness",
    "note_name",
    "score_png",
    "score_take",
    "sentence",
    "steady_fit",
    "take_pitch_model",
    "tempo_trend",
    "write_score_png",
]
