"""Audio input: any rate, channel count and subtype -> mono float32 at the model rate,
in blocks that do not change the result; unusable files -> InputFileError naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import synth

import matcher.audio as audio
from matcher import InputFileError, audio_info, file_blocks, read_audio
from matcher.audio import Resampler, file_sha256, to_mono

SR = 16000
RATES = (8000, 16000, 22050, 44100, 48000, 96000)
CHANNELS = (1, 2, 6)
CONTAINERS = [("wav", s) for s in synth.WAV_SUBTYPES] + [("flac", s) for s in synth.FLAC_SUBTYPES]
FREQ = 440.0
AMP = 0.5


def gains(channels: int) -> np.ndarray:
    """Unequal channel gains, so a down-mix that is not the mean shows."""
    return np.linspace(1.0, 0.2, channels) if channels > 1 else np.ones(1)


def expected_length(n_in: int, sr_in: int) -> float:
    return n_in * SR / sr_in


@pytest.mark.parametrize("container,subtype", CONTAINERS, ids=[f"{c}-{s}" for c, s in CONTAINERS])
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("sr", RATES)
def test_formats_rates_channels(tmp_path: Path, sr: int, channels: int, container: str, subtype: str) -> None:
    n = sr // 2 + 7  # not a whole number of output samples
    x = synth.tone(FREQ, n / sr, sr, amp=AMP)
    path = synth.write(tmp_path / f"a.{container}", synth.to_channels(x, channels, gains(channels)), sr, subtype)

    info = audio_info(path)
    assert (info.sr, info.channels, info.frames) == (sr, channels, n)
    assert info.duration == pytest.approx(n / sr)

    y = read_audio(path, SR)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - expected_length(n, sr)) <= 1
    mid = y[len(y) // 8 : -len(y) // 8]
    assert synth.dominant_hz(mid, SR) == pytest.approx(FREQ, abs=1.0)
    # the down-mix is the mean of the channels
    rms = float(np.sqrt(np.mean(mid.astype(np.float64) ** 2)))
    assert rms == pytest.approx(AMP * gains(channels).mean() / np.sqrt(2), rel=0.02)


LOSSY = [("OGG", "VORBIS", "ogg"), ("OGG", "OPUS", "opus"), ("MP3", None, "mp3")]


@pytest.mark.parametrize("fmt,subtype,suffix", LOSSY)
def test_lossy_formats(tmp_path: Path, fmt: str, subtype: str | None, suffix: str) -> None:
    if not synth.can_write(fmt, subtype):
        pytest.skip(f"this libsndfile cannot write {fmt}/{subtype}")
    sr = 48000 if subtype == "OPUS" else 44100
    x = synth.to_channels(synth.tone(FREQ, 1.0, sr, amp=AMP), 2)
    path = synth.write(tmp_path / f"a.{suffix}", x, sr, subtype, fmt)
    y = read_audio(path, SR)
    assert abs(len(y) - SR) < 0.05 * SR  # codec delay and padding
    assert np.isfinite(y).all()
    assert synth.dominant_hz(y[SR // 4 : 3 * SR // 4], SR) == pytest.approx(FREQ, abs=2.0)


def test_downmix_averages_channels(tmp_path: Path) -> None:
    x = synth.tone(FREQ, 0.5, SR, amp=AMP)
    path = synth.write(tmp_path / "anti.wav", np.stack([x, -x], axis=1), SR, "FLOAT")
    assert np.max(np.abs(read_audio(path, SR))) < 1e-6  # opposite channels cancel: not "first channel"


@pytest.mark.parametrize("sr", [16000, 22050, 44100, 96000])
def test_block_boundaries_do_not_matter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rng, sr: int) -> None:
    x = (0.3 * rng.standard_normal(int(1.3 * sr))).astype(np.float32)
    x += synth.tone(FREQ, len(x) / sr, sr, amp=0.3)
    path = synth.write(tmp_path / "a.wav", x, sr, "FLOAT")
    whole = read_audio(path, SR)  # one block (10 s blocks)
    monkeypatch.setattr(audio, "FILE_BLOCK_SECONDS", 0.0371)
    blocks = list(file_blocks(path, SR))
    assert len(blocks) > 30
    joined = np.concatenate([b for b, _ in blocks])
    np.testing.assert_allclose(joined, whole, rtol=1e-5, atol=1e-6)
    # each block's time stamp is where its first sample sits in the output
    starts = np.cumsum([0] + [len(b) for b, _ in blocks[:-1]]) / SR
    np.testing.assert_allclose([t for _, t in blocks], starts)


def test_passthrough_is_exact(tmp_path: Path, rng) -> None:
    x = (0.5 * rng.uniform(-1, 1, 12345)).astype(np.float32)
    path = synth.write(tmp_path / "a.wav", x, SR, "FLOAT")
    np.testing.assert_array_equal(read_audio(path, SR), x)


def test_resampler_streaming_equals_whole(rng) -> None:
    x = rng.standard_normal(44100).astype(np.float32)
    whole = Resampler(44100, SR).push(x, last=True)
    r = Resampler(44100, SR)
    parts = np.split(x, [1, 100, 101, 20000, 44000])
    streamed = np.concatenate([r.push(p, last=i == len(parts) - 1) for i, p in enumerate(parts)])
    np.testing.assert_allclose(streamed, whole, rtol=1e-5, atol=1e-6)
    assert len(whole) == SR


def test_to_mono() -> None:
    assert to_mono(np.array([1, 2], np.int16)).dtype == np.float32
    np.testing.assert_array_equal(to_mono(np.array([[1.0, 3.0], [2.0, 4.0]])), [2.0, 3.0])


def test_file_sha256(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"abc")
    assert file_sha256(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# -- files that cannot be used --------------------------------------------------------


def _tone_file(tmp_path: Path, suffix: str = "wav", subtype: str = "PCM_16", seconds: float = 2.0) -> Path:
    return synth.write(tmp_path / f"tone.{suffix}", synth.tone(FREQ, seconds, 44100), 44100, subtype)


def _bad_file(kind: str, tmp_path: Path) -> Path:
    if kind == "missing":
        return tmp_path / "missing.wav"
    if kind == "empty":
        p = tmp_path / "empty.wav"
        p.write_bytes(b"")
        return p
    if kind == "header-only":
        return synth.write(tmp_path / "header.wav", np.zeros(0, np.float32), SR, "PCM_16")
    if kind == "truncated-flac":
        data = _tone_file(tmp_path, "flac").read_bytes()
        p = tmp_path / "cut.flac"
        p.write_bytes(data[: len(data) // 2])
        return p
    if kind == "text":
        p = tmp_path / "notes.wav"
        p.write_text("this is not audio\n" * 50)
        return p
    if kind == "random-bytes":
        p = tmp_path / "noise.flac"
        p.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
        return p
    if kind == "folder":
        p = tmp_path / "folder.wav"
        p.mkdir()
        return p
    if kind in ("nan", "inf"):
        x = synth.tone(FREQ, 0.5, SR)
        x[1234] = np.nan if kind == "nan" else np.inf
        return synth.write(tmp_path / f"{kind}.wav", x, SR, "FLOAT")
    raise AssertionError(kind)


BAD = ["missing", "empty", "header-only", "truncated-flac", "text", "random-bytes", "folder", "nan", "inf"]


@pytest.mark.parametrize("kind", BAD)
def test_bad_files_raise_input_file_error(tmp_path: Path, kind: str) -> None:
    path = _bad_file(kind, tmp_path)
    with pytest.raises(InputFileError) as info:
        read_audio(path, SR)
    assert str(path) in str(info.value)


def test_error_messages_say_what_is_wrong(tmp_path: Path) -> None:
    for kind, words in [
        ("missing", "no such file"),
        ("empty", "empty"),
        ("header-only", "no audio"),
        ("folder", "folder"),
        ("nan", "NaN"),
        ("truncated-flac", "cannot decode"),
    ]:
        folder = tmp_path / kind
        folder.mkdir()
        with pytest.raises(InputFileError, match=words):
            read_audio(_bad_file(kind, folder), SR)


def test_truncated_flac_fails_part_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small blocks: the first ones decode, then the decoder loses sync."""
    monkeypatch.setattr(audio, "FILE_BLOCK_SECONDS", 0.05)
    data = _tone_file(tmp_path, "flac", seconds=3.0).read_bytes()
    path = tmp_path / "cut.flac"
    path.write_bytes(data[: int(len(data) * 0.6)])
    got = []
    with pytest.raises(InputFileError, match="cannot decode audio"):
        for block, _ in file_blocks(path, SR):
            got.append(block)
    assert 0 < sum(map(len, got)) < 3.0 * SR  # never more audio than the file held (no restart)


def test_truncated_wav_reads_what_is_there(tmp_path: Path) -> None:
    """libsndfile reads a WAV cut inside its data chunk as a shorter file (a recorder that
    crashed): the samples present come back, nothing invented."""
    full = _tone_file(tmp_path, "wav", "PCM_16", seconds=1.0)
    data = full.read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(data[: 44 + 2 * 20000])
    y = read_audio(path, 44100)
    np.testing.assert_array_equal(y, read_audio(full, 44100)[:20000])


def test_issue_truncated_mp3_gives_no_invented_samples(tmp_path: Path) -> None:
    """Regression: soundfile's blocks() padded a truncated MP3 to the header's length with
    uninitialised memory (NaN or garbage). Reading must stop where the data stops."""
    if not synth.can_write("MP3"):
        pytest.skip("this libsndfile cannot write MP3")
    full = synth.write(tmp_path / "full.mp3", synth.tone(FREQ, 2.0, 44100, amp=AMP), 44100, fmt="MP3")
    data = full.read_bytes()
    path = tmp_path / "cut.mp3"
    path.write_bytes(data[: len(data) // 2])
    assert sf.info(str(path)).frames >= 2 * 44100 * 0.9  # the header still promises the whole file
    y = read_audio(path, SR)
    assert np.isfinite(y).all()
    assert 0.3 * 2 * SR < len(y) < 0.75 * 2 * SR
    assert synth.dominant_hz(y[len(y) // 4 : 3 * len(y) // 4], SR) == pytest.approx(FREQ, abs=2.0)


def test_audio_info_bad_files(tmp_path: Path) -> None:
    for kind in ("missing", "empty", "text", "folder"):
        (tmp_path / kind).mkdir()
        path = _bad_file(kind, tmp_path / kind)
        with pytest.raises(InputFileError) as info:
            audio_info(path)
        assert str(path) in str(info.value)
