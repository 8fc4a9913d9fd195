"""Pitch backends behind one interface, and the streaming runner they share.

A :class:`PitchModel` is a callable ``model(audio) -> (hz, confidence)`` over mono
float32 audio at the configuration's rate, with one output per hop, frame ``i`` centred
on sample ``i * hop`` (``1 + len(audio) // hop`` frames). It declares how many frames of
context on each side an output depends on; :class:`PitchStream` then feeds it windows
of a live stream with that much context, so streamed frames equal offline ones.

Backends: ``yin`` (librosa's YIN, no model needed) and ``spice`` (Google's SPICE through
tensorflow-hub, in :mod:`matcher.features.spice`). ``auto`` picks SPICE when a model
loads and YIN otherwise.
"""

from __future__ import annotations

import os
import sys
from typing import Protocol

import numpy as np

from ..config import Config
from ..errors import ModelError, ParameterError
from .buffer import SampleBuffer

#: Environment variable naming a SPICE model (TF Hub address or local SavedModel folder).
SPICE_ENV = "MATCHER_SPICE_MODEL"

#: Accepted values of ``--pitch``.
PITCH_CHOICES = ("auto", "spice", "yin")


class PitchModel(Protocol):
    """Framewise pitch estimator (see the module docstring for the frame grid)."""

    name: str  # backend name stored with references ("yin", "spice")
    handle: str  # what was loaded (model address or folder); "" for yin
    hop: int
    left_context: int  # frames before a frame that its output depends on
    right_context: int  # frames after it (its look-ahead)
    voicing_threshold: float  # confidence at or above which a frame counts as voiced

    def __call__(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def hz_to_midi(hz: np.ndarray) -> np.ndarray:
    """Hz -> MIDI note number (semitones; A4 = 440 Hz = 69); non-positive -> NaN."""
    hz = np.asarray(hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        midi = 69.0 + 12.0 * np.log2(hz / 440.0)
    return np.where(hz > 0, midi, np.nan)


class YinModel:
    """librosa's YIN, framewise; confidence is the normalised autocorrelation at the
    period YIN found (1 for a pure periodic frame, near 0 for noise).

    de Cheveigné & Kawahara (2002), "YIN, a fundamental frequency estimator for
    speech and music", JASA 111(4).
    """

    name = "yin"
    handle = ""
    voicing_threshold = 0.6

    def __init__(self, config: Config) -> None:
        self.config = config
        self.hop = config.hop
        self.frame = config.yin_frame
        # A frame reaches frame/2 samples either side of its centre.
        self.left_context = self.right_context = -(-self.frame // 2 // self.hop)

    def __call__(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from .librosa_loader import load_librosa

        librosa = load_librosa()
        c = self.config
        audio = np.asarray(audio, np.float32)
        hz = librosa.yin(
            audio,
            fmin=c.yin_fmin,
            fmax=c.yin_fmax,
            sr=c.sr,
            frame_length=self.frame,
            hop_length=self.hop,
            center=True,
            pad_mode="constant",
        )
        half = self.frame // 2
        padded = np.pad(audio, half)
        frames = np.lib.stride_tricks.sliding_window_view(padded, self.frame)[:: self.hop][: len(hz)]
        period = np.clip(np.round(c.sr / hz).astype(np.int64), 1, half)
        w = np.arange(half)
        head = frames[:, :half].astype(np.float64)
        lagged = np.take_along_axis(frames, period[:, None] + w[None, :], axis=1).astype(np.float64)
        num = np.sum(head * lagged, axis=1)
        den = np.sqrt(np.sum(head**2, axis=1) * np.sum(lagged**2, axis=1))
        confidence = np.where(den > 0, num / np.maximum(den, 1e-30), 0.0)
        return hz.astype(np.float32), np.clip(confidence, 0.0, 1.0).astype(np.float32)


class NoPitch:
    """A stand-in model that reports every frame unvoiced, at no cost and no look-ahead.

    The follower's cost does not use pitch by default (measured: it did not help), so
    live following need not wait for a pitch model's look-ahead; ``name`` is the
    backend the frames would otherwise carry, so they still match their reference.
    """

    handle = ""
    left_context = right_context = 0
    voicing_threshold = 1.0

    def __init__(self, config: Config) -> None:
        self.name = config.pitch_backend
        self.hop = config.hop

    def __call__(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = 1 + len(audio) // self.hop
        return np.zeros(n, np.float32), np.zeros(n, np.float32)


class PitchStream:
    """Runs a :class:`PitchModel` over a stream, each frame with its full context.

    ``push`` returns ``(midi, confidence)`` for every frame whose right context has
    arrived; ``flush`` returns the rest (the model then sees the end of the stream, as
    it does offline).
    """

    def __init__(self, model: PitchModel) -> None:
        self.model = model
        self.buffer = SampleBuffer()
        self.next_frame = 0

    def _run(self, k1: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        m, k0 = self.model, self.next_frame
        if k1 <= k0:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        s = max(0, (k0 - m.left_context) * m.hop)
        hz, conf = m(self.buffer.get(s, end))
        i0 = k0 - s // m.hop
        hz, conf = hz[i0 : i0 + k1 - k0], conf[i0 : i0 + k1 - k0]
        if len(hz) != k1 - k0:
            raise ModelError(f"pitch model {m.name} returned {len(hz) + i0} frames, expected {k1 - s // m.hop}")
        self.next_frame = k1
        self.buffer.drop_before((k1 - m.left_context) * m.hop)
        return hz_to_midi(hz).astype(np.float32), np.asarray(conf, np.float32)

    def push(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.buffer.append(block)
        m = self.model
        k1 = self.buffer.end // m.hop - m.right_context + 1
        return self._run(k1, min(self.buffer.end, (k1 - 1 + m.right_context) * m.hop))

    def flush(self) -> tuple[np.ndarray, np.ndarray]:
        return self._run(1 + self.buffer.end // self.model.hop, self.buffer.end)


def load_pitch_model(config: Config, handle: str | None = None) -> PitchModel:
    """The model for ``config.pitch_backend``; ``handle`` (else ``$MATCHER_SPICE_MODEL``,
    else the public TF Hub address) names the SPICE model."""
    if config.pitch_backend == "yin":
        return YinModel(config)
    from .spice import load_spice

    return load_spice(config, handle or os.environ.get(SPICE_ENV) or None)


def resolve_backend(
    choice: str, handle: str | None = None, config: Config | None = None, quiet: bool = False
) -> PitchModel:
    """Pick a pitch model for ``--pitch auto|spice|yin``.

    ``auto`` tries SPICE and falls back to YIN with a one-line notice on stderr
    (unless ``quiet``).
    """
    config = config or Config()
    if choice not in PITCH_CHOICES:
        raise ParameterError(f"unknown pitch backend {choice!r}; choose one of {', '.join(PITCH_CHOICES)}")
    if choice == "yin":
        return YinModel(config.replace(pitch_backend="yin"))
    try:
        return load_pitch_model(config.replace(pitch_backend="spice"), handle)
    except ModelError as exc:
        if choice == "spice":
            raise
        if not quiet:
            print(
                f"notice: using YIN pitch ({exc}); point matcher at a SPICE SavedModel with "
                f"--pitch-model DIR or {SPICE_ENV}=DIR",
                file=sys.stderr,
            )
        return YinModel(config.replace(pitch_backend="yin"))
