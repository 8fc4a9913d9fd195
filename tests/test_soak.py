"""The soak (tools/soak.py on matcher.evaluation.session/soak): the session plan, its audio in
blocks, and one simulated minute end to end (about 5 s) held to what a minute can honestly
guarantee: no error, and memory growth far below the limit (no timing assertions: speed and
latency are the tool's to report)."""

from __future__ import annotations

import itertools

import numpy as np

from matcher.evaluation import session
from matcher.evaluation.soak import GROWTH_LIMIT_PCT, run_soak, verdict

SR = 16000
DURATIONS = [170.0, 185.0, 200.0, 160.0]


def test_plan_fills_the_session_with_segments_inside_the_renderings() -> None:
    segments = list(session.plan(np.random.default_rng(3), DURATIONS, 7200.0))
    assert np.isclose(sum(s.length for s in segments), 7200.0)
    assert all(s.length > 0 and s.src >= 0 for s in segments)
    assert all(s.src + s.length <= DURATIONS[s.variant] + 1e-9 for s in segments if s.variant >= 0)
    events = {s.event for s in segments}
    assert {"restart", "back", "forward", "pause", "drop", "next", "end"} <= events
    for before, after in itertools.pairwise(segments):  # jumps move at least 10 s
        if after.event in ("back", "forward") and after.variant == before.variant:
            assert abs(after.src - (before.src + before.length)) >= 10.0


def test_take_blocks_are_the_plan_sample_for_sample() -> None:
    rng = np.random.default_rng(5)
    variants = [rng.uniform(-0.5, 0.5, round(d * SR)).astype(np.float32) for d in DURATIONS]
    segments = list(session.plan(np.random.default_rng(2), DURATIONS, 300.0))  # seed 2: pauses in 300 s
    blocks = list(session.take_blocks(segments, variants, SR, 1024))
    assert all(len(b) == 1024 for b in blocks[:-1]) and 0 < len(blocks[-1]) <= 1024
    audio = np.concatenate(blocks)
    assert len(audio) == 300 * SR
    first = segments[0]  # away from its fades, the first segment is its rendering's samples
    n = round(first.length * SR)
    np.testing.assert_array_equal(audio[1000 : n - 1000], variants[first.variant][1000 : n - 1000])
    silent = next(k for k, s in enumerate(segments) if s.variant < 0)
    start = round(sum(s.length for s in segments[:silent]) * SR)
    assert not np.any(audio[start + 100 : start + round(segments[silent].length * SR) - 100])


#: Peak RSS growth allowed over one simulated minute [MB]: measured 0.1-0.3 MB in six runs
#: (baseline 254 MB, after malloc_trim); the positions kept for the summary are 0.1 MB.
MINUTE_GROWTH_LIMIT_MB = 2.0


def test_one_simulated_minute_has_no_error_and_keeps_its_memory() -> None:
    report = run_soak(1.0, piece_minutes=0.5, progress=None)
    assert report["errors"] == 0 and report["error_messages"] == []
    mem = report["memory"]
    assert mem["baseline_mb"] > 0 and len(mem["samples"]) >= 2
    assert mem["growth_mb"] < MINUTE_GROWTH_LIMIT_MB, mem
    assert mem["growth_pct"] < GROWTH_LIMIT_PCT
    assert all(ok for ok, _ in verdict(report)), verdict(report)
    assert report["audio_s"] == 60.0
    assert report["positions"] == 1 + 60 * SR // 256  # one per hop, as FeatureStream.flush counts them
    assert len(report["latency_slices"]) == 1 and report["latency_slices"][0]["blocks"] == report["latency"]["blocks"]
    assert report["latency"]["blocks"] == -(-60 * SR // 1024)
    assert isinstance(report["relocks"], int)


def test_the_verdict_fails_a_session_that_grew_or_erred() -> None:
    good = {"memory": {"growth_pct": 1.0, "growth_mb": 2.5, "baseline_mb": 250.0}, "errors": 0}
    grew = {"memory": {"growth_pct": 6.0, "growth_mb": 15.0, "baseline_mb": 250.0}, "errors": 0}
    assert [ok for ok, _ in verdict(good)] == [True, True]
    assert [ok for ok, _ in verdict(grew)] == [False, True]
    assert [ok for ok, _ in verdict({**good, "errors": 1})] == [True, False]
