"""Comparison of two performances: a known synthetic warp recovered at every beat, tempo
ratio and pitch offsets, and ``matcher compare`` end to end (JSON, CSV, PNG, stored
references, bad input). YIN pitch only (no TensorFlow)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from matcher import Beats, Config, ParameterError, YinModel, build_reference
from matcher.align import AlignParams
from matcher.cli import main
from matcher.compare import Comparison, compare, write_atomic
from matcher.synth import Note, TempoMap, render

CONFIG = Config(pitch_backend="yin")
SR = CONFIG.sr
N_BEATS = 32  # 8 bars of 4


def tune(transpose: float = 0.0) -> list[Note]:
    """A melody with a note on every beat (some eighths between) over a bass per bar."""
    steps = [0, 2, 4, 5, 7, 5, 4, 2, 0, 4, 7, 12, 11, 7, 5, 2]
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


A_MAP = TempoMap((0.0, N_BEATS), (100.0, 100.0))
# B: slows to 80 % in bar 2, rushes to 125 % in bars 5-6, settles back: a ±25 % curve.
B_MAP = TempoMap((0.0, 6.0, 18.0, 24.0, N_BEATS), (95.0, 80.0, 125.0, 110.0, 90.0))


def write(path: Path, notes: list[Note], tempo: TempoMap, timbre: int, noise_db: float | None = None) -> Path:
    sf.write(path, render(notes, tempo, SR, timbre=timbre, noise_db=noise_db, seed=5), SR)
    return path


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A (steady, timbre 0) and B (the warped curve, another timbre, 35 dB noise) as files,
    A's beat file, and both preprocessed."""
    folder = tmp_path_factory.mktemp("compare")
    a = write(folder / "a.wav", tune(), A_MAP, timbre=0)
    b = write(folder / "b.wav", tune(), B_MAP, timbre=1, noise_db=35.0)
    beats = folder / "a_beats.txt"
    beats.write_text("".join(f"{t:.6f}\n" for t in A_MAP.seconds(np.arange(N_BEATS, dtype=float))))
    model = YinModel(CONFIG)
    return {
        "a": a,
        "b": b,
        "beats": beats,
        "ref_a": build_reference(a, CONFIG, model, "steady", beats),
        "ref_b": build_reference(b, CONFIG, model, "warped"),
    }


@pytest.mark.parametrize("method", ["dtw", "banded"])
def test_known_warp_is_recovered_at_every_beat(pair: dict, method: str) -> None:
    result = compare(pair["ref_a"], pair["ref_b"], AlignParams(method=method, coarse_cells=20_000))
    assert result.alignment.method == method
    beats = np.array([b.beat for b in result.beats])
    np.testing.assert_array_equal(beats, np.arange(N_BEATS))
    truth = B_MAP.seconds(beats)
    found = np.array([b.b_t for b in result.beats])
    errors_ms = np.abs(found - truth) * 1000
    assert errors_ms.max() < 20.0, f"beat errors [ms]: {np.round(errors_ms).astype(int).tolist()}"


def test_tempo_curve_and_passages_follow_the_warp(pair: dict) -> None:
    result = compare(pair["ref_a"], pair["ref_b"])
    # overall: A's 32 beats against B's over the same music
    expected = float(A_MAP.seconds(N_BEATS - 1) / B_MAP.seconds(N_BEATS - 1))
    assert result.tempo_ratio == pytest.approx(expected, rel=0.03)
    # local tempo of B against A where B is steadiest at its extremes
    slow_t, fast_t = A_MAP.seconds(6.0), A_MAP.seconds(18.0)
    at = lambda t: float(np.interp(t, result.tempo_a_t, result.tempo_curve))  # noqa: E731
    assert at(slow_t) == pytest.approx(0.8, abs=0.06)
    assert at(fast_t) == pytest.approx(1.25, abs=0.08)
    # the passages: the slow start and the fast middle, by bar number
    assert result.passages
    bars = {bar for p in result.passages for bar in range(p.first_bar, p.last_bar + 1)}
    assert bars & {1, 2} and bars & {4, 5, 6}
    fast = [p for p in result.passages if p.tempo_dev_pct > 0]
    assert fast and all(4 <= p.first_bar <= 6 for p in fast)
    # deviations from a steady rendering at the overall ratio: B falls behind in the slow
    # start and is ahead by the end; each beat as the maps say, within 20 ms
    ta, tb = A_MAP.seconds(np.arange(N_BEATS, dtype=float)), B_MAP.seconds(np.arange(N_BEATS, dtype=float))
    steady = ta / result.tempo_ratio
    expected = (tb - steady - np.mean(tb - steady)) * 1000
    dev = np.array([b.dev_ms for b in result.beats])
    assert np.abs(dev - expected).max() < 20.0
    assert dev[16] > 100 and dev[N_BEATS - 1] < -100
    text = result.summary()
    assert "faster" in text and "bar" in text


def test_pitch_offset_in_cents(tmp_path: Path, pair: dict) -> None:
    b = write(tmp_path / "sharp.wav", tune(transpose=0.3), A_MAP, timbre=1)
    result = compare(pair["ref_a"], build_reference(b, CONFIG, YinModel(CONFIG), "sharp"))
    assert result.pitch is not None
    assert result.pitch["median_cents"] == pytest.approx(30.0, abs=5.0)
    assert result.tempo_ratio == pytest.approx(1.0, abs=0.01)
    assert "sharp" in result.summary()


def test_no_beats_still_compares(pair: dict) -> None:
    empty = Beats.from_numbers(np.zeros(0), np.zeros(0), 4, "tracked")
    result = compare(pair["ref_a"], pair["ref_b"], beats=empty)
    assert result.beats == () and result.bars == () and result.passages == ()
    assert result.smooth_s == 3.0 and np.isfinite(result.tempo_ratio)
    assert json.loads(json.dumps(result.to_dict()))["beats"] == []


def test_incompatible_configurations_are_refused(pair: dict) -> None:
    other = pair["ref_b"].__class__(
        "other", pair["ref_b"].frames, pair["ref_b"].beats, CONFIG.replace(hop=512), pair["ref_b"].meta
    )
    with pytest.raises(ParameterError, match="hop"):
        compare(pair["ref_a"], other)


def test_write_atomic_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


# -- the command line ----------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_cli_writes_json_csv_and_png(tmp_path: Path, pair: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out_json, out_csv, out_png = tmp_path / "c.json", tmp_path / "c.csv", tmp_path / "c.png"
    rc, out, err = run(
        capsys, "compare", pair["a"], pair["b"], "--beats", pair["beats"],
        "--json", out_json, "--csv", out_csv, "--plot", out_png, "--store", tmp_path / "store",
    )  # fmt: skip
    assert rc == 0, err
    data = json.loads(out_json.read_text())
    assert {"path", "beats", "tempo_ratio", "tempo_curve", "bars", "passages", "pitch", "summary"} <= set(data)
    assert all(len(p) == 2 for p in data["path"]) and len(data["path"]) > 10
    assert np.all(np.diff(np.array(data["path"]), axis=0) > 0)
    assert len(data["beats"]) == N_BEATS
    assert {"beat", "bar", "a_t", "b_t", "dev_ms"} <= set(data["beats"][0])
    assert data["beats"][4]["bar"] == 2
    assert 0.8 < data["tempo_ratio"] < 1.3
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == N_BEATS and float(rows[5]["b_t"]) == pytest.approx(data["beats"][5]["b_t"])
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "faster" in out or "slower" in out  # the summary sentence
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_json_to_stdout_and_stored_references(
    tmp_path: Path, pair: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", tmp_path / "store"]
    rc, _, err = run(
        capsys, "reference", "add", pair["a"], "--name", "steady", "--beats", pair["beats"], "--pitch", "yin", *store
    )
    assert rc == 0, err
    rc, out, err = run(capsys, "compare", "steady", pair["b"], "--json", "-", *store)
    assert rc == 0, err
    data = json.loads(out)  # nothing but the JSON on stdout
    assert data["a"]["name"] == "steady" and len(data["beats"]) == N_BEATS
    assert data["meta"]["beats_source"].endswith("a_beats.txt")


def assert_one_error_line(rc: int, err: str, *words: str) -> None:
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("matcher: ") and "Traceback" not in err
    for word in words:
        assert word in err, err


def test_cli_bad_input(tmp_path: Path, pair: dict, capsys: pytest.CaptureFixture[str]) -> None:
    store = ["--store", tmp_path / "store"]
    rc, _, err = run(capsys, "compare", tmp_path / "missing.wav", pair["b"], *store)
    assert_one_error_line(rc, err, "missing.wav", "neither")
    rc, _, err = run(capsys, "compare", pair["a"], pair["b"], "--method", "fast", *store)
    assert_one_error_line(rc, err, "fast", "banded")
    rc, _, err = run(capsys, "compare", pair["a"], pair["b"], "--pitch", "crepe", *store)
    assert_one_error_line(rc, err, "crepe")
    rc, _, err = run(capsys, "compare", pair["a"], pair["b"], "--json", tmp_path / "no" / "x.json", "-q", *store)
    assert_one_error_line(rc, err, "does not exist")
    text = tmp_path / "notaudio.wav"
    text.write_text("hello")
    rc, _, err = run(capsys, "compare", pair["a"], text, *store)
    assert_one_error_line(rc, err, "notaudio.wav")


def test_comparison_repr_and_dict_are_json_ready(pair: dict) -> None:
    result = compare(pair["ref_a"], pair["ref_b"])
    assert isinstance(result, Comparison) and repr(result).startswith("Comparison('steady' vs 'warped'")
    text = json.dumps(result.to_dict(), allow_nan=False)  # NaN became null
    assert '"tempo_ratio"' in text


def _beat_envelope(n: int, rng: np.random.Generator) -> np.ndarray:
    """Onset strength of a steady 112 bpm over noise, n frames."""
    onset = np.abs(rng.normal(0, 0.1, n))
    beat_frames = np.round(np.arange(0.5, n * CONFIG.frame_seconds - 0.5, 60 / 112) / CONFIG.frame_seconds)
    onset[beat_frames.astype(int)] += 3.0
    return onset


def test_long_beat_tracking_matches_librosa(rng: np.random.Generator) -> None:
    import librosa

    from matcher.beats import LONG_TRACK_FRAMES, track_beats

    onset = _beat_envelope(int(LONG_TRACK_FRAMES * 2.5), rng)  # several chunks
    bounded = track_beats(onset, SR, CONFIG.hop)
    _, whole = librosa.beat.beat_track(onset_envelope=onset, sr=SR, hop_length=CONFIG.hop, units="time")
    assert len(bounded) == len(whole) > 100
    np.testing.assert_allclose(bounded.times, whole, atol=1e-9)
    assert bounded.tempo_bpm() == pytest.approx(112, rel=0.02)


def test_long_beat_tracking_memory_does_not_grow_with_length(rng: np.random.Generator) -> None:
    """Peak allocation (tracemalloc sees numpy's buffers) of tracking 4x the frames stays
    within 10 % of 1x; librosa's whole-signal tempogram grows with the length (measured:
    125 MB at 2.5 and 10 chunks alike, librosa 240 -> 480 MB from 2.5 to 5 chunks)."""
    import tracemalloc

    from matcher.beats import LONG_TRACK_FRAMES, track_beats

    short, long = (_beat_envelope(int(LONG_TRACK_FRAMES * k), rng) for k in (2.5, 10))
    track_beats(short, SR, CONFIG.hop)  # one-time allocations (caches, compilation) out of the way

    def peak(onset: np.ndarray) -> int:
        tracemalloc.start()
        try:
            track_beats(onset, SR, CONFIG.hop)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak(long) <= 1.1 * peak(short), (peak(long), peak(short))


def test_prepare_performance_tracks_only_when_asked(pair: dict) -> None:
    from matcher.compare import prepare_performance

    model = YinModel(CONFIG)
    a = prepare_performance(pair["a"], CONFIG, model)
    b = prepare_performance(pair["b"], CONFIG, model, name="take", track=False)
    assert a.name == "a" and len(a.beats) > 10 and a.beats.source == "tracked"
    assert b.name == "take" and len(b.beats) == 0 and b.meta["pitch_backend"] == "yin"
    np.testing.assert_array_equal(a.frames.onset, pair["ref_a"].frames.onset)  # the same features as the store's
