"""Small deterministic test signals with known ground truth.

Every generator returns float32 samples in [-1, 1]; anything random takes a seed or a
``numpy.random.Generator``, so a signal is the same on every run. Times are in seconds,
rates in Hz, pitches as MIDI note numbers (A4 = 440 Hz = 69).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

#: Subtypes soundfile writes for each container we test, by short name.
WAV_SUBTYPES = ("PCM_16", "PCM_24", "PCM_32", "FLOAT")
FLAC_SUBTYPES = ("PCM_16", "PCM_24")  # FLAC holds integers of up to 24 bits


def midi_to_hz(midi: float | np.ndarray) -> float | np.ndarray:
    """MIDI note number -> Hz."""
    return 440.0 * 2.0 ** ((np.asarray(midi, np.float64) - 69.0) / 12.0)


def silence(seconds: float, sr: int) -> np.ndarray:
    return np.zeros(round(seconds * sr), np.float32)


def tone(
    freq: float,
    seconds: float,
    sr: int,
    amp: float = 0.5,
    harmonics: Sequence[float] = (1.0,),
    fade: float = 0.005,
) -> np.ndarray:
    """A steady harmonic tone: partial ``i`` (1-based) at ``i * freq`` with relative
    amplitude ``harmonics[i-1]``; peak normalised to ``amp``; raised-cosine fades of
    ``fade`` seconds at both ends (no clicks)."""
    n = round(seconds * sr)
    t = np.arange(n) / sr
    x = np.zeros(n, np.float64)
    for i, a in enumerate(harmonics, start=1):
        if a and i * freq < sr / 2:
            x += a * np.sin(2 * np.pi * i * freq * t)
    peak = np.max(np.abs(x)) if n else 0.0
    if peak > 0:
        x *= amp / peak
    nf = min(round(fade * sr), n // 2)
    if nf > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(nf) / nf)
        x[:nf] *= ramp
        x[n - nf :] *= ramp[::-1]
    return x.astype(np.float32)


def melody(
    notes: Sequence[tuple[float, float]],
    sr: int,
    amp: float = 0.5,
    harmonics: Sequence[float] = (1.0, 0.5, 0.25),
    gap: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Notes ``(midi, seconds)`` one after another, each followed by ``gap`` s of silence.

    Returns the signal and the onset time [s] of every note.
    """
    parts, onsets, t = [], [], 0.0
    for midi, seconds in notes:
        onsets.append(t)
        parts.append(tone(float(midi_to_hz(midi)), seconds, sr, amp, harmonics))
        parts.append(silence(gap, sr))
        t += round(seconds * sr) / sr + round(gap * sr) / sr
    return np.concatenate(parts) if parts else np.zeros(0, np.float32), np.array(onsets)


def click(sr: int, seconds: float = 0.02, freq: float = 2000.0, decay: float = 0.004, amp: float = 0.9) -> np.ndarray:
    """One percussive click: an exponentially decaying sine burst starting at full level."""
    t = np.arange(round(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t + np.pi / 2) * np.exp(-t / decay)).astype(np.float32)


def place(events: Sequence[float], sounds: Sequence[np.ndarray] | np.ndarray, seconds: float, sr: int) -> np.ndarray:
    """Mix ``sounds`` (one for all events, or one per event) into silence at ``events`` [s]."""
    out = np.zeros(round(seconds * sr), np.float32)
    for i, t0 in enumerate(events):
        s = sounds if isinstance(sounds, np.ndarray) else sounds[i]
        a = round(t0 * sr)
        if a >= len(out):
            continue
        seg = s[: len(out) - a]
        out[a : a + len(seg)] += seg
    return out


def click_train(
    bpm: float, seconds: float, sr: int, start: float = 0.5, sound: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Clicks every ``60 / bpm`` s from ``start`` on. Returns the signal and the click times."""
    times = np.arange(start, seconds - 0.05, 60.0 / bpm)
    return place(times, click(sr) if sound is None else sound, seconds, sr), times


def percussion(
    bpm: float, seconds: float, sr: int, seed: int = 0, start: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A drum-like pattern on a steady beat: a low thud on each downbeat of 4, a bright
    click on the other beats, a quiet noise tick on every off-beat eighth.

    Returns the signal, the beat times [s] and the beat-in-bar counts (1..4).
    """
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    times = np.arange(start, seconds - 0.1, beat)
    in_bar = np.arange(len(times)) % 4 + 1
    n_tick = round(0.015 * sr)
    t = np.arange(round(0.15 * sr)) / sr
    thud = (0.9 * np.sin(2 * np.pi * 80 * t) * np.exp(-t / 0.05)).astype(np.float32)
    sounds = [thud if b == 1 else click(sr, freq=3000.0, amp=0.6) for b in in_bar]
    x = place(times, sounds, seconds, sr)
    ticks = rng.standard_normal((len(times), n_tick)).astype(np.float32) * 0.1
    ticks *= np.exp(-np.arange(n_tick) / (0.003 * sr)).astype(np.float32)
    x += place(times + beat / 2, list(ticks), seconds, sr)
    return np.clip(x, -1, 1), times, in_bar


def noise(seconds: float, sr: int, rng: np.random.Generator, amp: float = 0.1) -> np.ndarray:
    return (amp * rng.standard_normal(round(seconds * sr))).astype(np.float32)


def feature_signal(sr: int = 16000, seed: int = 0) -> np.ndarray:
    """About 1.5 s exercising every feature: a harmonic tone, a note change, clicks,
    a noise burst, digital silence and a quiet tail."""
    rng = np.random.default_rng(seed)
    tones, _ = melody([(69, 0.35), (64, 0.25)], sr)
    clicks = place([0.05, 0.18, 0.27], click(sr), 0.3, sr)
    return np.concatenate(
        [
            tones,
            clicks,
            noise(0.15, sr, rng, 0.2),
            silence(0.2, sr),
            tone(220.0, 0.25, sr, amp=0.3, harmonics=(1.0, 0.3)),
            noise(0.1, sr, rng, 1e-3),
        ]
    )


def to_channels(x: np.ndarray, channels: int, gains: Sequence[float] | None = None) -> np.ndarray:
    """``(n,)`` -> ``(n, channels)``, channel ``c`` scaled by ``gains[c]`` (default: all 1)."""
    if channels == 1 and gains is None:
        return x
    gains = np.ones(channels) if gains is None else np.asarray(gains, np.float64)
    if len(gains) != channels:
        raise ValueError(f"{channels} channels need {channels} gains, got {len(gains)}")
    return (x[:, None] * gains[None, :]).astype(np.float32)


def write(
    path: str | Path,
    x: np.ndarray,
    sr: int,
    subtype: str | None = None,
    fmt: str | None = None,
) -> Path:
    """Write samples ``(n,)`` or ``(n, channels)`` with soundfile; the container follows
    the file suffix unless ``fmt`` names it. Returns the path."""
    path = Path(path)
    sf.write(str(path), x, sr, subtype=subtype, format=fmt)
    return path


def can_write(fmt: str, subtype: str | None = None) -> bool:
    """Whether this soundfile/libsndfile can write ``fmt`` (e.g. "OGG", "MP3")."""
    if fmt not in sf.available_formats():
        return False
    return subtype is None or subtype in sf.available_subtypes(fmt)


def dominant_hz(x: np.ndarray, sr: int) -> float:
    """Frequency [Hz] of the strongest spectral peak (Hann window, parabolic refinement)."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[k - 1 : k + 2] + 1e-30)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return (k + shift) * sr / len(x)
