"""Audio input: any file soundfile (or, failing that, audioread) can read, any rate and
channel count, down-mixed to mono float32 and resampled to the model rate — in blocks,
so an hour-long file never sits in memory whole.

Sources yield ``(block, t)``: ``block`` is float32 mono at the model rate and ``t`` the
time [s] of its first sample. Streams end when the iterator ends.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputFileError

#: Seconds of audio per block read from a file.
FILE_BLOCK_SECONDS = 10.0


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds: native rate, channels and duration [s]."""

    path: Path
    sr: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sr


class Resampler:
    """Streaming mono resampler (soxr); the output does not depend on block sizes."""

    def __init__(self, sr_in: int, sr_out: int) -> None:
        self.passthrough = sr_in == sr_out
        if not self.passthrough:
            import soxr

            self._stream = soxr.ResampleStream(sr_in, sr_out, 1, dtype="float32", quality="HQ")

    def push(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        block = np.ascontiguousarray(block, dtype=np.float32)
        if self.passthrough:
            return block
        return self._stream.resample_chunk(block, last=last)


def to_mono(block: np.ndarray) -> np.ndarray:
    """Average channels: ``(n,)`` or ``(n, channels)`` -> ``(n,)`` float32."""
    block = np.asarray(block, dtype=np.float32)
    return block if block.ndim == 1 else block.mean(axis=1, dtype=np.float32)


@contextlib.contextmanager
def _quiet_decoder() -> Iterator[None]:
    """While decoding, send what C libraries write straight to file descriptor 2 to /dev/null.

    libsndfile's MPEG decoder (libmpg123) prints warnings such as "Cannot read next header"
    or "Xing stream size off" when it probes non-audio data or reads a damaged MP3; bad input
    must give one line on stderr, matcher's own. The redirection is process-wide, so it is
    kept to single library calls.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no stderr to protect
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_file(path: str | os.PathLike, kind: str = "audio file") -> Path:
    """``path`` as a Path when it is a non-empty file; else one InputFileError naming why."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, not {'an' if kind[0] in 'aeiou' else 'a'} {kind}")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path}: file is empty")
    return path


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Rate, channels and length of an audio file, without decoding it."""
    path = check_file(path)
    import soundfile as sf

    try:
        with _quiet_decoder():
            info = sf.info(str(path))
        return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames))
    except Exception:
        pass
    try:
        import audioread

        with audioread.audio_open(str(path)) as f:
            return AudioInfo(path, int(f.samplerate), int(f.channels), round(f.duration * f.samplerate))
    except Exception as exc:
        raise InputFileError(f"{path}: not a readable audio file ({type(exc).__name__})") from exc


def _native_blocks(path: Path, info: AudioInfo) -> Iterator[np.ndarray]:
    """Mono float32 blocks at the file's own rate."""
    import soundfile as sf

    blocksize = max(1, int(FILE_BLOCK_SECONDS * info.sr))
    started = False
    sf_error: Exception | None = None
    try:
        with _quiet_decoder():
            f = sf.SoundFile(str(path))
        with f:
            quiet = _quiet_decoder if f.format == "MP3" else contextlib.nullcontext
            while True:
                # Not f.blocks(): when a file decodes to fewer frames than its header
                # promises (a truncated MP3), blocks() yields uninitialised memory.
                with quiet():  # never around the yield: the caller's own output is not ours to drop
                    block = f.read(blocksize, dtype="float32", always_2d=True)
                if not len(block):
                    break
                started = True
                yield to_mono(block)
        return
    except sf.LibsndfileError as exc:
        if started:  # failed part-way (a truncated FLAC): restarting with audioread would repeat audio
            raise InputFileError(f"{path}: cannot decode audio ({exc})") from exc
        sf_error = exc
    except RuntimeError as exc:  # soundfile reports truncated data this way
        raise InputFileError(f"{path}: cannot decode audio ({exc})") from exc
    import audioread

    try:
        with audioread.audio_open(str(path)) as f:
            for buf in f:
                pcm = np.frombuffer(buf, dtype="<i2").astype(np.float32) / 32768.0
                yield to_mono(pcm.reshape(-1, f.channels))
    except Exception as exc:
        why = sf_error or f"{type(exc).__name__}: {exc}"  # libsndfile knows more when it read the header
        raise InputFileError(f"{path}: cannot decode audio ({why})") from exc


def file_blocks(path: str | os.PathLike, sr: int) -> Iterator[tuple[np.ndarray, float]]:
    """Blocks of a file, mono float32 at ``sr`` [Hz], with the time [s] of each block's start.

    Raises :class:`InputFileError` for missing, empty, undecodable or zero-length files
    and for files with NaN or infinite samples.
    """
    info = audio_info(path)
    if info.frames == 0:
        raise InputFileError(f"{info.path}: holds no audio samples")
    resampler = Resampler(info.sr, sr)
    n_out = 0
    pending: np.ndarray | None = None
    # Hold one block back so the resampler can be told which one is last.
    for block in _native_blocks(info.path, info):
        if not np.isfinite(block).all():
            raise InputFileError(f"{info.path}: contains NaN or infinite samples")
        if pending is not None:
            out = resampler.push(pending)
            yield out, n_out / sr
            n_out += len(out)
        pending = block
    if pending is None:
        raise InputFileError(f"{info.path}: holds no audio samples")
    out = resampler.push(pending, last=True)
    yield out, n_out / sr


def read_audio(path: str | os.PathLike, sr: int) -> np.ndarray:
    """The whole file as mono float32 at ``sr`` (for short files and tests)."""
    return np.concatenate([block for block, _ in file_blocks(path, sr)])


def file_sha256(path: str | os.PathLike) -> str:
    """Content hash of a file, read in blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def paced(blocks: Iterator[tuple[np.ndarray, float]], sr: int, block: int = 256) -> Iterator[tuple[np.ndarray, float]]:
    """Re-cut ``(block, t)`` pairs into ``block``-sample pieces delivered in real time, as a
    microphone would: each piece is yielded once its last sample would have been heard."""
    import time

    start = time.monotonic()
    for samples, t0 in blocks:
        for i in range(0, len(samples), block):
            piece = samples[i : i + block]
            due = start + t0 + (i + len(piece)) / sr
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            yield piece, t0 + i / sr
