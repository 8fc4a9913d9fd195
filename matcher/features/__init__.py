"""Feature extraction: one incremental pipeline for files and live input."""

from .frames import Frames
from .pitch import PITCH_CHOICES, SPICE_ENV, NoPitch, PitchModel, PitchStream, YinModel, hz_to_midi, resolve_backend
from .stream import FeatureStream, extract

__all__ = [
    "PITCH_CHOICES",
    "SPICE_ENV",
    "FeatureStream",
    "Frames",
    "NoPitch",
    "PitchModel",
    "PitchStream",
    "YinModel",
    "extract",
    "hz_to_midi",
    "resolve_backend",
]
