"""The metric of matcher.evaluation.score_following (tools/eval_score_following.py): errors on
the take's axis, in beats times the take's local beat period, and the tracked rule."""

from __future__ import annotations

import numpy as np

from matcher.evaluation import score_following as esf


def test_errors_are_beats_times_the_takes_local_period() -> None:
    ref_beats = 0.5 + np.arange(20) * 0.5  # the score at 120 bpm
    take_beats = 1.0 + np.arange(20) * 0.75  # the player at 80 bpm
    # a follower that is exactly right, reporting every 10 ms
    t = np.arange(0.0, 20.0, 0.01)
    exact = np.interp(t, take_beats, ref_beats)
    err, period = esf.beat_errors_ms(take_beats, ref_beats, t, exact)
    np.testing.assert_allclose(err, 0.0, atol=1e-6)
    np.testing.assert_allclose(period, 750.0)
    # a quarter of a score beat late everywhere: 0.25 x 750 ms on the take's axis
    err, _ = esf.beat_errors_ms(take_beats, ref_beats, t, exact + 0.125)
    np.testing.assert_allclose(err[1:-1], 187.5, rtol=1e-6)
    assert esf.tracked(take_beats, err, period)
    # lost for a stretch: a whole window with errors above the beat period
    bad = err.copy()
    bad[5:15] = 2000.0
    assert not esf.tracked(take_beats, bad, period)


def test_methods_pool_their_beats_and_pieces() -> None:
    results = [
        {"online": {"errors": [10.0, 60.0, 400.0], "tracked": True}, "offline": {"errors": [0.0], "tracked": True}},
        {"online": {"errors": [20.0], "tracked": False}},
    ]
    s = esf.summarise(results, "online")
    assert s == {"within_50": 50.0, "within_100": 75.0, "within_300": 75.0, "median_ms": 40.0, "tracked": 50.0,
                 "pieces": 2}  # fmt: skip
    assert esf.summarise(results, "mm_arzt") == {}
    rows = esf.summary_table(results).splitlines()
    assert [r.split()[0] for r in rows] == ["method", "online", "offline"]
