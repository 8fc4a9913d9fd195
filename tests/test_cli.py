"""`matcher reference ...` end to end: in-process through ``matcher.cli.main`` (fast), and
as a real subprocess to prove that bad input gives one line and exit status 2, never a
traceback. Always ``--pitch yin`` (no TensorFlow) and a throw-away ``--store``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import synth

from matcher import Config, ReferenceStore
from matcher.cli import main

HOP = Config().hop
SR_MODEL = Config().sr


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def assert_one_error_line(rc: int, err: str, *words: str) -> None:
    assert rc == 2, err
    assert err.count("\n") == 1 and err.endswith("\n"), f"not exactly one line on stderr: {err!r}"
    assert err.startswith("matcher: ")
    assert "Traceback" not in err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"


def music(sr: int, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """A short melody over a click track; ``seed`` shifts the notes so files differ."""
    step = seconds / 4
    notes = [(60 + seed, step), (64 + seed, step), (67 + seed, step), (72 + seed, seconds - 3 * step)]
    tones, _ = synth.melody(notes, sr, amp=0.3)
    clicks, _ = synth.click_train(120, len(tones) / sr, sr, start=0.0)
    return np.clip(tones + 0.5 * clicks, -1, 1)


def make_audio(folder: Path, name: str, sr: int = 22050, channels: int = 1, seconds: float = 2.0, seed: int = 0):
    x = synth.to_channels(music(sr, seconds, seed), channels, np.linspace(1.0, 0.5, channels) if channels > 1 else None)
    return synth.write(folder / name, x, sr, "PCM_16")


@pytest.fixture
def store(store_path: Path) -> list[str]:
    """The ``--store`` option for a fresh store folder."""
    return ["--store", str(store_path)]


def add(capsys, audio: Path, store: list[str], *extra: object) -> tuple[int, str, str]:
    return run(capsys, "reference", "add", audio, "--pitch", "yin", *store, *extra)


def show(capsys, name: str, store: list[str]) -> dict:
    rc, out, err = run(capsys, "reference", "show", name, "--json", *store)
    assert rc == 0, err
    return json.loads(out)


def listed(capsys, store: list[str]) -> list[dict]:
    rc, out, err = run(capsys, "reference", "list", "--json", *store)
    assert rc == 0, err
    return json.loads(out)


# -- adding ------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("sr", [16000, 22050, 44100])
@pytest.mark.parametrize("suffix", ["wav", "flac"])
def test_add_generated_audio(capsys, tmp_path: Path, store, suffix: str, sr: int, channels: int) -> None:
    name = f"m{sr}{channels}{suffix}"
    path = make_audio(tmp_path, f"{name}.{suffix}", sr, channels)
    rc, out, err = add(capsys, path, store)
    assert rc == 0, err
    assert err == ""  # no notice (yin chosen) and no progress bar off a terminal
    assert out.startswith(f"stored {name}: 2.0 s") and out.count("\n") == 1  # one line, however long
    s = show(capsys, name, store)
    assert (s["source_rate"], s["source_channels"]) == (sr, channels)
    assert s["duration"] == pytest.approx(2.0, abs=1e-3)
    assert s["frames"] == 1 + round(2.0 * SR_MODEL) // HOP
    assert s["pitch_backend"] == "yin" and s["config"]["pitch_backend"] == "yin"
    assert 60 <= s["median_midi"] <= 72
    assert s["beats_source"] == "tracked" and s["beats"] >= 2
    assert s["source"] == str(path.resolve())
    assert "file" not in s and "file_sha256" not in s


def test_add_quiet_prints_nothing(capsys, tmp_path: Path, store) -> None:
    rc, out, err = add(capsys, make_audio(tmp_path, "q.wav"), store, "--quiet")
    assert (rc, out, err) == (0, "", "")
    assert [r["name"] for r in listed(capsys, store)] == ["q"]


def test_add_with_name(capsys, tmp_path: Path, store) -> None:
    rc, _, err = add(capsys, make_audio(tmp_path, "a.wav"), store, "--name", "My.Take-1")
    assert rc == 0, err
    assert [r["name"] for r in listed(capsys, store)] == ["My.Take-1"]


def test_add_with_beats_csv(capsys, tmp_path: Path, store) -> None:
    audio = make_audio(tmp_path, "csvbeats.flac")
    beats = tmp_path / "b.csv"
    beats.write_text("score_beat,perf_time_sec\n0,0.0\n1,0.5\n3,1.5\n4,2.0\n")  # beat 2 missing
    rc, out, err = add(capsys, audio, store, "--beats", beats, "--beats-per-bar", 2)
    assert rc == 0, err
    assert "4 beats" in out
    s = show(capsys, "csvbeats", store)
    assert s["beats"] == 4 and s["beats_source"] == str(beats) and s["beats_per_bar"] == 2
    assert s["tempo_bpm"] == pytest.approx(120.0)
    ref = ReferenceStore(store[1]).load("csvbeats")
    np.testing.assert_array_equal(ref.beats.numbers, [0, 1, 3, 4])
    np.testing.assert_allclose(ref.beats.bars, [1.0, 1.5, 2.5, 3.0])


def test_add_with_beat_in_bar_file(capsys, tmp_path: Path, store) -> None:
    audio = make_audio(tmp_path, "waltz.wav", 44100, 2, seconds=3.0)
    beats = tmp_path / "waltz.beats"
    beats.write_text("0.25\t3\n0.5\t1\n1.0\t2\n1.5\t3\n2.0\t1\n2.5\t2\n")
    rc, _, err = add(capsys, audio, store, "--beats", beats)
    assert rc == 0, err
    s = show(capsys, "waltz", store)
    assert s["beats"] == 6 and s["beats_per_bar"] == 3
    ref = ReferenceStore(store[1]).load("waltz")
    np.testing.assert_allclose(ref.beats.bars[[1, 4]], [1.0, 2.0])


# -- the shared evaluation files (the done-criterion) -------------------------------------


VIENNA = "vienna_chopin_op10_3"
SHARED = [
    # (audio, beat file or None, --beats-per-bar)
    ("percussion/four_way_tabla__binati_SRC.wav", None, 4),  # WAV 16 kHz
    ("beats/country.00000.wav", "beats/country.00000.beats", 4),  # WAV 22.05 kHz, time beat_in_bar
    ("beats/Media-105901.wav", "beats/Media-105901.beats", 3),  # WAV 44.1 kHz, time beat_in_bar
    (f"{VIENNA}/Chopin_op10_no3_p01_fluidsynth.flac", f"{VIENNA}/Chopin_op10_no3_p01_beats.csv", 2),  # FLAC 22.05 kHz
    ("percussion/perc7_00_ref.flac", "percussion/perc7_00_ref_beats.csv", 4),  # FLAC 22.05 kHz
]
SHARED_ALL = [
    *[(f"{VIENNA}/Chopin_op10_no3_p{i:02d}_fluidsynth.flac", None, 2) for i in range(1, 9)],
    *[(f"percussion/perc7_{i:02d}_{k}.flac", None, 4) for i in range(3) for k in ("ref", "take")],
    *[(a, None, 4) for a, _, _ in SHARED[:3]],
]


def beat_lines(path: Path) -> int:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    return len(lines) - (0 if lines[0].split()[0].replace(".", "").isdigit() else 1)


@pytest.mark.parametrize("audio,beats,per_bar", SHARED, ids=[Path(a).name for a, _, _ in SHARED])
def test_add_shared_files(capsys, shared_file, store, audio: str, beats: str | None, per_bar: int) -> None:
    audio_path = shared_file(audio)
    extra: list[object] = ["--beats-per-bar", per_bar]
    if beats is not None:
        extra += ["--beats", shared_file(beats)]
    rc, _, err = add(capsys, audio_path, store, *extra)
    assert rc == 0, err
    assert err == ""
    name = audio_path.stem
    s = show(capsys, name, store)
    import soundfile as sf

    info = sf.info(str(audio_path))
    assert (s["source_rate"], s["source_channels"]) == (info.samplerate, info.channels)
    assert s["duration"] == pytest.approx(info.duration, abs=0.01)
    assert s["frames"] == 1 + round(info.duration * SR_MODEL) // HOP
    if beats is not None:
        assert s["beats"] == beat_lines(shared_file(beats))
        assert s["beats_per_bar"] == per_bar
    else:
        assert s["beats"] > 2 and s["beats_source"] == "tracked"
    ref = ReferenceStore(store[1]).load(name, expect=Config(pitch_backend="yin"))
    assert ref.frames.voiced.any()


@pytest.mark.slow
@pytest.mark.parametrize("audio,beats,per_bar", SHARED_ALL, ids=[Path(a).name for a, _, _ in SHARED_ALL])
def test_add_every_shared_file(capsys, shared_file, store, audio: str, beats: str | None, per_bar: int) -> None:
    rc, _, err = add(capsys, shared_file(audio), store, "--beats-per-bar", per_bar, "-q")
    assert (rc, err) == (0, "")


# -- list, show, remove -----------------------------------------------------------------------


def test_list_show_remove(capsys, tmp_path: Path, store) -> None:
    rc, out, err = run(capsys, "reference", "list", *store)
    assert rc == 0 and out == "" and "no references" in err
    assert listed(capsys, store) == []
    for i, name in enumerate(("alpha", "beta")):
        assert add(capsys, make_audio(tmp_path, f"{name}.wav", seed=i), store)[0] == 0

    rc, out, err = run(capsys, "reference", "list", *store)
    assert rc == 0 and err == ""
    assert "alpha" in out and "beta" in out and "yin" in out and "2.0 s" in out
    rows = listed(capsys, store)
    assert [r["name"] for r in rows] == ["alpha", "beta"]
    assert all("file" not in r and "file_sha256" not in r and r["pitch_backend"] == "yin" for r in rows)

    rc, out, err = run(capsys, "reference", "show", "beta", *store)
    assert rc == 0 and err == ""
    for word in ("beta", "voiced_share", "tempo_bpm", "pitch_backend", "config", f"hop={HOP}"):
        assert word in out
    s = show(capsys, "beta", store)
    assert s["name"] == "beta" and 0 < s["voiced_share"] <= 1

    rc, out, err = run(capsys, "reference", "remove", "alpha", *store)
    assert (rc, out.strip(), err) == (0, "removed alpha", "")
    assert [r["name"] for r in listed(capsys, store)] == ["beta"]
    rc, _, err = run(capsys, "reference", "remove", "alpha", *store)
    assert_one_error_line(rc, err, "alpha")


def test_same_audio_twice_is_detected(capsys, tmp_path: Path, store) -> None:
    audio = make_audio(tmp_path, "twice.flac")
    assert add(capsys, audio, store)[0] == 0
    for extra in ([], ["--name", "other"]):
        rc, out, err = add(capsys, audio, store, *extra)
        assert rc == 0 and out == ""
        assert "already stored as twice" in err and err.count("\n") == 1
    copy = tmp_path / "copy.flac"
    copy.write_bytes(audio.read_bytes())  # same content under another file name
    rc, _, err = add(capsys, copy, store)
    assert "already stored as twice" in err
    assert [r["name"] for r in listed(capsys, store)] == ["twice"]
    rc, _, err = add(capsys, audio, store, "--force")  # rebuild
    assert rc == 0, err
    assert [r["name"] for r in listed(capsys, store)] == ["twice"]


def test_paths_with_brackets(capsys, tmp_path: Path, store, monkeypatch: pytest.MonkeyPatch) -> None:
    """File and folder names are not rich markup: '[live]' is shown, '[/]' does not crash."""
    import matcher.cli as cli

    monkeypatch.setattr(cli.out, "width", 400)  # no truncated table cells
    folder = tmp_path / "a [" / "] takes [live]"  # the path holds "[/]", a closing tag
    folder.mkdir(parents=True)
    audio = make_audio(folder, "song [b].wav", seconds=1.0)
    rc, _, err = add(capsys, audio, store)
    assert rc == 0, err
    rc, _, err = add(capsys, audio, store)
    assert err.strip() == f"{audio} is already stored as song_b (same audio); --force rebuilds it"
    rc, out, err = run(capsys, "reference", "list", *store)
    assert rc == 0 and str(audio.resolve()) in out
    rc, out, err = run(capsys, "reference", "show", "song_b", *store)
    assert rc == 0 and "[live]" in out
    empty = tmp_path / "[" / "]"
    rc, _, err = run(capsys, "reference", "list", "--store", empty)
    assert rc == 0 and err.strip() == f"no references in {empty}"


def test_same_name_other_audio(capsys, tmp_path: Path, store) -> None:
    assert add(capsys, make_audio(tmp_path, "take.wav"), store)[0] == 0
    other = make_audio(tmp_path / "..", "take.wav", seed=3)  # another file, same stem
    rc, _, err = add(capsys, other, store)
    assert_one_error_line(rc, err, "'take'", "--force")
    rc, _, err = add(capsys, other, store, "--force")
    assert rc == 0, err
    assert show(capsys, "take", store)["source"] == str(other.resolve())


# -- bad input: one line, exit 2 -------------------------------------------------------------------


def _bad_audio(kind: str, folder: Path) -> Path:
    if kind == "missing":
        return folder / "missing.wav"
    if kind == "empty":
        (folder / "empty.wav").write_bytes(b"")
        return folder / "empty.wav"
    if kind == "corrupt":
        data = make_audio(folder, "good.flac").read_bytes()
        (folder / "corrupt.flac").write_bytes(data[: len(data) // 2])
        return folder / "corrupt.flac"
    if kind == "silent":
        return synth.write(folder / "silent.wav", synth.silence(2.0, 22050), 22050, "PCM_16")
    if kind == "text":
        (folder / "readme.mp3").write_text("not audio at all\n" * 20)
        return folder / "readme.mp3"
    if kind == "folder":
        (folder / "dir.wav").mkdir()
        return folder / "dir.wav"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind,words",
    [
        ("missing", "no such file"),
        ("empty", "empty"),
        ("corrupt", "cannot decode"),
        ("silent", "silent"),
        ("text", "not a readable audio file"),
        ("folder", "folder"),
    ],
)
def test_bad_audio(capsys, tmp_path: Path, store, kind: str, words: str) -> None:
    path = _bad_audio(kind, tmp_path)
    rc, out, err = add(capsys, path, store)
    assert_one_error_line(rc, err, path.name, words)
    assert out == ""
    assert listed(capsys, store) == []


@pytest.mark.parametrize("command", ["show", "remove"])
def test_unknown_reference(capsys, tmp_path: Path, store, command: str) -> None:
    rc, _, err = run(capsys, "reference", command, "nosuch", *store)
    assert_one_error_line(rc, err, "'nosuch'")


@pytest.mark.parametrize(
    "options,words",
    [
        (["--pitch", "bogus"], ["'bogus'", "auto, spice, yin"]),
        (["--beats-per-bar", "0"], ["--beats-per-bar", "0"]),
        (["--beats-per-bar", "-3"], ["--beats-per-bar"]),
        (["--beats-per-bar", "four"], ["--beats-per-bar"]),
        (["--beats", "nowhere.csv"], ["nowhere.csv", "no such file"]),
        (["--name", ".hidden"], ["'.hidden'"]),
        (["--name", "a/b"], ["'a/b'"]),
        (["--bogus-option"], ["--bogus-option"]),
    ],
)
def test_bad_options(capsys, tmp_path: Path, store, options: list[str], words: list[str]) -> None:
    audio = make_audio(tmp_path, "ok.wav", seconds=1.0)
    rc, _, err = run(capsys, "reference", "add", audio, *store, "--pitch", "yin", *options)
    assert_one_error_line(rc, err, *words)
    assert listed(capsys, store) == []


def test_bad_pitch_even_for_stored_audio(capsys, tmp_path: Path, store) -> None:
    audio = make_audio(tmp_path, "ok.wav", seconds=1.0)
    assert add(capsys, audio, store)[0] == 0
    rc, _, err = run(capsys, "reference", "add", audio, *store, "--pitch", "bogus")
    assert_one_error_line(rc, err, "'bogus'")


def test_bad_beat_file(capsys, tmp_path: Path, store) -> None:
    audio = make_audio(tmp_path, "ok.wav", seconds=1.0)
    beats = tmp_path / "b.txt"
    beats.write_text("1.0\n0.5\n")
    rc, _, err = add(capsys, audio, store, "--beats", beats)
    assert_one_error_line(rc, err, "b.txt", "increase")


def test_unknown_command(capsys) -> None:
    rc, _, err = run(capsys, "reference", "frobnicate")
    assert_one_error_line(rc, err, "frobnicate")


def test_store_inside_a_file(capsys, tmp_path: Path) -> None:
    blocker = tmp_path / "plain"
    blocker.write_text("x")
    audio = make_audio(tmp_path, "ok.wav", seconds=1.0)
    rc, _, err = add(capsys, audio, ["--store", str(blocker / "store")])
    assert_one_error_line(rc, err, "is a file, not a folder")
    rc, _, err = run(capsys, "reference", "list", "--store", blocker / "store")
    assert_one_error_line(rc, err, "is a file, not a folder")


def test_garbage_index(capsys, store_path: Path, store) -> None:
    store_path.mkdir()
    (store_path / "index.json").write_text("{ not json")
    rc, _, err = run(capsys, "reference", "list", *store)
    assert_one_error_line(rc, err, "index.json")


def test_help(capsys) -> None:
    for args in ([], ["--help"], ["reference"], ["reference", "add", "--help"]):
        rc, out, err = run(capsys, *args)
        assert rc == 0 and out.startswith("Usage: matcher") and err == "", args


# -- the store's location ------------------------------------------------------------------------


def test_matcher_home_is_the_default_store(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("MATCHER_HOME", str(home))
    monkeypatch.chdir(work)
    audio = make_audio(tmp_path, "env.wav", seconds=1.0)
    rc, _, err = run(capsys, "reference", "add", audio, "--pitch", "yin")
    assert rc == 0, err
    assert ReferenceStore(home).names() == ["env"]
    assert [r["name"] for r in listed(capsys, [])] == ["env"]
    assert not (work / "references").exists()
    # --store wins over the environment
    assert listed(capsys, ["--store", str(tmp_path / "elsewhere")]) == []


def test_without_matcher_home_the_store_is_references(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MATCHER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    rc, _, err = run(capsys, "reference", "add", make_audio(tmp_path, "here.wav", seconds=1.0), "--pitch", "yin")
    assert rc == 0, err
    assert ReferenceStore(tmp_path / "references").names() == ["here"]


# -- real processes ---------------------------------------------------------------------------------


def matcher_exe() -> Path:
    exe = Path(sys.executable).with_name("matcher")
    if not exe.exists():
        pytest.skip(f"no console script at {exe}")
    return exe


def run_process(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MATCHER_HOME", "MATCHER_SPICE_MODEL")}
    return subprocess.run(
        [str(matcher_exe()), *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )


def test_process_bad_file_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("this is text, not sound")
    proc = run_process("reference", "add", bad, "--pitch", "yin", "--store", tmp_path / "s", cwd=tmp_path)
    assert_one_error_line(proc.returncode, proc.stderr, "bad.wav")
    assert proc.stdout == ""


def test_process_add_and_list(tmp_path: Path) -> None:
    audio = make_audio(tmp_path, "proc.flac", 44100, 2)
    store = tmp_path / "s"
    proc = run_process("reference", "add", audio, "--pitch", "yin", "--store", store, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("stored proc") and "Traceback" not in proc.stderr
    proc = run_process("reference", "list", "--json", "--store", store, cwd=tmp_path)
    assert proc.returncode == 0 and [r["name"] for r in json.loads(proc.stdout)] == ["proc"]


def test_reference_shorter_than_the_follower_needs_is_refused_at_add(capsys, tmp_path: Path, store) -> None:
    """A 9-ms file used to be stored and refused only when followed."""
    tiny = synth.write(tmp_path / "tiny.wav", synth.tone(440.0, 0.009, 16000), 16000)
    rc, out, err = add(capsys, tiny, store)
    assert_one_error_line(rc, err, "tiny", "too short to follow", "at least 32 ms", "2 frames")
    assert out == "" and listed(capsys, store) == []
