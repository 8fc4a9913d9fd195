"""The jump scenarios of matcher.evaluation (tools/eval_jumps.py): edits, their ground truth and the
re-lock metric (no follower)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matcher.evaluation import jumps as ej
from matcher.evaluation.data import Case
from matcher.evaluation.jump_runs import PERC_CYCLE, Piece, score_scenario
from matcher.evaluation.truth import TruthMap, cycle_ids
from matcher.follow import Track
from matcher.synth import Note, percussion

SR = 1000  # a coarse rate keeps the audio checks small; segment boundaries stay whole samples
DUR = 90.0  # take length [s]
AT = 40.0  # edit time T1 [s]

# An unedited take played at half the reference's speed: ref_t = take_t / 2.
HALF = TruthMap(np.array([0.0, DUR]), np.array([0.0, DUR / 2]), np.array([0.0, 1.0]))


def _src(kind: str, t: float) -> float:
    return float(ej.make_scenario(kind, AT, DUR).source_times(np.array([t]))[0])


@pytest.mark.parametrize(
    ("kind", "t", "src"),
    [
        ("restart", AT - 1, AT - 1),
        ("restart", AT + 3, 3.0),
        ("back", AT + 3, AT - ej.JUMP_S + 3),
        ("forward", AT + 3, AT + ej.JUMP_S + 3),
        ("drop", AT + 3, AT + ej.DROP_S + 3),
        ("silence", AT + 3, np.nan),
        ("noise", AT + ej.PAUSE_S + 3, AT + 3),
    ],
)
def test_edited_time_maps_to_the_take_time_it_plays(kind: str, t: float, src: float) -> None:
    np.testing.assert_allclose(_src(kind, t), src)


def test_edited_take_lasts_the_take_plus_or_minus_the_edit() -> None:
    durations = {k: ej.make_scenario(k, AT, DUR).duration for k in ej.KINDS}
    assert durations == pytest.approx(
        {
            "restart": DUR + AT,
            "back": DUR + ej.JUMP_S,
            "forward": DUR - ej.JUMP_S,
            "drop": DUR - ej.DROP_S,
            "silence": DUR + ej.PAUSE_S,
            "noise": DUR + ej.PAUSE_S,
        }
    )
    assert np.isnan(_src("back", DUR + ej.JUMP_S + 0.1))  # past the end


def test_truth_of_a_jump_back_is_the_earlier_reference_position() -> None:
    sc = ej.make_scenario("back", AT, DUR)
    t = np.array([AT - 0.5, AT + 0.5, AT + 10.0])
    np.testing.assert_allclose(sc.truth(t, HALF)[:, 0], [(AT - 0.5) / 2, (AT - 19.5) / 2, (AT - 10.0) / 2])


def test_truth_is_undefined_in_a_pause_and_outside_the_annotated_span() -> None:
    truth = TruthMap(np.array([1.0, 80.0]), np.array([2.0, 60.0]), np.array([0.0, 1.0]))
    sc = ej.make_scenario("silence", AT, DUR)
    got = sc.truth(np.array([0.5, AT + 1.0, AT + ej.PAUSE_S + 1.0, DUR + 4.0]), truth)[:, 0]
    assert np.isnan(got[0]) and np.isnan(got[1]) and np.isnan(got[3])
    np.testing.assert_allclose(got[2], truth.ref_at(np.array([AT + 1.0]))[0])


def test_beats_appear_twice_after_a_jump_back_and_not_at_all_when_skipped() -> None:
    beats = np.arange(0.0, DUR, 1.0)
    out_t, index = ej.make_scenario("back", AT, DUR).place(beats)
    assert len(out_t) == len(beats) + ej.JUMP_S
    assert np.all(np.diff(out_t) >= 0)
    np.testing.assert_allclose(ej.make_scenario("back", AT, DUR).source_times(out_t), beats[index])
    out_t, index = ej.make_scenario("forward", AT, DUR).place(beats)
    assert len(out_t) == len(beats) - ej.JUMP_S
    assert not np.any((beats[index] >= AT) & (beats[index] < AT + ej.JUMP_S))


@pytest.mark.parametrize("kind", ej.KINDS)
def test_rendered_samples_are_the_take_samples_the_truth_names(kind: str, rng: np.random.Generator) -> None:
    take = rng.uniform(0.1, 1.0, round(DUR * SR))
    sc = ej.make_scenario(kind, AT, DUR)
    out = sc.render(take, SR, rng)
    assert len(out) == round(sc.duration * SR)
    t = np.arange(len(out)) / SR
    near = np.zeros(len(out), bool)
    for s in sc.splices:
        near |= np.abs(t - s) <= ej.FADE_S
    src = sc.source_times(t)
    music = ~np.isnan(src) & ~near
    np.testing.assert_allclose(out[music], take[np.round(src[music] * SR).astype(int)], rtol=1e-6)
    pause = np.isnan(src) & ~near & (t < sc.duration)
    if kind == "silence":
        assert np.all(out[pause] == 0)
    if kind == "noise":
        level = 20 * np.log10(np.sqrt(np.mean(out[pause].astype(float) ** 2)) / np.sqrt(np.mean(take**2)))
        assert level == pytest.approx(ej.ROOM_NOISE_DB, abs=0.5)


def test_crossfade_keeps_the_power_of_uncorrelated_signals(rng: np.random.Generator) -> None:
    take = rng.normal(size=round(DUR * SR))
    out = ej.make_scenario("back", AT, DUR).render(take, SR, rng)
    i = round(AT * SR)
    half = max(1, round(ej.FADE_S * SR / 2))
    assert np.all(np.abs(out[i - half : i + half]) > 0)  # no hole at the splice


def test_positions_one_identical_cycle_apart_are_equivalent() -> None:
    beats = np.arange(0.0, 49.0)  # four 12-beat cycles at 1 beat/s in the reference
    truth = TruthMap(beats * 0.5, beats.copy(), beats, cycle_beats=12.0, cycle_ids=(0, 0, 2, 0))
    eq = truth.equivalents(np.array([3.0, 27.0, np.nan]))
    assert sorted(eq[0][~np.isnan(eq[0])]) == [3.0, 15.0, 39.0]
    assert list(eq[1][~np.isnan(eq[1])]) == [27.0]  # cycle 2 differs from the others
    assert np.all(np.isnan(eq[2]))  # no truth (a pause): no equivalents either
    unique = TruthMap(beats * 0.5, beats.copy(), beats)
    assert unique.equivalents(np.array([3.0])).shape == (1, 1)


def test_cycles_with_the_same_strokes_share_an_id() -> None:
    full = [Note(c * 12.0 + o, 0.5, None, 0.5 + 0.1 * c, d) for c in range(3) for o, d in ((0, 0), (3, 1))]
    assert cycle_ids(full, 12.0) == (0, 0, 0)  # velocities ignored
    assert cycle_ids([n for n in full if n.beat != 15.0], 12.0) == (0, 1, 0)
    notes = percussion(9, seed=0)
    ids = cycle_ids(notes, PERC_CYCLE)
    assert len(ids) == 9 and len(set(ids)) < 9  # most cycles complete, a few with dropped strokes


def test_placements_leave_room_for_the_edit() -> None:
    truth = TruthMap(np.array([0.5, 60.0]), np.array([0.5, 60.0]), np.array([0.0, 1.0]))
    for kind in ej.KINDS:
        ats = ej.placements(kind, truth, 3)
        assert ats and min(ats) >= ej.LEAD_S
        assert max(ats) + ej.EDITS[kind][1] <= 60.0 - ej.TAIL_S
    short = TruthMap(np.array([0.5, 47.0]), np.array([0.5, 47.0]), np.array([0.0, 1.0]))
    assert ej.placements("forward", short, 3) == []
    assert len(ej.placements("back", short, 3)) == 3


def _track(t: np.ndarray, ref_t: np.ndarray) -> Track:
    n = len(t)
    z = np.zeros(n)
    return Track(t, ref_t, z, z, np.ones(n), np.ones(n), np.zeros(n, bool), np.arange(n))


def test_relock_time_waits_for_a_position_that_holds() -> None:
    t = np.arange(0.0, 10.0, 0.01)
    truth = t[:, None].copy()
    ref_t = t + 5.0  # lost until 2 s, on it from then, but off again at 2.5 s for one report
    ref_t[t >= 2.0] = t[t >= 2.0]
    ref_t[np.argmin(np.abs(t - 2.5))] += 1.0
    assert ej.relock_time(t, ref_t, truth, start=1.0) == pytest.approx(1.51)
    assert ej.relock_time(t, t + 5.0, truth, start=1.0) == np.inf
    assert ej.relock_time(t, t, truth, start=9.5) == np.inf  # cannot hold 1 s before the take ends


def test_a_perfect_follower_relocks_at_once_and_holds_during_the_pause() -> None:
    case = Case("s", "p", Path("r.wav"), Path("t.wav"), np.arange(1.0, DUR, 1.0), np.arange(1.0, DUR, 1.0) / 2)
    piece = Piece(case, HALF, "test")
    base = np.zeros(len(case.take_beats))
    for kind in ej.KINDS:
        sc = ej.make_scenario(kind, AT, DUR)
        t = np.arange(0.0, sc.duration, 0.016)
        truth = sc.truth(t, HALF)[:, 0]
        ref_t = np.where(np.isnan(truth), AT / 2, truth)  # holds where the pause began
        out = score_scenario(piece, sc, _track(t, ref_t), base)
        assert out.relock_s < 0.02
        assert np.all(out.errors < 10.0)
        assert len(out.errors) == len(out.base_errors) > 0
        assert np.isnan(out.drift_ms) if kind in ej.JUMP_KINDS else out.drift_ms < 10.0


@pytest.mark.parametrize("noise_db", [-20.0, -40.0])
def test_the_pause_noise_level_is_a_parameter(noise_db: float, rng: np.random.Generator) -> None:
    take = rng.uniform(0.1, 1.0, round(DUR * SR))
    sc = ej.make_scenario("noise", AT, DUR)
    out = sc.render(take, SR, rng, noise_db)
    t = np.arange(len(out)) / SR
    pause = np.isnan(sc.source_times(t)) & (np.abs(t - AT) > ej.FADE_S) & (np.abs(t - AT - ej.PAUSE_S) > ej.FADE_S)
    level = 20 * np.log10(np.sqrt(np.mean(out[pause].astype(float) ** 2)) / np.sqrt(np.mean(take**2)))
    assert level == pytest.approx(noise_db, abs=0.5)
