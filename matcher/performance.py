"""A performance: one recording's frames and beats, with the configuration that made them.

The same type stands for a stored reference, a take and either side of a comparison;
only its role differs (``matcher.reference.Reference`` is another name for it, kept for
the code that follows a take *against* one). :func:`matcher.resolve.resolve` turns what a
user types (a stored name, an audio file) into one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .beats import Beats
from .config import MIN_FOLLOW_FRAMES, Config
from .errors import InputFileError
from .features import Frames

if TYPE_CHECKING:
    from .notation.info import ScoreInfo


@dataclass(frozen=True)
class Performance:
    """A preprocessed performance: its frames, beats, configuration and provenance.

    Attributes
    ----------
    name : str
        The store name of a stored reference; a file stem (or a label) otherwise.
    frames : Frames
        Features on the configuration's hop [shape=(n_frames, ...)].
    beats : Beats
        Beat times [s] on this performance's own axis (empty for an untracked take).
    config : Config
    meta : dict
        Provenance (source file, hash, duration [s], pitch backend and model, ...).
    score : ScoreInfo or None
        What the score says (bars as printed, beats in bar, notes) when the performance
        was rendered from a score (:mod:`matcher.notation`).
    """

    name: str
    frames: Frames
    beats: Beats
    config: Config
    meta: dict[str, Any] = field(default_factory=dict)
    score: ScoreInfo | None = None

    def __repr__(self) -> str:
        pitch = self.config.pitch_backend
        return f"Performance({self.name!r}, {self.duration:.1f} s, {len(self.beats)} beats, pitch={pitch})"

    @property
    def duration(self) -> float:
        """Length of the audio [s]."""
        return float(self.meta.get("duration", len(self.frames) * self.config.frame_seconds))

    @property
    def times(self) -> np.ndarray:
        """Time [s] of each frame (its centre)."""
        return np.arange(len(self.frames)) * self.config.frame_seconds

    def renamed(self, name: str) -> Performance:
        """The same performance under another name (a take named like its reference)."""
        return dataclasses.replace(self, name=name)

    def with_beats(self, beats: Beats) -> Performance:
        """The same frames with other beats (a beat file given on the command line)."""
        return dataclasses.replace(self, beats=beats)

    def check_followable(self) -> None:
        """Refuse a performance too short for the follower (fewer than
        :data:`~matcher.config.MIN_FOLLOW_FRAMES` frames), stating the minimum.

        Raises
        ------
        InputFileError
        """
        if len(self.frames) < MIN_FOLLOW_FRAMES:
            need_ms = MIN_FOLLOW_FRAMES * self.config.frame_seconds * 1000.0
            raise InputFileError(
                f"{self.name!r} is too short to follow: {self.duration * 1000:.0f} ms ({len(self.frames)} frame"
                f"{'s' if len(self.frames) != 1 else ''}); the follower needs at least {need_ms:.0f} ms "
                f"({MIN_FOLLOW_FRAMES} frames of {self.config.frame_seconds * 1000:g} ms)"
            )

    def summary(self) -> dict[str, Any]:
        """Metadata plus a few figures worth showing (JSON-ready)."""
        voiced = self.frames.voiced
        return {
            **self.meta,
            "frames": len(self.frames),
            "voiced_share": float(voiced.mean()) if len(voiced) else 0.0,
            "median_midi": float(np.nanmedian(self.frames.midi)) if voiced.any() else None,
            "beats": len(self.beats),
            "tempo_bpm": None if len(self.beats) < 2 else round(self.beats.tempo_bpm(), 2),
            "beats_per_bar": self.beats.beats_per_bar,
        }


__all__ = ["Performance"]
