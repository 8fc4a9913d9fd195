"""The benchmark pieces of matcher.evaluation (tools/bench_*.py front ends): tiny runs that
complete and report their keys, and the given-array feeding of the follower. No timing
assertions."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from matcher.evaluation import bench_follow as bf
from matcher.evaluation import bench_follow_live as bfl
from matcher.evaluation.params import add_json_option, add_param_option, follow_params, write_json
from matcher.follow import kernels as K
from matcher.reference import Reference

# -- shared options ---------------------------------------------------------------------------------


def test_json_and_param_options(tmp_path: Path) -> None:
    ap = argparse.ArgumentParser()
    add_json_option(ap)
    add_param_option(ap)
    args = ap.parse_args(["--json", str(tmp_path / "out.json"), "--param", "band_s=5", "--param", "alpha=0.5"])
    assert args.json == tmp_path / "out.json"
    assert follow_params(args.param).band_s == 5.0
    write_json(args.json, {"a": 1})
    assert json.loads(args.json.read_text()) == {"a": 1}
    write_json(None, {"a": 1})  # no --json: nothing written
    assert ap.parse_args([]).json is None and ap.parse_args([]).param == []


# -- bench_follow: given arrays ------------------------------------------------------------------


def chroma_walk(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(size=(n, 12))).astype(np.float32) + np.eye(12, dtype=np.float32)[np.arange(n) % 12]


def test_given_arrays_reach_the_follower_unchanged() -> None:
    ref = chroma_walk(300, 1)
    f = bf.feature_follower(ref, bf.MM_FRAME_RATE, 2.0)
    np.testing.assert_array_equal(f.ref_vectors, ref)  # not L2-normalised
    assert f._D.shape == (2 * round(2.0 * bf.MM_FRAME_RATE) + 1,)
    assert f.ref_coarse.shape == (len(ref) // K.COARSE, K.SEARCH_WIDTH)


def test_twin_worst_case_reports_a_time_and_the_column_it_runs_in(capsys) -> None:
    twin = bf.twin_worst_case(hours=0.05, repeats=1)
    assert twin["hours"] == 0.05 and twin["ms"] > 0 and twin["column_ms"] == pytest.approx(64.0)
    bf.print_twin(twin)
    assert "the real time of the coarse take frame" in capsys.readouterr().out


def test_given_steps_and_the_kernel_alone_give_the_same_positions() -> None:
    ref = chroma_walk(300, 1)
    take = ref[::2][:120] + 0.05  # twice as fast, slightly off
    frames = bf.feature_frames(take)
    track = bf.given_steps(bf.feature_follower(ref, bf.MM_FRAME_RATE, 2.0), frames)
    f = bf.feature_follower(ref, bf.MM_FRAME_RATE, 2.0)
    pos = bf.kernel_steps(f, bf.given_vectors(frames))
    np.testing.assert_allclose(track.ref_t, np.clip(pos * f.frame_s, 0.0, f.reference.duration))
    # Frame by frame (live) the same as all at once.
    g = bf.feature_follower(ref, bf.MM_FRAME_RATE, 2.0)
    one = [bf.given_step(g, frames[i : i + 1]).ref_t for i in range(len(frames))]
    np.testing.assert_allclose(one, track.ref_t)
    assert track.ref_t[-1] > track.ref_t[10]  # it moved on


def test_a_prepared_reference_with_given_vectors_follows_as_follower_steps(yin_config, yin_model) -> None:
    # The feeding bench_follow uses (a PreparedReference with the arrays replaced, then
    # steps_vectors), given the vectors Follower.steps builds, gives Follower.steps' positions.
    from matcher.beats import Beats
    from matcher.features import extract
    from matcher.follow import Follower
    from matcher.follow.costs import cost_vectors
    from matcher.follow.follower import take_inputs
    from matcher.follow.prepared import PreparedReference, coarse_features
    from matcher.synth import TempoMap, melody, render

    notes = melody(6, 4, seed=2)
    nb = max(n.beat + n.length for n in notes)
    ref_audio = render(notes, TempoMap((0.0, nb), (100.0, 100.0)), yin_config.sr)
    take_audio = render(notes, TempoMap((0.0, nb), (90.0, 110.0)), yin_config.sr, timbre=1)
    beats = Beats.from_numbers(np.arange(nb) * 0.6, np.arange(nb, dtype=np.float64), 4, "x")
    reference = Reference("ref", extract([ref_audio], yin_config, yin_model), beats, yin_config, {})
    take = extract([take_audio], yin_config, yin_model)
    expected = Follower(reference).steps(take)

    plain = Follower(reference)
    vectors = np.ascontiguousarray(cost_vectors(reference.frames, plain.weights, plain.ref_scale))
    built = PreparedReference.build(reference, plain.weights, plain.params)
    prepared = replace(built, ref_vectors=vectors, ref_coarse=coarse_features(vectors, built.n_flux))
    f = Follower(reference, prepared=prepared)
    got = f.steps_vectors(*take_inputs(take, f.weights))
    np.testing.assert_allclose(got.ref_t, expected.ref_t)


def test_report_without_pymatchmaker_prints_the_other_parts(capsys: pytest.CaptureFixture[str]) -> None:
    latency = {
        "features+step (NoPitch)": {
            "hops": 10, "median_ms": 0.3, "p90_ms": 0.4, "p99_ms": 0.5, "max_ms": 1.0, "max_at_hop": 3,
            "over_budget_pct": 0.0, "cpu_median_ms": 0.3, "cpu_p99_ms": 0.5, "loadavg_1min": 1.0,
            "gc_full_pauses_ms": [], "lookahead_ms": 32.0,
        }
    }  # fmt: skip
    mem = {
        "ref_minutes": 3.0, "ref_frames": 100, "ref_arrays_mb": 1.0, "build_peak_mb": 2.0, "after_build_mb": 1.0,
        "follow_peak_mb": 0.0, "total_peak_mb": 2.0, "take_seconds": 5.0, "band_arrays": 11,
        "follower_vectors_mb": 1.0, "build_hwm_mb": None, "follow_hwm_mb": None,
    }  # fmt: skip
    bf.print_report("pair", None, latency, [mem])
    out = capsys.readouterr().out
    assert "(a) step throughput not measured" in out
    assert "features+step (NoPitch)" in out and "3 min" in out


def beatless_melody(config, seed: int) -> tuple[np.ndarray, Reference]:
    """A 4-bar melody at 100 BPM (model rate) and a beatless reference of it (no pitch)."""
    from matcher.beats import Beats
    from matcher.features import NoPitch, extract
    from matcher.synth import TempoMap, melody, render

    notes = melody(4, 4, seed=seed)
    nb = max(n.beat + n.length for n in notes)
    audio = render(notes, TempoMap((0.0, nb), (100.0, 100.0)), config.sr)
    frames = extract([audio], config, NoPitch(config))
    return audio, Reference("ref", frames, Beats.from_numbers(np.zeros(0), np.zeros(0), 4, "none"), config, {})


def test_hop_latencies_cover_every_hop(yin_config) -> None:
    from matcher.features import FeatureStream, NoPitch

    audio, reference = beatless_melody(yin_config, 3)
    stream = FeatureStream(yin_config, NoPitch(yin_config))
    wall, cpu = bfl.hop_latencies(reference, audio[: yin_config.sr], stream)
    assert wall.shape == cpu.shape == (yin_config.sr // yin_config.hop,)
    assert np.all(wall >= 0)


# -- bench_compare ------------------------------------------------------------------------------


def test_compare_pair_has_its_true_map_and_the_map_has_no_error(tmp_path: Path) -> None:
    import soundfile as sf

    from matcher.evaluation import bench_compare as bc

    a, b, ka, kb = bc.build_pair(20.0, tmp_path)
    assert sf.info(a).samplerate == bc.SR and abs(sf.info(a).duration - 20.0) < 0.01
    assert abs(sf.info(b).duration - kb[-1]) < 0.01
    assert np.all(np.diff(ka) > 0) and np.all(np.diff(kb) > 0)
    truth = bc.truth_errors({"a_t": ka.tolist(), "b_t": kb.tolist()}, ka, kb)
    assert set(truth) == {"median_ms", "p95_ms", "within_50"}
    assert truth["median_ms"] < 1e-6 and truth["within_50"] == 100.0


def test_compare_table_has_a_row_per_size_and_the_memory_ratio() -> None:
    from matcher.evaluation import bench_compare as bc

    def row(peak: float, librosa: dict) -> dict:
        m = {"frames": [100, 110], "method": "banded", "features_a_s": 1.0, "features_b_s": 1.0}
        m |= {"align_compare_s": 0.5, "total_s": 2.6, "peak_above_start_mb": peak}
        m["truth"] = {"median_ms": 10.0, "p95_ms": 30.0, "within_50": 100.0}
        return {"matcher": m, "librosa": librosa}

    table = bc.format_table(
        {"sizes": {"2 min": row(50.0, {"align_s": 3.0, "peak_above_start_mb": 900.0}), "60 min": row(100.0, {})}}
    )
    lines = table.splitlines()
    assert lines[0].startswith("pair") and lines[1].startswith("2 min") and lines[2].startswith("60 min")
    assert "no fit" in lines[2] and lines[-1] == "peak memory ratio, longest / shortest pair: 2.00"


# -- bench_preprocess ------------------------------------------------------------------------------


def test_preprocess_test_file_and_a_yin_worker_report_their_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import soundfile as sf

    from matcher.evaluation import bench_preprocess as bp

    wav = tmp_path / "t.wav"
    what = bp.make_test_file(wav, 0.05, data=tmp_path / "absent")  # 3 s, synthetic
    info = sf.info(wav)
    assert "synthetic" in what and info.channels == 2 and info.samplerate == bp.FILE_SR
    assert abs(info.duration - 3.0) < 0.01
    row = bp.worker("yin", wav, 0, None, repeat=2, profile=True)
    assert {"backend", "threads", "hop", "rtf", "wall_s", "cpu_s", "startup_s", "peak_above_startup_mb"} <= set(row)
    assert len(row["walls_s"]) == 2 and row["threads"] == "default" and row["audio_s"] == pytest.approx(3.0, abs=0.01)
    assert {"read+resample", "spectral", "pitch stream", "model_calls"} <= set(row["profile"])
    added = bp.worker("yin", wav, 0, None, repeat=1, profile=False, mode="add")
    assert added["mode"] == "add" and {"features+beats cpu_s", "store write cpu_s"} == set(added["parts"])
    bp.print_table([row, added, {"backend": "spice", "threads": 1, "error": "no model"}])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("backend") and out[2].startswith("yin") and "failed: no model" in out[4]
    assert "cpu " in out[3] and " mem " in out[3]  # add against extract
    assert "where the time goes" in "\n".join(out)


# -- bench_live ----------------------------------------------------------------------------------


def test_live_material_stats_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from types import SimpleNamespace

    from matcher import ReferenceStore
    from matcher.evaluation import bench_live as bl

    store, take, take_beats, ref_beats = bl.make_material(tmp_path, 0.1, 16000)  # 4 bars
    assert ReferenceStore(store).load("bench").name == "bench"
    assert len(take_beats) == len(ref_beats) == 17 and np.all(np.diff(take_beats) > 0)
    assert abs(len(take) / 16000 - take_beats[-1]) < 2.0

    figures = {"median_ms": 1.0, "p99_ms": 4.0, "max_ms": 6.0, "n": 100}
    stats = bl.stats_of_result(SimpleNamespace(latency=figures, processing=figures, overflows=0, dropped_blocks=0))
    assert stats == {
        "latency_ms": {"median": 1.0, "p99": 4.0, "max": 6.0},
        "processing_ms": {"median": 1.0, "p99": 4.0, "max": 6.0},
        "overflows": 0,
        "dropped_blocks": 0,
        "blocks": 100,
    }
    acc = {"within_50": 90.0, "within_100": 95.0, "within_200": 99.0, "median_ms": 5.0}
    report = {"via": "paced", **stats, "memory": {"samples": 0}, "accuracy": acc}
    assert bl.meets_goal(report)
    assert not bl.meets_goal(report | {"overflows": 1})
    bl.print_report(report)
    out = capsys.readouterr().out
    assert "median 1.00 ms, p99 4.00 ms" in out and "beats within 50/100/200 ms: 90.0 / 95.0 / 99.0 %" in out


# -- bench_sessions --------------------------------------------------------------------------------


def test_sessions_serve_both_ways_and_report_their_keys(yin_config) -> None:
    from matcher.evaluation import bench_sessions as bs
    from matcher.follow import FollowParams, PreparedReference
    from matcher.follow.costs import CostWeights

    audio, reference = beatless_melody(yin_config, 5)
    params = FollowParams()
    prepared = PreparedReference.build(reference, CostWeights(), params)
    hop = yin_config.hop
    blocks = bs.session_blocks([audio, audio[::-1].copy()], 3, 40, hop)
    assert [b.shape for b in blocks] == [(40 * hop,)] * 3 and blocks[0].dtype == np.float32
    assert not np.array_equal(blocks[0], blocks[2])  # each session from its own offset
    for mode in bs.MODES:
        row = bs.run_mode(mode, reference, prepared, blocks, hop)
        assert row["mode"] == mode and row["sessions"] == 3 and row["hops"] == 40
        assert row["median_ms"] <= row["p99_ms"] <= row["max_ms"] and 0.0 <= row["late_share"] <= 1.0
        assert row["state_kb"] > 0


FAKE_MATCHMAKER = """
import json, sys
import numpy as np
a = dict(zip(sys.argv[1::2], sys.argv[2::2]))
take, ref = np.load(a["--take-features"]), np.load(a["--ref-features"])
runs = [1000.0] * int(a["--repeat"])
out = {"n_frames": len(take), "take_shape": list(take.shape), "ref_shape": list(ref.shape),
       "frames_per_s": 1000.0, "frames_per_s_runs": runs}
open(a["--out"], "w").write(json.dumps(out))
"""


def test_step_throughput_run_reports_every_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    # pymatchmaker replaced by a script that reports 1000 frames/s: the rounds, rows and
    # ratios of (a) are all there, and its report prints.
    import sys

    (tmp_path / "run_matchmaker.py").write_text(FAKE_MATCHMAKER)
    monkeypatch.setattr(bf, "BASELINES", tmp_path)
    monkeypatch.setattr(bf, "MM_PYTHON", Path(sys.executable))
    ref = chroma_walk(700, 1)  # longer than the band (601 frames)
    np.save(tmp_path / "ref.npy", ref)
    np.save(tmp_path / "take.npy", ref[::2] + 0.05)
    steps = bf.bench_steps(tmp_path / "ref.npy", tmp_path / "take.npy", rounds=2, passes=1, mm_repeat=1)
    rows = {"kernel_many", "kernel_one", "steps_many", "steps_one", "step_one", "mm"}
    assert set(steps["fps"]) == rows and all(len(v) == 2 for v in steps["fps_rounds"].values())
    assert set(steps["ratio_rounds"]) == rows - {"mm"} and steps["fps"]["mm"] == 1000.0
    assert steps["frames"] == 350 and steps["our_dims"] == 12 and steps["padded_because"] == ""
    assert 0 < steps["ours_end_frame"] < 700
    bf.print_steps(steps)
    out = capsys.readouterr().out
    assert "pymatchmaker OnlineTimeWarpingArztFrame" in out and "our follower ended at reference frame" in out


# -- bench_cli -------------------------------------------------------------------------------------


def test_cli_pair_measure_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import soundfile as sf

    from matcher.evaluation import bench_cli as bc

    ref, take, what = bc.make_pair(tmp_path, 0.05, data=tmp_path / "absent")  # 3 s, synthetic
    assert "synthetic" in what and sf.info(ref).duration == pytest.approx(3.0, abs=0.01)
    assert sf.info(take).samplerate == bc.PAIR_SR
    row = bc.measure([sys.executable, "-c", "x = bytearray(80 * 2**20)"])
    assert row["cpu_s"] >= 0 and row["wall_s"] > 0
    assert 80 < row["peak_rss_mb"] < 200  # the command's own peak, not the forking process's
    with pytest.raises(RuntimeError, match="failed"):
        bc.measure([sys.executable, "-c", "raise SystemExit(3)"])

    def row_of(command: str, cpu: float, rss: float) -> dict:
        return {
            "command": command,
            "audio_s": 600.0,
            "cpu_s": cpu,
            "wall_s": 1.0,
            "peak_rss_mb": rss,
            "cpu_runs": [cpu],
        }

    rows = [row_of("follow STORED", 2.0, 300.0), row_of("  floor: matcher --help", 0.5, 100.0)]
    parts = {"decode": 0.5, "features": 1.0, f"{bc.BASELINE}librosa": 0.5, "kernel": 1.0}
    bc.print_report({"pair": what, "rows": rows, "splits": {"follow STORED": parts}})
    out = capsys.readouterr().out
    assert "300x" in out and "(command: 4.0x its cpu, 3.00x its RSS)" in out
    assert "total 2.50 s" in out and "(the part above: 2.00x its cpu)" in out  # a baseline is no part


def test_cli_librosa_baseline_runs_on_the_front_ends_frames() -> None:
    from matcher import Config
    from matcher.evaluation import bench_cli as bc

    config = Config()
    audio = np.random.default_rng(0).normal(0, 0.1, 2 * config.sr).astype(np.float32)
    assert bc.librosa_features_cpu(config, audio) > 0
