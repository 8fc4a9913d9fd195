"""The three-line Python API (matcher.load / follow / score / compare), the resolver behind
it, and how pauses show in the follow summary and the per-bar tempo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import matcher
from matcher import Config, Performance, ReferenceStore, StoreError
from matcher.compare import Comparison
from matcher.follow import Track, bar_tempo, pause_spans, summarize
from matcher.plot import follow_png
from matcher.resolve import BUILDERS, register_builder, resolve
from matcher.scoring import Score
from matcher.synth import TempoMap, melody, render

SR = Config().sr
N_BARS = 8
BEATS = np.arange(4 * N_BARS, dtype=float)
REF_MAP = TempoMap((0.0, 4.0 * N_BARS), (100.0, 100.0))
TAKE_MAP = TempoMap((0.0, 4.0 * N_BARS), (110.0, 110.0))  # 10 % faster throughout
PAUSE_AT_BEAT, PAUSE_S = 13.0, 2.5


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("api")
    notes = melody(N_BARS)
    sf.write(folder / "ref.wav", render(notes, REF_MAP, SR, timbre=0), SR)
    (folder / "beats.txt").write_text("".join(f"{t:.6f}\n" for t in REF_MAP.seconds(BEATS)))
    take = render(notes, TAKE_MAP, SR, timbre=1, noise_db=40.0, seed=4)
    sf.write(folder / "take.wav", take, SR)
    # The same take with a silence inserted just before a beat: the player stops and goes on.
    cut = int(float(TAKE_MAP.seconds(PAUSE_AT_BEAT)) * SR) - int(0.05 * SR)
    paused = np.concatenate([take[:cut], np.zeros(int(PAUSE_S * SR), take.dtype), take[cut:]])
    sf.write(folder / "paused.wav", paused, SR)
    return {"ref": folder / "ref.wav", "beats": folder / "beats.txt", "take": folder / "take.wav",
            "paused": folder / "paused.wav", "folder": folder}  # fmt: skip


@pytest.fixture(scope="module")
def ref(files: dict[str, Path]) -> Performance:
    return matcher.load(files["ref"], beats=files["beats"], pitch="yin")


def test_three_lines(files: dict[str, Path], ref: Performance) -> None:
    """load, follow, score and compare, each returning the typed result the CLI prints."""
    track = matcher.follow(ref, files["take"])
    score = matcher.score(ref, files["take"])
    comparison = matcher.compare(ref, files["take"])
    assert isinstance(track, Track) and isinstance(score, Score) and isinstance(comparison, Comparison)
    assert len(ref.beats) == len(BEATS) and ref.beats.source != "librosa"
    # where the take ends the follower has reached the reference's end
    assert track.ref_t[-1] == pytest.approx(ref.duration, abs=1.0)
    assert score.tempo_ratio == pytest.approx(1.1, abs=0.03)
    assert comparison.tempo_ratio == pytest.approx(1.1, abs=0.03)
    assert score.summary["within_tolerance"] >= 0.9
    # the take was processed with the reference's configuration and pitch backend
    assert score.comparison.b_name == "take"


def test_names_from_a_store(tmp_path: Path, files: dict[str, Path], ref: Performance) -> None:
    store = ReferenceStore(tmp_path / "store")
    store.add(ref)
    stored = matcher.load(ref.name, store=store)
    assert stored.name == ref.name and len(stored.frames) == len(ref.frames)
    score = matcher.score(ref.name, files["take"], store=store)
    assert score.ref_name == ref.name
    # the take processed like the reference, whatever pitch option a caller might pass elsewhere
    assert score.comparison.b_duration == pytest.approx(sf.info(str(files["take"])).duration, abs=0.05)


def test_stored_reference_of_another_configuration_is_refused(tmp_path: Path, ref: Performance) -> None:
    """compare and batch load stored references through the same check as follow."""
    store = ReferenceStore(tmp_path / "store")
    odd = Performance("odd", ref.frames, ref.beats, ref.config.replace(hop=128), ref.meta)
    store.add(odd)
    for call in (lambda: matcher.compare("odd", ref, store=store), lambda: resolve("odd", store=store)):
        with pytest.raises(StoreError, match="rebuild it"):
            call()


def test_unknown_name_or_file(tmp_path: Path) -> None:
    with pytest.raises(matcher.InputFileError, match="neither a stored reference"):
        matcher.load("nosuch", store=tmp_path / "store")
    with pytest.raises(matcher.InputFileError, match="no such file"):
        matcher.load(tmp_path / "nosuch.wav")


def test_a_registered_builder_resolves_its_suffix(tmp_path: Path, ref: Performance) -> None:
    """The hook a score-file reader registers with: its suffix resolves through it."""
    path = tmp_path / "piece.fakescore"
    path.write_text("notes")
    seen = []

    def build(p: Path, options) -> Performance:
        seen.append((p, options.beats_per_bar))
        return ref.renamed(p.stem)

    register_builder(".fakescore", build)
    try:
        perf = matcher.load(path, beats_per_bar=3)
    finally:
        del BUILDERS[".fakescore"]
    assert perf.name == "piece" and seen == [(path, 3)]


def test_a_pause_is_not_slow_playing(files: dict[str, Path], ref: Performance) -> None:
    """A 2.5-s silence in the take: the follower's own tempo dives after it (its window
    fits a slope through held positions), but the pause is reported as a pause and the
    bar it falls in keeps the take's tempo."""
    track = matcher.follow(ref, files["paused"])
    spans = pause_spans(track, ref.config.frame_seconds)
    assert len(spans) == 1
    start, end = spans[0]
    t_pause = float(TAKE_MAP.seconds(PAUSE_AT_BEAT))
    assert start == pytest.approx(t_pause, abs=0.2)  # from where the silence began
    assert end == pytest.approx(t_pause + PAUSE_S, abs=0.2)
    raw_min = float(np.min(track.tempo_ratio[(track.t > end) & (track.t < end + 2.0)]))
    assert raw_min < 0.8  # what the summary and the plots showed before
    summary = summarize(track, ref)
    assert summary["pauses"] == 1 and summary["paused_s"] == pytest.approx(PAUSE_S, abs=0.2)
    assert summary["slowest"]["tempo_dev_pct"] > -15.0
    bars = {b.bar: b for b in bar_tempo(track, ref)}
    assert sorted(bars) == list(range(1, N_BARS))  # every bar but the last, which nothing ends
    paused_bar = int(PAUSE_AT_BEAT // 4) + 1
    assert bars[paused_bar].paused_s == pytest.approx(PAUSE_S, abs=0.2)
    played = [b.tempo_ratio for b in bars.values() if np.isfinite(b.tempo_ratio)]
    assert np.median(played) == pytest.approx(1.1, abs=0.05)
    assert bars[paused_bar].tempo_ratio == pytest.approx(1.1, abs=0.1)
    # the plot for the demo: position, per-bar tempo, the pause shaded
    assert follow_png(track, ref)[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_and_score_show_a_pause_as_a_pause(files: dict[str, Path], ref: Performance) -> None:
    """Offline, the take's silence is a pause of B: listed, and left out of the tempo
    curve, which a window holding it would read as slow playing."""
    from matcher.compare import tempo_curve

    assert matcher.compare(ref, files["take"]).pauses == ()
    comparison = matcher.compare(ref, files["paused"])
    assert len(comparison.pauses) == 1
    pause = comparison.pauses[0]
    t_pause = float(TAKE_MAP.seconds(PAUSE_AT_BEAT))
    assert pause.b_start == pytest.approx(t_pause, abs=0.2) and pause.seconds == pytest.approx(PAUSE_S, abs=0.2)
    a_pause = float(REF_MAP.seconds(PAUSE_AT_BEAT))
    assert pause.a_t - 1.0 <= a_pause <= pause.a_end + 0.2
    grid, raw = tempo_curve(comparison.alignment, comparison.smooth_s)
    near = np.abs(grid - a_pause) < 1.0
    assert np.nanmin(raw[near]) < 0.7  # what the curve read before
    assert np.isnan(comparison.tempo_curve[np.argmin(np.abs(comparison.tempo_a_t - a_pause))])
    assert np.nanmin(comparison.tempo_curve) > 0.95  # nothing of the pause is left in it
    assert np.nanmedian(comparison.tempo_curve) == pytest.approx(1.1, abs=0.03)
    assert "pauses once" in comparison.summary()
    score = matcher.score(ref, files["paused"]).to_dict()
    assert len(score["pauses"]) == 1 and score["pauses"][0]["b_start"] == pytest.approx(t_pause, abs=0.2)


def test_cli_follow_summary_names_the_pause(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from matcher.cli import main

    args = ["follow", str(files["ref"]), "-i", str(files["paused"]), "--pitch", "yin", "--store", str(files["folder"])]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "paused once, 2." in out and "pauses are not counted as tempo" in out
    slowest = next(line for line in out.splitlines() if line.startswith("slowest:"))
    assert float(slowest.split()[1]) > -15.0, out


def test_import_matcher_stays_light_and_the_api_names_stay_functions() -> None:
    """`import matcher` loads no TensorFlow, librosa, sounddevice or matplotlib; importing
    the follow package afterwards does not turn matcher.follow into the module."""
    import subprocess
    import sys

    code = (
        "import sys, matcher, matcher.follow, matcher.compare, matcher.cli\n"
        "heavy = [m for m in ('tensorflow', 'librosa', 'sounddevice', 'matplotlib') if m in sys.modules]\n"
        "names = [n for n in ('load', 'follow', 'score', 'compare') if not callable(getattr(matcher, n))]\n"
        "print(heavy, names); sys.exit(bool(heavy or names))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
