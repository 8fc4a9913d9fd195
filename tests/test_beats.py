"""Beat files in every documented format, beat/bar interpolation, bad files, and the
librosa tracker on click tracks of known tempo."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import synth

from matcher import Beats, Config, InputFileError, ParameterError, YinModel, extract, load_beats, track_beats

SR = 16000


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# -- formats ------------------------------------------------------------------------


def test_one_time_per_line(tmp_path: Path) -> None:
    beats = load_beats(write(tmp_path, "b.txt", "0.5\n1.0\n\n# a comment\n1.52\n2.01\n"), beats_per_bar=3)
    np.testing.assert_allclose(beats.times, [0.5, 1.0, 1.52, 2.01])
    np.testing.assert_array_equal(beats.numbers, [0, 1, 2, 3])
    np.testing.assert_allclose(beats.bars, [1.0, 1 + 1 / 3, 1 + 2 / 3, 2.0])
    assert beats.beats_per_bar == 3
    assert beats.source == str(tmp_path / "b.txt")
    assert len(beats) == 4


def test_csv_score_beat_with_gaps_keeps_numbering(tmp_path: Path) -> None:
    """Like the Vienna files: beats without an onset are missing, numbering continues."""
    text = "score_beat,perf_time_sec\n0.0000,0.7083\n1.0000,3.0729\n3.0000,7.1885\n4.0000,9.0\n7.0000,15.5\n"
    beats = load_beats(write(tmp_path, "b.csv", text), beats_per_bar=2)
    np.testing.assert_allclose(beats.times, [0.7083, 3.0729, 7.1885, 9.0, 15.5])
    np.testing.assert_array_equal(beats.numbers, [0, 1, 3, 4, 7])
    # 2/4: bar = floor(score_beat / 2) + 1, beat b of the bar at + b/2
    np.testing.assert_allclose(beats.bars, [1.0, 1.5, 2.5, 3.0, 4.5])
    np.testing.assert_array_equal(np.floor(beats.bars), np.floor(beats.numbers / 2) + 1)


@pytest.mark.parametrize(
    "text",
    [
        "time\n0.5\n1.0\n1.5\n",
        "beat_time,label\n0.5,x\n1.0,y\n1.5,z\n",
        "\ufefftime,beat\n0.5,0\n1.0,1\n1.5,2\n",  # with a byte-order mark
        "Time\tBeat\n0.5\t0\n1.0\t1\n1.5\t2\n",  # tab separated, capitalised
        "beat, perf_time_sec\n0, 0.5\n1, 1.0\n2, 1.5\n",  # columns in the other order, spaces
    ],
)
def test_csv_variants(tmp_path: Path, text: str) -> None:
    beats = load_beats(write(tmp_path, "b.csv", text))
    np.testing.assert_allclose(beats.times, [0.5, 1.0, 1.5])
    np.testing.assert_array_equal(beats.numbers, [0, 1, 2])


def test_time_beat_in_bar(tmp_path: Path) -> None:
    """A pickup of one beat, then 3/4 bars; downbeats land on whole bar numbers."""
    text = "0.4 3\n1.0 1\n1.5 2\n2.0 3\n2.5 1\n3.0 2\n3.5 3\n4.0 1\n"
    beats = load_beats(write(tmp_path, "b.beats", text), beats_per_bar=7)  # metre comes from the file
    np.testing.assert_allclose(beats.times, [0.4, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0])
    np.testing.assert_array_equal(beats.numbers, np.arange(8))
    np.testing.assert_allclose(beats.bars, [2 / 3, 1, 1 + 1 / 3, 1 + 2 / 3, 2, 2 + 1 / 3, 2 + 2 / 3, 3])
    assert beats.beats_per_bar == 3


def test_time_beat_in_bar_tabs_and_metre_change(tmp_path: Path) -> None:
    text = "0.1\t1\n0.6\t2\n1.1\t3\n1.6\t4\n2.1\t1\n2.6\t2\n3.1\t1\n3.6\t2\n4.1\t3\n4.6\t4\n5.1\t1\n"
    beats = load_beats(write(tmp_path, "b.beats", text))
    np.testing.assert_allclose(beats.bars[[0, 4, 6, 10]], [1, 2, 3, 4])  # downbeats
    np.testing.assert_allclose(beats.bars[5], 2.5)  # a 2-beat bar: its second beat halfway
    assert beats.beats_per_bar == 4


def test_comma_separated_beat_in_bar(tmp_path: Path) -> None:
    beats = load_beats(write(tmp_path, "b.txt", "0.5,1\n1.0,2\n1.5,1\n2.0,2\n"))
    np.testing.assert_allclose(beats.bars, [1, 1.5, 2, 2.5])
    assert beats.beats_per_bar == 2


# -- the shared evaluation files -----------------------------------------------------


VIENNA = [f"vienna_chopin_op10_3/Chopin_op10_no3_p{i:02d}_beats.csv" for i in range(1, 9)]
PERCUSSION = [f"percussion/perc7_{i:02d}_{kind}_beats.csv" for i in range(3) for kind in ("ref", "take")]


@pytest.mark.parametrize("relative", VIENNA + PERCUSSION)
def test_shared_csv_beat_files(shared_file, relative: str) -> None:
    path = shared_file(relative)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    beats = load_beats(path, beats_per_bar=2)
    np.testing.assert_allclose(beats.times, [float(r["perf_time_sec"]) for r in rows])
    np.testing.assert_array_equal(beats.numbers, [float(r["score_beat"]) for r in rows])
    np.testing.assert_array_equal(np.floor(beats.bars), np.floor(beats.numbers / 2) + 1)  # the README's rule


@pytest.mark.parametrize("name,metre", [("Media-105901", 3), ("country.00000", 4)])
def test_shared_beat_in_bar_files(shared_file, name: str, metre: int) -> None:
    path = shared_file(f"beats/{name}.beats")
    table = np.loadtxt(path)
    beats = load_beats(path)
    np.testing.assert_allclose(beats.times, table[:, 0])
    assert beats.beats_per_bar == metre
    down = table[:, 1] == 1
    bars = beats.bars[down]
    np.testing.assert_allclose(bars, np.round(bars))  # downbeats on whole bars
    np.testing.assert_array_equal(np.diff(bars), 1)  # one bar each
    assert np.all(np.diff(beats.bars) > 0)


# -- interpolation -----------------------------------------------------------------


@pytest.fixture
def steady() -> Beats:
    """Beats 0, 1, 3, 4 (2 missing) at 1.0, 1.5, 2.5, 3.5 s: 0.5 s per beat, then 1 s."""
    return Beats.from_numbers(np.array([1.0, 1.5, 2.5, 3.5]), np.array([0, 1, 3, 4]), 2, "test")


def test_beat_at_interpolates(steady: Beats) -> None:
    assert steady.beat_at(1.25) == pytest.approx(0.5)
    assert steady.beat_at(2.0) == pytest.approx(2.0)  # across the gap
    assert steady.beat_at(3.0) == pytest.approx(3.5)
    np.testing.assert_allclose(steady.beat_at(steady.times), steady.numbers)
    np.testing.assert_allclose(steady.bar_at(np.array([1.0, 2.0, 3.5])), [1.0, 2.0, 3.0])


def test_beat_at_extrapolates_with_end_intervals(steady: Beats) -> None:
    assert steady.beat_at(0.0) == pytest.approx(-2.0)  # first interval: 0.5 s per beat
    assert steady.beat_at(5.5) == pytest.approx(6.0)  # last interval: 1 s per beat
    assert steady.bar_at(0.5) == pytest.approx(0.5)
    assert steady.bar_at(4.5) == pytest.approx(3.5)


def test_beat_at_is_numpys_interp_bit_for_bit() -> None:
    # the compiled lookup must give what np.interp gives inside the beats, and the end
    # intervals' rates continued outside, to the last bit
    rng = np.random.default_rng(3)
    for _ in range(200):
        times = np.cumsum(rng.uniform(0.1, 1.0, rng.integers(2, 40)))
        numbers = np.cumsum(rng.uniform(0.5, 2.0, len(times)))
        beats = Beats.from_numbers(times, numbers, 4, "random")
        x = rng.uniform(-2.0, times[-1] + 2.0, 7)
        want = np.interp(x, times, numbers)
        lo, hi = x < times[0], x > times[-1]
        want[lo] = numbers[0] + (x[lo] - times[0]) * ((numbers[1] - numbers[0]) / (times[1] - times[0]))
        want[hi] = numbers[-1] + (x[hi] - times[-1]) * ((numbers[-1] - numbers[-2]) / (times[-1] - times[-2]))
        assert np.array_equal(beats.beat_at(x), want)


def test_beat_at_types(steady: Beats) -> None:
    assert isinstance(steady.beat_at(1.3), float)
    out = steady.beat_at(np.array([[0.0, 1.3], [2.0, 9.0]]))
    assert isinstance(out, np.ndarray) and out.shape == (2, 2)


def test_beat_at_with_one_or_no_beats() -> None:
    one = Beats.from_numbers(np.array([2.0]), np.array([5.0]), 4, "one")
    assert one.beat_at(0.0) == 5.0 and one.beat_at(9.0) == 5.0
    none = Beats.from_numbers(np.zeros(0), np.zeros(0), 4, "none")
    assert np.isnan(none.beat_at(1.0))
    assert np.isnan(none.bar_at(np.array([1.0, 2.0]))).all()
    assert np.isnan(none.tempo_bpm()) and np.isnan(one.tempo_bpm())


def test_tempo_counts_gaps(steady: Beats) -> None:
    beats = Beats.from_numbers(np.array([0.0, 0.5, 1.5, 2.0, 2.5, 3.0]), np.array([0, 1, 3, 4, 5, 6]), 4, "t")
    assert beats.tempo_bpm() == pytest.approx(120.0)


def test_issue_tempo_of_frame_quantised_beats() -> None:
    """Regression: tracked beats sit on the 32 ms frame grid; the median single interval
    of a 120 bpm track was 16 frames = 117.2 bpm (2.3 % off) and 140 bpm read 144.2."""
    for bpm in (120.0, 140.0, 175.0):
        times = np.round(np.arange(0.5, 20, 60 / bpm) / 0.032) * 0.032
        beats = Beats.from_numbers(times, np.arange(len(times)), 4, "grid")
        assert beats.tempo_bpm() == pytest.approx(bpm, rel=0.02)


def test_arrays_round_trip(steady: Beats) -> None:
    again = Beats.from_arrays(steady.arrays(), steady.beats_per_bar, steady.source)
    for a, b in zip(steady.arrays().values(), again.arrays().values(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert repr(again) == "Beats(n=4, beats_per_bar=2, source='test')"


# -- bad files ---------------------------------------------------------------------


BAD = {
    "empty": "",
    "only-comments": "# nothing\n\n",
    "header-only": "score_beat,perf_time_sec\n",
    "no-time-column": "foo,bar\n1,2\n",
    "decreasing": "1.0\n0.5\n",
    "repeated-time": "1.0\n1.0\n",
    "negative": "-0.5\n1.0\n",
    "nan": "0.5\nnan\n",
    "inf": "0.5\ninf\n",
    "three-columns": "0.5 1 2\n1.0 2 3\n",
    "mixed-widths": "0.5\n1.0 2\n",
    "words": "zero\n1.0\n",
    "unreadable-row": "time,beat\n0.5,0\n1.0,x\n",
    "short-row": "beat,time\n0,0.5\n1\n",
    "beat-numbers-repeat": "time,beat\n0.5,1\n1.0,1\n",
    "beat-number-nan": "time,beat\n0.5,nan\n1.0,1\n",
    "beat-in-bar-zero": "0.5 0\n1.0 1\n",
    "beat-in-bar-fraction": "0.5 1\n1.0 1.5\n",
    "binary": b"\xff\xfe\x00\x01\x80\x81\x00",
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_beat_files(tmp_path: Path, kind: str) -> None:
    path = write(tmp_path, f"{kind}.txt", BAD[kind])
    with pytest.raises(InputFileError) as info:
        load_beats(path)
    assert str(path) in str(info.value)


def test_missing_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        load_beats(tmp_path / "nope.txt")
    with pytest.raises(InputFileError, match=str(tmp_path)):
        load_beats(tmp_path)


def test_beats_per_bar_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="at least 1"):
        load_beats(write(tmp_path, "b.txt", "0.5\n1.0\n"), beats_per_bar=0)


# -- tracking ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def onset_of():
    config = Config(pitch_backend="yin")
    model = YinModel(config)

    def onset(x: np.ndarray) -> tuple[np.ndarray, Config]:
        return extract([x], config, model).onset, config

    return onset


@pytest.mark.parametrize("bpm", [90.0, 120.0, 140.0])
def test_track_beats_click_train(onset_of, bpm: float) -> None:
    x, clicks = synth.click_train(bpm, 12.0, SR)
    onset, config = onset_of(x)
    beats = track_beats(onset, config.sr, config.hop, beats_per_bar=4)
    assert beats.source == "tracked" and beats.beats_per_bar == 4
    assert beats.tempo_bpm() == pytest.approx(bpm, rel=0.02)
    assert len(beats) >= len(clicks) - 2
    # every tracked beat sits on a click (onset frames lead clicks by up to n_fft/2)
    nearest = np.min(np.abs(beats.times[:, None] - clicks[None, :]), axis=1)
    assert nearest.max() < config.n_fft / 2 / config.sr + 2 * config.frame_seconds


@pytest.mark.parametrize("bpm", [80.0, 100.0, 120.0])
def test_track_beats_percussion_pattern(onset_of, bpm: float) -> None:
    """Thud, clicks and off-beat ticks: the tracker may choose the beat or the eighth
    note (a metrical level, not an error), but nothing else."""
    x, _, _ = synth.percussion(bpm, 12.0, SR, seed=1)
    onset, config = onset_of(x)
    tempo = track_beats(onset, config.sr, config.hop).tempo_bpm()
    assert min(abs(tempo / level - 1) for level in (bpm, 2 * bpm)) < 0.02, tempo


def test_track_beats_on_nothing() -> None:
    assert len(track_beats(np.zeros(500), SR, 256)) == 0
    assert len(track_beats(np.ones(2), SR, 256)) == 0


def _envelopes(onset_of) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    x, _, _ = synth.percussion(100.0, 30.0, SR, seed=2)
    perc, _ = onset_of(x)
    clicks, _ = onset_of(synth.click_train(133.0, 20.0, SR)[0])
    return {
        "percussion": perc.astype(np.float64),
        "clicks with noise": clicks + np.abs(rng.normal(0, 0.2, len(clicks))),
        "noise": np.abs(rng.normal(0, 1, 3000)) ** 3,
        "float32 clicks": clicks.astype(np.float32),
        "short": clicks[:60],
    }


def test_track_beats_is_librosas_beat_track(onset_of) -> None:
    """The beats and the tempo are librosa 0.11's (``beat_track``, ``feature.tempo``),
    made without importing librosa.beat."""
    import librosa

    from matcher.beats import global_tempo

    for name, onset in _envelopes(onset_of).items():
        _, want = librosa.beat.beat_track(
            onset_envelope=np.asarray(onset, np.float64), sr=SR, hop_length=256, units="time"
        )
        got = track_beats(onset, SR, 256)
        np.testing.assert_array_equal(got.times, want, err_msg=name)
        tempo = librosa.feature.tempo(onset_envelope=np.asarray(onset, np.float64), sr=SR, hop_length=256)[0]
        assert global_tempo(np.asarray(onset, np.float64), SR, 256) == tempo, name


def test_tempogram_window_is_scipys() -> None:
    import scipy.signal

    from matcher.beats import _hann

    for n in (2, 5, 384, 500):
        np.testing.assert_array_equal(_hann(n), scipy.signal.get_window("hann", n, fftbins=True))


def test_tracking_beats_imports_no_librosa() -> None:
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from matcher.beats import track_beats; "
        "o = np.zeros(5000); o[::31] = 1.0; assert len(track_beats(o, 16000, 256)) > 100; "
        "print(sorted(m for m in sys.modules if m.startswith(('librosa', 'scipy.signal', 'scipy.stats'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
