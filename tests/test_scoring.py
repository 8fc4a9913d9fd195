"""Practice scoring: the timing arithmetic on exact numbers, a synthetic take with known
timing, edits of known size recovered as the change of the score, pitch in cents,
``matcher score`` and ``matcher follow --score`` end to end, and the audio edits of
matcher.evaluation.edits (the validation's ground truth). YIN pitch only (no TensorFlow)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from matcher import Beats, Config, ParameterError, Reference, YinModel, build_reference
from matcher.cli import main
from matcher.evaluation import edits as edit_audio
from matcher.follow import Track
from matcher.scoring import (
    followed_span,
    grade,
    load_take,
    local_steadiness,
    note_name,
    score_png,
    score_take,
    steady_fit,
    tempo_trend,
)
from matcher.synth import Note, TempoMap, render

CONFIG = Config(pitch_backend="yin")
SR = CONFIG.sr
N_BEATS = 24  # 6 bars of 4
REF_MAP = TempoMap((0.0, N_BEATS), (110.0, 110.0))
# another performance: slower at first, rushing in the middle, settling
TAKE_MAP = TempoMap((0.0, 8.0, 16.0, N_BEATS), (100.0, 96.0, 112.0, 104.0))
ROW_KEYS = {"beat", "bar", "ref_t", "take_t", "error_ms", "steadiness_ms", "cents"}


def tune(transpose: float = 0.0) -> list[Note]:
    """A note on every beat (an eighth pair on every fourth) over a bass note per bar."""
    steps = [0, 2, 4, 5, 7, 5, 4, 2, 0, 4, 7, 12]
    notes = []
    for beat in range(N_BEATS):
        midi = 67 + steps[beat % len(steps)] + transpose
        if beat % 4 == 3:
            notes += [Note(beat, 0.5, midi, 0.8), Note(beat + 0.5, 0.5, midi - 1, 0.7)]
        else:
            notes.append(Note(beat, 1.0, midi, 0.6 + 0.1 * (beat % 4 == 0)))
    for bar in range(N_BEATS // 4):
        notes.append(Note(4 * bar, 4.0, 48 + [0, 5, 7, 0][bar % 4] + transpose, 0.5))
    return notes


def write(path: Path, audio: np.ndarray) -> Path:
    sf.write(path, audio, SR)
    return path


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The reference (steady, timbre 0) with its beat file, and takes as files: another
    performance (timbre 1, 35 dB noise), the same performance in another timbre plus noise,
    and the other performance played 40 cents sharp."""
    folder = tmp_path_factory.mktemp("scoring")
    ref = write(folder / "ref.wav", render(tune(), REF_MAP, SR, timbre=0))
    beats = folder / "ref_beats.txt"
    beats.write_text("".join(f"{t:.6f}\n" for t in REF_MAP.seconds(np.arange(N_BEATS, dtype=float))))
    take_audio = render(tune(), TAKE_MAP, SR, timbre=1, noise_db=35.0, seed=3)
    reference = build_reference(ref, CONFIG, YinModel(CONFIG), "ref", beats)
    return {
        "folder": folder,
        "ref": ref,
        "beats": beats,
        "reference": reference,
        "take_audio": take_audio,
        "take": write(folder / "take.wav", take_audio),
        "same": write(folder / "same.wav", render(tune(), REF_MAP, SR, timbre=1, noise_db=30.0, seed=4)),
        "sharp": write(folder / "sharp.wav", render(tune(0.4), TAKE_MAP, SR, timbre=1, noise_db=35.0, seed=3)),
    }


@pytest.fixture(scope="module")
def base(music: dict):
    return score_take(music["reference"], load_take(music["take"], music["reference"]))


# -- the arithmetic ----------------------------------------------------------------------------


def test_steady_fit_recovers_a_line_and_ignores_a_wild_end_beat() -> None:
    ref_t = np.arange(20) * 0.5
    take_t = 0.3 + 1.25 * ref_t
    slope, offset = steady_fit(ref_t, take_t)
    assert slope == pytest.approx(1.25) and offset == pytest.approx(0.3)
    take_t[-1] += 0.4  # a glitch on the last beat
    assert steady_fit(ref_t, take_t)[0] == pytest.approx(1.25)
    assert steady_fit(ref_t, take_t, slope=1.0)[0] == 1.0
    assert np.isnan(steady_fit(ref_t[:1], take_t[:1])[0])


def test_a_gap_steps_later_errors_and_shows_in_steadiness_at_that_beat_only() -> None:
    ref_t = np.arange(16) * 0.5
    take_t = 0.2 + ref_t / 0.9 + 0.004 * np.sin(ref_t)  # slower than the reference, slightly uneven
    gap, k = 0.08, 9
    edited = take_t + np.where(np.arange(16) >= k, gap, 0.0)
    slope, offset = steady_fit(ref_t, take_t)
    before = (take_t - (offset + slope * ref_t)) * 1000
    # measured at the same tempo, later beats step by the gap relative to the earlier ones
    _, offset_e = steady_fit(ref_t, edited, slope)
    after = (edited - (offset_e + slope * ref_t)) * 1000
    change = after - before
    assert np.ptp(change[:k]) < 1e-9 and np.ptp(change[k:]) < 1e-9
    assert change[k] - change[0] == pytest.approx(gap * 1000)
    steady = local_steadiness(ref_t, edited, ref_t, edited) - local_steadiness(ref_t, take_t, ref_t, take_t)
    assert steady[k] == pytest.approx(gap * 1000, abs=1.0)
    assert np.abs(np.delete(steady, k)).max() < 3.0


def test_steadiness_is_zero_for_a_steady_take_and_follows_the_local_tempo() -> None:
    ref_t = np.arange(12) * 0.6
    assert np.abs(local_steadiness(ref_t, 1 + 1.1 * ref_t, ref_t, 1 + 1.1 * ref_t)).max() < 1e-9
    # a gradual accelerando is not unsteady: errors stay small against the player's own tempo
    take = TempoMap((0.0, 12.0), (90.0, 110.0)).seconds(np.arange(12.0))
    assert np.abs(local_steadiness(ref_t, take, ref_t, take)).max() < 25.0
    assert np.isnan(local_steadiness(ref_t[:2], ref_t[:2], ref_t[:2], ref_t[:2])).all()
    # an onset between beats is predicted from the beat before it
    got = local_steadiness(np.array([1.5]), np.array([1.5 * 1.1 + 1.0 + 0.02]), ref_t, 1 + 1.1 * ref_t)
    assert got[0] == pytest.approx(20.0)


@pytest.mark.parametrize(("start", "end"), [(100.0, 110.0), (110.0, 100.0), (100.0, 100.0)])
def test_trend_is_the_tempo_change_over_the_take(start: float, end: float) -> None:
    beats = np.arange(64.0)
    take_t = TempoMap((0.0, 63.0), (start, end)).seconds(beats)
    ref_t = beats * 0.6
    slope, offset = steady_fit(ref_t, take_t)
    error = (take_t - (offset + slope * ref_t)) * 1000
    change = (end / start - 1) * 100
    assert tempo_trend(take_t, error) == pytest.approx(change, abs=0.15 * abs(change) + 0.5)
    assert np.isnan(tempo_trend(take_t[:3], error[:3]))


def test_grades_and_note_names() -> None:
    assert [grade(e, 50) for e in (0, -50, 51, -100, 101, float("nan"))] == [
        "green", "green", "yellow", "yellow", "red", "none",
    ]  # fmt: skip
    assert note_name(60) == "C4" and note_name(69.4) == "A4" and note_name(float("nan")) == ""


# -- a synthetic take ---------------------------------------------------------------------------


def test_take_times_match_the_performance_at_every_beat(base) -> None:
    assert [b.beat for b in base.beats] == list(range(N_BEATS))
    found = np.array([b.take_t for b in base.beats])
    errors_ms = np.abs(found - TAKE_MAP.seconds(np.arange(N_BEATS, dtype=float))) * 1000
    assert errors_ms.max() < 25.0, np.round(errors_ms).tolist()
    assert {b.bar for b in base.beats} == set(range(1, 7))
    assert len(base.bars) == 6 and all(b.beats == 4 for b in base.bars)
    assert base.summary["beats"] == N_BEATS
    # error_ms is measured against a steady rendering at the take's own pace (about 4 % slower)
    assert 0.9 < base.tempo_ratio < 1.0
    truth = TAKE_MAP.seconds(np.arange(N_BEATS, dtype=float))
    slope, offset = steady_fit(REF_MAP.seconds(np.arange(N_BEATS, dtype=float)), truth)
    expected = (truth - (offset + slope * REF_MAP.seconds(np.arange(N_BEATS, dtype=float)))) * 1000
    assert np.median(np.abs(np.array([b.error_ms for b in base.beats]) - expected)) < 10.0
    assert len(base.onsets) >= N_BEATS  # every note onset of the reference
    assert base.summary["pitch"]["median_cents"] == pytest.approx(0, abs=5)


def test_the_same_performance_in_another_timbre_scores_in_time(music: dict) -> None:
    s = score_take(music["reference"], load_take(music["same"], music["reference"]))
    errors = np.abs([b.error_ms for b in s.beats])
    assert np.mean(errors <= 50) >= 0.95 and s.summary["within_tolerance"] >= 0.95
    assert s.tempo_ratio == pytest.approx(1.0, abs=0.01)
    assert "100 % of 24 beats within ±50 ms" in s.sentence()


def test_an_inserted_gap_is_found_where_it_was_made(music: dict, base, tmp_path: Path) -> None:
    k, gap = 13, 0.08
    at = float(TAKE_MAP.seconds(float(k))) - 0.01
    edit = edit_audio.insert_silence(music["take_audio"], SR, at, gap)
    path = write(tmp_path / "gap.wav", edit.audio)
    s = score_take(music["reference"], load_take(path, music["reference"]), tempo_ratio=base.tempo_ratio)
    change = np.array([b.error_ms for b in s.beats]) - np.array([b.error_ms for b in base.beats])
    step = np.median(change[k:]) - np.median(change[:k])
    assert step == pytest.approx(gap * 1000, abs=10)
    assert np.abs(change[k:] - np.median(change[k:])).max() < 10
    steady = np.array([b.steadiness_ms for b in s.beats]) - np.array([b.steadiness_ms for b in base.beats])
    assert steady[k] == pytest.approx(gap * 1000, abs=10)
    assert np.abs(np.delete(steady, k)).max() < 25


def test_pitch_is_measured_in_cents(music: dict) -> None:
    s = score_take(music["reference"], load_take(music["sharp"], music["reference"]))
    cents = np.array([b.cents for b in s.beats])
    assert np.nanmedian(cents) == pytest.approx(40, abs=10)
    pitch = s.summary["pitch"]
    assert pitch["median_cents"] == pytest.approx(40, abs=10)
    notes = pitch["out_of_tune"]
    assert 1 <= len(notes) <= 3 and all(abs(n["cents"]) >= 25 for n in notes)
    assert notes[0]["note"] and notes[0]["bar"] in range(1, 7)
    assert "cents sharp (median)" in s.sentence()


def test_json_rows_and_summary(base) -> None:
    d = json.loads(json.dumps(base.to_dict(), allow_nan=False))
    assert set(d["beats"][0]) == ROW_KEYS
    assert d["tolerance_ms"] == 50.0
    summary = d["summary"]
    for key in ("mean_abs_error_ms", "within_tolerance", "trend", "steadiness", "worst_bars", "pitch"):
        assert key in summary
    assert summary["trend"]["label"] in ("steady", "rushing", "dragging")
    assert len(summary["worst_bars"]) == 3
    assert d["sentence"] == base.sentence() and d["sentence"].endswith(".")
    assert len(d["tempo_curve"]["take_t"]) == len(d["tempo_curve"]["ratio"])
    assert "beats" in repr(base)


def test_passages_name_the_bars_that_rushed_or_dragged(music: dict) -> None:
    # the take dragged over the first two bars and rushed from bar 4: errors on both sides
    reference = music["reference"]
    s = score_take(reference, load_take(music["take"], reference), tolerance_ms=20)
    assert s.summary["passages"]
    for p in s.summary["passages"]:
        beats = [b.error_ms for b in s.beats if p["first_bar"] <= b.bar <= p["last_bar"]]
        assert np.sign(np.mean(beats)) == np.sign(p["mean_error_ms"])
        word = "rushed" if p["mean_error_ms"] < 0 else "dragged"
        assert word in s.sentence()


def test_a_tempo_can_be_given(music: dict, base) -> None:
    take = load_take(music["take"], music["reference"])
    s = score_take(music["reference"], take, tempo_ratio=0.8)
    assert s.slope == pytest.approx(1.25) and s.tempo_ratio == pytest.approx(0.8)
    assert s.meta["tempo"] == "given" and base.meta["tempo"] == "measured"
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ParameterError, match="tempo ratio"):
            score_take(music["reference"], take, tempo_ratio=bad)
    with pytest.raises(ParameterError, match="tolerance"):
        score_take(music["reference"], take, tolerance_ms=0)


def test_a_take_made_with_another_configuration_is_refused(music: dict) -> None:
    take = load_take(music["take"], music["reference"])
    other = Reference(take.name, take.frames, take.beats, CONFIG.replace(hop=128), take.meta)
    with pytest.raises(ParameterError, match="configuration"):
        score_take(music["reference"], other)


def test_a_take_of_part_of_the_piece(music: dict) -> None:
    """The take plays bars 1-3 only: scored with an open end, only those beats count."""
    reference = music["reference"]
    stop = float(TAKE_MAP.seconds(12.0)) + 0.2
    path = write(music["folder"] / "part.wav", music["take_audio"][: int(stop * SR)])
    track = Track(
        t=np.array([0.0, stop]), ref_t=np.array([0.0, float(REF_MAP.seconds(12.0))]), beat=np.zeros(2),
        bar=np.zeros(2), tempo_ratio=np.ones(2), confidence=np.ones(2), lost=np.zeros(2, bool), frame=np.arange(2),
    )  # fmt: skip
    params = followed_span(track, reference)
    assert params.open_end and not params.open_begin
    s = score_take(reference, load_take(path, reference), params=params)
    assert 11 <= len(s.beats) <= 13 and s.beats[0].beat == 0
    found = np.array([b.take_t for b in s.beats])
    assert np.abs(found - TAKE_MAP.seconds(np.array([b.beat for b in s.beats]))).max() < 0.03


def test_reference_without_beats_scores_onsets_only(music: dict) -> None:
    reference = music["reference"]
    bare = Reference(reference.name, reference.frames, Beats.from_numbers([], [], 4, "none"), reference.config)
    s = score_take(bare, load_take(music["same"], reference))
    assert not s.beats and s.onsets and "nothing to score" in s.sentence()
    json.dumps(s.to_dict(), allow_nan=False)
    assert score_png(s)[:4] == b"\x89PNG"  # an empty error panel says so


# -- the command line ---------------------------------------------------------------------------


def test_cli_score_table_json_and_plot(music: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out_json, png = tmp_path / "score.json", tmp_path / "score.png"
    args = ["score", str(music["ref"]), str(music["take"]), "--beats", str(music["beats"]), "--pitch", "yin"]
    rc = main([*args, "--json", str(out_json), "--plot", str(png), "--tolerance", "30"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "timing per bar" in captured.out and "beats within ±30 ms" in captured.out
    d = json.loads(out_json.read_text())
    assert d["tolerance_ms"] == 30.0 and len(d["beats"]) == N_BEATS and set(d["beats"][0]) == ROW_KEYS
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.tmp"))  # written through temporary files, none left

    rc = main([*args, "--json", "-", "--tempo", "0.9"])
    captured = capsys.readouterr()
    assert rc == 0 and json.loads(captured.out)["tempo_ratio"] == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tolerance", "0"], "--tolerance"),
        (["--tolerance", "nan"], "--tolerance"),
        (["--tempo", "-1"], "--tempo"),
        (["--beats-per-bar", "0"], "--beats-per-bar"),
        (["--method", "fast"], "unknown alignment method"),
    ],
)
def test_cli_score_bad_options(music: dict, extra: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    rc = main(["score", str(music["ref"]), str(music["take"]), "--pitch", "yin", *extra])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


def test_cli_score_missing_or_silent_take(music: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["score", str(music["ref"]), str(tmp_path / "nope.wav"), "--pitch", "yin"])
    err = capsys.readouterr().err
    assert rc == 2 and "nope.wav" in err and len(err.strip().splitlines()) == 1
    silent = write(tmp_path / "silent.wav", np.zeros(SR, np.float32))
    rc = main(["score", str(music["ref"]), str(silent), "--pitch", "yin", "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "silent" in err and len(err.strip().splitlines()) == 1


def test_cli_score_with_a_stored_reference(music: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    store = tmp_path / "store"
    rc = main(["reference", "add", str(music["ref"]), "--name", "tune", "--beats", str(music["beats"]),
               "--pitch", "yin", "--store", str(store), "-q"])  # fmt: skip
    assert rc == 0
    rc = main(["score", "tune", str(music["same"]), "--store", str(store), "--json", "-"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    d = json.loads(captured.out)
    assert d["reference"]["name"] == "tune" and d["summary"]["within_tolerance"] >= 0.95


def test_cli_follow_score(music: dict, capsys: pytest.CaptureFixture) -> None:
    rc = main(["follow", str(music["ref"]), "--input", str(music["same"]), "--pitch", "yin", "--score"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "followed" in captured.out and "timing per bar" in captured.out and "beats within ±50 ms" in captured.out


# -- the audio edits (matcher.evaluation.edits) ------------------------------------------------------


def _clicks(times: np.ndarray, seconds: float) -> np.ndarray:
    y = np.zeros(int(seconds * SR), np.float32)
    for t in times:
        y[round(t * SR)] = 1.0
    return y


def _peaks(y: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.abs(y) > 0.5) / SR


def test_edit_gap_and_cut_move_later_audio_by_exact_amounts() -> None:
    times = np.array([0.5, 1.0, 1.5, 2.0])
    y = _clicks(times, 2.5)
    gap = edit_audio.insert_silence(y, SR, 1.2, 0.06)
    np.testing.assert_allclose(_peaks(gap.audio), gap.new_time(times), atol=1 / SR)
    np.testing.assert_allclose(gap.new_time(times), [0.5, 1.0, 1.56, 2.06])
    cut = edit_audio.cut(y, SR, 1.45, 0.1)
    np.testing.assert_allclose(_peaks(cut.audio), cut.new_time(times), atol=1 / SR)
    np.testing.assert_allclose(cut.new_time(times), [0.5, 1.0, 1.4, 1.9])
    assert len(cut.audio) == len(y) - round(0.1 * SR)
    with pytest.raises(ValueError, match="outside"):
        edit_audio.insert_silence(y, SR, 3.0, 0.05)


def test_edit_stretch_and_rush_follow_their_time_maps() -> None:
    notes = [Note(b, 0.5, None, 0.9, drum=1) for b in range(16)]
    y = render(notes, TempoMap((0.0, 16.0), (120.0, 120.0)), SR)
    onsets = np.arange(1, 16) * 0.5
    for edit in (edit_audio.stretch(y, SR, 2.0 - 0.01, 4.0 - 0.01, 1.2), edit_audio.rush(y, SR, 2.99, 5.99, 0.15)):
        assert len(edit.audio) / SR == pytest.approx(float(edit.new_time(len(y) / SR)), abs=0.02)
        env = np.abs(edit.audio)
        found = []
        for t in edit.new_time(onsets):  # the attack: the first sample near the expected place above half the peak
            lo, hi = round((t - 0.03) * SR), round((t + 0.03) * SR)
            seg = env[lo:hi]
            found.append((lo + int(np.argmax(seg > 0.5 * seg.max()))) / SR)
        assert np.abs(np.array(found) - edit.new_time(onsets)).max() < 0.006, edit.kind
    stretched = edit_audio.stretch(y, SR, 2.0, 4.0, 1.2)
    assert stretched.new_time(5.0) == pytest.approx(5.4)


def test_edit_pitch_shift_keeps_time_and_shifts_by_cents() -> None:
    import synth as test_signals  # tests/synth.py (pytest puts tests/ on the path)

    y = test_signals.tone(440.0, 3.0, SR, amp=0.5)
    edit = edit_audio.pitch_shift(y, SR, 1.0, 2.0, 50.0)
    assert len(edit.audio) == len(y) and edit.cents == 50.0 and edit.span == (1.0, 2.0)
    inside = test_signals.dominant_hz(edit.audio[int(1.2 * SR) : int(1.8 * SR)], SR)
    outside = test_signals.dominant_hz(edit.audio[int(0.2 * SR) : int(0.8 * SR)], SR)
    assert 1200 * np.log2(inside / 440.0) == pytest.approx(50.0, abs=3)
    assert outside == pytest.approx(440.0, abs=0.5)


class _FakeMic:
    """A stand-in sounddevice InputStream: plays ``audio`` to the callback from a thread,
    eight times faster than real time, then reports the device finished."""

    def __init__(self, audio: np.ndarray, samplerate: int, channels: int, callback, finished_callback, **_) -> None:
        import threading

        self.audio, self.sr, self.callback, self.finished = audio[:, None], samplerate, callback, finished_callback
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()

    close = stop

    def _run(self) -> None:
        import time

        start = time.perf_counter()
        for i in range(0, len(self.audio), 512):
            if self._halt.is_set():
                return
            x = self.audio[i : i + 512]
            time.sleep(max(0.0, start + (i + len(x)) / self.sr / 8 - time.perf_counter()))
            self.callback(x, len(x), None, False)
        self.finished()


@pytest.mark.parametrize("keep", [False, True])
def test_cli_follow_microphone_score(
    music: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, keep: bool
) -> None:
    import tempfile
    import types

    audio = sf.read(music["same"], dtype="float32")[0]
    sd = types.ModuleType("sounddevice")
    sd.query_devices = lambda device=None, kind=None: (
        {"index": 0, "name": "mic", "max_input_channels": 1, "default_samplerate": float(SR), "hostapi": 0}
        if kind == "input"
        else [{"index": 0, "name": "mic", "max_input_channels": 1, "default_samplerate": float(SR), "hostapi": 0}]
    )
    sd.query_hostapis = lambda: ({"name": "ALSA"},)
    sd.InputStream = lambda device, dtype, **kw: _FakeMic(audio, **kw)
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    before = set(Path(tempfile.gettempdir()).glob("matcher-take-*"))
    saved = tmp_path / "take.flac"
    args = ["follow", str(music["ref"]), "--pitch", "yin", "--score", "--duration", str(len(audio) / SR)]
    rc = main(args + (["--save-take", str(saved)] if keep else []))
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "timing per bar" in captured.out and "beats within ±50 ms" in captured.out
    assert ("take saved" in captured.err) == keep and saved.exists() == keep
    assert set(Path(tempfile.gettempdir()).glob("matcher-take-*")) == before  # the scratch take is gone
