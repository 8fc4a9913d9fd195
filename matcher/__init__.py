"""matcher: follow live playing against a reference recording.

Importing matcher loads neither TensorFlow nor an audio device; those come when a
SPICE model is loaded or a microphone is opened.
"""

from .align import Alignment, AlignParams, AlignWeights, align_frames
from .audio import audio_info, file_blocks, read_audio
from .beats import Beats, load_beats, track_beats
from .compare import Comparison, compare
from .config import FEATURE_VERSION, Config
from .errors import DeviceError, InputFileError, MatcherError, ModelError, ParameterError, StoreError
from .features import FeatureStream, Frames, PitchModel, YinModel, extract, resolve_backend
from .reference import Reference, ReferenceStore, build_reference

__version__ = "0.1.0"

__all__ = [
    "FEATURE_VERSION",
    "AlignParams",
    "AlignWeights",
    "Alignment",
    "Beats",
    "Comparison",
    "Config",
    "DeviceError",
    "FeatureStream",
    "Frames",
    "InputFileError",
    "MatcherError",
    "ModelError",
    "ParameterError",
    "PitchModel",
    "Reference",
    "ReferenceStore",
    "StoreError",
    "YinModel",
    "align_frames",
    "audio_info",
    "build_reference",
    "compare",
    "extract",
    "file_blocks",
    "load_beats",
    "read_audio",
    "resolve_backend",
    "track_beats",
]
