"""Aligning a take to a score in two passes (matcher.notation.realign): the tempo read from
the first pass, the way back to the reference's time axis, and compare() doing it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matcher import AlignParams, Config, ParameterError, YinModel, build_reference, compare
from matcher.align import Alignment
from matcher.notation import TempoMap, build_score_reference, read_score, render_audio
from matcher.notation.realign import played_tempo, reference_seconds
from tests.test_notation import needs_fluidsynth, pickup_score


@pytest.fixture
def pickup_file(tmp_path: Path) -> Path:
    path = tmp_path / "piece.musicxml"
    path.write_text(pickup_score(), encoding="utf-8")
    return path


def _path(a_t: np.ndarray, b_t: np.ndarray) -> Alignment:
    frames = np.arange(len(a_t))
    return Alignment(frames, frames, a_t, b_t, 0.016, 0.0, "dtw", 0)


def test_played_tempo_reads_the_players_tempo_from_the_path(pickup_file: Path) -> None:
    _, marks, info = read_score(pickup_file)
    # the player takes everything at half the marks' tempo, 2 s after the rendering's start
    take_t = 2.0 + 2.0 * (info.beat_t - info.beat_t[0])
    tempo = played_tempo(info, _path(info.beat_t, take_t), every=1)
    marks_qpm = 60.0 / np.diff(marks.seconds(info.beat_q)) * np.diff(info.beat_q)
    np.testing.assert_allclose(tempo.qpm, marks_qpm / 2, rtol=1e-9)
    assert tempo.q[0] == 0.0 and np.all(np.diff(tempo.q) > 0)
    # a first pass that stalls (the take's time stands still) gives the fastest tempo, not a crash
    stalled = played_tempo(info, _path(info.beat_t, np.full(len(info.beat_t), 3.0)))
    assert np.all(np.isfinite(stalled.qpm)) and stalled.qpm.max() <= 1000.0


def test_tempo_map_quarters_inverts_seconds_beyond_its_marks_too() -> None:
    tempo = TempoMap(np.array([0.0, 4.0, 10.0]), np.array([60.0, 150.0, 40.0]), lead_s=0.5)
    q = np.array([-1.0, 0.0, 2.5, 4.0, 7.0, 10.0, 30.0])
    np.testing.assert_allclose(tempo.quarters(tempo.seconds(q)), q, atol=1e-9)


def test_reference_seconds_goes_through_the_scores_beats_and_notes(pickup_file: Path) -> None:
    _, _, info = read_score(pickup_file)
    np.testing.assert_allclose(reference_seconds(info, info.beat_q), info.beat_t, atol=1e-9)
    np.testing.assert_allclose(reference_seconds(info, info.note_q), info.note_t, atol=1e-9)


def test_score_passes_must_be_one_or_two() -> None:
    with pytest.raises(ParameterError, match="score_passes"):
        AlignParams(score_passes=3)


@needs_fluidsynth
@pytest.mark.slow
def test_compare_aligns_again_at_the_players_tempo(tmp_path: Path, pickup_file: Path, yin_config: Config) -> None:
    model = YinModel(yin_config)
    ref = build_score_reference(pickup_file, config=yin_config, pitch_model=model)
    notation, _, info = read_score(pickup_file)
    # the player: far slower than the marks (100 and 150 qpm), and slower still at the end
    played = TempoMap(np.array([0.0, 6.0]), np.array([45.0, 30.0]), lead_s=1.0)
    take = build_reference(render_audio(notation, played, tmp_path / "take.wav"), yin_config, model, track=False)
    truth = played.seconds(info.beat_q)

    result = compare(ref, take)
    assert result.meta["score_alignment"] == "2 passes"
    # the map between the two is kept at the score's note onsets only, straight between them
    inner = result.alignment.a_t[1:-1]
    assert np.min(np.abs(inner[:, None] - ref.score.note_t[None, :]), axis=1).max() < 1e-9
    a_frames = result.alignment.a_frames
    assert a_frames.max() < len(ref.frames) and np.all(np.diff(a_frames) >= 0)
    errors = np.abs(result.alignment.b_at(info.beat_t) - truth)
    one = compare(ref, take, params=AlignParams(score_passes=1))
    assert "score_alignment" not in one.meta
    errors_one = np.abs(one.alignment.b_at(info.beat_t) - truth)
    assert np.median(errors) < 0.05, errors
    assert errors.mean() <= errors_one.mean() + 0.01, (errors, errors_one)

    # without its score file the second pass cannot render: one pass, and it says so
    pickup_file.unlink()
    gone = compare(ref, take)
    assert gone.meta["score_alignment"].startswith("1 pass: the score file")
    np.testing.assert_array_equal(gone.alignment.a_t, one.alignment.a_t)
