"""The configuration object stored with every reference.

A reference is only ever compared with audio processed by the *same* configuration
and feature-code version; :func:`Config.compatible_with` tells why not otherwise.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ParameterError

#: Bump whenever the meaning or computation of a stored feature changes; stored
#: references with another version are refused (or rebuilt from their audio).
FEATURE_VERSION = 3

#: Pitch backends a reference can be built with ("auto" is resolved before storing).
PITCH_BACKENDS = ("spice", "yin")
#: The follower needs a reference of at least this many frames (its band and tempo model
#: need a step to take); ``reference add`` refuses shorter audio with this minimum.
MIN_FOLLOW_FRAMES = 2
#: Silence (below ``gate_db``) this long [s] where the reference sounds is a pause: the
#: follower waits there, and tempo figures leave it out.
PAUSE_S = 0.5
#: Score files by suffix (their format): they become performances by rendering
#: (:mod:`matcher.notation`), not by reading audio.
SCORE_SUFFIXES = {
    ".musicxml": "musicxml",
    ".xml": "musicxml",
    ".mxl": "musicxml",
    ".mid": "midi",
    ".midi": "midi",
    ".mei": "mei",
}


@dataclass(frozen=True)
class Config:
    """Feature-extraction settings.

    Parameters
    ----------
    sr : int > 0 [Hz]
        Model sample rate; all audio is down-mixed and resampled to it.
    hop : int > 0 [samples]
        Frame hop at ``sr``. 256 at 16 kHz (16 ms): half SPICE's native grid (SPICE values are
        held for two frames); the follower measured better on the finer grid.
    n_fft : int > 0 [samples]
        Window of the spectrum that onset bands and chroma are computed from.
    n_ahead : int > 0 [samples]
        How much of that window lies after the frame's centre: a frame settles this long
        after its centre (the features' look-ahead).
    n_bands : int > 0
        Mel bands of the onset (spectral flux) feature.
    fmin, fmax : float [Hz]
        Frequency range of the onset bands.
    flux_floor_db : float [dB]
        Floor added to mel-band energies before the log: band changes far below it
        (noise in quiet passages) make almost no flux. It holds for a recording whose
        loud level is -20 dBFS and follows the recording's level (a running estimate:
        :data:`matcher.features.spectral.FLOOR_AT_DB`), so the flux does not depend
        on the recording's gain.
    flux_threshold_db : float >= 0 [dB]
        Band-level rises up to this much count as no onset.
    noise_floor : float >= 0
        Each mel band's room noise (its lowest energy so far, rising at most
        ``noise_floor_rise_db``; :func:`matcher.features.level.track_noise_floor`) times this
        joins the flux floor, so a room's noise makes almost no flux while notes above it
        keep theirs (0: off).
    noise_floor_rise_db : float >= 0 [dB/s]
        How fast that noise estimate may rise (a room getting louder).
    chroma : bool
        Whether frames carry a 12-bin chroma vector (polyphonic material).
    pitch_backend : {"spice", "yin"}
        How pitch is estimated.
    gate_db : float [dBFS]
        Frames quieter than this are unvoiced whatever the pitch model says.
    yin_frame : int > 0 [samples]
        YIN analysis window (two periods of ``yin_fmin`` must fit in half of it).
    yin_fmin, yin_fmax : float [Hz]
        YIN search range.
    """

    sr: int = 16000
    hop: int = 256
    n_fft: int = 1024
    n_ahead: int = 512
    n_bands: int = 84
    fmin: float = 30.0
    fmax: float = 8000.0
    flux_floor_db: float = -40.0
    flux_threshold_db: float = 0.0
    noise_floor: float = 4.0
    noise_floor_rise_db: float = 0.1
    chroma: bool = True
    pitch_backend: str = "yin"
    gate_db: float = -50.0
    yin_frame: int = 2048
    yin_fmin: float = 40.0
    yin_fmax: float = 2000.0
    version: int = field(default=FEATURE_VERSION)

    def __post_init__(self) -> None:
        for name in ("sr", "hop", "n_fft", "n_ahead", "n_bands", "yin_frame"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ParameterError(f"config.{name} must be a positive integer, got {value!r}")
        if self.pitch_backend not in PITCH_BACKENDS:
            raise ParameterError(
                f"unknown pitch backend {self.pitch_backend!r}; choose one of {', '.join(PITCH_BACKENDS)}"
            )
        if not 0 < self.fmin < self.fmax <= self.sr / 2:
            raise ParameterError(f"need 0 < fmin < fmax <= sr/2, got fmin={self.fmin}, fmax={self.fmax}, sr={self.sr}")
        if not 0 < self.n_ahead < self.n_fft:
            raise ParameterError(f"n_ahead must be between 0 and n_fft ({self.n_fft}), got {self.n_ahead}")
        if self.n_fft < self.hop:
            raise ParameterError(f"n_fft ({self.n_fft}) must be at least hop ({self.hop})")
        for name in ("noise_floor", "noise_floor_rise_db"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ParameterError(f"config.{name} must be a finite number >= 0, got {value!r}")

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sr / self.hop

    @property
    def frame_seconds(self) -> float:
        """Seconds per frame (the hop)."""
        return self.hop / self.sr

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParameterError(f"unknown configuration keys: {', '.join(unknown)}")
        return cls(**data)

    def incompatibility(self, other: Config) -> str | None:
        """Why features made with ``other`` cannot be compared with ours (None if they can)."""
        if other.version != self.version:
            return f"feature-code version {other.version} differs from this matcher's {self.version}"
        diffs = [
            f"{f.name}={getattr(other, f.name)!r} (here {getattr(self, f.name)!r})"
            for f in dataclasses.fields(self)
            if getattr(other, f.name) != getattr(self, f.name)
        ]
        return "configuration differs: " + ", ".join(diffs) if diffs else None
