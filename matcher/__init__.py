"""matcher: follow live playing against a reference recording.

Three lines (:mod:`matcher.api`)::

    ref = matcher.load("ref.flac", beats="beats.csv")
    track = matcher.follow(ref, "take.wav")
    score = matcher.score(ref, "take.wav")        # or matcher.compare(ref, "take.wav")

Importing matcher loads neither TensorFlow, librosa nor an audio device; those come when
a SPICE model is loaded, audio is analysed or a microphone is opened.
"""

from .align import Alignment, AlignParams, AlignWeights, align_frames
from .audio import audio_info, file_blocks, read_audio
from .beats import Beats, load_beats, track_beats
from .compare import Comparison
from .config import FEATURE_VERSION, Config
from .errors import DeviceError, InputFileError, MatcherError, ModelError, ParameterError, StoreError
from .features import FeatureStream, Frames, PitchModel, YinModel, extract, resolve_backend
from .performance import Performance
from .reference import Reference, ReferenceStore, build_reference
from .resolve import register_builder, resolve

# The follow subpackage loads before the name `follow` is bound to the API function:
# importing a submodule sets the package attribute of its name, so a later first import
# of matcher.follow would otherwise replace matcher.follow() with the module.
from . import follow as _follow_package  # noqa: F401  isort: skip
from .api import compare, follow, load, score
from .follow import Position, Track
from .scoring import Score

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
    "Performance",
    "PitchModel",
    "Position",
    "Reference",
    "ReferenceStore",
    "Score",
    "StoreError",
    "Track",
    "YinModel",
    "align_frames",
    "audio_info",
    "build_reference",
    "compare",
    "extract",
    "file_blocks",
    "follow",
    "load",
    "load_beats",
    "read_audio",
    "register_builder",
    "resolve",
    "resolve_backend",
    "score",
    "track_beats",
]
