"""The bad-input matrix of the robustness issue, as tests.

Every case goes through the command line (``matcher.cli.main`` in this process with
``capfd``, so that what C libraries write straight to file descriptor 2 counts too, or
the real ``matcher`` executable where the process boundary matters) and ends in one of

* bad input: exit status 2 and exactly one line on stderr, ``matcher: ...``, naming the
  file and the problem; nothing on stdout;
* valid but odd input: exit status 0 and a correct result (what was stored, or how it
  compares with the same music stored from a plain 16-bit file);

and never a traceback (an unexpected exception fails an in-process test outright).
Cases other modules cover already are not repeated. The table maps each entry of the
matrix to its tests: "here" = this module (with its number of cases), else tests/FILE::TEST.
{a,b} and * expand parametrized ids; `pytest --collect-only -q tests/test_bad_input.py`
lists this module's 93 cases (92 fast, 1 slow) to check the count; one audio format counts under
every entry it exercises (9 formats for the 7 + 4 + 2 below).

missing file (1 here)
    test_cli.py::test_bad_audio[missing-no such file]; test_compare.py::test_cli_bad_input;
    here: test_bad_file[missing-follow]
empty file, 0 bytes -> "file is empty" (1 here)
    test_cli.py::test_bad_audio[empty-empty]; here: test_bad_file[empty-follow]
zero-length: a well-formed file of 0 frames -> "holds no audio samples", not "empty" (6 here)
    here: test_bad_file[zero-length-wav-{add,compare,follow}], test_bad_file[zero-length-aiff-{add,compare,follow}];
    the reader: test_audio.py::test_bad_files_raise_input_file_error[header-only]
header-only: a header promising audio, none after it (6 here)
    here: test_bad_file[header-only-wav-{add,compare,follow}], test_bad_file[header-cut-short-{add,compare,follow}]
truncated (5 here)
    test_cli.py::test_bad_audio[corrupt-cannot decode] (FLAC: exit 2); test_audio.py::
    test_truncated_flac_fails_part_way, test_truncated_wav_reads_what_is_there,
    test_issue_truncated_mp3_gives_no_invented_samples; here: test_truncated_file_gives_the_audio_it_holds[wav,mp3]
    (exit 0: the part that is there), test_bad_file[mp3-cut-in-first-frame-{add,compare,follow}]
non-audio (6 here)
    test_cli.py::test_bad_audio[text-not a readable audio file], test_bad_audio[folder-folder],
    test_process_bad_file_no_traceback (real process);
    here: test_bad_file[png-named-wav-*], test_bad_file[random-bytes-*]
8/16/24/32-bit int and float (7 here)
    16/24/32-bit int and 32-bit float, WAV and FLAC: test_audio.py::test_formats_rates_channels; 16-bit through the CLI:
    test_cli.py::test_add_generated_audio; here: test_odd_but_valid_audio[8bit-unsigned-wav, 8bit-signed-flac,
    8bit-signed-aiff, 8bit-8khz-wav, 64bit-float-wav, 24bit-192khz-stereo-wav, 32bit-float-192khz-8ch-wav]
8 kHz to 192 kHz (4 here)
    8-96 kHz: test_audio.py::test_formats_rates_channels; 16-44.1 kHz: test_cli.py::test_add_generated_audio;
    here: test_odd_but_valid_audio[8bit-8khz-wav, 24bit-192khz-stereo-wav, 16bit-192khz-flac,
    32bit-float-192khz-8ch-wav]
1 to 8 channels (2 here)
    1, 2, 6: test_audio.py::test_formats_rates_channels; 1, 2: test_cli.py::test_add_generated_audio;
    here: test_odd_but_valid_audio[8-channels-wav, 32bit-float-192khz-8ch-wav]
a 3-hour file (1 here, slow)
    here: test_three_hour_file_in_bounded_memory (prints wall time and peak RSS; run with -s to see them)
NaN/Inf samples (9 here)
    the reader: test_audio.py::test_bad_files_raise_input_file_error[nan, inf];
    here: test_bad_file[nan-*], test_bad_file[inf-*], test_bad_file[minus-inf-*]
silence only (3 here)
    test_cli.py::test_bad_audio[silent-silent] (add); test_scoring.py::test_cli_score_missing_or_silent_take (score);
    here: test_bad_file[silence-compare], test_bad_file[hiss-at-70-dbfs-{add,compare}]
noise only (1 here)
    here: test_noise_only_is_stored_as_unpitched (exit 0, stored without pitch)
unicode and spaces in paths (2 here)
    test_cli.py::test_paths_with_brackets (spaces, [brackets]); here: test_unicode_and_spaces_in_paths,
    test_unicode_paths_in_a_c_locale_process (real processes, LC_ALL=C)
a store path that cannot be written (7 here)
    test_cli.py::test_store_inside_a_file (below a regular file); test_store.py::test_store_path_inside_a_file,
    test_failed_index_write_is_a_store_error (disk full); here: test_store_that_is_a_file,
    test_output_that_cannot_be_written[{follow-jsonl,compare-csv}-{no-such-folder,a-folder,below-a-file}]
a reference edited by hand (36 here)
    test_cli.py::test_garbage_index (index not JSON); test_store.py::test_garbage_index[*],
    test_unusable_stored_configuration, test_other_feature_version_is_refused, test_corrupt_feature_file_is_refused[*],
    test_missing_feature_file; test_cli.py::test_bad_beat_file (a beat file edited); here:
    test_hand_edited_reference[<edit>-{list,show,compare,remove}] for 9 edits of index.json or the feature file
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import synth
from test_cli import assert_one_error_line, listed, matcher_exe, music, run, show

from matcher import Config, ReferenceStore, YinModel, build_reference

HOP = Config().hop
SR_MODEL = Config().sr
SECONDS = 2.0
FRAMES = 1 + round(SECONDS * SR_MODEL) // HOP


def assert_ok(rc: int, out: str, err: str) -> None:
    assert rc == 0, err
    assert err == "", f"stderr not empty: {err!r}"
    assert "Traceback" not in out


@pytest.fixture(scope="module")
def tune(tmp_path_factory: pytest.TempPathFactory, yin_config: Config, yin_model: YinModel) -> Path:
    """A store holding 'tune': test_cli's 2 s melody over clicks, 16-bit 22.05 kHz mono.
    Read-only for the tests that use it (compare and follow write nothing to the store)."""
    folder = tmp_path_factory.mktemp("tune")
    audio = synth.write(folder / "tune.wav", music(22050, SECONDS), 22050, "PCM_16")
    ReferenceStore(folder / "store").add(build_reference(audio, yin_config, yin_model, "tune"))
    return folder / "store"


# -- valid but odd: exit 0 and the right result ------------------------------------------------

ODD_FORMATS = [
    # id, container, subtype, rate [Hz], channels
    ("8bit-unsigned-wav", "wav", "PCM_U8", 22050, 1),
    ("8bit-signed-flac", "flac", "PCM_S8", 22050, 1),
    ("8bit-signed-aiff", "aiff", "PCM_S8", 22050, 2),
    ("8bit-8khz-wav", "wav", "PCM_U8", 8000, 1),
    ("64bit-float-wav", "wav", "DOUBLE", 44100, 1),
    ("24bit-192khz-stereo-wav", "wav", "PCM_24", 192000, 2),
    ("16bit-192khz-flac", "flac", "PCM_16", 192000, 1),
    ("8-channels-wav", "wav", "PCM_16", 48000, 8),
    ("32bit-float-192khz-8ch-wav", "wav", "FLOAT", 192000, 8),
]


@pytest.mark.parametrize("container,subtype,sr,channels", [c[1:] for c in ODD_FORMATS], ids=[c[0] for c in ODD_FORMATS])
def test_odd_but_valid_audio(
    capfd, tmp_path: Path, tune: Path, container: str, subtype: str, sr: int, channels: int
) -> None:
    """Stored with its own rate and channels, and the same music as the 16-bit 'tune':
    it lines up with it beat for beat, at the same tempo and pitch."""
    if not synth.can_write(container.upper(), subtype):
        pytest.skip(f"this libsndfile cannot write {container.upper()}/{subtype}")
    gains = np.linspace(1.0, 0.4, channels) if channels > 1 else None
    path = synth.write(
        tmp_path / f"odd.{container}", synth.to_channels(music(sr, SECONDS), channels, gains), sr, subtype
    )
    store = ["--store", str(tmp_path / "store")]
    rc, out, err = run(capfd, "reference", "add", path, "--pitch", "yin", *store)
    assert_ok(rc, out, err)
    assert out.startswith(f"stored odd: {SECONDS:.1f} s, {FRAMES} frames")
    s = show(capfd, "odd", store)
    assert (s["source_rate"], s["source_channels"]) == (sr, channels)
    assert s["duration"] == pytest.approx(SECONDS, abs=1e-3)
    assert 60 <= s["median_midi"] <= 72 and s["voiced_share"] > 0.8

    rc, out, err = run(capfd, "compare", "tune", path, "--json", "-", "--store", tune)
    assert_ok(rc, out, err)
    c = json.loads(out)
    assert c["b"]["duration"] == pytest.approx(SECONDS, abs=1e-3)
    assert c["tempo_ratio"] == pytest.approx(1.0, abs=0.01)
    assert abs(c["pitch"]["median_cents"]) < 5
    assert c["beats"] and max(abs(b["dev_ms"]) for b in c["beats"]) <= 2 * 1000 * Config().frame_seconds


def test_noise_only_is_stored_as_unpitched(capfd, tmp_path: Path, tune: Path, rng: np.random.Generator) -> None:
    """White noise is audible (not refused as silent) but has no pitch: stored, voiced 0 %."""
    path = synth.write(tmp_path / "noise.wav", synth.noise(SECONDS, 22050, rng, amp=0.3), 22050, "PCM_16")
    store = ["--store", str(tmp_path / "store")]
    rc, out, err = run(capfd, "reference", "add", path, "--pitch", "yin", *store)
    assert_ok(rc, out, err)
    assert out.startswith(f"stored noise: {SECONDS:.1f} s, {FRAMES} frames") and "voiced 0 %" in out
    s = show(capfd, "noise", store)
    assert s["voiced_share"] < 0.02 and s["median_midi"] is None
    rc, out, err = run(capfd, "compare", "tune", path, "--json", "-", "--store", tune)
    assert_ok(rc, out, err)
    c = json.loads(out)
    assert c["b"]["duration"] == pytest.approx(SECONDS, abs=1e-3)
    assert c["pitch"] is None  # nothing pitched to compare: no number made up


@pytest.mark.parametrize("kind", ["wav", "mp3"])
def test_truncated_file_gives_the_audio_it_holds(capfd, tmp_path: Path, kind: str) -> None:
    """A recording cut off (a recorder that crashed) is read up to the cut: exit 0, the
    shorter duration, and nothing on stderr (libmpg123's own warnings are kept out)."""
    if kind == "mp3" and not synth.can_write("MP3"):
        pytest.skip("this libsndfile cannot write MP3")
    sr = 44100 if kind == "mp3" else 22050
    full = synth.write(tmp_path / f"full.{kind}", music(sr, SECONDS), sr, "PCM_16" if kind == "wav" else None)
    data = full.read_bytes()
    path = tmp_path / f"cut.{kind}"
    path.write_bytes(data[: 44 + 2 * sr] if kind == "wav" else data[: len(data) // 2])  # WAV: 1.0 s of samples
    store = ["--store", str(tmp_path / "store")]
    rc, out, err = run(capfd, "reference", "add", path, "--pitch", "yin", *store)
    assert_ok(rc, out, err)
    duration = show(capfd, "cut", store)["duration"]
    if kind == "wav":
        assert duration == pytest.approx(1.0, abs=1e-3)
    else:
        assert 0.6 < duration < 1.4, duration


# -- bad input: exit 2 and one line ---------------------------------------------------------------


def _header_only(folder: Path) -> Path:
    """A WAV header promising a second of audio, and no samples after it."""
    full = synth.write(folder / "full.wav", music(22050, 1.0), 22050, "PCM_16")
    path = folder / "header-only.wav"
    path.write_bytes(full.read_bytes()[:44])
    return path


def _bad_samples(folder: Path, value: float) -> Path:
    x = music(22050, SECONDS)
    x[len(x) // 2] = value
    return synth.write(folder / "bad-samples.wav", x, 22050, "FLOAT")


def _mp3_first_frame(folder: Path) -> Path:
    if not synth.can_write("MP3"):
        pytest.skip("this libsndfile cannot write MP3")
    data = synth.write(folder / "full.mp3", music(44100, SECONDS), 44100, fmt="MP3").read_bytes()
    path = folder / "first-frame.mp3"
    path.write_bytes(data[: len(data) // 50])  # libmpg123 used to print its own warning here
    return path


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


MAKE_BAD: dict[str, Callable[[Path], Path]] = {
    "missing": lambda d: d / "missing.wav",
    "empty": lambda d: _write_bytes(d / "empty.wav", b""),
    "zero-length-wav": lambda d: synth.write(d / "zero.wav", np.zeros(0, np.float32), 22050, "PCM_16"),
    "zero-length-aiff": lambda d: synth.write(d / "zero.aiff", np.zeros(0, np.float32), 22050, "PCM_16"),
    "header-only-wav": _header_only,
    "header-cut-short": lambda d: _write_bytes(d / "cut.wav", _header_only(d).read_bytes()[:20]),
    "mp3-cut-in-first-frame": _mp3_first_frame,
    "png-named-wav": lambda d: _write_bytes(d / "picture.wav", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
    # seed 1: bytes libsndfile hands to libmpg123, which used to print a warning of its own
    "random-bytes": lambda d: _write_bytes(
        d / "noise.flac", np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    ),
    "nan": lambda d: _bad_samples(d, np.nan),
    "inf": lambda d: _bad_samples(d, np.inf),
    "minus-inf": lambda d: _bad_samples(d, -np.inf),
    "silence": lambda d: synth.write(d / "silence.wav", synth.silence(SECONDS, 22050), 22050, "PCM_16"),
    "hiss-at-70-dbfs": lambda d: synth.write(
        d / "hiss.wav", synth.noise(SECONDS, 22050, np.random.default_rng(2), amp=10 ** (-70 / 20)), 22050, "PCM_16"
    ),
}

ALL = ("add", "compare", "follow")
BAD = [
    # kind, commands not covered elsewhere, words the error line holds
    ("missing", ("follow",), "no such file"),
    ("empty", ("follow",), "file is empty"),
    ("zero-length-wav", ALL, "holds no audio samples"),
    ("zero-length-aiff", ALL, "holds no audio samples"),
    ("header-only-wav", ALL, "holds no audio samples"),
    ("header-cut-short", ALL, "not a readable audio file"),
    ("mp3-cut-in-first-frame", ALL, "not a readable audio file"),
    ("png-named-wav", ALL, "not a readable audio file"),
    ("random-bytes", ALL, "not a readable audio file"),
    ("nan", ALL, "NaN or infinite samples"),
    ("inf", ALL, "NaN or infinite samples"),
    ("minus-inf", ALL, "NaN or infinite samples"),
    ("silence", ("compare",), "silent"),  # a silent take in `follow` is just not followed (exit 0)
    ("hiss-at-70-dbfs", ("add", "compare"), "silent"),  # below the -50 dBFS gate throughout
]
BAD_CASES = [pytest.param(kind, cmd, words, id=f"{kind}-{cmd}") for kind, cmds, words in BAD for cmd in cmds]


@pytest.mark.parametrize("kind,command,words", BAD_CASES)
def test_bad_file(capfd, tmp_path: Path, tune: Path, kind: str, command: str, words: str) -> None:
    path = MAKE_BAD[kind](tmp_path)
    if command == "add":
        rc, out, err = run(capfd, "reference", "add", path, "--pitch", "yin", "--store", tmp_path / "store")
        assert ReferenceStore(tmp_path / "store").names() == []
    elif command == "compare":
        rc, out, err = run(capfd, "compare", "tune", path, "--store", tune)
    else:
        rc, out, err = run(capfd, "follow", "tune", "--input", path, "--store", tune)
    assert_one_error_line(rc, err, path.name, words)
    assert out == ""


# -- paths ---------------------------------------------------------------------------------------

UNICODE_FOLDER = "Aufnahmen – Übung 1 (ß, 日本)"
UNICODE_FILE = "Étude für Élise ♪ 2.wav"
UNICODE_NAME = "Étude_für_Élise_2"  # name_from_path: letters kept, '♪' and spaces -> '_'


def test_unicode_and_spaces_in_paths(capfd, tmp_path: Path, tune: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matcher.cli as cli

    monkeypatch.setattr(cli.out, "width", 400)  # no truncated table cells
    folder = tmp_path / UNICODE_FOLDER
    folder.mkdir()
    audio = synth.write(folder / UNICODE_FILE, music(22050, SECONDS), 22050, "PCM_16")
    store = ["--store", str(folder / "mein Speicher ♫")]
    rc, out, err = run(capfd, "reference", "add", audio, "--pitch", "yin", *store)
    assert_ok(rc, out, err)
    assert out.startswith(f"stored {UNICODE_NAME}: {SECONDS:.1f} s")
    assert show(capfd, UNICODE_NAME, store)["source"] == str(audio.resolve())
    rc, out, err = run(capfd, "reference", "list", *store)
    assert_ok(rc, out, err)
    assert UNICODE_NAME in out and str(audio.resolve()) in out
    rc, out, err = run(capfd, "compare", "tune", audio, "--json", "-", "--store", tune)
    assert_ok(rc, out, err)
    assert json.loads(out)["b"]["name"] == UNICODE_NAME
    missing = folder / "nicht da ♪.wav"
    rc, out, err = run(capfd, "reference", "add", missing, "--pitch", "yin", *store)
    assert_one_error_line(rc, err, str(missing), "no such file")


def test_unicode_paths_in_a_c_locale_process(tmp_path: Path, yin_config: Config, yin_model: YinModel) -> None:
    """Real processes under LC_ALL=C: non-ASCII arguments, paths and names survive the way
    in (argv) and out (stdout, stderr). The store is filled in this process (fast)."""
    folder = tmp_path / UNICODE_FOLDER
    folder.mkdir()
    audio = synth.write(folder / UNICODE_FILE, music(22050, 1.0), 22050, "PCM_16")
    root = folder / "Speicher ß"
    ReferenceStore(root).add(build_reference(audio, yin_config, yin_model))
    env = {k: v for k, v in os.environ.items() if k not in ("MATCHER_HOME", "MATCHER_SPICE_MODEL", "LANG")}
    env["LC_ALL"] = "C"

    def matcher(*args: object) -> subprocess.CompletedProcess[str]:
        cmd = [str(matcher_exe()), *map(str, args)]
        proc = subprocess.run(cmd, capture_output=True, timeout=120, cwd=tmp_path, env=env)
        assert b"Traceback" not in proc.stderr
        return subprocess.CompletedProcess(cmd, proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    proc = matcher("reference", "list", "--json", "--store", root)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert [(r["name"], r["source"]) for r in json.loads(proc.stdout)] == [(UNICODE_NAME, str(audio.resolve()))]
    proc = matcher("reference", "remove", UNICODE_NAME, "--store", root)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"removed {UNICODE_NAME}\n", "")
    missing = folder / "nicht da ♪.wav"
    proc = matcher("reference", "add", missing, "--pitch", "yin", "--store", root)
    assert_one_error_line(proc.returncode, proc.stderr, str(missing), "no such file")


# -- places that cannot be written -----------------------------------------------------------------


def test_store_that_is_a_file(capfd, tmp_path: Path) -> None:
    """--store names a regular file (test_cli covers a store below one). As root, permission
    bits would not stop the writes, so this is the unwritable store that works everywhere."""
    blocker = tmp_path / "store.txt"
    blocker.write_text("not a folder")
    audio = synth.write(tmp_path / "ok.wav", music(22050, 1.0), 22050, "PCM_16")
    for args in (["reference", "add", audio, "--pitch", "yin"], ["reference", "list"], ["reference", "remove", "x"]):
        rc, out, err = run(capfd, *args, "--store", blocker)
        assert_one_error_line(rc, err, str(blocker), "is a file, not a folder")
        assert out == ""
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("where", ["no-such-folder", "a-folder", "below-a-file"])
@pytest.mark.parametrize("command", ["follow-jsonl", "compare-csv"])
def test_output_that_cannot_be_written(capfd, tmp_path: Path, tune: Path, command: str, where: str) -> None:
    (tmp_path / "plain").write_text("x")
    target = {
        "no-such-folder": tmp_path / "nowhere" / "out",
        "a-folder": tmp_path,
        "below-a-file": tmp_path / "plain" / "out",
    }[where]
    audio = synth.write(tmp_path / "take.wav", music(22050, 1.0), 22050, "PCM_16")
    if command == "follow-jsonl":
        rc, out, err = run(capfd, "follow", "tune", "--input", audio, "--jsonl", target, "--store", tune)
    else:
        rc, out, err = run(capfd, "compare", "tune", audio, "--csv", target, "-q", "--store", tune)
    assert_one_error_line(rc, err, str(target))
    assert out == ""


# -- a reference edited by hand ----------------------------------------------------------------------


def _set(key: str, value: Any) -> Callable[[dict, Path], None]:
    def edit(refs: dict, root: Path) -> None:
        refs["tune"][key] = value

    return edit


def _flip_feature_bytes(refs: dict, root: Path) -> None:
    path = root / refs["tune"]["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _text_fields_as_numbers(refs: dict, root: Path) -> None:
    refs["tune"].update(pitch_backend=5, source=5, created=5, beats_source=5)


COMMANDS = ("list", "show", "compare", "remove")
HAND_EDITS: list[tuple[str, Callable[[dict, Path], None], tuple[str, ...], str]] = [
    # edit, what it does, the commands that refuse the reference, words of their error
    ("entry-not-an-object", lambda refs, root: refs.update(tune=3), COMMANDS, "not an object"),
    ("feature-file-outside-the-store", _set("file", "../precious.wav"), ("show", "compare"), "names no feature file"),
    (
        "feature-file-field-deleted",
        lambda refs, root: refs["tune"].pop("file"),
        ("show", "compare"),
        "names no feature",
    ),
    ("duration-is-text", _set("duration", "3 min"), ("show", "compare"), "unusable duration"),
    ("beats-per-bar-null", _set("beats_per_bar", None), ("show", "compare"), "unusable beats_per_bar"),
    ("beats-per-bar-zero", _set("beats_per_bar", 0), ("show", "compare"), "unusable beats_per_bar"),
    ("text-fields-are-numbers", _text_fields_as_numbers, (), ""),
    (
        "configuration-edited",
        lambda refs, root: refs["tune"]["config"].update(hop="fast"),
        ("show", "compare"),
        "config",
    ),
    ("feature-file-bytes-edited", _flip_feature_bytes, ("show", "compare"), "corrupt"),
]
EDIT_CASES = [
    pytest.param(edit, change, cmd, cmd in refused, words, id=f"{edit}-{cmd}")
    for edit, change, refused, words in HAND_EDITS
    for cmd in COMMANDS
]


@pytest.mark.parametrize("edit,change,command,refused,words", EDIT_CASES)
def test_hand_edited_reference(
    capfd, tmp_path: Path, tune: Path, edit: str, change: Callable, command: str, refused: bool, words: str
) -> None:
    """Each edit either leaves the reference usable (exit 0) or gets it refused with one
    line naming it; `reference remove` never deletes a file outside the store."""
    root = tmp_path / "store"
    shutil.copytree(tune, root)
    precious = _write_bytes(tmp_path / "precious.wav", b"the user's own file")
    index = root / "index.json"
    data = json.loads(index.read_text())
    change(data["references"], root)
    index.write_text(json.dumps(data))
    store = ["--store", str(root)]
    take = synth.write(tmp_path / "take.wav", music(22050, SECONDS), 22050, "PCM_16")
    args = {
        "list": ["reference", "list"],
        "show": ["reference", "show", "tune"],
        "compare": ["compare", "tune", take, "-q"],
        "remove": ["reference", "remove", "tune"],
    }[command]
    rc, out, err = run(capfd, *args, *store)
    if refused:
        assert_one_error_line(rc, err, words)
        assert "tune" in err or str(index) in err
        assert out == ""
    else:
        assert_ok(rc, out, err)
        if command == "list":
            assert "tune" in out
        if command == "remove":
            assert listed(capfd, store) == []
    assert precious.read_bytes() == b"the user's own file"


# -- a 3-hour file ------------------------------------------------------------------------------------


#: Runs a command, waits for it and writes its rusage as JSON to argv[1]. A small process
#: of its own: Linux keeps the peak RSS across exec, so a command forked straight from
#: pytest would report pytest's size as its own peak.
_LAUNCHER = """
import json, os, subprocess, sys, time
start, timeout = time.monotonic(), float(sys.argv[2])
proc = subprocess.Popen(sys.argv[3:])
while True:
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    if pid:
        break
    if time.monotonic() - start > timeout:
        proc.kill()
        pid, status, usage = os.wait4(proc.pid, 0)
        break
    time.sleep(0.2)
with open(sys.argv[1], "w") as f:
    json.dump({"rc": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss}, f)
"""


def _run_measured(args: list[object], cwd: Path, timeout: float) -> tuple[int, str, str, float, float]:
    """Run the real ``matcher`` and return exit status, stdout, stderr, wall time [s] and the
    process's own peak resident memory [MB] (from wait4 in a small launcher)."""
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("MATCHER_HOME", "MATCHER_SPICE_MODEL")}
    out_path, err_path, usage_path = cwd / "stdout.txt", cwd / "stderr.txt", cwd / "usage.json"
    start = time.monotonic()
    cmd = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(usage_path), str(timeout), str(matcher_exe())]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        subprocess.run([*cmd, *map(str, args)], stdout=out, stderr=err, cwd=cwd, env=env, check=True)
    wall = time.monotonic() - start
    usage = json.loads(usage_path.read_text())
    return usage["rc"], out_path.read_text(), err_path.read_text(), wall, usage["maxrss_kb"] / 1024


@pytest.mark.slow
def test_three_hour_file_in_bounded_memory(tmp_path: Path) -> None:
    """`matcher reference add` on 3 h of 8 kHz 16-bit mono (173 MB, written in chunks):
    read in blocks and its features spooled, so its peak memory grows by less than the
    audio at the model rate (691 MB) and the features (257 MB) would take, and the result
    is exact: duration, frames and the 120 bpm of the clicks."""
    sr, hours = 8000, 3.0
    loop = music(sr, 8.0)  # 16 beats at 120 bpm: repeats seamlessly on the beat grid
    chunk = np.tile(loop, 15)  # 2 minutes
    path = tmp_path / "three hours.wav"
    n = round(hours * 3600 * sr)
    with sf.SoundFile(str(path), "w", sr, 1, "PCM_16") as f:
        for start in range(0, n, len(chunk)):
            f.write(chunk[: n - start])
    short = synth.write(tmp_path / "short.wav", loop, sr, "PCM_16")
    try:
        rc, out, err, base_wall, base_rss = _run_measured(
            ["reference", "add", short, "--pitch", "yin", "--store", tmp_path / "s0"], tmp_path, 300
        )
        assert (rc, err) == (0, ""), err
        rc, out, err, wall, rss = _run_measured(
            ["reference", "add", path, "--pitch", "yin", "--store", tmp_path / "s"], tmp_path, 1800
        )
        assert (rc, err) == (0, ""), err
        frames = 1 + round(hours * 3600 * SR_MODEL) // HOP
        assert out.startswith(f"stored three_hours: {hours * 3600:.1f} s, {frames} frames,")
        assert ", 120.0 bpm," in out
        meta = ReferenceStore(tmp_path / "s").meta("three_hours")
        assert (meta["source_rate"], meta["source_channels"]) == (sr, 1)
        assert meta["duration"] == pytest.approx(hours * 3600, abs=1e-6)
        audio_mb = hours * 3600 * SR_MODEL * 4 / 2**20  # float32 at the model rate, were it held whole
        features_mb = frames * (4 + Config().n_bands + 12) * 4 / 2**20
        print(
            f"\n3-hour file: wall {wall:.1f} s, peak RSS {rss:.0f} MB "
            f"(8-s file: {base_wall:.1f} s, {base_rss:.0f} MB; features {features_mb:.0f} MB)"
        )
        assert rss - base_rss < audio_mb, f"peak RSS grew by {rss - base_rss:.0f} MB for 3 h of audio"
        # Flux and chroma are spooled to the store's folder, the tempo made in chunks: the
        # growth stays well below the features' own size (measured: ~80 MB).
        assert rss - base_rss < 0.6 * features_mb, f"peak RSS grew by {rss - base_rss:.0f} MB"
    finally:
        shutil.rmtree(tmp_path / "s", ignore_errors=True)
        path.unlink(missing_ok=True)
