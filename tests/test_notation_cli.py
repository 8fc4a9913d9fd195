"""Scores through the CLI and the API: `reference add` of MusicXML and MIDI keeps the
score's bars and beats, `reference show` lists its sections and time signatures, a take
is followed and compared against a stored score, and bad score files get one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_notation import pickup_score, write_midi

import matcher
from matcher.cli import main
from matcher.notation import build_score_reference
from matcher.resolve import ScoreOptions

pytestmark = pytest.mark.skipif(
    not any(Path(p).exists() for p in ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")),
    reason="no General MIDI soundfont (tools/setup_system.sh installs fluid-soundfont-gm)",
)


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.fixture
def score_file(tmp_path: Path) -> Path:
    path = tmp_path / "piece.musicxml"
    path.write_text(pickup_score(), encoding="utf-8")
    return path


def test_reference_add_and_show_a_score(capsys, tmp_path: Path, score_file: Path) -> None:
    store = tmp_path / "store"
    rc, out, err = run(capsys, "reference", "add", score_file, "--store", store, "--pitch", "yin", "-q")
    assert rc == 0, err
    rc, out, _ = run(capsys, "reference", "show", "piece", "--store", store, "--json")
    shown = json.loads(out)
    assert shown["score"]["bars"] == 6  # pickup, bars 1-2 twice, bar 3
    assert len(shown["score"]["time_signatures"]) == 2  # 3/4, then 2/4
    stored = matcher.load("piece", store=store)
    built = build_score_reference(score_file, config=stored.config)
    np.testing.assert_allclose(stored.beats.times, built.beats.times)
    np.testing.assert_allclose(stored.beats.bars, built.beats.bars)
    rc, out, _ = run(capsys, "reference", "show", "piece", "--store", store)
    assert "time signatures" in out and "sections" in out


def test_score_options_reach_the_renderer(tmp_path: Path, score_file: Path) -> None:
    """--tempo renders at that tempo: the same beats, spread 100/60 as wide at 60 qpm as at 100."""
    marks = matcher.load(score_file, pitch="yin", score_options=ScoreOptions(repeats="none"))
    slow = matcher.load(score_file, pitch="yin", score_options=ScoreOptions(repeats="none", tempo_bpm=60.0))
    assert len(marks.beats) == len(slow.beats) == 1 + 3 + 3 + 2  # played through once
    gaps = np.diff(slow.beats.times)
    np.testing.assert_allclose(gaps, 1.0, atol=0.02)  # one quarter a second


def test_follow_and_compare_a_take_against_a_midi_score(capsys, tmp_path: Path) -> None:
    """A take rendered from the same MIDI at another tempo: followed to its end, and the
    offline comparison finds the tempo ratio."""
    score = write_midi(tmp_path / "tune.mid")
    store = tmp_path / "store"
    assert run(capsys, "reference", "add", score, "--store", store, "--pitch", "yin", "-q")[0] == 0
    take = matcher.load(score, pitch="yin", score_options=ScoreOptions(tempo_bpm=80.0), name="take")
    ref = matcher.load("tune", store=store)
    audio_path = tmp_path / "take.wav"
    # The rendering itself is not kept by load(): render the take again to a file.
    build_score_reference(score, tempo_bpm=80.0, config=ref.config, keep_audio=audio_path)
    assert sf.info(audio_path).duration == pytest.approx(take.duration, abs=0.1)
    track = matcher.follow(ref, audio_path)
    assert track.ref_t[-1] > 0.8 * ref.duration
    rc, out, err = run(capsys, "compare", "tune", audio_path, "--store", store, "--json", "-", "-q")
    assert rc == 0, err
    ratio = json.loads(out)["tempo_ratio"]
    assert 0.5 < ratio < 1.0  # the take is slower than the score's marks (100 and 150 qpm)


def test_bad_score_files_get_one_line(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "cut.musicxml"
    bad.write_text(pickup_score()[:300], encoding="utf-8")
    rc, _, err = run(capsys, "reference", "add", bad, "--store", tmp_path / "store")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    empty = write_midi(tmp_path / "empty.mid", notes=[])
    rc, _, err = run(capsys, "reference", "add", empty, "--store", tmp_path / "store")
    assert rc == 2 and "no notes" in err and len(err.strip().splitlines()) == 1
    rc, _, err = run(capsys, "reference", "add", tmp_path / "cut.musicxml", "--beats", bad, "--store", tmp_path / "s")
    assert rc == 2 and len(err.strip().splitlines()) == 1


def test_follow_lines_carry_the_score_position_and_score_judges_the_notated_rhythm(capsys, tmp_path: Path) -> None:
    """Against a stored score, each JSON line names the bar as printed (and the pass of a
    repeat), the beat in bar and the nearest note; `matcher score` judges every score
    onset of a take rendered from the same score at another tempo."""
    score_file = tmp_path / "piece.musicxml"
    score_file.write_text(pickup_score(), encoding="utf-8")
    store = tmp_path / "store"
    assert run(capsys, "reference", "add", score_file, "--store", store, "--pitch", "yin", "-q")[0] == 0
    ref = matcher.load("piece", store=store)
    take = tmp_path / "take.wav"
    build_score_reference(score_file, tempo_bpm=90.0, config=ref.config, keep_audio=take)
    rc, out, err = run(capsys, "follow", "piece", "--store", store, "--input", take, "--jsonl", "-")
    assert rc == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert all(set(row["score"]) >= {"bar", "pass", "beat", "note"} for row in rows)
    seen = {(row["score"]["bar"], row["score"]["pass"]) for row in rows}
    assert {("1", 1), ("1", 2), ("3", 1)} <= seen  # bar 1 on both passes of the repeat, then bar 3
    rc, out, err = run(capsys, "score", "piece", take, "--store", store, "--json", "-", "-q")
    assert rc == 0, err
    practice = json.loads(out)
    assert practice["summary"]["onsets"] == len(practice["notes"]) >= 8
    assert practice["summary"]["missed"] == 0


def test_a_rendering_speed_scales_the_tempo_and_says_so(tmp_path: Path) -> None:
    """Rendering.speed: the score timed at its tempo times the factor, labelled; bad factors refused."""
    from matcher.errors import ParameterError
    from matcher.notation import read_score
    from matcher.notation.render import Rendering

    score = write_midi(tmp_path / "tune.mid")
    _, _, plain = read_score(score, tempo_bpm=60.0)
    _, tempo, fast = read_score(score, tempo_bpm=60.0, speed=Rendering(speed=2.0).speed)
    np.testing.assert_allclose(np.diff(plain.beat_t), 1.0)
    np.testing.assert_allclose(np.diff(fast.beat_t), 0.5)
    assert fast.tempo == "fixed 60 qpm x2" and plain.tempo == "fixed 60 qpm"
    np.testing.assert_allclose(tempo.qpm, 120.0)
    for bad in (0.0, 5.0, "fast"):
        with pytest.raises(ParameterError, match="speed"):
            Rendering(speed=bad)  # type: ignore[arg-type]
