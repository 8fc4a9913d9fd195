"""matcher.evaluation: the beat metric (textbook cases and the interpolation rule of
../shared/data/README.md), the measurement helpers, the data sets, the synthetic-case
builders, pauses and the report tables. No follower runs here (the tools do that)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from matcher.evaluation import data, measure, pauses, report, runs, synthetic
from matcher.evaluation.metrics import TOLERANCES_MS, beat_errors, share_within, summarize

# -- the beat metric ------------------------------------------------------------------------------

BEATS = np.arange(1.0, 11.0)  # take beats [s]
TRUTH = BEATS * 0.5 + 2.0  # their reference times: the take at half speed, 2 s in


def test_exact_answers_have_no_error() -> None:
    errors = beat_errors(BEATS, TRUTH, BEATS, TRUTH)
    np.testing.assert_allclose(errors, 0.0, atol=1e-9)
    assert summarize(errors)["within_50"] == 100.0


@pytest.mark.parametrize("shift_s", [0.03, -0.12, 0.5])
def test_a_known_shift_is_that_shift_in_ms(shift_s: float) -> None:
    errors = beat_errors(BEATS, TRUTH, BEATS, TRUTH + shift_s)
    np.testing.assert_allclose(errors, abs(shift_s) * 1000.0, rtol=1e-9)


def test_answers_are_interpolated_linearly_in_take_time() -> None:
    # Reports every 0.5 s of take on the true line: a beat between two reports is answered
    # on the line between them, exactly.
    report_t = np.arange(0.0, 12.0, 0.5)
    np.testing.assert_allclose(beat_errors(BEATS + 0.2, TRUTH + 0.1, report_t, report_t * 0.5 + 2.0), 0.0, atol=1e-9)
    # Two reports only: the beat half way between them gets the mean of their answers.
    assert beat_errors(np.array([1.0]), np.array([0.0]), np.array([0.0, 2.0]), np.array([0.0, 0.4]))[0] == (
        pytest.approx(200.0)
    )


def test_answers_are_held_beyond_the_first_and_last_report() -> None:
    report_t, report_ref = np.array([2.0, 4.0]), np.array([3.0, 4.0])
    errors = beat_errors(np.array([0.0, 9.0]), np.array([3.0, 4.0]), report_t, report_ref)
    np.testing.assert_allclose(errors, [0.0, 0.0])


def test_a_path_with_ties_in_take_time_is_accepted() -> None:
    # An offline path moving along the reference only repeats a take time.
    report_t, report_ref = np.array([0.0, 1.0, 1.0, 2.0]), np.array([0.0, 1.0, 1.5, 2.5])
    assert np.isfinite(beat_errors(np.array([0.5, 1.5]), np.array([0.5, 2.0]), report_t, report_ref)).all()


def test_equally_true_positions_score_against_the_nearest() -> None:
    truth = np.array([[5.0, 17.0], [6.0, np.nan], [np.nan, np.nan]])
    errors = beat_errors(np.array([1.0, 2.0, 3.0]), truth, np.array([0.0, 4.0]), np.array([16.0, 20.0]))
    assert errors[0] == pytest.approx(0.0)  # 17 s is as true as 5 s
    assert errors[1] == pytest.approx(12000.0)
    assert np.isnan(errors[2])  # no truth at all


def test_bad_reports_are_refused_with_their_shapes() -> None:
    with pytest.raises(ValueError, match="non-decreasing"):
        beat_errors(BEATS, TRUTH, np.array([0.0, 2.0, 1.0]), np.zeros(3))
    with pytest.raises(ValueError, match=r"\(3,\) and \(2,\)"):
        beat_errors(BEATS, TRUTH, np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="do not correspond"):
        beat_errors(BEATS, TRUTH[:3], BEATS, TRUTH)


def test_summary_shares_and_averages() -> None:
    errors = np.array([10.0, 40.0, 60.0, 150.0, 400.0])
    s = summarize(errors)
    assert [s[f"within_{t}"] for t in TOLERANCES_MS] == [40.0, 60.0, 80.0]
    assert s["mean_ms"] == pytest.approx(132.0) and s["median_ms"] == 60.0 and s["n"] == 5
    assert share_within(errors, 50) == 40.0
    empty = summarize(np.zeros(0))
    assert empty["n"] == 0 and np.isnan(empty["within_50"]) and np.isnan(empty["median_ms"])


# -- measurement ----------------------------------------------------------------------------------


def test_rss_is_read_from_proc() -> None:
    now = measure.rss_mb()
    assert 1.0 < now < 1e6
    assert measure.rss_mb(field="VmHWM") >= now * 0.99
    assert measure.peak_rss_mb() >= now * 0.99
    assert measure.rss_mb(trim=True) > 0
    with pytest.raises(RuntimeError, match="no VmNothing"):
        measure.rss_mb(field="VmNothing")


def test_rss_above_start_up_sees_an_allocation_and_its_release() -> None:
    with measure.RssAbove(0.005) as mem:
        block = np.ones(80 * 2**20 // 8)  # 80 MB, touched
        block.sum()
        del block
    assert mem.start_mb > 0
    assert mem.peak_above_mb >= 60.0  # sampled or the kernel's mark
    assert mem.growth_mb < 40.0  # given back at exit
    with pytest.raises(ValueError, match="interval"):
        measure.RssAbove(0.0)


def test_timer_measures_wall_and_cpu_time() -> None:
    with measure.Timer() as clock:
        time.sleep(0.02)
    assert clock.seconds >= 0.02  # sleep sleeps at least that long
    assert 0.0 <= clock.cpu_seconds < clock.seconds + 1.0


def test_percentiles_of_known_values() -> None:
    p = measure.percentiles(np.arange(1.0, 101.0) / 1000.0, scale=1000.0)
    assert p == {"n": 100, "median": 50.5, "p99": 99.01, "max": 100.0}
    assert measure.percentiles([])["n"] == 0


def test_memory_slope_of_a_steady_growth() -> None:
    samples = [(float(t), 100.0 + 0.5 * t / 60.0) for t in range(0, 600, 10)]  # 0.5 MB/min
    m = measure.memory_slope(samples)
    assert m["rss_slope_mb_per_min"] == pytest.approx(0.5, abs=1e-3)
    assert m["from_s"] == 60.0 and m["samples"] == 60
    assert measure.memory_slope([]) == {"samples": 0}


def test_timed_model_counts_calls_and_passes_the_rest_through() -> None:
    class Model:
        hop = 512

        def __call__(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return audio, audio

    timed = measure.TimedModel(Model())
    timed(np.zeros(4))
    timed(np.zeros(4))
    assert timed.calls == 2 and timed.seconds >= 0.0 and timed.hop == 512
    timed.reset()
    assert timed.calls == 0


def test_run_worker_reads_the_last_json_line_and_reports_failures() -> None:
    code = "print('warming up'); print('{\"peak\": 1.5}')"
    assert measure.run_worker([sys.executable, "-c", code]) == {"peak": 1.5}
    with pytest.raises(RuntimeError, match="boom"):
        measure.run_worker([sys.executable, "-c", "raise SystemExit('boom')"])


STATS = {
    "latency_ms": {"median": 1.2, "p99": 4.5, "max": 9.0},
    "processing_ms": {"median": 0.8, "p99": 2.0, "max": 3.1},
    "overflows": 0,
    "dropped_blocks": 1,
    "blocks": 4000,
}


@pytest.mark.parametrize("indent", [None, 1])
def test_follow_stats_reads_the_last_json_object_of_matcher_follow(indent: int | None) -> None:
    out = {"summary": {"mean_tempo_dev_pct": -3.0, "fastest": {"bar": 4}}, "stats": STATS}
    stdout = "following 'bench' ...\n{not json}\n" + json.dumps(out, indent=indent) + "\n"
    assert measure.follow_stats(stdout) == STATS


# -- data sets ------------------------------------------------------------------------------------


def _csv(path: Path, header: str, rows: list[tuple[float, float]]) -> Path:
    path.write_text(header + "\n" + "".join(f"{a},{b}\n" for a, b in rows))
    return path


def test_beats_are_joined_by_score_beat_not_by_line(tmp_path: Path) -> None:
    ref = _csv(tmp_path / "r.csv", "score_beat,perf_time_sec", [(0, 0.5), (1, 1.0), (2, 1.5), (3, 2.0)])
    take = _csv(tmp_path / "t.csv", "score_beat,perf_time_sec", [(0, 0.7), (2, 2.0), (3, 2.6)])  # beat 1 missing
    take_t, ref_t, score = data.join(data.read_beats(take), data.read_beats(ref))
    np.testing.assert_array_equal(score, [0.0, 2.0, 3.0])
    np.testing.assert_array_equal(take_t, [0.7, 2.0, 2.6])
    np.testing.assert_array_equal(ref_t, [0.5, 1.5, 2.0])


def test_onsets_of_a_chord_are_averaged(tmp_path: Path) -> None:
    path = _csv(tmp_path / "o.csv", "score_onset_beat,perf_time_sec", [(0, 1.0), (0, 1.02), (0.5, 1.3)])
    assert data.read_onsets(path) == {0.0: pytest.approx(1.01), 0.5: 1.3}


def test_the_shared_pairs_and_absent_data(tmp_path: Path) -> None:
    pairs = data.all_pairs(tmp_path)
    assert [p.set_name for p in pairs] == ["piano"] * 5 + ["percussion"] * 3
    assert pairs[0].name == "p01->p02" and pairs[0].beats_per_bar == 2
    assert pairs[0].take_onsets.name == "Chopin_op10_no3_p02_onsets.csv"
    assert data.pairs_of(["piano", "percussion"], tmp_path) == []
    assert data.shared_cases(["piano"], tmp_path) == []


@pytest.mark.skipif(not data.pairs_of(["piano"]), reason="../shared/data absent")
def test_the_shared_piano_pairs_have_their_annotations() -> None:
    take_t, ref_t = data.joined_beats(data.pairs_of(["piano"])[0])
    assert len(take_t) == len(ref_t) > 30 and np.all(np.diff(take_t) > 0) and np.all(np.diff(ref_t) > 0)


# -- synthetic cases ------------------------------------------------------------------------------


def test_warps_are_seeded_and_have_their_shapes() -> None:
    a, b = synthetic.warps(40.0, seed=1), synthetic.warps(40.0, seed=1)
    assert list(a) == ["curve", "rubato", "pause"]
    assert a["rubato"].bpm == b["rubato"].bpm != synthetic.warps(40.0, seed=2)["rubato"].bpm
    assert min(a["curve"].bpm) == pytest.approx(70.0) and max(a["curve"].bpm) == pytest.approx(130.0)
    pause, no_pause = a["pause"], synthetic.steady(40.0, 100.0)
    assert a["pause"].holds == {20.0: 3.0}
    assert pause.seconds(21.0) - pause.seconds(19.0) > 3.0 > no_pause.seconds(21.0) - no_pause.seconds(19.0)
    with pytest.raises(ValueError, match="unknown kind"):
        synthetic.piece("choir", 2, 0)


def test_follow_cases_are_written_with_their_beat_truth(tmp_path: Path) -> None:
    cases = synthetic.follow_cases(["synth-percussion"], tmp_path)
    assert [c.name for c in cases] == [f"percussion{k}-{w}" for k in range(2) for w in ("curve", "rubato", "pause")]
    for c in cases:
        assert c.set_name == "synth-percussion" and c.ref_audio.exists() and c.take_audio.exists()
        assert len(c.take_beats) == len(c.ref_beats) == 48  # whole beats of 4 cycles of 12 (the last stroke's end)
        assert np.all(np.diff(c.take_beats) > 0) and np.all(np.diff(c.ref_beats) > 0)
        np.testing.assert_allclose(np.diff(c.ref_beats), 0.6)  # steady 100 bpm
    pause = next(c for c in cases if c.name == "percussion0-pause")
    assert np.max(np.diff(pause.take_beats)) > 3.0  # the 3-s hold
    info = sf.info(str(pause.take_audio))
    assert info.samplerate == 16000 and info.duration > pause.take_beats[-1] - 1.0


def test_render_pair_keeps_an_existing_reference(tmp_path: Path) -> None:
    notes = synthetic.piece("melodic", 2, seed=0)
    n = synthetic.length_beats(notes)
    first = synthetic.render_pair(tmp_path, "r", "a", notes, synthetic.steady(n), synthetic.steady(n, 120.0), seed=1)
    stamp = first.ref_audio.stat().st_mtime_ns
    second = synthetic.render_pair(
        tmp_path, "r", "b", notes, synthetic.steady(n), synthetic.steady(n, 90.0), seed=2, write_ref=False
    )
    assert second.ref_audio.stat().st_mtime_ns == stamp and second.take_audio.exists()
    np.testing.assert_allclose(first.take_beats, first.beats * 0.5)  # 120 bpm
    case = second.case("synth-melodic", "x")
    np.testing.assert_allclose(case.take_beats, second.beats * 60.0 / 90.0)


# -- pauses -----------------------------------------------------------------------------------------


def test_held_spans_find_a_stand_still_and_bar_tempo_leaves_it_out() -> None:
    t = np.arange(0.0, 10.0, 0.016)
    ref_t = np.where(t < 4.0, t, np.where(t < 6.0, 4.0, t - 2.0))  # in time, held 2 s, in time
    spans = pauses.held_spans(t, ref_t)
    assert len(spans) == 1  # it starts up to the tolerance (0.1 s of reference) early
    assert spans[0][0] == pytest.approx(4.0, abs=0.12) and spans[0][1] == pytest.approx(6.0, abs=0.02)
    ratio, held = pauses.bar_tempo(t, ref_t, 3.0, 8.0, spans)
    assert held == pytest.approx(2.0, abs=0.12) and ratio == pytest.approx(1.0, abs=0.05)
    assert pauses.bar_tempo(t, ref_t, 3.0, 8.0, [])[0] == pytest.approx(0.6, abs=0.01)  # as if slow playing
    assert pauses.held_spans(t, t) == []  # steady playing holds nowhere


# -- runs and reports -------------------------------------------------------------------------------


def _pair(tmp_path: Path, name: str) -> data.Pair:
    ref = _csv(tmp_path / f"{name}_r.csv", "score_beat,perf_time_sec", [(k, 1.0 + k) for k in range(8)])
    take = _csv(tmp_path / f"{name}_t.csv", "score_beat,perf_time_sec", [(k, 2.0 * k) for k in range(8)])
    return data.Pair("piano", name, tmp_path / "r.wav", tmp_path / "t.wav", ref, take, 2)


def test_evaluate_pairs_pools_the_beat_errors_per_set(tmp_path: Path) -> None:
    pairs = [_pair(tmp_path, "a"), _pair(tmp_path, "b")]
    take = np.arange(0.0, 16.0, 0.5)

    def exact(p: data.Pair) -> runs.Answer:
        return runs.Answer(take[::-1], 1.0 + take[::-1] / 2.0, frames=100, step_seconds=0.5)  # any order

    def late(p: data.Pair) -> runs.Answer:
        return runs.Answer(take, 1.0 + take / 2.0 - 0.08)

    res = runs.evaluate_pairs({"exact": exact, "late": late}, pairs, verbose=False)
    piano = res["sets"]["piano"]
    assert piano["exact"]["within_50"] == 100.0 and piano["exact"]["n"] == 16
    assert piano["exact"]["frames_per_s"] == pytest.approx(200.0) and piano["late"]["frames_per_s"] is None
    assert piano["late"]["within_50"] == 0.0 and piano["late"]["within_100"] == 100.0
    assert len(res["pairs"]) == 4
    text = report.methods_table(res, frames=True)
    assert "piano (n = 16 beats)" in text and "offline" in text and "100.0%" in text
    assert "a" in report.per_pair_table(res["pairs"])


def test_accuracy_table_lists_every_set_and_method() -> None:
    figures = summarize(np.array([10.0, 80.0]))
    text = report.accuracy_table({"piano": {"matcher": figures}, "synth-melodic": {"matcher": figures}})
    assert "\npiano\n" in text and "\nsynth-melodic\n" in text and "50.0%" in text
    assert report.fmt_s(float("inf")) == "never" and report.fmt_pct(None) == "—"
    with pytest.raises(ValueError, match="2 headers for 3 widths"):
        report.table(["a", "b"], [], [1, 2, 3])
